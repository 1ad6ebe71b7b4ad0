// AVX-512 kernels (F/BW/VL + VNNI, F16C, FMA): Zen 4, Cascade Lake, Ice Lake and newer. Selected at run
// time by kernel_select.cpp; this file alone is compiled with those instruction sets (and once more, with
// VBMI and BITALG, as matvec_vbmi_avx512.cpp: see unpack_quad).
//
// Design (see matvec.h for the contract):
//  * Every kernel, matvec and matmul, goes through one register tile of R weight rows x NT tokens
//    (R, NT <= 4). matvec is the NT = 1 tile. The ops applied to one (row, token) pair are the same
//    whatever R, NT, or the position of the pair in the tile, so sequence mode (matmul) reproduces
//    token-by-token mode (matvec) bit for bit. In prefill the tile shares each unpacked weight block
//    across 4 tokens and each activation load across 4 rows, which makes it compute-bound on VNNI.
//  * Quantized dots use vpdpbusd (u8 x s8 -> s32, four products per lane). It needs one unsigned
//    operand, so weights are unpacked to unsigned quants u = q + o (o = 8 for Q4_0, 16 for Q5_0, 0 for
//    the _1 types, which are unsigned already; Q8_0's kernels, o = 128, are in q8_0_avx512.cpp).
//    sum(q*x) = sum(u*x) - o*sum(x); the correction -o*sum(x) is an exact integer per activation block, computed once per call and fed
//    to vpdpbusd as the starting value of one lane. The block's integer sum therefore stays exact
//    (spread over 8 lanes), and the float work per block is a convert, a multiply by d_w*d_x and an fma.
//  * 512-bit vectors, a pair of blocks per vector. Measured on the target (AMD family 26, Zen 5):
//    vpdpbusd/vfmadd/vcvtdq2ps zmm run at the same rate as ymm, so zmm halves the instruction count.
// GCC 12's AVX-512 intrinsics start from _mm512_undefined_*() and trip -Wuninitialized under -O3.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "kernels/cpu/gemm_float.h"
#include "kernels/cpu/matvec.h"
#include "kernels/cpu/q8_0_avx512.h"
#include "kernels/cpu/reduce_avx512.h"  // hsum512, sum16: one reduction order for every tile
#include "kernels/cpu/tiles_avx512.h"   // hsum_tile, for_row_tiles, for_split_rows

namespace rwkv::cpu {

namespace {

constexpr int kWideTokens = 8;  // tokens per register tile of the float kernels, when there are 8
constexpr int64_t kUnpackTokens = 16;  // quantized chunks of more tokens unpack each row tile once (unpack_quads)
constexpr int kFloatRowBlock = 12;  // rows whose weights stay in L1 across a chunk's token tiles (2 and 4 divide it)

inline uint16_t load_u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
inline uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// ---- quantized weights --------------------------------------------------------------------------
//
// One zmm holds a pair of consecutive 32-weight blocks (b, b+1): lanes 0-7 of every int32/float
// vector belong to block b, lanes 8-15 to block b+1. On the target (AMD family 26, Zen 5) 512-bit
// ops run at full rate, so a pair costs what one block costs with ymm.
//
// Weight loads touch only the bytes a field occupies (16-byte quant loads, 2-byte scale loads). One
// 64-byte load per pair followed by a word permute was as fast in cache but halved the DRAM stream
// rate of decode: loads running past the pair into lines not yet fetched disturb the prefetchers.
// Likewise three 64-byte loads per quad gathered with VBMI byte permutes (a third of the instructions,
// the same speed in cache) ran Q8_0 decode from DRAM at 40% of this path's rate.

// Two fp16 words (block b in the low half, b+1 in the high half) -> 16 floats [b x8 | b+1 x8].
inline __m512 widen_pair(uint32_t halves) {
  const __m256i v = _mm256_castsi128_si256(_mm_cvtsi32_si128(int(halves)));
  const __m256i idx = _mm256_setr_epi16(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
  return _mm512_cvtph_ps(_mm256_permutexvar_epi16(idx, v));
}
template <size_t kBytes, bool kHalf>
inline uint32_t pair_words(const uint8_t* p) {
  return kHalf ? uint32_t(load_u16(p)) : uint32_t(load_u16(p)) | uint32_t(load_u16(p + kBytes)) << 16;
}

// The 16 quant bytes of each block of a pair, each 128-bit lane holding one copy: lanes 0-1 block b,
// lanes 2-3 block b+1 (zero for a lone last block). Then low nibbles give elements 0-15 (lanes 0 and
// 2), high nibbles elements 16-31 (lanes 1 and 3); a 64-bit shift drags in bits of the neighbouring
// byte, the mask drops them.
template <size_t kBytes, bool kHalf>
inline __m512i pair_nibbles(const uint8_t* qs) {
  __m512i v = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs)));
  if constexpr (kHalf)
    v = _mm512_maskz_mov_epi32(0x00FF, v);
  else
    v = _mm512_mask_broadcast_i32x4(v, 0xFF00, _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs + kBytes)));
  const __m512i shifted = _mm512_srlv_epi64(v, _mm512_set_epi64(4, 4, 0, 0, 4, 4, 0, 0));
  return _mm512_and_si512(shifted, _mm512_set1_epi8(0x0F));
}

