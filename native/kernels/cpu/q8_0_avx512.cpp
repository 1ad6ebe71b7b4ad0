// Q8_0 weights on AVX-512 VNNI, sixteen blocks at a time.
//
// A block's dot product is an exact integer (vpdpbusd: u8 x s8 -> s32, four products a lane), then
// one float product with d_w * d_x. The other quantized types (matvec_avx512.cpp) give a vector lane
// to a quarter of a block, so every block costs a convert, a multiply and an fma on four lanes. Here
// the 16 lanes of a vector are 16 blocks: vector s of a "hex" (16 consecutive blocks) holds bytes
// 4s..4s+3 of every block, so 8 vpdpbusd leave each block's whole sum in its own lane, and one convert,
// one scale product and one fma serve all 16. Prompt tiles spend a third of the float work they did
// (a throwaway single-core harness, 4 rows x 4 tokens from L1, AMD Zen 5: 83 -> 125 G multiply-adds/s).
//
// Getting there costs a transpose of the quants (24 two-source permutes per 16 blocks), which prompts
// and batched decoding do once per row tile and chunk (unpack_hexes) and the activations once per
// product (pack_token). One-token decoding would pay it on every row, so it reduces partial sums
// instead (decode_hex, below).
//
// Every (row, token) pair goes through the same ops in every tile shape, and decoding, batched
// decoding and prompts all use the hex order, so sequence mode keeps the bits of token-by-token mode.
// A row's last hex may hold fewer than 16 blocks: its missing lanes hold no weights, against zero
// activations, zero corrections and zero scales, so they add +0 to their accumulators in every path alike.
// GCC 12's AVX-512 intrinsics start from _mm512_undefined_*() and trip -Wuninitialized under -O3.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wignored-attributes"
#include "kernels/cpu/q8_0_avx512.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/dtype.h"
#include "kernels/cpu/tiles_avx512.h"

namespace rwkv::cpu {

namespace {

constexpr int kHex = 16;                   // blocks per hex: one per vector lane
constexpr int kSteps = 8;                  // 4-byte steps in a block of 32 quants
constexpr int kWeightVecs = kSteps + 1;    // a row's hex, unpacked: the steps, d_w
constexpr int kActVecs = kSteps + 2;       // a token's hex: the steps, d_x, the offset corrections
constexpr size_t kBlockBytes = sizeof(BlockQ8_0);
constexpr int64_t kUnpackTokens = 4;       // chunks of more tokens (several token groups) unpack each row tile once

inline int64_t hexes(int64_t nb) { return (nb + kHex - 1) / kHex; }
inline int hex_blocks(int64_t nb, int64_t h) { return int(std::min<int64_t>(kHex, nb - h * kHex)); }

// 16 blocks x 8 dwords, given as 8 pair vectors (p[i]: block 2i's dwords in lanes 0-7, block 2i+1's in
// lanes 8-15), into 8 step vectors (p[s], lane j: dword s of block j). Each round picks the even and the
// odd lanes of two vectors' concatenation, which moves one bit of the block number from the vector
// index into the lane index and one bit of the step the other way; three rounds move all three.
[[gnu::always_inline]] inline void transpose_hex(__m512i (&p)[kSteps]) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
#pragma GCC unroll 3
  for (int bit = 1; bit < kSteps; bit <<= 1)
#pragma GCC unroll 8
    for (int v = 0; v < kSteps; ++v)
      if (!(v & bit)) {
        const __m512i a = p[v], b = p[v | bit];
        p[v] = _mm512_permutex2var_epi32(a, even, b);
        p[v | bit] = _mm512_permutex2var_epi32(a, odd, b);
      }
}

// 32-byte rows of blocks 2i and 2i+1 (of n in the hex; absent ones zero) as one pair vector.
template <class Quants>
[[gnu::always_inline]] inline __m512i pair_vector(Quants&& quants, int i, int n) {
  const __m256i lo = 2 * i < n ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(quants(2 * i))) : _mm256_setzero_si256();
  const __m256i hi = 2 * i + 1 < n ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(quants(2 * i + 1))) : _mm256_setzero_si256();
  return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

