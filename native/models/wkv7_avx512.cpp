// WKV-7 for one head and one token with AVX-512 (this file alone is compiled with those flags; wkv.cpp
// picks it at run time). Same recurrence as wkv7_step in wkv.cpp:
//   sa = -sum_j S[i][j]*kk[j];  S[i][j] = S[i][j]*w[j] + v[i]*k[j] + sa*kk[j]*a[j];  y[i] = sum_j S[i][j]*r[j].
// Each row needs two dot products (sa before its update, y after), and the plain loop paid a
// horizontal sum for each: two dependent 16-lane reductions per row bound it (~33 cycles a row). Here
// 16 rows go together and their partial-sum vectors are reduced by one transposing tree (45 shuffles
// and adds for 16 rows instead of ~16 each), which leaves the row loads, fmas and stores as the cost.
// Every row's sa is computed before any row is updated: with each 16-row block's update waiting on its
// own reduction, a head of 64 took 16% longer (BM_Wkv7/64, 2-vCPU AMD Zen 5: 830-858 -> 689-716 us,
// old and new alternating). Same operations per row, so the same bits.
// GCC 12's AVX-512 intrinsics start from _mm512_undefined_*() and trip -Wuninitialized under -O3.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstdint>

#include "kernels/cpu/reduce_avx512.h"

namespace rwkv {

namespace {

// S = 16 * NC columns, the per-token vectors held in registers.
template <int NC>
void wkv7_head(float* __restrict st, const float* __restrict r, const float* __restrict w, const float* __restrict k,
               const float* __restrict v, const float* __restrict kk, const float* __restrict a, float* __restrict y,
               const char* next) {
  constexpr int64_t S = 16 * NC;
  __m512 vw[NC], vk[NC], vkk[NC], vkka[NC], vr[NC];
  for (int c = 0; c < NC; ++c) {
    vw[c] = _mm512_loadu_ps(w + 16 * c);
    vk[c] = _mm512_loadu_ps(k + 16 * c);
    vkk[c] = _mm512_loadu_ps(kk + 16 * c);
    vkka[c] = _mm512_mul_ps(vkk[c], _mm512_loadu_ps(a + 16 * c));
    vr[c] = _mm512_loadu_ps(r + 16 * c);
  }
  // All rows' sa first (their dot products with kk: S/16 reduction trees), then every row's update: the
  // two phases of different row blocks no longer wait on each other's reductions.
  alignas(64) float sa[S];
  for (int64_t i0 = 0; i0 < S; i0 += 16) {
    const float* rows = st + i0 * S;
    __m512 p[16];
    for (int i = 0; i < 16; ++i) {
      const float* row = rows + i * S;
      __m512 s = _mm512_mul_ps(_mm512_loadu_ps(row), vkk[0]);
      for (int c = 1; c < NC; ++c) s = _mm512_fmadd_ps(_mm512_loadu_ps(row + 16 * c), vkk[c], s);
      p[i] = s;
    }
    _mm512_store_ps(sa + i0, _mm512_sub_ps(_mm512_setzero_ps(), cpu::sum16(p)));
  }
  for (int64_t i0 = 0; i0 < S; i0 += 16) {
    float* rows = st + i0 * S;
    __m512 p[16];
    for (int i = 0; i < 16; ++i) {
      float* row = rows + i * S;
      // The next head's state, one 16th of it per row block: fetched from memory while this one computes.
      if (next)
        for (int c = 0; c < NC; ++c) _mm_prefetch(next + ((i0 + i) * S + 16 * c) * 4, _MM_HINT_T0);
      const __m512 sai = _mm512_set1_ps(sa[i0 + i]), vi = _mm512_set1_ps(v[i0 + i]);
      __m512 q = _mm512_setzero_ps();
      for (int c = 0; c < NC; ++c) {
        const __m512 add = _mm512_fmadd_ps(vi, vk[c], _mm512_mul_ps(sai, vkka[c]));
        const __m512 nv = _mm512_fmadd_ps(_mm512_loadu_ps(row + 16 * c), vw[c], add);
        _mm512_storeu_ps(row + 16 * c, nv);
        q = c == 0 ? _mm512_mul_ps(nv, vr[0]) : _mm512_fmadd_ps(nv, vr[c], q);
      }
      p[i] = q;
    }
    _mm512_storeu_ps(y + i0, cpu::sum16(p));
  }
}

}  // namespace

// Returns false (and does nothing) for head sizes it has no kernel for: the caller runs the plain loop.
bool wkv7_step_avx512(int64_t S, float* st, const float* r, const float* w, const float* k, const float* v,
                      const float* kk, const float* a, float* y, const float* prefetch) {
  const char* next = reinterpret_cast<const char*>(prefetch);
  switch (S) {
    case 32: wkv7_head<2>(st, r, w, k, v, kk, a, y, next); return true;
    case 64: wkv7_head<4>(st, r, w, k, v, kk, a, y, next); return true;
    case 128: wkv7_head<8>(st, r, w, k, v, kk, a, y, next); return true;
    default: return false;
  }
}

}  // namespace rwkv

#pragma GCC diagnostic pop