// Weight formats. unpack(): the quants as unsigned bytes u (value = (u - kOffset)*d, + m if kHasMin);
// scales()/mins(): d (m) of the pair as 16 floats, 8 per block.
template <class Block, int kOff, bool kMin, int kQsByte, int kQhByte>
struct NibbleFormat {
  static constexpr size_t kBytes = sizeof(Block);
  static constexpr int kOffset = kOff;
  static constexpr bool kHasMin = kMin;
  static constexpr int kDecodeParts = 4;  // for_split_rows: nibble unpacking is compute-bound
  template <bool kHalf>
  static __m512i unpack(const uint8_t* p) {
    __m512i u = pair_nibbles<kBytes, kHalf>(p + kQsByte);
    if constexpr (kQhByte >= 0) {
      // Fifth bit: bit j of qh is bit 4 of element j. The pair's 64-bit byte mask comes from the two
      // qh words (scalar loads: the integer units are idle here), then one masked add.
      uint64_t hi = load_u32(p + kQhByte);
      if constexpr (!kHalf) hi |= uint64_t(load_u32(p + kBytes + kQhByte)) << 32;
      u = _mm512_mask_add_epi8(u, _cvtu64_mask64(hi), u, _mm512_set1_epi8(0x10));
    }
    return u;
  }
  template <bool kHalf>
  static __m512 scales(const uint8_t* p) { return widen_pair(pair_words<kBytes, kHalf>(p)); }
  // A quad's four d (fp16, the first word of each block), four lanes a block: two 32-byte loads inside the
  // quad (from blocks 0 and 2: d at words 0 and kBytes/2 of each) and a two-source word permute, instead of
  // four scalar loads, shifts and an insert (one 64-byte load and a one-source permute of a zmm, where the
  // four words fit, was slower: Q4_0 rows in L1 7.9 -> 9.1 cycles a quad).
  // The first 32 bytes of a quad's blocks 0 and 2 (inside the quad for every type here: the second ends at
  // 2 * kBytes + 32 <= 4 * kBytes), where the two quad-scale loaders below find each block's leading fields.
  static void quad_heads(const uint8_t* p, __m256i& a, __m256i& b) {
    static_assert(2 * kBytes >= 32, "loads inside the quad");
    a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 2 * kBytes));
  }
  static __m512 scales_quad(const uint8_t* p) {
    static_assert(kBytes % 2 == 0 && kBytes + 2 <= 32, "d in words of the two 32-byte loads");
    constexpr short k = short(kBytes / 2);
    __m256i a, b;
    quad_heads(p, a, b);
    const __m256i words =
        _mm256_permutex2var_epi16(a, _mm256_setr_epi16(0, 0, 0, 0, k, k, k, k, 16, 16, 16, 16, 16 + k, 16 + k, 16 + k, 16 + k), b);
    return _mm512_cvtph_ps(words);
  }
  // The _1 types keep d and m side by side: a quad's four (d, m) pairs from two 32-byte loads inside the
  // quad (blocks 0-1 from its start, blocks 2-3 from block 2's: the pairs at dwords 0 and kBytes/4 of
  // each), a two-source dword permute and one widening; two permutes then give d in four lanes a block
  // (as scales_quad) and m likewise (lane 4j + t meets token t's s_x of block j in the quad's sums,
  // pack_sums). Four scalar loads, shifts and inserts took ~3 of the ~11.5 cycles of a Q5_1 quad row.
  // (Q5_1's qh words sit in the same loads, but moving them to mask registers through a vector cost more
  // than their scalar loads in unpack().)
  // One token needs m only once per block: scales_dm_quad leaves the widened pairs as they are (dm: d_j, m_j
  // in lanes 2j, 2j + 1), and the min term is one 8-lane fma against the token's sums in lanes 2j + 1
  // (pack_sums_one): one permute less a quad row (Q5_1 rows in L1 5-7% less time, BM_RowKernel).
  static void scales_dm_quad(const uint8_t* p, __m512& d, __m256& dm) {
    static_assert(kMin && kBytes % 4 == 0 && kBytes + 4 <= 32, "(d, m) in dwords of the two 32-byte loads");
    constexpr int k = int(kBytes / 4);
    __m256i a, b;
    quad_heads(p, a, b);
    const __m256i words = _mm256_permutex2var_epi32(a, _mm256_setr_epi32(0, k, 8, 8 + k, 0, 0, 0, 0), b);
    dm = _mm256_cvtph_ps(_mm256_castsi256_si128(words));
    d = _mm512_permutexvar_ps(_mm512_setr_epi32(0, 0, 0, 0, 2, 2, 2, 2, 4, 4, 4, 4, 6, 6, 6, 6), _mm512_castps256_ps512(dm));
  }
  static void scales_mins_quad(const uint8_t* p, __m512& d, __m512& m) {
    __m256 dm;
    scales_dm_quad(p, d, dm);
    m = _mm512_permutexvar_ps(_mm512_setr_epi32(1, 1, 1, 1, 3, 3, 3, 3, 5, 5, 5, 5, 7, 7, 7, 7), _mm512_castps256_ps512(dm));
  }
  template <bool kHalf>
  static __m512 mins(const uint8_t* p) { return widen_pair(pair_words<kBytes, kHalf>(p + 2)); }

  // A quad's quants regrouped as quant_quad wants them (u0: elements 0-15 of blocks 0-3, one 128-bit lane a
  // block; u1: elements 16-31), from the quad's 4 * kBytes <= 96 bytes in two loads (64 bytes, then the rest,
  // masked: nothing past the quad is touched), one byte permute gathering the four blocks' 16 quant bytes,
  // and for the fifth bits one more byte permute that puts block L's qh word in the two qwords of lane L and
  // two bit shuffles (VPSHUFBITQMB) that turn bit j (u0) or 16 + j (u1) of it into byte j's mask.
  static void unpack_quad(const uint8_t* p, __m512i& u0, __m512i& u1) {
    static_assert(4 * kBytes > 64 && 4 * kBytes <= 96, "a quad in 64 + up to 32 bytes");
    constexpr uint32_t kRest = uint32_t(4 * kBytes - 64);
    const __m512i lo = _mm512_loadu_si512(p);
    const __m512i hi = _mm512_castsi256_si512(_mm256_maskz_loadu_epi8(uint32_t((uint64_t(1) << kRest) - 1), p + 64));
    alignas(64) static const auto tables = [] {
      struct T { uint8_t qs[64], qh[64], bit0[64], bit1[64]; } t{};
      for (int i = 0; i < 64; ++i) {
        const int L = i / 16, j = i % 16;
        t.qs[i] = uint8_t(L * kBytes + kQsByte + j);
        const int b = i % 8;  // byte b of qword i / 8 (lane L's two qwords both hold its qh word)
        t.qh[i] = kQhByte >= 0 && b < 4 ? uint8_t(L * kBytes + kQhByte + b) : uint8_t(127);  // 127: a zero of `hi`
        t.bit0[i] = uint8_t(j);
        t.bit1[i] = uint8_t(16 + j);
      }
      return t;
    }();
    const __m512i q = _mm512_permutex2var_epi8(lo, _mm512_load_si512(tables.qs), hi);
    const __m512i low4 = _mm512_set1_epi8(0x0F);
    u0 = _mm512_and_si512(q, low4);
    u1 = _mm512_and_si512(_mm512_srli_epi16(q, 4), low4);
    if constexpr (kQhByte >= 0) {
      const __m512i h = _mm512_permutex2var_epi8(lo, _mm512_load_si512(tables.qh), hi);
      const __m512i five = _mm512_set1_epi8(0x10);
      u0 = _mm512_mask_add_epi8(u0, _mm512_bitshuffle_epi64_mask(h, _mm512_load_si512(tables.bit0)), u0, five);
      u1 = _mm512_mask_add_epi8(u1, _mm512_bitshuffle_epi64_mask(h, _mm512_load_si512(tables.bit1)), u1, five);
    }
  }
};

using FmtQ4_0 = NibbleFormat<BlockQ4_0, 8, false, 2, -1>;
using FmtQ4_1 = NibbleFormat<BlockQ4_1, 0, true, 4, -1>;
using FmtQ5_0 = NibbleFormat<BlockQ5_0, 16, false, 6, 2>;
using FmtQ5_1 = NibbleFormat<BlockQ5_1, 0, true, 8, 4>;

// Activations of one token, repacked per call from ActBlockQ8 into the pair layout the tile reads
// with plain loads (all of it is shared by every row, so the repacking is paid once per call):
// Pairs past the last whole quad keep the pair layout below; quads are regrouped (pack_token).
struct PackedAct {
  const int8_t* qs;     // [pair][64]: the two blocks' quants
  const float* dx;      // [pair][16]: d_x of block b in lanes 0-7, of b+1 in lanes 8-15
  const int32_t* corr;  // [pair][16]: -kOffset * sum(qs) of each block, in lanes 0 and 8 (0 elsewhere)
};