// The fp16 d of a hex's blocks (0 past n), as 16 words in lane order `step` apart: block
// first + step*j of group g in word j of 64-bit lane g. Scalar loads: a vpgatherdd of the 16 words cost
// decoding a third of its speed in cache (BM_SmallBatch Q8_0 T = 1). Inlined with n known, the tests
// fold away.
template <int kStep>
[[gnu::always_inline]] inline uint64_t four_words(const uint8_t* p, int first, int n) {
  uint64_t v = 0;
#pragma GCC unroll 4
  for (int j = 0; j < 4; ++j)
    if (first + kStep * j < n) {
      uint16_t d;
      std::memcpy(&d, p + size_t(first + kStep * j) * kBlockBytes, 2);
      v |= uint64_t(d) << (16 * j);
    }
  return v;
}
// d_w in block order (lane j: block j).
[[gnu::always_inline]] inline __m512 hex_scales(const uint8_t* p, int n) {
  return _mm512_cvtph_ps(_mm256_set_epi64x(int64_t(four_words<1>(p, 12, n)), int64_t(four_words<1>(p, 8, n)),
                                           int64_t(four_words<1>(p, 4, n)), int64_t(four_words<1>(p, 0, n))));
}

// The quants of a weight hex's blocks [0, n) as stored (p: its first block), as 8 pair vectors of
// unsigned bytes u = q + 128 (a flip of the top bit, for vpdpbusd's unsigned operand; the offset comes
// back through the activations' corrections).
[[gnu::always_inline]] inline void weight_pairs(const uint8_t* p, int n, __m512i (&u)[kSteps]) {
  const __m512i flip = _mm512_set1_epi8(char(0x80));
  auto quants = [p](int b) { return p + size_t(b) * kBlockBytes + 2; };
#pragma GCC unroll 8
  for (int i = 0; i < kSteps; ++i) u[i] = _mm512_xor_si512(pair_vector(quants, i, n), flip);
}

// Blocks [0, n) of a weight hex: weight_pairs in step order, and d_w of each block in its lane, 0 past n.
// Whole hexes inline into the tile with n fixed, so that u stays in registers; a row's last, shorter hex
// goes through a call (when one body served both, GCC stopped inlining it and whole hexes ran 20-30%
// slower: BM_SmallBatch Q8_0, in cache).
template <int kN>  // n known at compile time (16 or 8), or 0
[[gnu::always_inline]] inline void load_hex_of(const uint8_t* p, int n, __m512i (&u)[kSteps], __m512& dw) {
  if constexpr (kN != 0) n = kN;
  weight_pairs(p, n, u);
  transpose_hex(u);
  dw = hex_scales(p, n);
}
[[gnu::noinline]] void load_short_hex(const uint8_t* p, int n, __m512i (&u)[kSteps], __m512& dw) {
  load_hex_of<0>(p, n, u, dw);
}
[[gnu::always_inline]] inline void load_hex(const uint8_t* p, int n, __m512i (&u)[kSteps], __m512& dw) {
  if (n == kHex) load_hex_of<kHex>(p, n, u, dw);
  else if (n == 8) load_hex_of<8>(p, n, u, dw);  // the last hex of 768-column rows
  else load_short_hex(p, n, u, dw);
}

// One token's activation blocks (nb of them) into the hex layout: per hex the 8 step vectors of its
// quants, d_x per lane, and each block's offset correction -128 * sum(q_x) (exact: it cancels the +128
// of the weights' unsigned quants), zeros past nb.
void pack_token(const ActBlockQ8* x, int64_t nb, __m512i* out) {
  const __m512i ones = _mm512_set1_epi8(1);
  for (int64_t h = 0; h < hexes(nb); ++h) {
    const ActBlockQ8* b = x + h * kHex;
    const int n = hex_blocks(nb, h);
    __m512i q[kSteps];
    for (int i = 0; i < kSteps; ++i) q[i] = pair_vector([b](int j) { return b[j].qs; }, i, n);
    transpose_hex(q);
    __m512i sum = _mm512_setzero_si512();
    __m512i* o = out + h * kActVecs;
    for (int s = 0; s < kSteps; ++s) {
      _mm512_storeu_si512(o + s, q[s]);
      sum = _mm512_dpbusd_epi32(sum, ones, q[s]);
    }
    alignas(64) float d[kHex] = {};
    for (int j = 0; j < n; ++j) d[j] = b[j].d;
    _mm512_storeu_si512(o + kSteps, _mm512_castps_si512(_mm512_load_ps(d)));
    _mm512_storeu_si512(o + kSteps + 1, _mm512_mullo_epi32(sum, _mm512_set1_epi32(-128)));
  }
}

