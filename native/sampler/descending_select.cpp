#include "sampler/descending_select.h"

#include <bit>
#include <cstring>

#include "sampler/vector_math.h"

namespace rwkv {

DescendingSelect::DescendingSelect(size_t capacity) : scratch_(capacity) {}

Cutoff DescendingSelect::by_mass(const float* values, size_t n, double target, float floor) {
  return select<true>(values, n, target, floor);
}

Cutoff DescendingSelect::by_count(const float* values, size_t n, uint32_t k, float floor) {
  return select<false>(values, n, double(k), floor);
}

template <bool kByMass>
Cutoff DescendingSelect::select(const float* values, size_t n, double target, float floor) {
  Cutoff out;
  double above = 0.0;  // mass (or count) of everything in higher buckets, across levels
  uint32_t prefix = 0;
  const float* cur = values;
  size_t m = n;
  if (floor > 0.0f) {
    m = compact_at_least(values, n, floor, scratch_.data());
    cur = scratch_.data();
  }
  for (int level = 0; level < 3; ++level) {
    const int shift = kBits * (2 - level);  // 20, 10, 0: bit 30 and 31 are zero for values in [0, 2)
    std::memset(counts_, 0, sizeof(counts_));
    if constexpr (kByMass) std::memset(mass_, 0, sizeof(mass_));
    for (size_t i = 0; i < m; ++i) {
      const uint32_t key = (std::bit_cast<uint32_t>(cur[i]) >> shift) & (kBuckets - 1);
      ++counts_[key];
      if constexpr (kByMass) mass_[key] += cur[i];
    }
    int b = int(kBuckets) - 1;
    for (; b >= 0; --b) {
      if (counts_[b] == 0) continue;
      const double weight = kByMass ? mass_[b] : double(counts_[b]);
      if (above + weight >= target) break;
      above += weight;
      out.count_above += counts_[b];
    }
    if (b < 0) return out;  // not found
    prefix |= uint32_t(b) << shift;
    if (level == 2) break;
    // Keep only the crossing bucket's elements; compacting in place is safe (write index <= read index).
    size_t kept = 0;
    for (size_t i = 0; i < m; ++i)
      if (((std::bit_cast<uint32_t>(cur[i]) >> shift) & (kBuckets - 1)) == uint32_t(b)) scratch_[kept++] = cur[i];
    cur = scratch_.data();
    m = kept;
  }
  out.found = true;
  out.value = std::bit_cast<float>(prefix);
  return out;
}

}  // namespace rwkv