// Per-thread scratch (several pool threads run kernels at once). `packed` names what qs/dx/corr/spat
// hold.
struct Scratch {
  std::vector<int8_t> qs;
  std::vector<float> dx, spat, spat1;
  std::vector<int32_t> corr;
  std::vector<PackedAct> views;
  std::vector<__m512i> unpacked;  // a row tile's quads, unpacked for a prompt chunk (unpack_quads)
  PackedKey packed;
  PackedKey packed_one;  // what spat1 holds (matvec_quant)
};
Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

// Quads of blocks in a row of nb blocks: whole pairs of whole pairs; any pair left over (and a lone
// last block) goes through the pair path.
inline int64_t quads(int64_t nb) { return nb / 4; }

// Repacks one token (nb blocks, np = ceil(nb/2) pairs) into qs/dx/corr at pair granularity.
void pack_token(const ActBlockQ8* x, int64_t nb, int offset, int8_t* qs, float* dx, int32_t* corr) {
  const int64_t np = (nb + 1) / 2;
  const __m512i ones = _mm512_set1_epi8(1);
  for (int64_t p = 0; p < np; ++p) {
    const ActBlockQ8& a = x[2 * p];
    const bool two = 2 * p + 1 < nb;
    const __m256i q0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.qs));
    const __m256i q1 = two ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[2 * p + 1].qs)) : _mm256_setzero_si256();
    const __m512i q = _mm512_inserti64x4(_mm512_castsi256_si512(q0), q1, 1);
    _mm512_storeu_si512(qs + p * 64, q);
    const float d1 = two ? x[2 * p + 1].d : 0.0f;
    _mm512_storeu_ps(dx + p * 16, _mm512_mask_blend_ps(0xFF00, _mm512_set1_ps(a.d), _mm512_set1_ps(d1)));
    // Exact block sums of the quants (integer adds, any order).
    const __m512i s = _mm512_dpbusd_epi32(_mm512_setzero_si512(), ones, q);
    const int32_t c0 = -offset * _mm512_mask_reduce_add_epi32(0x00FF, s);
    const int32_t c1 = -offset * _mm512_mask_reduce_add_epi32(0xFF00, s);
    _mm512_storeu_si512(corr + p * 16, _mm512_mask_set1_epi32(_mm512_maskz_set1_epi32(0x0001, c0), 0x0100, c1));
  }
  // Quads (pairs 2q, 2q+1 = blocks 4q..4q+3), the hot loop's unit: half 0 of the four blocks in slot 2q,
  // half 1 in slot 2q+1 (see quant_quad); d_x and the corrections in 4 lanes per block, in slot 2q.
  for (int64_t q = 0; q < quads(nb); ++q) {
    int8_t* u = qs + q * 128;
    const __m512i p0 = _mm512_loadu_si512(u), p1 = _mm512_loadu_si512(u + 64);
    _mm512_storeu_si512(u, _mm512_shuffle_i64x2(p0, p1, _MM_SHUFFLE(2, 0, 2, 0)));
    _mm512_storeu_si512(u + 64, _mm512_shuffle_i64x2(p0, p1, _MM_SHUFFLE(3, 1, 3, 1)));
    const ActBlockQ8* b = x + 4 * q;
    _mm512_storeu_ps(dx + q * 32, _mm512_set_ps(b[3].d, b[3].d, b[3].d, b[3].d, b[2].d, b[2].d, b[2].d, b[2].d,
                                                b[1].d, b[1].d, b[1].d, b[1].d, b[0].d, b[0].d, b[0].d, b[0].d));
    int32_t* c = corr + q * 32;
    const int32_t c0 = c[0], c1 = c[8], c2 = c[16], c3 = c[24];
    std::fill(c, c + 16, 0);
    c[0] = c0, c[4] = c1, c[8] = c2, c[12] = c3;
  }
}

// The m*s terms of the _1 types for a group of n <= 4 tokens, so that one fma per row and quad (or pair)
// covers the whole group: quad q's 16 floats at q * 16 hold s_x of token t for its block j in lane 4j + t
// (scales_mins_quad's m lanes); a pair p past the last quad, at p * 16, holds block b's in lane t and block
// b+1's in lane 8 + t (widen_pair's). The quads' slots [0, nq) end before the first such pair's slot, 2 * nq.
// quant_tile adds lanes t, 4 + t, 8 + t and 12 + t.
void pack_sums(const ActBlockQ8* const* x, int n, int64_t nb, float* spat) {
  static_assert(kTileTokens <= 4, "four token lanes per block in a quad");
  const int64_t np = (nb + 1) / 2, in_quads = 4 * quads(nb);
  std::fill(spat, spat + np * 16, 0.0f);
  for (int t = 0; t < n; ++t)
    for (int64_t b = 0; b < nb; ++b) {
      if (b < in_quads) spat[(b / 4) * 16 + (b % 4) * 4 + t] = x[t][b].s;
      else spat[(b / 2) * 16 + (b % 2) * 8 + t] = x[t][b].s;
    }
}

// One token's sums for the one-token quads of the _1 types (quant_quad_one): quad q's 8 floats at q * 8
// hold s_x of its block j in lane 2j + 1, where scales_dm_quad leaves m_j, and zeros in the d lanes.
void pack_sums_one(const ActBlockQ8* x, int64_t nb, float* spat1) {
  std::fill(spat1, spat1 + quads(nb) * 8, 0.0f);
  for (int64_t b = 0; b < 4 * quads(nb); ++b) spat1[(b / 4) * 8 + (b % 4) * 2 + 1] = x[b].s;
}

// One pair of blocks of R rows against NT tokens: the body of the hot loop.
template <class F, int R, int NT, bool kHalf>
inline void quant_pair(const uint8_t* const* w, size_t off, const PackedAct* x, const float* spat, int64_t p,
                       __m512 (&acc)[R][NT], __m512 (&accm)[R]) {
  __m512i u[R];
  __m512 dw[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    const uint8_t* pw = w[r] + off;
    _mm_prefetch(reinterpret_cast<const char*>(pw + kPrefetchBytes), _MM_HINT_T0);
    u[r] = F::template unpack<kHalf>(pw);
    dw[r] = F::template scales<kHalf>(pw);
    if constexpr (F::kHasMin) accm[r] = _mm512_fmadd_ps(F::template mins<kHalf>(pw), _mm512_loadu_ps(spat + p * 16), accm[r]);
  }
#pragma GCC unroll 8
  for (int t = 0; t < NT; ++t) {
    const __m512i xv = _mm512_loadu_si512(x[t].qs + p * 64);
    const __m512 dx = _mm512_loadu_ps(x[t].dx + p * 16);
    const __m512i c = F::kOffset != 0 ? _mm512_loadu_si512(x[t].corr + p * 16) : _mm512_setzero_si512();
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      // Exact integer dot of each block (8 partial sums per block, the offset folded into lane 0),
      // then d_w*d_x per block. Identical ops for every (row, token), whatever the tile shape.
      const __m512i isum = _mm512_dpbusd_epi32(c, u[r], xv);
      acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(dw[r], dx), acc[r][t]);
    }
  }
}

