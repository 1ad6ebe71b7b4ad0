// AVX-512 kernels (F/BW/VL + VNNI, F16C, FMA): Zen 4, Ice Lake and newer. Selected at run time by
// kernel_select.cpp; this file alone is compiled with those instruction sets.
//
// Design (see matvec.h for the contract):
//  * Every kernel, matvec and matmul, goes through one register tile of R weight rows x NT tokens
//    (R, NT <= 4). matvec is the NT = 1 tile. The ops applied to one (row, token) pair are the same
//    whatever R, NT, or the position of the pair in the tile, so sequence mode (matmul) reproduces
//    token-by-token mode (matvec) bit for bit. The tile exists to share loads: activations across
//    rows (matvec is memory-bound: the weights must stream at DRAM speed), and unpacked weight
//    blocks across tokens (prefill is compute-bound: each block is unpacked once per 4 tokens).
//  * Quantized dots use vpdpbusd (u8 x s8 -> s32, four products per lane). It needs one unsigned
//    operand, so weights are unpacked to unsigned quants u = q + o (o = 8 for Q4_0, 16 for Q5_0, 128
//    for Q8_0, 0 for the _1 types, which are unsigned already). sum(q*x) = sum(u*x) - o*sum(x); the
//    correction -o*sum(x) is an exact integer per activation block, computed once per call and fed
//    to vpdpbusd as the starting value of lane 0. The block's integer sum therefore stays exact
//    (spread over 8 lanes), and the float work per block is one convert and one fma with d_w*d_x.
//  * Plain 256-bit vectors for the integer work: Zen 4 executes 512-bit ops as two 256-bit halves, so
//    zmm would buy nothing there, and one 32-weight block is exactly one ymm.
// GCC 12's AVX-512 intrinsics start from _mm512_undefined_*() and trip -Wuninitialized under -O3.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/cpu/matvec.h"

namespace rwkv::cpu {

namespace {

#ifndef TILE_ROWS
#define TILE_ROWS 4
#endif
constexpr int kTileRows = TILE_ROWS;    // rows per register tile
constexpr int kTileTokens = 4;  // tokens per register tile (matmul)
#ifndef PFDIST
#define PFDIST 1024
#endif

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

// Fixed reduction order; used for every (row, token) pair so the bits never depend on the caller.
inline float hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
inline float hsum512(__m512 v) {
  const __m256 h = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
  return hsum256(h);
}

// 16 packed bytes of nibbles -> 32 bytes in element order: low nibbles (elements 0..15) in the low
// lane, high nibbles (16..31) in the high lane. One broadcast load, a per-lane shift, a mask.
inline __m256i unpack_nibbles(const uint8_t* qs) {
  const __m256i v = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs)));
  // A 64-bit shift drags bits of the neighbouring byte into the high nibble; the mask drops them.
  const __m256i shifted = _mm256_srlv_epi64(v, _mm256_set_epi64x(4, 4, 0, 0));
  return _mm256_and_si256(shifted, _mm256_set1_epi8(0x0F));
}
// Adds the fifth bit: bit j of qh (little-endian u32) is bit 4 of element j. An AVX-512BW byte mask
// does this in one masked add instead of spreading the 32 bits by shuffles.
inline __m256i add_high_bits(__m256i nib, const uint8_t* qh) {
  return _mm256_mask_add_epi8(nib, _cvtu32_mask32(load_u32(qh)), nib, _mm256_set1_epi8(0x10));
}

// Weight block formats: unpack() gives the unsigned quants u (value = (u - kOffset)*d, + m if kHasMin).
struct FmtQ4_0 {
  static constexpr size_t kBytes = sizeof(BlockQ4_0);
  static constexpr int kOffset = 8;
  static constexpr bool kHasMin = false;
  static __m256i unpack(const uint8_t* p) { return unpack_nibbles(p + 2); }
};
struct FmtQ4_1 {
  static constexpr size_t kBytes = sizeof(BlockQ4_1);
  static constexpr int kOffset = 0;
  static constexpr bool kHasMin = true;
  static __m256i unpack(const uint8_t* p) { return unpack_nibbles(p + 4); }
};
struct FmtQ5_0 {
  static constexpr size_t kBytes = sizeof(BlockQ5_0);
  static constexpr int kOffset = 16;
  static constexpr bool kHasMin = false;
  static __m256i unpack(const uint8_t* p) { return add_high_bits(unpack_nibbles(p + 6), p + 2); }
};
struct FmtQ5_1 {
  static constexpr size_t kBytes = sizeof(BlockQ5_1);
  static constexpr int kOffset = 0;
  static constexpr bool kHasMin = true;
  static __m256i unpack(const uint8_t* p) { return add_high_bits(unpack_nibbles(p + 8), p + 4); }
};
struct FmtQ8_0 {
  static constexpr size_t kBytes = sizeof(BlockQ8_0);
  static constexpr int kOffset = 128;
  static constexpr bool kHasMin = false;
  // q + 128 for signed bytes is a flip of the top bit.
  static __m256i unpack(const uint8_t* p) {
    return _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 2)), _mm256_set1_epi8(char(0x80)));
  }
};

