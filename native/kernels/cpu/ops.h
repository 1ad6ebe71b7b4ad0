// Element-wise and normalisation ops on float rows. Small, and not where the time goes; written for
// clarity. The names say what each computes; shapes are given as (rows, cols).
#pragma once
#include <cmath>
#include <cstdint>

namespace rwkv::cpu {

inline float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

// out = (x - mean) / sqrt(var + eps) * w + b over one row of n (biased variance).
void layer_norm(const float* x, const float* w, const float* b, int64_t n, float eps, float* out);
// The same per group of `group` contiguous elements (heads), then the per-channel w, b.
void group_norm(const float* x, const float* w, const float* b, int64_t groups, int64_t group, float eps, float* out);

}  // namespace rwkv::cpu