// A row tile's hexes as load_hex leaves them, once per prompt chunk, for every token group to read.
void unpack_hexes(const uint8_t* row, int64_t nb, __m512i* out) {
  for (int64_t h = 0; h < hexes(nb); ++h) {
    __m512i u[kSteps];
    __m512 dw;
    load_hex(row + size_t(h) * kHex * kBlockBytes, hex_blocks(nb, h), u, dw);
    __m512i* o = out + h * kWeightVecs;
    for (int s = 0; s < kSteps; ++s) _mm512_storeu_si512(o + s, u[s]);
    _mm512_storeu_si512(o + kSteps, _mm512_castps_si512(dw));
  }
}

// HOT LOOP (prompts and batched decoding): R rows x NT tokens over whole rows of nb blocks; out[r*NT + t]. Row r's
// hexes come from its stored blocks (w[r]) or, kUnpacked, from unpack_hexes' vectors (uh[r]); token t's
// from x[t] (pack_token's layout). For every (row, token) pair the same ops: the block sums start from
// the corrections and take the 8 steps in two chains (integer adds: exact in any order), then one
// convert, d_w * d_x, one fma into the pair's accumulator, and hsum512's order at the end.
template <int R, int NT, bool kUnpacked>
void hex_tile(const uint8_t* const* w, const __m512i* const* uh, const __m512i* const* x, int64_t nb, float* out) {
  __m512 acc[R][NT];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int t = 0; t < NT; ++t) acc[r][t] = _mm512_setzero_ps();
  const int64_t nh = hexes(nb);
  for (int64_t h = 0; h < nh; ++h) {
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      __m512i u[kSteps];
      __m512 dw;
      if constexpr (kUnpacked) {
        const __m512i* o = uh[r] + h * kWeightVecs;
#pragma GCC unroll 8
        for (int s = 0; s < kSteps; ++s) u[s] = _mm512_loadu_si512(o + s);
        dw = _mm512_castsi512_ps(_mm512_loadu_si512(o + kSteps));
      } else {
        const uint8_t* p = w[r] + size_t(h) * kHex * kBlockBytes;
#pragma GCC unroll 9
        for (size_t off = 0; off < kHex * kBlockBytes; off += 64)
          _mm_prefetch(reinterpret_cast<const char*>(p + kPrefetchBytes + off), _MM_HINT_T0);
        load_hex(p, hex_blocks(nb, h), u, dw);
      }
#pragma GCC unroll 4
      for (int t = 0; t < NT; ++t) {
        const __m512i* xv = x[t] + h * kActVecs;
        __m512i even = _mm512_loadu_si512(xv + kSteps + 1), odd = _mm512_setzero_si512();
#pragma GCC unroll 4
        for (int s = 0; s < kSteps; s += 2) {
          even = _mm512_dpbusd_epi32(even, u[s], _mm512_loadu_si512(xv + s));
          odd = _mm512_dpbusd_epi32(odd, u[s + 1], _mm512_loadu_si512(xv + s + 1));
        }
        const __m512 scale = _mm512_mul_ps(dw, _mm512_castsi512_ps(_mm512_loadu_si512(xv + kSteps)));
        acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(even, odd)), scale, acc[r][t]);
      }
    }
  }
  hsum_tile<R, NT>(acc, out);
}