// -o * sum(x.qs) for each activation block: exact, and shared by every row of the call.
template <int kOffset>
void block_corrections(const ActBlockQ8* x, int64_t nb, int32_t* out) {
  const __m256i ones = _mm256_set1_epi8(1);
  for (int64_t b = 0; b < nb; ++b) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].qs));
    const __m256i s8 = _mm256_dpbusd_epi32(_mm256_setzero_si256(), ones, v);
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(s8), _mm256_extracti128_si256(s8, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    out[b] = -kOffset * _mm_cvtsi128_si32(s);
  }
}

// One R x NT tile over all nb blocks. w[r]: weight row r; x[t]: prepared activation row t;
// corr[t]: its block corrections (unused for kOffset == 0). out[r*NT + t] = dot(row r, token t).
template <class F, int R, int NT>
void quant_tile(const uint8_t* const* w, const ActBlockQ8* const* x, const int32_t* const* corr, int64_t nb,
                float* out) {
  __m256 acc[R][NT];
  __m128 accm[R];  // kHasMin: sum of m_w * s_x, lanes = tokens
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) {
    accm[r] = _mm_setzero_ps();
#pragma GCC unroll 4
    for (int t = 0; t < NT; ++t) acc[r][t] = _mm256_setzero_ps();
  }
  // HOT LOOP (decode and prefill): one 32-weight block of R rows against NT tokens per iteration.
  for (int64_t b = 0; b < nb; ++b) {
    const size_t off = size_t(b) * F::kBytes;
    __m256i u[R];
    uint16_t dh[4] = {0, 0, 0, 0}, mh[4] = {0, 0, 0, 0};
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      _mm_prefetch(reinterpret_cast<const char*>(w[r] + off + PFDIST), _MM_HINT_T0);
      u[r] = F::unpack(w[r] + off);
      dh[r] = load_u16(w[r] + off);
      if constexpr (F::kHasMin) mh[r] = load_u16(w[r] + off + 2);
    }
    // d_w * d_x for all pairs: d_w of the R rows in one vector, times each token's d_x. Lane r of
    // the product is the same IEEE multiply whatever the tile shape.
    const __m128 dw = _mm_cvtph_ps(_mm_setr_epi16(short(dh[0]), short(dh[1]), short(dh[2]), short(dh[3]), 0, 0, 0, 0));
    alignas(16) float scale[NT][4];
#pragma GCC unroll 4
    for (int t = 0; t < NT; ++t) _mm_store_ps(scale[t], _mm_mul_ps(dw, _mm_set1_ps(x[t][b].d)));
#pragma GCC unroll 4
    for (int t = 0; t < NT; ++t) {
      const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[t][b].qs));
      __m256i c = _mm256_setzero_si256();
      if constexpr (F::kOffset != 0) c = _mm256_zextsi128_si256(_mm_cvtsi32_si128(corr[t][b]));
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) {
        const __m256i isum = _mm256_dpbusd_epi32(c, u[r], xv);
        acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(scale[t][r]), acc[r][t]);
      }
    }
    if constexpr (F::kHasMin) {
      alignas(16) float s[4] = {0, 0, 0, 0};
#pragma GCC unroll 4
      for (int t = 0; t < NT; ++t) s[t] = x[t][b].s;
      const __m128 sv = _mm_load_ps(s);
      const __m128 mw = _mm_cvtph_ps(_mm_setr_epi16(short(mh[0]), short(mh[1]), short(mh[2]), short(mh[3]), 0, 0, 0, 0));
      alignas(16) float m[4];
      _mm_store_ps(m, mw);
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) accm[r] = _mm_fmadd_ps(_mm_set1_ps(m[r]), sv, accm[r]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) {
    alignas(16) float mterm[4];
    _mm_store_ps(mterm, accm[r]);
#pragma GCC unroll 4
    for (int t = 0; t < NT; ++t) out[r * NT + t] = hsum256(acc[r][t]) + mterm[t];
  }
}

// Per-thread scratch for the block corrections (kernels run on several pool threads at once).
std::vector<int32_t>& corr_scratch() {
  thread_local std::vector<int32_t> buf;
  return buf;
}

