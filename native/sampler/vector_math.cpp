// GCC keeps loops with float compares/selects scalar under its default -ftrapping-math (a compare could
// raise an FP exception that the scalar code would not). Nothing here reads FP exception flags, so lift
// that for this file only; Clang already defaults to -fno-trapping-math.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

#include "sampler/vector_math.h"

#include <limits>

#include "core/simd_clones.h"

namespace rwkv {

namespace {
constexpr size_t kLanes = 8;  // 8 independent accumulators: one AVX register, or two SSE ones
}

RWKV_SIMD_CLONES
float max_value(const float* x, size_t n) {
  float lane[kLanes];
  for (float& l : lane) l = -std::numeric_limits<float>::infinity();
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (size_t j = 0; j < kLanes; ++j) lane[j] = x[i + j] > lane[j] ? x[i + j] : lane[j];
  float best = -std::numeric_limits<float>::infinity();
  for (float l : lane) best = l > best ? l : best;
  for (; i < n; ++i) best = x[i] > best ? x[i] : best;
  return best;
}

size_t argmax(const float* x, size_t n) {
  // Two passes (vectorized max, then the first index holding it) beat one branchy pass.
  const float best = max_value(x, n);
  for (size_t i = 0; i < n; ++i)
    if (x[i] == best) return i;
  return 0;
}

RWKV_SIMD_CLONES
double exp_shifted(const float* x, float shift, float scale, float* out, size_t n) {
  // Float lanes keep the loop vectorized; each lane sums at most n/8 values in [0, 1], and the lanes
  // are combined in double.
  float lane[kLanes] = {};
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (size_t j = 0; j < kLanes; ++j) {
      const float e = exp_nonpositive((x[i + j] - shift) * scale);
      out[i + j] = e;
      lane[j] += e;
    }
  double sum = 0.0;
  for (float l : lane) sum += l;
  for (; i < n; ++i) {
    out[i] = exp_nonpositive((x[i] - shift) * scale);
    sum += out[i];
  }
  return sum;
}

RWKV_SIMD_CLONES
void copy_nan_as_neg_inf(const float* src, float* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = src[i] != src[i] ? -std::numeric_limits<float>::infinity() : src[i];
}

RWKV_SIMD_CLONES
size_t collect_at_least(const float* x, size_t n, float floor, uint32_t* ids) {
  // Usually only a few hundred of 65536 entries pass, so test a block of 16 with one vectorized check
  // and only walk the blocks that hold a survivor. Inside a block the store is branch-free, since in a
  // flat distribution most entries pass and a branch would mispredict.
  constexpr size_t kBlock = 16;
  size_t count = 0;
  size_t i = 0;
  for (; i + kBlock <= n; i += kBlock) {
    bool any = false;
    for (size_t j = 0; j < kBlock; ++j) any |= x[i + j] >= floor;
    if (!any) continue;
    for (size_t j = i; j < i + kBlock; ++j) {
      ids[count] = uint32_t(j);
      count += x[j] >= floor;
    }
  }
  for (; i < n; ++i) {
    ids[count] = uint32_t(i);
    count += x[i] >= floor;
  }
  return count;
}

size_t compact_at_least(const float* x, size_t n, float floor, float* out) {
  // Same block skipping as collect_at_least.
  constexpr size_t kBlock = 16;
  size_t m = 0, i = 0;
  for (; i + kBlock <= n; i += kBlock) {
    bool any = false;
    for (size_t j = 0; j < kBlock; ++j) any |= x[i + j] >= floor;
    if (!any) continue;
    for (size_t j = i; j < i + kBlock; ++j) {
      out[m] = x[j];
      m += x[j] >= floor;
    }
  }
  for (; i < n; ++i) {
    out[m] = x[i];
    m += x[i] >= floor;
  }
  return m;
}

double sum_values(const float* x, size_t n) {
  double lane[kLanes] = {};
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (size_t j = 0; j < kLanes; ++j) lane[j] += x[i + j];
  double sum = 0.0;
  for (double l : lane) sum += l;
  for (; i < n; ++i) sum += x[i];
  return sum;
}

}  // namespace rwkv