// The token side of a quad, for R rows already unpacked (u0, u1: the regrouped quants; dw: the scales):
// exact integer dots of each block, then d_w*d_x per block. Identical ops for every (row, token).
template <class F, int R, int NT>
inline void quad_tokens(const __m512i (&u0)[R], const __m512i (&u1)[R], const __m512 (&dw)[R], const PackedAct* x,
                        int64_t q, __m512 (&acc)[R][NT]) {
#pragma GCC unroll 8
  for (int t = 0; t < NT; ++t) {
    const __m512i x0 = _mm512_loadu_si512(x[t].qs + q * 128), x1 = _mm512_loadu_si512(x[t].qs + q * 128 + 64);
    const __m512 dx = _mm512_loadu_ps(x[t].dx + q * 32);
    const __m512i c = F::kOffset != 0 ? _mm512_loadu_si512(x[t].corr + q * 32) : _mm512_setzero_si512();
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m512i isum = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(c, u0[r], x0), u1[r], x1);
      acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(dw[r], dx), acc[r][t]);
    }
  }
}

// A quad of one row as stored (pw), prefetched ahead and regrouped for quad_tokens: u0 the elements 0-15 of
// its four blocks, one 128-bit lane a block, u1 elements 16-31.
template <class F>
[[gnu::always_inline]] inline void quad_quants(const uint8_t* pw, __m512i& u0, __m512i& u1) {
  _mm_prefetch(reinterpret_cast<const char*>(pw + kPrefetchBytes), _MM_HINT_T0);
  _mm_prefetch(reinterpret_cast<const char*>(pw + 2 * F::kBytes + kPrefetchBytes), _MM_HINT_T0);
#ifdef RWKV_QUAD_PERMUTE  // the avx512-vbmi set: two loads and byte permutes (unpack_quad)
  F::unpack_quad(pw, u0, u1);
#else
  const __m512i a = F::template unpack<false>(pw), b = F::template unpack<false>(pw + 2 * F::kBytes);
  u0 = _mm512_shuffle_i64x2(a, b, _MM_SHUFFLE(2, 0, 2, 0));
  u1 = _mm512_shuffle_i64x2(a, b, _MM_SHUFFLE(3, 1, 3, 1));
#endif
}

// Four blocks (two pairs) of R rows against NT tokens. The pair unpacks are regrouped by 128-bit lane
// (one shuffle each) so that two vpdpbusd accumulate into one vector whose 4-lane groups each hold one
// block: the convert, the scale product and the fma then serve four blocks instead of two. The
// activations were regrouped the same way once per call (pack_token).
template <class F, int R, int NT>
inline void quant_quad(const uint8_t* const* w, size_t off, const PackedAct* x, const float* spat, int64_t q,
                       __m512 (&acc)[R][NT], __m512 (&accm)[R]) {
  __m512i u0[R], u1[R];
  __m512 dw[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    const uint8_t* pw = w[r] + off;
    quad_quants<F>(pw, u0[r], u1[r]);
    if constexpr (F::kHasMin) {
      __m512 m;
      F::scales_mins_quad(pw, dw[r], m);
      accm[r] = _mm512_fmadd_ps(m, _mm512_loadu_ps(spat + q * 16), accm[r]);
    } else {
      dw[r] = F::scales_quad(pw);
    }
  }
  quad_tokens<F, R, NT>(u0, u1, dw, x, q, acc);
}

// quant_quad for one token and a _1 type: the min term per block in lane 2j + 1 of an 8-lane accumulator
// (accm8), the same fma chain per block as lane 4j of quant_quad's (spat1: pack_sums_one).
template <class F, int R>
inline void quant_quad_one(const uint8_t* const* w, size_t off, const PackedAct* x, const float* spat1, int64_t q,
                           __m512 (&acc)[R][1], __m256 (&accm8)[R]) {
  __m512i u0[R], u1[R];
  __m512 dw[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    const uint8_t* pw = w[r] + off;
    quad_quants<F>(pw, u0[r], u1[r]);
    __m256 dm;
    F::scales_dm_quad(pw, dw[r], dm);
    accm8[r] = _mm256_fmadd_ps(dm, _mm256_loadu_ps(spat1 + q * 8), accm8[r]);
  }
  quad_tokens<F, R, 1>(u0, u1, dw, x, q, acc);
}

// Prompts: a row tile's quads unpacked once into vectors (u0, u1, the scales and, for the _1 types, the
// quad's mins: what quant_quad computes from the stored blocks), then read back by every token group
// of the chunk. The unpacking (loads, byte flips or nibble splits, 128-bit regrouping, fp16 widening: ~8
// uops a row and quad, several on the shuffle port) was otherwise repeated for every group of 4 tokens.
template <class F>
constexpr int kUnpackedVecs = F::kHasMin ? 4 : 3;

template <class F>
void unpack_quads(const uint8_t* row, int64_t nq, __m512i* out) {
  for (int64_t q = 0; q < nq; ++q) {
    const uint8_t* pw = row + size_t(q) * 4 * F::kBytes;
    const __m512i a = F::template unpack<false>(pw), b = F::template unpack<false>(pw + 2 * F::kBytes);
    __m512i* o = out + q * kUnpackedVecs<F>;
    _mm512_storeu_si512(o + 0, _mm512_shuffle_i64x2(a, b, _MM_SHUFFLE(2, 0, 2, 0)));
    _mm512_storeu_si512(o + 1, _mm512_shuffle_i64x2(a, b, _MM_SHUFFLE(3, 1, 3, 1)));
    if constexpr (F::kHasMin) {
      __m512 d, m;
      F::scales_mins_quad(pw, d, m);
      _mm512_storeu_si512(o + 2, _mm512_castps_si512(d));
      _mm512_storeu_si512(o + 3, _mm512_castps_si512(m));
    } else {
      _mm512_storeu_si512(o + 2, _mm512_castps_si512(F::scales_quad(pw)));
    }
  }
}

// quant_quad with the row tile's quads read from unpack_quads' vectors: the same values, the same ops.
template <class F, int R, int NT>
inline void quant_quad_unpacked(const __m512i* const* uq, const PackedAct* x, const float* spat, int64_t q,
                                __m512 (&acc)[R][NT], __m512 (&accm)[R]) {
  __m512i u0[R], u1[R];
  __m512 dw[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    const __m512i* o = uq[r] + q * kUnpackedVecs<F>;
    u0[r] = _mm512_loadu_si512(o + 0);
    u1[r] = _mm512_loadu_si512(o + 1);
    dw[r] = _mm512_castsi512_ps(_mm512_loadu_si512(o + 2));
    if constexpr (F::kHasMin)
      accm[r] = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_loadu_si512(o + 3)), _mm512_loadu_ps(spat + q * 16), accm[r]);
  }
  quad_tokens<F, R, NT>(u0, u1, dw, x, q, acc);
}