template <class F, int NT>
void quant_rows(const MatvecArgs& a, const ActBlockQ8* const* x, const int32_t* const* corr, int64_t r0, int64_t r1,
                float* Y, int64_t ldy) {
  const int64_t nb = a.cols / kQuantBlock;
  float out[kTileRows * NT];
  const uint8_t* w[kTileRows];
  int64_t r = r0;
  auto store = [&](int R) {
    for (int i = 0; i < R; ++i)
      for (int t = 0; t < NT; ++t) Y[t * ldy + r + i] = out[i * NT + t];
  };
  for (; r + kTileRows <= r1; r += kTileRows) {
    for (int i = 0; i < kTileRows; ++i) w[i] = a.w + size_t(r + i) * a.w_row_bytes;
    quant_tile<F, kTileRows, NT>(w, x, corr, nb, out);
    store(kTileRows);
  }
  const int rest = int(r1 - r);
  for (int i = 0; i < rest; ++i) w[i] = a.w + size_t(r + i) * a.w_row_bytes;
  switch (rest) {
    case 1: quant_tile<F, 1, NT>(w, x, corr, nb, out); break;
    case 2: quant_tile<F, 2, NT>(w, x, corr, nb, out); break;
    case 3: quant_tile<F, 3, NT>(w, x, corr, nb, out); break;
    default: return;
  }
  store(rest);
}

template <class F>
void matvec_quant(const MatvecArgs& a, const void* xp, float* y, int64_t r0, int64_t r1) {
  const int64_t nb = a.cols / kQuantBlock;
  const ActBlockQ8* x = static_cast<const ActBlockQ8*>(xp);
  const int32_t* corr = nullptr;
  if constexpr (F::kOffset != 0) {
    auto& buf = corr_scratch();
    if (buf.size() < size_t(nb)) buf.resize(size_t(nb));
    block_corrections<F::kOffset>(x, nb, buf.data());
    corr = buf.data();
  }
  quant_rows<F, 1>(a, &x, &corr, r0, r1, y, 0);
}

