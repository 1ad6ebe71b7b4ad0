// Prompt GEMM for F32/F16 weights (many tokens against a matrix), AVX-512, bit-identical to the row
// kernels of matvec_avx512.cpp.
//
// Why a second float kernel: the row kernels compute each output as a dot product in one register,
// lane l summing the columns c = l (mod 16) in order, then the 16 lanes in one fixed tree (hsum512).
// A register tile of R rows x NT tokens loads R weight and NT activation vectors per R x NT fmas, and
// at prompt sizes those vectors come from L2 (4 rows and 4 tokens of 2048 floats overflow L1): on the
// 2-core Sapphire-Rapids-class machine the 4 x 4 tile ran at 163 GFLOP/s of the ~345 its fma ports give (two ports,
// ~5.4 G fma/s a core).
//
// Here each lane's partial sum gets a register of its own across 16 *rows* instead: for lane l, a
// vector of 16 rows accumulates W[r][16j + l] * x[t][16j + l] over j, in the same order and with the
// same fma as lane l of the row kernel. A tile of 48 rows (3 vectors) x 8 tokens is 24 accumulators
// fed by 3 vector loads and 8 broadcasts per 24 fmas, all from panels packed for this walk:
//   weights:     wp[l][j][48 rows]       (one 48-row block at a time, F16 widened, exact)
//   activations: xp[g][l][j][16 tokens]  (all T tokens, once per product: Linear packs them for every
//                thread through gemm_float_pack; a direct call packs its own)
// The 16 lane sums of a row are then added in hsum512's tree with vertical adds, so every output has
// exactly the bits the row kernels (and token-by-token decoding) give it.
// GCC 12's AVX-512 intrinsics start from _mm512_undefined_*() and trip -Wuninitialized under -O3.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/cpu/gemm_float.h"
#include "kernels/cpu/reduce_avx512.h"