// An R x NT tile over a whole row: out[r*NT + t] = dot(row r, token t). kUnpacked: the quads come from
// unpack_quads' vectors (uq[r]: row r's), the pairs after them from the rows as stored.
// spat1 (one token, _1 types; pack_sums_one): the quads' min terms through quant_quad_one.
template <class F, int R, int NT, bool kUnpacked = false>
void quant_tile(const uint8_t* const* w, const PackedAct* x, const float* spat, int64_t nb, float* out,
                const __m512i* const* uq = nullptr, const float* spat1 = nullptr) {
  __m512 acc[R][NT];
  __m512 accm[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    accm[r] = _mm512_setzero_ps();
#pragma GCC unroll 8
    for (int t = 0; t < NT; ++t) acc[r][t] = _mm512_setzero_ps();
  }
  const int64_t full = nb / 2, nq = quads(nb);
  // HOT LOOP (decode and prefill): four 32-weight blocks of R rows against NT tokens.
  if constexpr (kUnpacked) {
    for (int64_t q = 0; q < nq; ++q) quant_quad_unpacked<F, R, NT>(uq, x, spat, q, acc, accm);
  } else if constexpr (NT == 1 && F::kHasMin) {
    if (spat1) {
      __m256 accm8[R];
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) accm8[r] = _mm256_setzero_ps();
      for (int64_t q = 0; q < nq; ++q) quant_quad_one<F, R>(w, size_t(q) * 4 * F::kBytes, x, spat1, q, acc, accm8);
      // Each block's chain to lane 4j, where quant_quad keeps it and the pairs below go on with it.
      const __m512i to_shared = _mm512_setr_epi32(1, 0, 0, 0, 3, 0, 0, 0, 5, 0, 0, 0, 7, 0, 0, 0);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) accm[r] = _mm512_maskz_permutexvar_ps(0x1111, to_shared, _mm512_castps256_ps512(accm8[r]));
    } else {
      for (int64_t q = 0; q < nq; ++q) quant_quad<F, R, NT>(w, size_t(q) * 4 * F::kBytes, x, spat, q, acc, accm);
    }
  } else {
    for (int64_t q = 0; q < nq; ++q) quant_quad<F, R, NT>(w, size_t(q) * 4 * F::kBytes, x, spat, q, acc, accm);
  }
  for (int64_t p = 2 * nq; p < full; ++p) quant_pair<F, R, NT, false>(w, size_t(p) * 2 * F::kBytes, x, spat, p, acc, accm);
  if (nb % 2) quant_pair<F, R, NT, true>(w, size_t(full) * 2 * F::kBytes, x, spat, full, acc, accm);
  hsum_tile<R, NT>(acc, out);
  if constexpr (F::kHasMin) {
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      alignas(64) float m[16];
      _mm512_store_ps(m, accm[r]);
#pragma GCC unroll 8
      for (int t = 0; t < NT; ++t) out[r * NT + t] += (m[t] + m[4 + t]) + (m[8 + t] + m[12 + t]);
    }
  }
}

// uq: the rows' quads as unpack_quads left them (uq[i]: row r0 + i; a range of one tile), or null.
template <class F, int NT, int kRows>
void quant_rows(const MatvecArgs& a, const PackedAct* x, const float* spat, int64_t r0, int64_t r1, float* Y,
                int64_t ldy, const __m512i* const* uq = nullptr) {
  const int64_t nb = a.cols / kQuantBlock;
  for_row_tiles<NT, kRows>(a, r0, r1, Y, ldy, [&](auto rows, const uint8_t* const* w, float* out) {
    if (uq) quant_tile<F, decltype(rows)::value, NT, true>(w, x, spat, nb, out, uq);
    else quant_tile<F, decltype(rows)::value, NT>(w, x, spat, nb, out);
  });
}

constexpr int kFloatDecodeParts = 2;

// Where packed activations go: token t's quants at qs + t*np*64, its d_x and corrections at
// dx/corr + t*np*16, and (the _1 types) group g's sums at spat + g*np*16, a group being kTileTokens tokens.
// A thread's scratch, or one layout for all threads (SharedQuantLayout).
struct QuantSlots {
  int8_t* qs;
  float* dx;
  int32_t* corr;
  float* spat;
};

// n tokens (X: the first one's prepared row, the next x_row_bytes further) into the slots from token 0.
template <class F>
void pack_rows(const uint8_t* X, size_t x_row_bytes, int64_t n, int64_t nb, const QuantSlots& out) {
  const int64_t np = (nb + 1) / 2;
  auto token = [&](int64_t t) { return reinterpret_cast<const ActBlockQ8*>(X + size_t(t) * x_row_bytes); };
  for (int64_t t = 0; t < n; ++t) pack_token(token(t), nb, F::kOffset, out.qs + t * np * 64, out.dx + t * np * 16, out.corr + t * np * 16);
  if constexpr (F::kHasMin)
    for (int64_t g = 0; g * kTileTokens < n; ++g) {
      const ActBlockQ8* xs[kTileTokens];
      const int m = int(std::min<int64_t>(kTileTokens, n - g * kTileTokens));
      for (int i = 0; i < m; ++i) xs[i] = token(g * kTileTokens + i);
      pack_sums(xs, m, nb, out.spat + g * np * 16);
    }
}

// The tile's views of n tokens' slots.
void bind_views(const QuantSlots& in, int64_t np, int64_t n, PackedAct* views) {
  for (int64_t t = 0; t < n; ++t) views[t] = {in.qs + t * np * 64, in.dx + t * np * 16, in.corr + t * np * 16};
}

// The scratch's slots, sized for `tokens` tokens in `groups` groups.
QuantSlots reserve(Scratch& s, int64_t tokens, int64_t np, int64_t groups) {
  if (s.qs.size() < size_t(tokens * np * 64)) s.qs.resize(size_t(tokens * np * 64));
  if (s.dx.size() < size_t(tokens * np * 16)) s.dx.resize(size_t(tokens * np * 16));
  if (s.corr.size() < size_t(tokens * np * 16)) s.corr.resize(size_t(tokens * np * 16));
  if (s.spat.size() < size_t(groups * np * 16)) s.spat.resize(size_t(groups * np * 16));
  if (s.views.size() < size_t(tokens)) s.views.resize(size_t(tokens));
  return {s.qs.data(), s.dx.data(), s.corr.data(), s.spat.data()};
}

// All T tokens of a prompt packed once for every thread (KernelSet::pack), in QuantSlots' layout: each
// region 64-byte aligned in one buffer.
struct SharedQuantLayout {
  size_t qs, dx, corr, spat, bytes;
  SharedQuantLayout(int64_t T, int64_t np, bool has_min) {
    const int64_t groups = (T + kTileTokens - 1) / kTileTokens;
    qs = 0;
    dx = qs + size_t(T * np * 64);
    corr = dx + size_t(T * np * 16) * sizeof(float);
    spat = corr + size_t(T * np * 16) * sizeof(int32_t);
    bytes = spat + (has_min ? size_t(groups * np * 16) * sizeof(float) : 0);
  }
  QuantSlots slots(const void* buffer) const {
    uint8_t* base = static_cast<uint8_t*>(const_cast<void*>(buffer));
    return {reinterpret_cast<int8_t*>(base + qs), reinterpret_cast<float*>(base + dx),
            reinterpret_cast<int32_t*>(base + corr), reinterpret_cast<float*>(base + spat)};
  }
};