template <class F>
void matmul_quant(const MatvecArgs& a, const void* X, size_t x_row_bytes, int64_t T, float* Y, int64_t ldy, int64_t r0,
                  int64_t r1) {
  const int64_t nb = a.cols / kQuantBlock;
  const uint8_t* xb = static_cast<const uint8_t*>(X);
  auto& buf = corr_scratch();
  if constexpr (F::kOffset != 0) {
    if (buf.size() < size_t(nb * T)) buf.resize(size_t(nb * T));
    for (int64_t t = 0; t < T; ++t)
      block_corrections<F::kOffset>(reinterpret_cast<const ActBlockQ8*>(xb + size_t(t) * x_row_bytes), nb,
                                    buf.data() + t * nb);
  }
  // Tokens are taken in chunks whose activations stay in L2 while every row tile of [r0, r1) passes
  // over them; a row tile's weights (a few KB) stay in L1 across the chunk's token groups.
  const int64_t chunk_bytes = 384 * 1024;
  int64_t chunk = std::max<int64_t>(kTileTokens, chunk_bytes / std::max<int64_t>(1, int64_t(x_row_bytes)));
  chunk = chunk / kTileTokens * kTileTokens;
  for (int64_t t0 = 0; t0 < T; t0 += chunk) {
    const int64_t t1 = std::min(T, t0 + chunk);
    for (int64_t r = r0; r < r1; r += kTileRows) {
      const int64_t re = std::min(r1, r + kTileRows);
      int64_t t = t0;
      const ActBlockQ8* x[kTileTokens];
      const int32_t* corr[kTileTokens] = {nullptr, nullptr, nullptr, nullptr};
      auto bind = [&](int n) {
        for (int i = 0; i < n; ++i) {
          x[i] = reinterpret_cast<const ActBlockQ8*>(xb + size_t(t + i) * x_row_bytes);
          if constexpr (F::kOffset != 0) corr[i] = buf.data() + (t + i) * nb;
        }
      };
      for (; t + kTileTokens <= t1; t += kTileTokens) {
        bind(kTileTokens);
        quant_rows<F, kTileTokens>(a, x, corr, r, re, Y + t * ldy, ldy);
      }
      const int rest = int(t1 - t);
      bind(rest);
      switch (rest) {
        case 1: quant_rows<F, 1>(a, x, corr, r, re, Y + t * ldy, ldy); break;
        case 2: quant_rows<F, 2>(a, x, corr, r, re, Y + t * ldy, ldy); break;
        case 3: quant_rows<F, 3>(a, x, corr, r, re, Y + t * ldy, ldy); break;
        default: break;
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

template <bool kF16, int R, int NT>
void float_tile(const uint8_t* const* w, const float* const* x, int64_t cols, float* out) {
  __m512 acc[R][NT];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int t = 0; t < NT; ++t) acc[r][t] = _mm512_setzero_ps();
  int64_t c = 0;
  // HOT LOOP (F32/F16 decode): 16 columns of R rows against NT tokens.
  for (; c + 16 <= cols; c += 16) {
    __m512 wv[R];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) wv[r] = load_w<kF16>(w[r], c);
#pragma GCC unroll 4
    for (int t = 0; t < NT; ++t) {
      const __m512 xv = _mm512_loadu_ps(x[t] + c);
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) acc[r][t] = _mm512_fmadd_ps(wv[r], xv, acc[r][t]);
    }
  }
  if (c < cols) {
    const __mmask16 m = __mmask16((1u << (cols - c)) - 1);
    __m512 wv[R];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) wv[r] = load_w_tail<kF16>(w[r], c, m);
#pragma GCC unroll 4
    for (int t = 0; t < NT; ++t) {
      const __m512 xv = _mm512_maskz_loadu_ps(m, x[t] + c);
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) acc[r][t] = _mm512_fmadd_ps(wv[r], xv, acc[r][t]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int t = 0; t < NT; ++t) out[r * NT + t] = hsum512(acc[r][t]);
}

template <bool kF16, int NT>
void float_rows(const MatvecArgs& a, const float* const* x, int64_t r0, int64_t r1, float* Y, int64_t ldy) {
  float out[kTileRows * NT];
  const uint8_t* w[kTileRows];
  int64_t r = r0;
  auto store = [&](int R) {
    for (int i = 0; i < R; ++i)
      for (int t = 0; t < NT; ++t) Y[t * ldy + r + i] = out[i * NT + t];
  };
  for (; r + kTileRows <= r1; r += kTileRows) {
    for (int i = 0; i < kTileRows; ++i) w[i] = a.w + size_t(r + i) * a.w_row_bytes;
    float_tile<kF16, kTileRows, NT>(w, x, a.cols, out);
    store(kTileRows);
  }
  const int rest = int(r1 - r);
  for (int i = 0; i < rest; ++i) w[i] = a.w + size_t(r + i) * a.w_row_bytes;
  switch (rest) {
    case 1: float_tile<kF16, 1, NT>(w, x, a.cols, out); break;
    case 2: float_tile<kF16, 2, NT>(w, x, a.cols, out); break;
    case 3: float_tile<kF16, 3, NT>(w, x, a.cols, out); break;
    default: return;
  }
  store(rest);
}

template <bool kF16>
void matvec_float(const MatvecArgs& a, const void* xp, float* y, int64_t r0, int64_t r1) {
  const float* x = static_cast<const float*>(xp);
  float_rows<kF16, 1>(a, &x, r0, r1, y, 0);
}

template <bool kF16>
void matmul_float(const MatvecArgs& a, const void* X, size_t x_row_bytes, int64_t T, float* Y, int64_t ldy, int64_t r0,
                  int64_t r1) {
  const uint8_t* xb = static_cast<const uint8_t*>(X);
  // Fallback when OpenBLAS is missing: the same register tile, with L2-sized token chunks.
  int64_t chunk = std::max<int64_t>(kTileTokens, (256 * 1024) / std::max<int64_t>(1, int64_t(x_row_bytes)));
  chunk = chunk / kTileTokens * kTileTokens;
  for (int64_t t0 = 0; t0 < T; t0 += chunk) {
    const int64_t t1 = std::min(T, t0 + chunk);
    for (int64_t r = r0; r < r1; r += kTileRows) {
      const int64_t re = std::min(r1, r + kTileRows);
      int64_t t = t0;
      const float* x[kTileTokens];
      auto bind = [&](int n) {
        for (int i = 0; i < n; ++i) x[i] = reinterpret_cast<const float*>(xb + size_t(t + i) * x_row_bytes);
      };
      for (; t + kTileTokens <= t1; t += kTileTokens) {
        bind(kTileTokens);
        float_rows<kF16, kTileTokens>(a, x, r, re, Y + t * ldy, ldy);
      }
      const int rest = int(t1 - t);
      bind(rest);
      switch (rest) {
        case 1: float_rows<kF16, 1>(a, x, r, re, Y + t * ldy, ldy); break;
        case 2: float_rows<kF16, 2>(a, x, r, re, Y + t * ldy, ldy); break;
        case 3: float_rows<kF16, 3>(a, x, r, re, Y + t * ldy, ldy); break;
        default: break;
      }
    }
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
    case DType::Q8_0: return matvec_quant<FmtQ8_0>(a, x, y, r0, r1);
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
    case DType::Q8_0: return matmul_quant<FmtQ8_0>(a, X, x_row_bytes, T, Y, ldy, r0, r1);
  }
  reference_kernels().matmul_rows(a, X, x_row_bytes, T, Y, ldy, r0, r1);
}

}  // namespace

const KernelSet* avx512_kernels() {
  static const KernelSet set{"avx512-vnni", matvec_rows_avx512, matmul_rows_avx512};
  return &set;
}

}  // namespace rwkv::cpu