// ---- decoding: one token, rows as stored -----------------------------------------------------------
//
// Transposing every weight hex (24 cross-lane permutes) made one-token rows slower than the pair
// layout had been (BM_SmallBatch Q8_0 T = 1 in cache, 3072 columns: 63 -> 52 GB/s; 72 with the
// transpose left out). Decoding instead multiplies the blocks as stored, two to a vector (block 2i in
// lanes 0-7, 2i+1 in lanes 8-15, eight partial sums each), against the token's quants in the same pair
// layout, and then adds the partial sums of each block: 12 in-lane unpacks, 2 lane shuffles and 7 adds
// leave the 16 block sums in the lane order kDecodeLaneBlock. The sums are the same integers as the
// prompt path's; the token's d_x and corrections, and the weights' d_w, are laid out in that order too,
// and the accumulator goes back to block order once per row, before hsum512. So each lane accumulates
// the same float values in the same order as in every other path, and the bits match.
constexpr int kDecodeLaneBlock[kHex] = {0, 2, 4, 6, 1, 3, 5, 7, 8, 10, 12, 14, 9, 11, 13, 15};

// Eight pair vectors of partial sums -> 16 block sums, lane l holding block kDecodeLaneBlock[l].
[[gnu::always_inline]] inline __m512i block_sums(const __m512i (&d)[kSteps]) {
  __m512i a[4], b[2];
#pragma GCC unroll 4
  for (int k = 0; k < 4; ++k)
    a[k] = _mm512_add_epi32(_mm512_unpacklo_epi32(d[2 * k], d[2 * k + 1]), _mm512_unpackhi_epi32(d[2 * k], d[2 * k + 1]));
#pragma GCC unroll 2
  for (int k = 0; k < 2; ++k)
    b[k] = _mm512_add_epi32(_mm512_unpacklo_epi64(a[2 * k], a[2 * k + 1]), _mm512_unpackhi_epi64(a[2 * k], a[2 * k + 1]));
  return _mm512_add_epi32(_mm512_shuffle_i32x4(b[0], b[1], _MM_SHUFFLE(2, 0, 2, 0)),
                          _mm512_shuffle_i32x4(b[0], b[1], _MM_SHUFFLE(3, 1, 3, 1)));
}

// d_w in kDecodeLaneBlock's order: blocks two apart in each 64-bit lane.
[[gnu::always_inline]] inline __m512 decode_scales(const uint8_t* p, int n) {
  return _mm512_cvtph_ps(_mm256_set_epi64x(int64_t(four_words<2>(p, 9, n)), int64_t(four_words<2>(p, 8, n)),
                                           int64_t(four_words<2>(p, 1, n)), int64_t(four_words<2>(p, 0, n))));
}

// One token in the decode layout: per hex the 8 pair vectors of its quants, then d_x and the offset
// corrections in kDecodeLaneBlock's order.
void pack_decode_token(const ActBlockQ8* x, int64_t nb, __m512i* out) {
  const __m512i ones = _mm512_set1_epi8(1);
  for (int64_t h = 0; h < hexes(nb); ++h) {
    const ActBlockQ8* b = x + h * kHex;
    const int n = hex_blocks(nb, h);
    __m512i q[kSteps], sums[kSteps];
    __m512i* o = out + h * kActVecs;
    for (int i = 0; i < kSteps; ++i) {
      q[i] = pair_vector([b](int j) { return b[j].qs; }, i, n);
      _mm512_storeu_si512(o + i, q[i]);
      sums[i] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), ones, q[i]);
    }
    alignas(64) float d[kHex];
    for (int l = 0; l < kHex; ++l) d[l] = kDecodeLaneBlock[l] < n ? b[kDecodeLaneBlock[l]].d : 0.0f;
    _mm512_storeu_si512(o + kSteps, _mm512_castps_si512(_mm512_load_ps(d)));
    _mm512_storeu_si512(o + kSteps + 1, _mm512_mullo_epi32(block_sums(sums), _mm512_set1_epi32(-128)));
  }
}