template <class F>
void pack_quant_shared(const MatvecArgs& a, const void* X, size_t x_row_bytes, int64_t T, int64_t t0, int64_t t1,
                       void* packed) {
  static_assert(kPackSliceTokens % kTileTokens == 0);
  const int64_t nb = a.cols / kQuantBlock, np = (nb + 1) / 2;
  const QuantSlots all = SharedQuantLayout(T, np, F::kHasMin).slots(packed);
  pack_rows<F>(static_cast<const uint8_t*>(X), x_row_bytes, t1 - t0, nb,
               {all.qs + t0 * np * 64, all.dx + t0 * np * 16, all.corr + t0 * np * 16,
                F::kHasMin ? all.spat + (t0 / kTileTokens) * np * 16 : nullptr});
}

template <class F>
void matvec_quant(const MatvecArgs& a, const void* xp, float* y, int64_t r0, int64_t r1) {
  const int64_t nb = a.cols / kQuantBlock, np = (nb + 1) / 2;
  Scratch& s = scratch();
  if (!s.packed.holds(a.x_id, 1)) {
    const QuantSlots slots = reserve(s, 1, np, 1);
    pack_rows<F>(static_cast<const uint8_t*>(xp), 0, 1, nb, slots);
    bind_views(slots, np, 1, s.views.data());
    s.packed.set(a.x_id, 1);
  }
  if constexpr (F::kHasMin) {
    if (!s.packed_one.holds(a.x_id, 1)) {  // its own key: a one-token matmul may have packed the rest
      if (s.spat1.size() < size_t(quads(nb) * 8)) s.spat1.resize(size_t(quads(nb) * 8));
      pack_sums_one(reinterpret_cast<const ActBlockQ8*>(xp), nb, s.spat1.data());
      s.packed_one.set(a.x_id, 1);
    }
  }
  const float* spat = F::kHasMin ? s.spat.data() : nullptr;
  const float* spat1 = F::kHasMin ? s.spat1.data() : nullptr;
  for_split_rows<F::kDecodeParts>(a, r0, r1, y, [&](auto rows, const uint8_t* const* w, float* out) {
    quant_tile<F, decltype(rows)::value, 1>(w, s.views.data(), spat, nb, out, nullptr, spat1);
  });
}

template <class F>
void matmul_quant(const MatvecArgs& a, const void* X, size_t x_row_bytes, int64_t T, float* Y, int64_t ldy, int64_t r0,
                  int64_t r1) {
  const int64_t nb = a.cols / kQuantBlock, np = (nb + 1) / 2;
  const uint8_t* xb = static_cast<const uint8_t*>(X);
  // Tokens go in chunks whose packed activations (144 bytes per block) stay in L2 while every row
  // tile of [r0, r1) passes over them; a row tile's weights stay in L1 across the chunk's token groups.
  int64_t chunk = (512 * 1024) / std::max<int64_t>(1, np * (64 + 64 + 64));
  chunk = std::clamp<int64_t>(chunk / kTileTokens * kTileTokens, kTileTokens, 256);
  chunk = std::min(chunk, (T + kTileTokens - 1) / kTileTokens * kTileTokens);
  const int64_t groups = chunk / kTileTokens;
  Scratch& s = scratch();
  // Packed once for every thread (a prompt; see KernelSet::pack): views of all T tokens into it.
  // Otherwise this thread packs a chunk at a time, and when one chunk holds every token (batched
  // decoding) what it packed for another row range of this product is still good.
  const bool shared = a.packed != nullptr, one_chunk = chunk >= T;
  const bool reuse = shared || (one_chunk && s.packed.holds(a.x_id, T));
  QuantSlots slots;
  if (shared) {
    slots = SharedQuantLayout(T, np, F::kHasMin).slots(a.packed);
    if (s.views.size() < size_t(T)) s.views.resize(size_t(T));
    bind_views(slots, np, T, s.views.data());
    s.packed.clear();
  } else {
    slots = reserve(s, chunk, np, groups);
    if (!reuse) s.packed.clear();
  }
  for (int64_t t0 = 0; t0 < T; t0 += chunk) {
    const int64_t n = std::min(T - t0, chunk);
    if (!reuse) {
      pack_rows<F>(xb + size_t(t0) * x_row_bytes, x_row_bytes, n, nb, slots);
      bind_views(slots, np, n, s.views.data());
      if (one_chunk) s.packed.set(a.x_id, T);
    }
    // The chunk's first token: in the shared slots, token t0; in this thread's, token 0.
    const int64_t first = shared ? t0 : 0;
    const PackedAct* views = s.views.data() + first;
    const float* spat_chunk = F::kHasMin ? slots.spat + (first / kTileTokens) * np * 16 : nullptr;
    // A prompt chunk unpacks each row tile's quads once for all of its token groups (unpack_quads).
    const int64_t nq = quads(nb);
    const bool unpack = n > kUnpackTokens && nq > 0;
    const size_t per_row = size_t(nq * kUnpackedVecs<F>);
    if (unpack && s.unpacked.size() < per_row * kTileRows) s.unpacked.resize(per_row * kTileRows);
    for (int64_t r = r0; r < r1; r += kTileRows) {
      const int64_t re = std::min(r1, r + kTileRows);
      const __m512i* rows[kTileRows] = {};
      if (unpack)
        for (int64_t i = 0; i < re - r; ++i) {
          __m512i* u = s.unpacked.data() + per_row * size_t(i);
          unpack_quads<F>(a.w + size_t(r + i) * a.w_row_bytes, nq, u);
          rows[i] = u;
        }
      const __m512i* const* uq = unpack ? rows : nullptr;
      for (int64_t g = 0; g * kTileTokens < n; ++g) {
        const int64_t t = t0 + g * kTileTokens;
        const PackedAct* x = views + g * kTileTokens;
        const float* spat = spat_chunk ? spat_chunk + g * np * 16 : nullptr;
        float* Yt = Y + t * ldy;
        with_count<kTileTokens>(std::min<int64_t>(kTileTokens, n - g * kTileTokens), [&](auto tokens) {
          quant_rows<F, decltype(tokens)::value, kTileRows>(a, x, spat, r, re, Yt, ldy, uq);
        });
      }
    }
  }
}

// ---- F32 / F16 weights, float activations -------------------------------------------------------

template <bool kF16>
inline __m512 load_w(const uint8_t* row, int64_t c) {
  if constexpr (kF16)
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + c * 2)));
  else
    return _mm512_loadu_ps(reinterpret_cast<const float*>(row) + c);
}
template <bool kF16>
inline __m512 load_w_tail(const uint8_t* row, int64_t c, __mmask16 m) {
  if constexpr (kF16)
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, row + c * 2));
  else
    return _mm512_maskz_loadu_ps(m, reinterpret_cast<const float*>(row) + c);
}

