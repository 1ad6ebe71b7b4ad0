// Finds where a walk down the values in descending order crosses a target, without sorting.
// top-p needs "the first value at which the running sum of sorted probabilities reaches top_p", top-k
// needs "the k-th largest value". Sorting 65536 probabilities costs milliseconds; instead this is a
// three-level radix select over the float bit patterns (non-negative floats order like their bits):
// bucket by the top bits, accumulate bucket totals from the top until the target is crossed, then
// repeat inside the crossing bucket on the next bits. Each level is one O(n) pass; the first reads the
// whole vector, later ones only the crossing bucket's elements. After the last level the bucket holds
// one exact value, so ties come out exactly as a sort would give them.
// A `floor` restricts the walk to the values >= floor, i.e. a prefix of the descending order: when the
// target is reached inside that prefix the answer is the same as for the whole vector, and only the
// prefix is histogrammed. With real model logits that prefix is a few hundred tokens.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace rwkv {

struct Cutoff {
  bool found = false;       // false when the whole vector does not reach the target
  float value = 0.0f;       // the value at which the descending walk reaches the target
  uint32_t count_above = 0; // how many elements are strictly greater than `value`
};

class DescendingSelect {
 public:
  // capacity: the largest n ever passed (scratch is allocated once, here).
  explicit DescendingSelect(size_t capacity);

  // Sorted descending s0 >= s1 >= ... (only values >= floor): the first s_j with s0 + ... + s_j >= target.
  // Values must be in [0, 2) (probabilities).
  Cutoff by_mass(const float* values, size_t n, double target, float floor = 0.0f);

  // The k-th largest value (k >= 1) among those >= floor.
  Cutoff by_count(const float* values, size_t n, uint32_t k, float floor = 0.0f);

 private:
  template <bool kByMass>
  Cutoff select(const float* values, size_t n, double target, float floor);

  static constexpr int kBits = 10;  // 3 levels x 10 bits cover every float in [0, 2)
  static constexpr uint32_t kBuckets = 1u << kBits;
  std::vector<float> scratch_;
  uint32_t counts_[kBuckets];
  double mass_[kBuckets];
};

}  // namespace rwkv
