// Dense float loops the sampler runs over the whole vocabulary on every token (max, exp, sum).
// They are written with explicit lanes so GCC/Clang vectorize them without -ffast-math: a plain
// `sum += x[i]` loop stays scalar because reassociating float adds changes the result.
#pragma once
#include <bit>
#include <cstddef>
#include <cstdint>

namespace rwkv {

// exp(x) for x <= 0 (the softmax always subtracts the max first), relative error ~2e-7.
// Inline and branch-free so the exp loop vectorizes; libm's expf is a call per element and costs
// several times more over a 65536-entry vocabulary. Results below ~1e-38 flush to 0: such a token can
// never be drawn anyway.
inline float exp_nonpositive(float x) {
  const bool underflow = x < -87.0f;  // also catches -inf
  x = underflow ? -87.0f : x;
  // x = n*ln2 + r with |r| <= ln2/2; adding 1.5*2^23 rounds x*log2(e) to an integer in float.
  const float kRound = 12582912.0f;
  const float n = (x * 1.44269504f + kRound) - kRound;
  float r = x - n * 0.693145751953125f;  // ln2 split in two so n*ln2_hi is exact
  r = r - n * 1.42860682030941723e-6f;
  // Degree-7 Taylor polynomial of e^r; the truncation error is < 2e-8 on |r| <= 0.347.
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const float scale = std::bit_cast<float>(uint32_t(int32_t(n) + 127) << 23);  // 2^n, n in [-126, 0]
  return underflow ? 0.0f : p * scale;
}

// Largest element; -inf for n == 0. NaN inputs are not expected (the sampler removes them first).
float max_value(const float* x, size_t n);

// Index of the largest element, lowest index on ties (greedy decoding must be reproducible).
size_t argmax(const float* x, size_t n);

// out[i] = exp((x[i] - shift) * scale) for x[i] <= shift; returns the sum of out (accumulated in double).
double exp_shifted(const float* x, float shift, float scale, float* out, size_t n);

// dst[i] = src[i], with NaN replaced by -inf.
void copy_nan_as_neg_inf(const float* src, float* dst, size_t n);

// Writes the indices i (ascending) with x[i] >= floor to ids; returns how many.
size_t collect_at_least(const float* x, size_t n, float floor, uint32_t* ids);

// Copies the values x[i] >= floor to out (in order); returns how many.
size_t compact_at_least(const float* x, size_t n, float floor, float* out);

// Sum of n floats, accumulated in double.
double sum_values(const float* x, size_t n);

}  // namespace rwkv