// Columns [c, c_end) of R rows against NT tokens, added into acc; c is a multiple of 16, and only a
// range that ends the row may end with a partial vector (masked). The per-lane order of the fmas is
// the same however a row is split into ranges, so a split row gives the bits of a whole one.
template <bool kF16, int R, int NT>
inline void float_accumulate(const uint8_t* const* w, const float* const* x, int64_t c, int64_t c_end,
                             int64_t prefetch_bytes, __m512 (&acc)[R][NT]) {
  constexpr int64_t kBytes = kF16 ? 2 : 4;
  // One prefetch per 64-byte line of each row's stream (16 columns are 32 or 64 bytes).
  constexpr int64_t kPrefetchCols = kF16 ? 16 : 0;
  // HOT LOOP (F32/F16 decode): 16 columns of R rows against NT tokens.
  for (; c + 16 <= c_end; c += 16) {
    __m512 wv[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      if ((c & kPrefetchCols) == 0) _mm_prefetch(reinterpret_cast<const char*>(w[r] + c * kBytes + prefetch_bytes), _MM_HINT_T0);
      wv[r] = load_w<kF16>(w[r], c);
    }
#pragma GCC unroll 8
    for (int t = 0; t < NT; ++t) {
      __m512 xv = _mm512_loadu_ps(x[t] + c);
      // With several rows, keep the activation in a register: GCC otherwise folds a load into every
      // fma, and the tile becomes bound by loads (18 per 16 fmas for 2 x 8) instead of by the fmas.
      if constexpr (R > 1) asm("" : "+v"(xv));
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) acc[r][t] = _mm512_fmadd_ps(wv[r], xv, acc[r][t]);
    }
  }
  if (c < c_end) {
    const __mmask16 m = __mmask16((1u << (c_end - c)) - 1);
    __m512 wv[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) wv[r] = load_w_tail<kF16>(w[r], c, m);
#pragma GCC unroll 8
    for (int t = 0; t < NT; ++t) {
      const __m512 xv = _mm512_maskz_loadu_ps(m, x[t] + c);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) acc[r][t] = _mm512_fmadd_ps(wv[r], xv, acc[r][t]);
    }
  }
}

template <bool kF16, int R, int NT>
void float_tile(const uint8_t* const* w, const float* const* x, int64_t cols, float* out) {
  __m512 acc[R][NT];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int t = 0; t < NT; ++t) acc[r][t] = _mm512_setzero_ps();
  float_accumulate<kF16, R, NT>(w, x, 0, cols, kPrefetchBytes, acc);
  hsum_tile<R, NT>(acc, out);
}

// Rows [r0, r1) against NT tokens, kRows rows per register tile (kRows * NT accumulators).
template <bool kF16, int NT, int kRows = kTileRows>
void float_rows(const MatvecArgs& a, const float* const* x, int64_t r0, int64_t r1, float* Y, int64_t ldy) {
  for_row_tiles<NT, kRows>(a, r0, r1, Y, ldy, [&](auto rows, const uint8_t* const* w, float* out) {
    float_tile<kF16, decltype(rows)::value, NT>(w, x, a.cols, out);
  });
}

// Eight tokens (batched decoding) in 2 x 8 tiles over rows [r0, r1), the columns in ranges whose eight
// activation rows fit in L1 beside the weights (8 x 1024 floats = 32 KB): past that the eight streams
// evict each other (at 2048 columns the tile ran at half the 4-token tile's rate). Each tile's
// accumulators wait in memory between ranges, so a long row (the FFN's 3072 or 4096 columns) keeps the
// wide tile and each token still gets the bits of token-by-token mode.
template <bool kF16>
void float_rows_wide(const MatvecArgs& a, const float* const* x, int64_t r0, int64_t r1, float* Y, int64_t ldy) {
  constexpr int NT = kWideTokens;
  constexpr int64_t kMaxRange = 1024, kBlockRows = 32;
  const int64_t ranges = (a.cols + kMaxRange - 1) / kMaxRange;
  if (ranges == 1) return float_rows<kF16, NT, 2>(a, x, r0, r1, Y, ldy);
  const int64_t range = ((a.cols + ranges - 1) / ranges + 15) / 16 * 16;
  constexpr int64_t kBytes = kF16 ? 2 : 4;
  __m512 saved[kBlockRows / 2][2][NT];
  for (int64_t rb = r0; rb < r1; rb += kBlockRows) {
    const int64_t re = std::min(r1, rb + kBlockRows);
    for (int64_t c0 = 0; c0 < a.cols; c0 += range) {
      const int64_t c1 = std::min(a.cols, c0 + range);
      // Prefetch where this tile goes next: the same rows' next range, or after the last range the
      // next block's first.
      const int64_t ahead = c1 < a.cols ? range * kBytes : kBlockRows * int64_t(a.w_row_bytes) - c0 * kBytes;
      for (int64_t r = rb; r < re; r += 2) {
        __m512 (&kept)[2][NT] = saved[(r - rb) / 2];
        // An odd last row goes through the tile twice (the second copy is not stored): each lane's
        // fmas are the same whatever the tile's rows, so its bits do not change.
        const uint8_t* w[2] = {a.w + size_t(r) * a.w_row_bytes, a.w + size_t(std::min(r + 1, re - 1)) * a.w_row_bytes};
        // A local copy, so the compiler keeps the accumulators in registers through the hot loop.
        __m512 acc[2][NT];
        for (int i = 0; i < 2; ++i)
          for (int t = 0; t < NT; ++t) acc[i][t] = c0 == 0 ? _mm512_setzero_ps() : kept[i][t];
        float_accumulate<kF16, 2, NT>(w, x, c0, c1, ahead, acc);
        for (int i = 0; i < 2; ++i)
          for (int t = 0; t < NT; ++t) kept[i][t] = acc[i][t];
        if (c1 == a.cols) {
          float out[2 * NT];
          hsum_tile<2, NT>(acc, out);
          for (int i = 0; i < 2 && r + i < re; ++i)
            for (int t = 0; t < NT; ++t) Y[t * ldy + r + i] = out[i * NT + t];
        }
      }
    }
  }
}

template <bool kF16>
void matvec_float(const MatvecArgs& a, const void* xp, float* y, int64_t r0, int64_t r1) {
  const float* x = static_cast<const float*>(xp);
  for_split_rows<kFloatDecodeParts>(a, r0, r1, y, [&](auto rows, const uint8_t* const* w, float* out) {
    float_tile<kF16, decltype(rows)::value, 1>(w, &x, a.cols, out);
  });
}