namespace rwkv::cpu {

namespace {

constexpr int kRowVecs = 3;                // rows per tile, in vectors of 16
constexpr int kBlockRows = kRowVecs * 16;  // rows packed at a time
static_assert(kBlockRows == kGemmBlockRows);
constexpr int kTileTokens = 8;             // tokens per tile
constexpr int kGroupTokens = 16;           // tokens per activation panel (one transpose)
constexpr int64_t kAhead = 16;             // software prefetch distance in panel columns

// Floats from one lane's panel to the next. Unpadded, the 16 lanes of a panel lie a multiple of 4 KB
// apart whenever a row has a multiple of 256 columns, so the 16 stores of one transpose all fall into the
// same L1 set and evict each other (the packing ran at ~1.5 cycles a weight in cache); one extra cache
// line per lane spreads them over 16 sets.
inline int64_t weight_lane_stride(int64_t J) { return J * kBlockRows + 16; }
inline int64_t act_lane_stride(int64_t J) { return J * kGroupTokens + 16; }

// r[i][c] -> r[c][i] for a 16 x 16 block of floats.
inline void transpose16(__m512 (&r)[16]) {
  __m512 t[16], u[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  // u[4q + m], 128-bit lane k: rows 4q..4q+3 of column 4k + m.
  for (int q = 0; q < 4; ++q) {
    const __m512d a = _mm512_castps_pd(t[4 * q]), b = _mm512_castps_pd(t[4 * q + 1]),
                  c = _mm512_castps_pd(t[4 * q + 2]), d = _mm512_castps_pd(t[4 * q + 3]);
    u[4 * q + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
    u[4 * q + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
    u[4 * q + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
    u[4 * q + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
  }
  for (int m = 0; m < 4; ++m) {
    const __m512 v0 = _mm512_shuffle_f32x4(u[m], u[4 + m], _MM_SHUFFLE(2, 0, 2, 0));
    const __m512 v1 = _mm512_shuffle_f32x4(u[m], u[4 + m], _MM_SHUFFLE(3, 1, 3, 1));
    const __m512 w0 = _mm512_shuffle_f32x4(u[8 + m], u[12 + m], _MM_SHUFFLE(2, 0, 2, 0));
    const __m512 w1 = _mm512_shuffle_f32x4(u[8 + m], u[12 + m], _MM_SHUFFLE(3, 1, 3, 1));
    r[0 + m] = _mm512_shuffle_f32x4(v0, w0, _MM_SHUFFLE(2, 0, 2, 0));
    r[8 + m] = _mm512_shuffle_f32x4(v0, w0, _MM_SHUFFLE(3, 1, 3, 1));
    r[4 + m] = _mm512_shuffle_f32x4(v1, w1, _MM_SHUFFLE(2, 0, 2, 0));
    r[12 + m] = _mm512_shuffle_f32x4(v1, w1, _MM_SHUFFLE(3, 1, 3, 1));
  }
}

// 16 columns [c, c + 16) of a weight row as floats; columns past `cols` read as 0, as the row kernels'
// masked tail loads do.
template <bool kF16>
inline __m512 load_cols(const uint8_t* row, int64_t c, int64_t cols) {
  if (c + 16 <= cols) {
    if constexpr (kF16) return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + c * 2)));
    else return _mm512_loadu_ps(reinterpret_cast<const float*>(row) + c);
  }
  const __mmask16 m = c < cols ? __mmask16((1u << (cols - c)) - 1) : 0;
  if constexpr (kF16) return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, row + c * 2));
  else return _mm512_maskz_loadu_ps(m, reinterpret_cast<const float*>(row) + c);
}

struct GemmScratch {
  std::vector<float> xp, wp, part;
};
GemmScratch& gemm_scratch() {
  thread_local GemmScratch s;
  return s;
}

// Tokens [t0, t1) (X: token t0's row; t0 a multiple of 16) into xp[g][l][j][16]; the rest of the last
// group zeros.
void pack_activations(const uint8_t* X, size_t x_row_bytes, int64_t t0, int64_t t1, int64_t cols, float* xp) {
  const int64_t J = (cols + 15) / 16;
  for (int64_t g = t0 / kGroupTokens; g * kGroupTokens < t1; ++g) {
    for (int64_t j = 0; j < J; ++j) {
      __m512 v[16];
      for (int i = 0; i < 16; ++i) {
        const int64_t t = g * kGroupTokens + i;
        v[i] = t < t1 ? load_cols<false>(X + size_t(t - t0) * x_row_bytes, 16 * j, cols) : _mm512_setzero_ps();
      }
      transpose16(v);
      for (int l = 0; l < 16; ++l) _mm512_storeu_ps(xp + (g * 16 + l) * act_lane_stride(J) + j * kGroupTokens, v[l]);
    }
  }
}

// Rows [r, r + 48) (those below r_end; the rest zeros) into wp[l][j][48].
template <bool kF16>
void pack_weights(const MatvecArgs& a, int64_t r, int64_t r_end, float* wp) {
  const int64_t J = (a.cols + 15) / 16, stride = weight_lane_stride(J);
  const uint8_t* row[kBlockRows];
  for (int i = 0; i < kBlockRows; ++i) row[i] = r + i < r_end ? a.w + size_t(r + i) * a.w_row_bytes : nullptr;
  for (int64_t j = 0; j < J; ++j) {
    const bool whole = 16 * j + 16 <= a.cols;
#pragma GCC unroll 3
    for (int v = 0; v < kRowVecs; ++v) {
      __m512 rows[16];
      if (whole && row[16 * v + 15]) {
#pragma GCC unroll 16
        for (int i = 0; i < 16; ++i) rows[i] = load_cols<kF16>(row[16 * v + i], 16 * j, 16 * j + 16);
      } else {
        for (int i = 0; i < 16; ++i)
          rows[i] = row[16 * v + i] ? load_cols<kF16>(row[16 * v + i], 16 * j, a.cols) : _mm512_setzero_ps();
      }
      transpose16(rows);
#pragma GCC unroll 16
      for (int l = 0; l < 16; ++l) _mm512_storeu_ps(wp + l * stride + j * kBlockRows + 16 * v, rows[l]);
    }
  }
}

// 48 rows x 8 tokens: part[(tt * 16 + l) * 48 + row] = lane l's sum for token tt.
void tile(const float* wp, const float* xp, int64_t J, float* part) {
  for (int l = 0; l < 16; ++l) {
    const float* wl = wp + l * weight_lane_stride(J);
    const float* xl = xp + l * act_lane_stride(J);
    __m512 acc[kRowVecs][kTileTokens];
#pragma GCC unroll 8
    for (int v = 0; v < kRowVecs; ++v)
#pragma GCC unroll 8
      for (int t = 0; t < kTileTokens; ++t) acc[v][t] = _mm512_setzero_ps();
    // HOT LOOP (float prompts): one column of every lane-l panel, 24 fmas.
    for (int64_t j = 0; j < J; ++j) {
      _mm_prefetch(reinterpret_cast<const char*>(wl + (j + kAhead) * kBlockRows), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(wl + (j + kAhead) * kBlockRows + 16), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(wl + (j + kAhead) * kBlockRows + 32), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(xl + (j + kAhead) * kGroupTokens), _MM_HINT_T0);
      const __m512 w0 = _mm512_loadu_ps(wl + j * kBlockRows), w1 = _mm512_loadu_ps(wl + j * kBlockRows + 16),
                   w2 = _mm512_loadu_ps(wl + j * kBlockRows + 32);
#pragma GCC unroll 8
      for (int t = 0; t < kTileTokens; ++t) {
        const __m512 x = _mm512_set1_ps(xl[j * kGroupTokens + t]);
        acc[0][t] = _mm512_fmadd_ps(w0, x, acc[0][t]);
        acc[1][t] = _mm512_fmadd_ps(w1, x, acc[1][t]);
        acc[2][t] = _mm512_fmadd_ps(w2, x, acc[2][t]);
      }
    }
#pragma GCC unroll 8
    for (int t = 0; t < kTileTokens; ++t)
#pragma GCC unroll 8
      for (int v = 0; v < kRowVecs; ++v) _mm512_storeu_ps(part + (t * 16 + l) * kBlockRows + 16 * v, acc[v][t]);
  }
}

// hsum512's tree over the 16 lane sums, 16 rows at a time: within each 128-bit lane L,
// (e0 + e2) + (e1 + e3), then (L0 + L1) + (L2 + L3).
inline __m512 lane_tree(const float* p, int64_t stride) {
  __m512 s[4];
  for (int L = 0; L < 4; ++L) {
    const __m512 e0 = _mm512_loadu_ps(p + (4 * L + 0) * stride), e1 = _mm512_loadu_ps(p + (4 * L + 1) * stride),
                 e2 = _mm512_loadu_ps(p + (4 * L + 2) * stride), e3 = _mm512_loadu_ps(p + (4 * L + 3) * stride);
    s[L] = _mm512_add_ps(_mm512_add_ps(e0, e2), _mm512_add_ps(e1, e3));
  }
  return _mm512_add_ps(_mm512_add_ps(s[0], s[1]), _mm512_add_ps(s[2], s[3]));
}

template <bool kF16>
void gemm(const MatvecArgs& a, const void* X, size_t x_row_bytes, int64_t T, float* Y, int64_t ldy, int64_t r0,
          int64_t r1) {
  GemmScratch& s = gemm_scratch();
  const int64_t J = (a.cols + 15) / 16, G = (T + kGroupTokens - 1) / kGroupTokens;
  // Linear packs a prompt's activations once for every thread (a.packed); a direct call packs its own.
  const float* xp_all = static_cast<const float*>(a.packed);
  if (!xp_all) {
    if (s.xp.size() < size_t(G * 16 * act_lane_stride(J))) s.xp.resize(size_t(G * 16 * act_lane_stride(J)));
    pack_activations(static_cast<const uint8_t*>(X), x_row_bytes, 0, T, a.cols, s.xp.data());
    xp_all = s.xp.data();
  }
  if (s.wp.size() < size_t(16 * weight_lane_stride(J))) s.wp.resize(size_t(16 * weight_lane_stride(J)));
  s.part.resize(size_t(kTileTokens * 16 * kBlockRows));
  for (int64_t r = r0; r < r1; r += kBlockRows) {
    const int64_t re = std::min(r1, r + kBlockRows);
    pack_weights<kF16>(a, r, re, s.wp.data());
    for (int64_t t = 0; t < T; t += kTileTokens) {
      const float* xp = xp_all + (t / kGroupTokens) * 16 * act_lane_stride(J) + t % kGroupTokens;
      tile(s.wp.data(), xp, J, s.part.data());
      for (int64_t tt = 0; tt < kTileTokens && t + tt < T; ++tt) {
        float* y = Y + (t + tt) * ldy + r;
        for (int v = 0; v < kRowVecs && r + 16 * v < re; ++v) {
          const __m512 sum = lane_tree(s.part.data() + tt * 16 * kBlockRows + 16 * v, kBlockRows);
          const int64_t n = std::min<int64_t>(16, re - r - 16 * v);
          _mm512_mask_storeu_ps(y + 16 * v, __mmask16((1u << n) - 1), sum);
        }
      }
    }
  }
}

}  // namespace

size_t gemm_float_packed_bytes(int64_t cols, int64_t T) {
  const int64_t J = (cols + 15) / 16, G = (T + kGroupTokens - 1) / kGroupTokens;
  return size_t(G * 16 * act_lane_stride(J)) * sizeof(float);
}

void gemm_float_pack(const void* X, size_t x_row_bytes, int64_t cols, int64_t t0, int64_t t1, void* packed) {
  static_assert(kPackSliceTokens % kGroupTokens == 0);
  pack_activations(static_cast<const uint8_t*>(X), x_row_bytes, t0, t1, cols, static_cast<float*>(packed));
}

void gemm_float_avx512(const MatvecArgs& a, const void* X, size_t x_row_bytes, int64_t T, float* Y, int64_t ldy,
                       int64_t r0, int64_t r1) {
  if (a.dtype == DType::F16) gemm<true>(a, X, x_row_bytes, T, Y, ldy, r0, r1);
  else gemm<false>(a, X, x_row_bytes, T, Y, ldy, r0, r1);
}

}  // namespace rwkv::cpu
