// The sampler's building blocks: the RNG, the inline exp, and the vocabulary-wide loops (tails included).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "sampler/rng.h"
#include "sampler/vector_math.h"

using namespace rwkv;

TEST(SamplerRng, MatchesPublishedAlgorithm) {
  // splitmix64(0)'s first output is the well-known 0xe220a8397b1dcdaf; the xoshiro256** outputs were
  // computed from the published algorithm by an independent Python transcription.
  Rng rng(0);
  EXPECT_EQ(rng.next(), 0x99ec5f36cb75f2b4ull);
  EXPECT_EQ(rng.next(), 0xbf6e1f784956452aull);
  EXPECT_EQ(rng.next(), 0x1a5f849d4933e6e0ull);
}

TEST(SamplerRng, UniformIsInUnitIntervalWithMeanHalf) {
  Rng rng(5);
  double sum = 0.0;
  for (int i = 0; i < 100000; ++i) {
    const double u = rng.uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
  }
  EXPECT_NEAR(sum / 100000, 0.5, 0.005);
}

TEST(SamplerMath, ExpIsAccurateAndFlushesDeepUnderflow) {
  double worst = 0.0;
  for (float x = 0.0f; x > -87.0f; x -= 0.0137f) {
    const double want = std::exp(double(x));
    worst = std::max(worst, std::abs(exp_nonpositive(x) - want) / want);
  }
  EXPECT_LT(worst, 4e-7);
  EXPECT_EQ(exp_nonpositive(0.0f), 1.0f);  // the max logit's weight is exactly 1
  EXPECT_EQ(exp_nonpositive(-100.0f), 0.0f);
  EXPECT_EQ(exp_nonpositive(-std::numeric_limits<float>::infinity()), 0.0f);
}

TEST(SamplerMath, LoopsHandleTailsAndTies) {
  for (size_t n : {1u, 7u, 8u, 17u, 33u, 1000u}) {
    std::mt19937 gen{unsigned(n)};
    std::uniform_real_distribution<float> ud(-5.0f, 0.0f);
    std::vector<float> x(n);
    for (float& v : x) v = ud(gen);
    x[n / 2] = 1.0f;
    x[n - 1] = 1.0f;  // a tie with a later index
    EXPECT_EQ(max_value(x.data(), n), 1.0f);
    EXPECT_EQ(argmax(x.data(), n), n / 2);

    std::vector<float> e(n);
    const double sum = exp_shifted(x.data(), 1.0f, 1.0f, e.data(), n);
    double want = 0.0;
    for (size_t i = 0; i < n; ++i) want += std::exp(double(x[i]) - 1.0);
    EXPECT_NEAR(sum, want, want * 1e-6);
    EXPECT_NEAR(sum_values(e.data(), n), sum, sum * 1e-6);

    std::vector<uint32_t> ids(n);
    std::vector<float> kept(n);
    const size_t count = collect_at_least(x.data(), n, -1.0f, ids.data());
    ASSERT_EQ(compact_at_least(x.data(), n, -1.0f, kept.data()), count);
    size_t k = 0;
    for (size_t i = 0; i < n; ++i) {
      if (x[i] < -1.0f) continue;
      ASSERT_LT(k, count);
      EXPECT_EQ(ids[k], i);
      EXPECT_EQ(kept[k], x[i]);
      ++k;
    }
    EXPECT_EQ(k, count);
  }
  std::vector<float> with_nan = {1.0f, std::numeric_limits<float>::quiet_NaN(), -2.0f};
  std::vector<float> out(3);
  copy_nan_as_neg_inf(with_nan.data(), out.data(), 3);
  EXPECT_EQ(out[1], -std::numeric_limits<float>::infinity());
  EXPECT_EQ(out[2], -2.0f);
}