template <bool kF16>
void matmul_float(const MatvecArgs& a, const void* X, size_t x_row_bytes, int64_t T, float* Y, int64_t ldy, int64_t r0,
                  int64_t r1) {
  if (float_gemm_applies(T, a.cols)) return gemm_float_avx512(a, X, x_row_bytes, T, Y, ldy, r0, r1);
  const uint8_t* xb = static_cast<const uint8_t*>(X);
  const float* x[kWideTokens];
  auto bind = [&](int64_t t, int n) {
    for (int i = 0; i < n; ++i) x[i] = reinterpret_cast<const float*>(xb + size_t(t + i) * x_row_bytes);
  };
  // Batched decoding (8 to 16 tokens; the weights come from DRAM once per call): the first eight in
  // 2 rows x 8 tokens (16 accumulators, the 8 activation vectors kept in registers; 3 rows x 8 measured
  // 3-7% slower), each weight vector widened once for all eight. Prompts (weights reused from L2 by
  // many tokens) keep the 4x4 tile: 0.1B FP16 prefill 1090-1230 tok/s against 920-960 with the 3x8 tile.
  int64_t t_begin = 0;
  if (T >= kWideTokens && T <= 2 * kWideTokens) {
    bind(0, kWideTokens);
    float_rows_wide<kF16>(a, x, r0, r1, Y, ldy);
    t_begin = kWideTokens;
  }
  // Token chunks sized for L2; within a chunk, blocks of rows whose weights stay in L1 across its tiles.
  int64_t chunk = std::max<int64_t>(kTileTokens, (256 * 1024) / std::max<int64_t>(1, int64_t(x_row_bytes)));
  chunk = chunk / kTileTokens * kTileTokens;
  for (int64_t t0 = t_begin; t0 < T; t0 += chunk) {
    const int64_t t1 = std::min(T, t0 + chunk);
    for (int64_t r = r0; r < r1; r += kFloatRowBlock) {
      const int64_t re = std::min(r1, r + kFloatRowBlock);
      int64_t t = t0;
      for (; t + kTileTokens <= t1; t += kTileTokens) {
        bind(t, kTileTokens);
        float_rows<kF16, kTileTokens>(a, x, r, re, Y + t * ldy, ldy);
      }
      bind(t, int(t1 - t));
      with_count<kTileTokens - 1>(t1 - t, [&](auto tokens) {
        float_rows<kF16, decltype(tokens)::value>(a, x, r, re, Y + t * ldy, ldy);
      });
    }
  }
}

// ---- activations ------------------------------------------------------------------------------

// The reference quantizer (matvec_ref.cpp) with two blocks per zmm: the same amax, the same d and
// 1/d, and the same rounding (to nearest even, the default mode nearbyint uses), so the bits match.
void quantize_row_avx512(const float* x, int64_t cols, ActBlockQ8* out) {
  const int64_t nb = cols / kQuantBlock;
  const __m512 abs_mask = _mm512_castsi512_ps(_mm512_set1_epi32(0x7FFFFFFF));
  for (int64_t b = 0; b < nb; ++b) {
    const float* xb = x + b * kQuantBlock;
    const __m512 lo = _mm512_loadu_ps(xb), hi = _mm512_loadu_ps(xb + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_and_ps(lo, abs_mask), _mm512_and_ps(hi, abs_mask)));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const __m512 idv = _mm512_set1_ps(id);
    const __m512i qlo = _mm512_cvt_roundps_epi32(_mm512_mul_ps(lo, idv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512i qhi = _mm512_cvt_roundps_epi32(_mm512_mul_ps(hi, idv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out[b].qs), _mm512_cvtsepi32_epi8(qlo));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out[b].qs + 16), _mm512_cvtsepi32_epi8(qhi));
    out[b].d = d;
    out[b].s = d * float(_mm512_reduce_add_epi32(_mm512_add_epi32(qlo, qhi)));
  }
}

// ---- dispatch ---------------------------------------------------------------------------------

void matvec_rows_avx512(const MatvecArgs& a, const void* x, float* y, int64_t r0, int64_t r1) {
  switch (a.dtype) {
    case DType::F32: return matvec_float<false>(a, x, y, r0, r1);
    case DType::F16: return matvec_float<true>(a, x, y, r0, r1);
    case DType::Q4_0: return matvec_quant<FmtQ4_0>(a, x, y, r0, r1);
    case DType::Q4_1: return matvec_quant<FmtQ4_1>(a, x, y, r0, r1);
    case DType::Q5_0: return matvec_quant<FmtQ5_0>(a, x, y, r0, r1);
    case DType::Q5_1: return matvec_quant<FmtQ5_1>(a, x, y, r0, r1);
    case DType::Q8_0: return matvec_q8_0_avx512(a, x, y, r0, r1);
  }
  reference_kernels().matvec_rows(a, x, y, r0, r1);
}

void matmul_rows_avx512(const MatvecArgs& a, const void* X, size_t x_row_bytes, int64_t T, float* Y, int64_t ldy,
                        int64_t r0, int64_t r1) {
  switch (a.dtype) {
    case DType::F32: return matmul_float<false>(a, X, x_row_bytes, T, Y, ldy, r0, r1);
    case DType::F16: return matmul_float<true>(a, X, x_row_bytes, T, Y, ldy, r0, r1);
    case DType::Q4_0: return matmul_quant<FmtQ4_0>(a, X, x_row_bytes, T, Y, ldy, r0, r1);
    case DType::Q4_1: return matmul_quant<FmtQ4_1>(a, X, x_row_bytes, T, Y, ldy, r0, r1);
    case DType::Q5_0: return matmul_quant<FmtQ5_0>(a, X, x_row_bytes, T, Y, ldy, r0, r1);
    case DType::Q5_1: return matmul_quant<FmtQ5_1>(a, X, x_row_bytes, T, Y, ldy, r0, r1);
    case DType::Q8_0: return matmul_q8_0_avx512(a, X, x_row_bytes, T, Y, ldy, r0, r1);
  }
  reference_kernels().matmul_rows(a, X, x_row_bytes, T, Y, ldy, r0, r1);
}

size_t packed_bytes_avx512(const MatvecArgs& a, int64_t T) {
  if (a.dtype == DType::F32 || a.dtype == DType::F16)
    return float_gemm_applies(T, a.cols) ? gemm_float_packed_bytes(a.cols, T) : 0;
  if (a.dtype == DType::Q8_0) return q8_0_packed_bytes(a.cols, T);
  const int64_t np = (a.cols / kQuantBlock + 1) / 2;
  return SharedQuantLayout(T, np, a.dtype == DType::Q4_1 || a.dtype == DType::Q5_1).bytes;
}

void pack_avx512(const MatvecArgs& a, const void* X, size_t x_row_bytes, int64_t T, int64_t t0, int64_t t1, void* packed) {
  switch (a.dtype) {
    case DType::F32:
    case DType::F16: return gemm_float_pack(X, x_row_bytes, a.cols, t0, t1, packed);
    case DType::Q4_0: return pack_quant_shared<FmtQ4_0>(a, X, x_row_bytes, T, t0, t1, packed);
    case DType::Q4_1: return pack_quant_shared<FmtQ4_1>(a, X, x_row_bytes, T, t0, t1, packed);
    case DType::Q5_0: return pack_quant_shared<FmtQ5_0>(a, X, x_row_bytes, T, t0, t1, packed);
    case DType::Q5_1: return pack_quant_shared<FmtQ5_1>(a, X, x_row_bytes, T, t0, t1, packed);
    case DType::Q8_0: return q8_0_pack(X, x_row_bytes, a.cols, t0, t1, packed);
  }
}

}  // namespace

// matvec_vbmi_avx512.cpp builds this file again as the "avx512-vbmi" set (RWKV_QUAD_PERMUTE).
#ifndef RWKV_KERNEL_SET_FN
#define RWKV_KERNEL_SET_FN avx512_kernels
#define RWKV_KERNEL_SET_NAME "avx512-vnni"
#endif
const KernelSet* RWKV_KERNEL_SET_FN() {
  static const KernelSet set{RWKV_KERNEL_SET_NAME, matvec_rows_avx512, matmul_rows_avx512, quantize_row_avx512,
                             packed_bytes_avx512, pack_avx512};
  return &set;
}

}  // namespace rwkv::cpu