// A hex of one row against the token, into acc (kDecodeLaneBlock's order). kN: n known at compile
// time (16, or 8: the last hex of 768-column rows, which otherwise cost 0.1B decoding 13%), or 0.
template <int kN>
[[gnu::always_inline]] inline void decode_hex(const uint8_t* p, int n, const __m512i* xv, __m512& acc) {
  if constexpr (kN != 0) n = kN;
  // Every hex prefetches its own bytes' distance ahead: rows of 768 columns are 1.5 hexes, and with
  // only whole hexes prefetching, a third of each row came in on demand (0.1B decode 4% slower).
#pragma GCC unroll 9
  for (size_t off = 0; off < size_t(n) * kBlockBytes; off += 64)
    _mm_prefetch(reinterpret_cast<const char*>(p + kPrefetchBytes + off), _MM_HINT_T0);
  __m512i d[kSteps];
  weight_pairs(p, n, d);
#pragma GCC unroll 8
  for (int i = 0; i < kSteps; ++i) d[i] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), d[i], _mm512_loadu_si512(xv + i));
  const __m512i isum = _mm512_add_epi32(block_sums(d), _mm512_loadu_si512(xv + kSteps + 1));
  const __m512 scale = _mm512_mul_ps(decode_scales(p, n), _mm512_castsi512_ps(_mm512_loadu_si512(xv + kSteps)));
  acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), scale, acc);
}
[[gnu::noinline]] void decode_short_hex(const uint8_t* p, int n, const __m512i* xv, __m512& acc) {
  decode_hex<0>(p, n, xv, acc);
}

// R rows (two parts of the thread's rows, for_split_rows) against the token in x.
template <int R>
void decode_tile(const uint8_t* const* w, const __m512i* x, int64_t nb, float* out) {
  __m512 acc[R][1];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) acc[r][0] = _mm512_setzero_ps();
  // Whole hexes in a loop of their own, the last one after it (one test per row, not per hex: a test per
  // hex made 768-column rows 10-15% slower, BM_SmallBatch Q8_0 T = 1 in cache).
  const int64_t whole = nb / kHex;
  for (int64_t h = 0; h < whole; ++h)
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) decode_hex<kHex>(w[r] + size_t(h) * kHex * kBlockBytes, kHex, x + h * kActVecs, acc[r][0]);
  const int rest = int(nb % kHex);
  const size_t last = size_t(whole) * kHex * kBlockBytes;
  if (rest == 8)
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) decode_hex<8>(w[r] + last, 8, x + whole * kActVecs, acc[r][0]);
  else if (rest)
    for (int r = 0; r < R; ++r) decode_short_hex(w[r] + last, rest, x + whole * kActVecs, acc[r][0]);
  // Back to block order: lane j takes the lane that holds block j.
  const __m512i to_blocks = _mm512_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7, 8, 12, 9, 13, 10, 14, 11, 15);
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) acc[r][0] = _mm512_permutexvar_ps(to_blocks, acc[r][0]);
  hsum_tile<R, 1>(acc, out);
}

// Per-thread scratch (several pool threads run kernels at once): packed activations in the hex layout
// (`acts`, named by `packed`) and in the decode layout (`decode_acts`, named by `decode_packed`), a row
// tile's unpacked hexes.
struct Scratch {
  std::vector<__m512i> acts, unpacked, decode_acts;
  PackedKey packed, decode_packed;
};
Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

const ActBlockQ8* token_blocks(const void* X, size_t x_row_bytes, int64_t t) {
  return reinterpret_cast<const ActBlockQ8*>(static_cast<const uint8_t*>(X) + size_t(t) * x_row_bytes);
}

}  // namespace

// Decoding: the thread's rows in two parts walked side by side (for_split_rows: two independent chains
// and two clean streams for the prefetchers, as the pair layout measured best for Q8_0).
void matvec_q8_0_avx512(const MatvecArgs& a, const void* x, float* y, int64_t r0, int64_t r1) {
  const int64_t nb = a.cols / kQuantBlock, per_token = hexes(nb) * kActVecs;
  Scratch& s = scratch();
  if (!s.decode_packed.holds(a.x_id, 1)) {
    if (s.decode_acts.size() < size_t(per_token)) s.decode_acts.resize(size_t(per_token));
    pack_decode_token(static_cast<const ActBlockQ8*>(x), nb, s.decode_acts.data());
    s.decode_packed.set(a.x_id, 1);
  }
  for_split_rows<2>(a, r0, r1, y, [&](auto rows, const uint8_t* const* w, float* out) {
    decode_tile<decltype(rows)::value>(w, s.decode_acts.data(), nb, out);
  });
}

