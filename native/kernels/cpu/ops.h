// Element-wise and normalisation ops on float rows. Small, and not where the time goes; written for
// clarity. The names say what each computes; shapes are given as (rows, cols).
#pragma once
#include <cstdint>

#include "core/fast_exp.h"

namespace rwkv::cpu {

inline float sigmoid(float x) { return sigmoid_fast(x); }

// x[i] = sigmoid(bias[i] + x[i]) over n elements (bias may be null: sigmoid(x[i])). Vectorized.
void sigmoid_inplace(float* x, const float* bias, int64_t n);

// out = (x - mean) / sqrt(var + eps) * w + b over one row of n (biased variance).
void layer_norm(const float* x, const float* w, const float* b, int64_t n, float eps, float* out);
// The same per group of `group` contiguous elements (heads), then the per-channel w, b.
void group_norm(const float* x, const float* w, const float* b, int64_t groups, int64_t group, float eps, float* out);

}  // namespace rwkv::cpu
