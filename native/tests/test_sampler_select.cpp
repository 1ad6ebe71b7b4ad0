// DescendingSelect (the radix select behind top-p / top-k) against a plain sort.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <vector>

#include "sampler/descending_select.h"

using namespace rwkv;

namespace {

// The reference: sort descending, walk until the running total (mass or count) reaches the target.
Cutoff reference(std::vector<float> v, double target, bool by_mass) {
  std::sort(v.begin(), v.end(), std::greater<float>());
  double acc = 0.0;
  for (size_t j = 0; j < v.size(); ++j) {
    acc += by_mass ? double(v[j]) : 1.0;
    if (acc >= target) {
      Cutoff c;
      c.found = true;
      c.value = v[j];
      c.count_above = uint32_t(std::find(v.begin(), v.end(), v[j]) - v.begin());
      return c;
    }
  }
  return Cutoff{};
}

}  // namespace

TEST(SamplerSelect, MatchesSortOnRandomVectorsWithTies) {
  std::mt19937 gen(3);
  DescendingSelect sel(5000);
  for (int round = 0; round < 200; ++round) {
    const size_t n = 1 + gen() % 5000;
    std::vector<float> v(n);
    std::exponential_distribution<float> ed(1.0f);
    // Many exact ties; values kept >= 1e-6 so a half-element margin dwarfs double rounding in the sums.
    for (float& x : v) x = (gen() % 4 == 0) ? 0.25f : std::max(std::exp(-8.0f * ed(gen)), 1e-6f);
    if (round % 10 == 0) std::fill(v.begin(), v.end(), 0.125f);               // all equal
    double total = 0.0;
    for (float x : v) total += x;
    for (float& x : v) x = float(x / total);
    std::vector<float> sorted = v;
    std::sort(sorted.begin(), sorted.end(), std::greater<float>());
    // Targets placed between two prefix sums, so double rounding cannot flip the answer.
    for (double frac : {0.0, 0.1, 0.5, 0.85, 0.99}) {
      size_t j = size_t(frac * (n - 1));
      double prefix = 0.0;
      for (size_t i = 0; i < j; ++i) prefix += sorted[i];
      const double target = prefix + 0.5 * sorted[j];
      const Cutoff want = reference(v, target, true), got = sel.by_mass(v.data(), n, target);
      ASSERT_EQ(got.found, want.found);
      EXPECT_EQ(got.value, want.value) << "n " << n << " target " << target;
      EXPECT_EQ(got.count_above, want.count_above);
      // A floor at or below the answer changes nothing; one above it makes the target unreachable.
      const Cutoff low = sel.by_mass(v.data(), n, target, want.value);
      EXPECT_TRUE(low.found && low.value == want.value && low.count_above == want.count_above);
      if (want.value < sorted[0]) EXPECT_FALSE(sel.by_mass(v.data(), n, target, std::nextafter(want.value, 1.0f)).found);
    }
    for (uint32_t k : {1u, 2u, 40u, uint32_t(n)}) {
      if (k > n) continue;
      const Cutoff want = reference(v, k, false), got = sel.by_count(v.data(), n, k);
      ASSERT_TRUE(got.found);
      EXPECT_EQ(got.value, want.value) << "n " << n << " k " << k;
      EXPECT_EQ(got.count_above, want.count_above);
      const Cutoff low = sel.by_count(v.data(), n, k, want.value);
      EXPECT_TRUE(low.found && low.value == want.value && low.count_above == want.count_above);
    }
  }
}

TEST(SamplerSelect, UnreachableTargetIsNotFound) {
  DescendingSelect sel(4);
  const std::vector<float> v = {0.1f, 0.2f, 0.0f, 0.3f};
  EXPECT_FALSE(sel.by_mass(v.data(), v.size(), 0.7).found);
  EXPECT_FALSE(sel.by_count(v.data(), v.size(), 5).found);
  EXPECT_EQ(sel.by_mass(v.data(), v.size(), 0.0).value, 0.3f);  // target 0: the max
}
