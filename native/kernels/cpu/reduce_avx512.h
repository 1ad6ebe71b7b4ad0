// Horizontal sums of 16-float vectors in one fixed order, for the *_avx512.cpp files (included only by
// them: it needs AVX-512 code generation). Within each 128-bit lane (e0 + e2) + (e1 + e3), then the
// lanes (L0 + L1) + (L2 + L3). sum16 reduces sixteen vectors at once in exactly that order, so a
// register tile of 16 accumulators and a single accumulator give the same bits for the same lanes.
#pragma once
#include <immintrin.h>

namespace rwkv::cpu {

inline float hsum512(__m512 v) {
  __m512 t = _mm512_add_ps(v, _mm512_permute_ps(v, _MM_SHUFFLE(1, 0, 3, 2)));  // e0+e2, e1+e3 per lane
  t = _mm512_add_ps(t, _mm512_permute_ps(t, _MM_SHUFFLE(2, 3, 0, 1)));          // their sum: element 0
  t = _mm512_add_ps(t, _mm512_shuffle_f32x4(t, t, _MM_SHUFFLE(2, 3, 0, 1)));    // L0+L1 in lane 0
  t = _mm512_add_ps(t, _mm512_shuffle_f32x4(t, t, _MM_SHUFFLE(1, 0, 3, 2)));    // + (L2+L3)
  return _mm512_cvtss_f32(t);
}

// Lane i of the result = hsum512(p[i]), with 45 shuffles and adds for all sixteen instead of 8 each:
// two vectors per unpack, then pairs of pairs, then 128-bit lanes; the sums come out in order.
inline __m512 sum16(const __m512 (&p)[16]) {
  __m512 a[8], b[4];
  for (int j = 0; j < 8; ++j)
    a[j] = _mm512_add_ps(_mm512_unpacklo_ps(p[2 * j], p[2 * j + 1]), _mm512_unpackhi_ps(p[2 * j], p[2 * j + 1]));
  for (int j = 0; j < 4; ++j) {
    const __m512d x = _mm512_castps_pd(a[2 * j]), y = _mm512_castps_pd(a[2 * j + 1]);
    b[j] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(x, y)), _mm512_castpd_ps(_mm512_unpackhi_pd(x, y)));
  }
  // b[j], 128-bit lane L: the lane-L sums of vectors 4j..4j+3. Add the four lanes of each.
  const __m512 c01 = _mm512_add_ps(_mm512_shuffle_f32x4(b[0], b[1], _MM_SHUFFLE(2, 0, 2, 0)),
                                   _mm512_shuffle_f32x4(b[0], b[1], _MM_SHUFFLE(3, 1, 3, 1)));
  const __m512 c23 = _mm512_add_ps(_mm512_shuffle_f32x4(b[2], b[3], _MM_SHUFFLE(2, 0, 2, 0)),
                                   _mm512_shuffle_f32x4(b[2], b[3], _MM_SHUFFLE(3, 1, 3, 1)));
  return _mm512_add_ps(_mm512_shuffle_f32x4(c01, c23, _MM_SHUFFLE(2, 0, 2, 0)),
                       _mm512_shuffle_f32x4(c01, c23, _MM_SHUFFLE(3, 1, 3, 1)));
}

}  // namespace rwkv::cpu
