// exp as an inline, branch-free polynomial, so that loops calling it vectorize (libm's expf is a call
// per element). Relative error ~2e-7 (a few ulp) over the whole range: the sampler's softmax and the
// models' sigmoids and decays use it, on every token.
#pragma once
#include <bit>
#include <cstdint>

namespace rwkv {

// e^x for x in [-87, 88] (callers clamp): x = n*ln2 + r with |r| <= ln2/2, e^r by a degree-7 Taylor
// polynomial (truncation error < 2e-8 on |r| <= 0.347), 2^n from the exponent bits.
inline float exp_in_range(float x) {
  const float kRound = 12582912.0f;  // 1.5*2^23: adding it rounds to an integer in float
  const float n = (x * 1.44269504f + kRound) - kRound;
  float r = x - n * 0.693145751953125f;  // ln2 split in two so n*ln2_hi is exact
  r = r - n * 1.42860682030941723e-6f;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const float scale = std::bit_cast<float>(uint32_t(int32_t(n) + 127) << 23);  // 2^n, n in [-126, 127]
  return p * scale;
}

// e^x, saturating: below -87 the result is ~1.6e-38 instead of smaller, above 88 ~1.7e38 instead of
// inf. Used where that makes no difference (sigmoid, decays in (0, 1)).
inline float exp_fast(float x) {
  x = x < -87.0f ? -87.0f : x;
  x = x > 88.0f ? 88.0f : x;  // NaN passes both tests and comes out NaN (through p)
  return exp_in_range(x);
}

// e^x for x <= 0 (the softmax subtracts the max first); below -87 (and -inf) exactly 0: such a token
// can never be drawn anyway.
inline float exp_nonpositive(float x) {
  const bool underflow = x < -87.0f;
  return underflow ? 0.0f : exp_in_range(x);
}

inline float sigmoid_fast(float x) { return 1.0f / (1.0f + exp_fast(-x)); }

}  // namespace rwkv
