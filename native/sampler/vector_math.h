// Dense float loops the sampler runs over the whole vocabulary on every token (max, exp, sum).
// They are written with explicit lanes so GCC/Clang vectorize them without -ffast-math: a plain
// `sum += x[i]` loop stays scalar because reassociating float adds changes the result.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/fast_exp.h"  // exp_nonpositive

namespace rwkv {

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