void matmul_q8_0_avx512(const MatvecArgs& a, const void* X, size_t x_row_bytes, int64_t T, float* Y, int64_t ldy,
                        int64_t r0, int64_t r1) {
  const int64_t nb = a.cols / kQuantBlock, nh = hexes(nb), per_token = nh * kActVecs;
  // Tokens go in chunks whose packed activations stay in L2 while every row tile of [r0, r1) passes over
  // them; a row tile's unpacked hexes stay in L1/L2 across the chunk's token groups.
  int64_t chunk = (512 * 1024) / (per_token * 64);
  chunk = std::clamp<int64_t>(chunk / kTileTokens * kTileTokens, kTileTokens, 256);
  chunk = std::min(chunk, (T + kTileTokens - 1) / kTileTokens * kTileTokens);
  Scratch& s = scratch();
  // Packed once for every thread (a prompt; KernelSet::pack). Otherwise this thread packs a chunk at a
  // time, and when one chunk holds every token (batched decoding) what it packed for another row range
  // of this product is still good.
  const bool shared = a.packed != nullptr, one_chunk = chunk >= T;
  const bool reuse = shared || (one_chunk && s.packed.holds(a.x_id, T));
  if (!shared && s.acts.size() < size_t(chunk * per_token)) s.acts.resize(size_t(chunk * per_token));
  if (!reuse) s.packed.clear();
  const __m512i* base = shared ? static_cast<const __m512i*>(a.packed) : s.acts.data();
  const size_t per_row = size_t(nh * kWeightVecs);
  for (int64_t t0 = 0; t0 < T; t0 += chunk) {
    const int64_t n = std::min(T - t0, chunk);
    if (!reuse) {
      for (int64_t i = 0; i < n; ++i) pack_token(token_blocks(X, x_row_bytes, t0 + i), nb, s.acts.data() + i * per_token);
      if (one_chunk) s.packed.set(a.x_id, T);
    }
    const __m512i* chunk_acts = base + (shared ? t0 : 0) * per_token;
    const bool unpack = n > kUnpackTokens;
    if (unpack && s.unpacked.size() < per_row * kTileRows) s.unpacked.resize(per_row * kTileRows);
    for (int64_t r = r0; r < r1; r += kTileRows) {
      const int64_t re = std::min(r1, r + kTileRows);
      const __m512i* uh[kTileRows] = {};
      if (unpack)
        for (int64_t i = 0; i < re - r; ++i) {
          unpack_hexes(a.w + size_t(r + i) * a.w_row_bytes, nb, s.unpacked.data() + per_row * size_t(i));
          uh[i] = s.unpacked.data() + per_row * size_t(i);
        }
      for (int64_t g = 0; g * kTileTokens < n; ++g) {
        const __m512i* xt[kTileTokens];
        const int nt = int(std::min<int64_t>(kTileTokens, n - g * kTileTokens));
        for (int i = 0; i < nt; ++i) xt[i] = chunk_acts + (g * kTileTokens + i) * per_token;
        float* Yt = Y + (t0 + g * kTileTokens) * ldy;
        with_count<kTileTokens>(nt, [&](auto tokens) {
          constexpr int NT = decltype(tokens)::value;
          for_row_tiles<NT, kTileRows>(a, r, re, Yt, ldy, [&](auto rows, const uint8_t* const* w, float* out) {
            constexpr int R = decltype(rows)::value;
            if (unpack) hex_tile<R, NT, true>(w, uh, xt, nb, out);
            else hex_tile<R, NT, false>(w, nullptr, xt, nb, out);
          });
        });
      }
    }
  }
}

size_t q8_0_packed_bytes(int64_t cols, int64_t T) {
  return size_t(T * hexes(cols / kQuantBlock) * kActVecs) * sizeof(__m512i);
}

void q8_0_pack(const void* X, size_t x_row_bytes, int64_t cols, int64_t t0, int64_t t1, void* packed) {
  const int64_t nb = cols / kQuantBlock, per_token = hexes(nb) * kActVecs;
  __m512i* out = static_cast<__m512i*>(packed);
  for (int64_t t = t0; t < t1; ++t) pack_token(token_blocks(X, x_row_bytes, t - t0), nb, out + t * per_token);
}

}  // namespace rwkv::cpu
#pragma GCC diagnostic pop
