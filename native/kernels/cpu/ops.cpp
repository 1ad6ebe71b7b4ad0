#include "kernels/cpu/ops.h"

#include <cmath>

#include "core/simd_clones.h"

namespace rwkv::cpu {

RWKV_SIMD_CLONES
void sigmoid_inplace(float* __restrict x, const float* __restrict bias, int64_t n) {
  if (bias)
    for (int64_t i = 0; i < n; ++i) x[i] = sigmoid(bias[i] + x[i]);
  else
    for (int64_t i = 0; i < n; ++i) x[i] = sigmoid(x[i]);
}

void layer_norm(const float* x, const float* w, const float* b, int64_t n, float eps, float* out) {
  float mean = 0;
  for (int64_t i = 0; i < n; ++i) mean += x[i];
  mean /= float(n);
  float var = 0;
  for (int64_t i = 0; i < n; ++i) var += (x[i] - mean) * (x[i] - mean);
  var /= float(n);
  const float inv = 1.0f / std::sqrt(var + eps);
  for (int64_t i = 0; i < n; ++i) out[i] = (x[i] - mean) * inv * w[i] + b[i];
}

void group_norm(const float* x, const float* w, const float* b, int64_t groups, int64_t group, float eps, float* out) {
  for (int64_t g = 0; g < groups; ++g) {
    const float* xg = x + g * group;
    float* og = out + g * group;
    float mean = 0;
    for (int64_t i = 0; i < group; ++i) mean += xg[i];
    mean /= float(group);
    float var = 0;
    for (int64_t i = 0; i < group; ++i) var += (xg[i] - mean) * (xg[i] - mean);
    var /= float(group);
    const float inv = 1.0f / std::sqrt(var + eps);
    for (int64_t i = 0; i < group; ++i) og[i] = (xg[i] - mean) * inv * w[g * group + i] + b[g * group + i];
  }
}

}  // namespace rwkv::cpu
