// Sampler behaviour: greedy, seeding, the distribution each option should produce, penalties, errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "core/error.h"
#include "sampler/sampler.h"

using namespace rwkv;

namespace {

std::vector<float> log_of(const std::vector<double>& p) {
  std::vector<float> out;
  for (double v : p) out.push_back(float(std::log(v)));
  return out;
}

std::vector<double> normalized(std::vector<double> w) {
  const double s = std::accumulate(w.begin(), w.end(), 0.0);
  for (double& v : w) v /= s;
  return w;
}

std::vector<double> softmax(const std::vector<double>& x) {
  const double m = *std::max_element(x.begin(), x.end());
  std::vector<double> e;
  for (double v : x) e.push_back(std::exp(v - m));
  return normalized(e);
}

// Draws `n` tokens and checks the empirical frequencies against `expected` with a chi-square statistic.
// Tokens with expected probability 0 must never appear. With a fixed seed the test is deterministic;
// the bound (df <= 5, p ~ 1e-5) is loose enough for any seed yet catches a wrong distribution, which at
// n = 200000 gives statistics in the hundreds or thousands.
void expect_distribution(Sampler& s, const std::vector<float>& logits, const std::vector<double>& expected,
                         int n = 200000) {
  std::vector<int> counts(expected.size(), 0);
  for (int i = 0; i < n; ++i) ++counts[s.sample(logits.data())];
  double chi2 = 0.0;
  for (size_t t = 0; t < expected.size(); ++t) {
    if (expected[t] == 0.0) {
      EXPECT_EQ(counts[t], 0) << "token " << t << " should have been truncated";
      continue;
    }
    const double e = expected[t] * n;
    chi2 += (counts[t] - e) * (counts[t] - e) / e;
  }
  EXPECT_LT(chi2, 30.0);
  const auto& lp = s.last_probs();
  for (size_t t = 0; t < expected.size(); ++t) EXPECT_NEAR(lp[t], expected[t], 1e-5) << "token " << t;
}

SamplerOptions with_seed(uint64_t seed) {
  SamplerOptions o;
  o.seed = seed;
  return o;
}

// Base distribution for the hand-computed cases.
const std::vector<double> kP = {0.4, 0.3, 0.15, 0.1, 0.05};

}  // namespace

TEST(Sampler, GreedyPicksArgmaxLowestIdOnTies) {
  SamplerOptions o;
  o.temperature = 0.0f;
  Sampler s(o, 6);
  const std::vector<float> logits = {0.1f, 2.0f, -1.0f, 2.0f, 1.9f, 0.0f};
  for (int i = 0; i < 10; ++i) EXPECT_EQ(s.sample(logits.data()), 1u);
  EXPECT_EQ(s.last_probs()[1], 1.0f);
  EXPECT_EQ(s.last_probs()[3], 0.0f);
}

TEST(Sampler, GreedyUsesPenalizedLogits) {
  SamplerOptions o;
  o.temperature = 0.0f;
  o.presence_penalty = 0.5f;
  o.banned_tokens = {4};
  Sampler s(o, 5);
  const std::vector<float> logits = {0.0f, 1.0f, 0.8f, 0.0f, 9.0f};
  EXPECT_EQ(s.sample(logits.data()), 1u);
  s.accept(1);
  EXPECT_EQ(s.sample(logits.data()), 2u);  // 1.0 - 0.5 < 0.8
}

TEST(Sampler, SameSeedSameSequenceDifferentSeedDiffers) {
  std::mt19937 gen(7);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> logits(1000);
  for (float& v : logits) v = nd(gen);
  auto run = [&](uint64_t seed) {
    SamplerOptions o = with_seed(seed);
    o.top_p = 0.9f;
    o.presence_penalty = 0.2f;
    o.frequency_penalty = 0.2f;
    Sampler s(o, 1000);
    std::vector<uint32_t> out;
    for (int i = 0; i < 64; ++i) {
      out.push_back(s.sample(logits.data()));
      s.accept(out.back());
    }
    return out;
  };
  EXPECT_EQ(run(42), run(42));
  EXPECT_NE(run(42), run(43));
}

TEST(Sampler, ResetKeepsRngGoing) {
  const std::vector<float> logits(100, 0.0f);
  Sampler a(with_seed(1), 100), b(with_seed(1), 100);
  const uint32_t first = a.sample(logits.data());
  EXPECT_EQ(b.sample(logits.data()), first);
  a.reset();
  EXPECT_EQ(a.sample(logits.data()), b.sample(logits.data()));  // reset does not reseed
}

TEST(Sampler, TemperatureOneMatchesSoftmax) {
  Sampler s(with_seed(1), 5);
  expect_distribution(s, log_of(kP), kP);
}

TEST(Sampler, TemperatureHalfSquaresProbabilities) {
  SamplerOptions o = with_seed(2);
  o.temperature = 0.5f;
  Sampler s(o, 5);
  std::vector<double> w;
  for (double p : kP) w.push_back(p * p);
  expect_distribution(s, log_of(kP), normalized(w));
}

TEST(Sampler, TemperatureTwoTakesSquareRoots) {
  SamplerOptions o = with_seed(3);
  o.temperature = 2.0f;
  Sampler s(o, 5);
  std::vector<double> w;
  for (double p : kP) w.push_back(std::sqrt(p));
  expect_distribution(s, log_of(kP), normalized(w));
}

TEST(Sampler, TopPKeepsSmallestPrefixReachingP) {
  SamplerOptions o = with_seed(4);
  o.top_p = 0.65f;  // 0.4 < 0.65 <= 0.4 + 0.3
  Sampler s(o, 5);
  expect_distribution(s, log_of(kP), {0.4 / 0.7, 0.3 / 0.7, 0, 0, 0});
}

TEST(Sampler, TopKKeepsKLargest) {
  SamplerOptions o = with_seed(5);
  o.top_k = 3;
  Sampler s(o, 5);
  expect_distribution(s, log_of(kP), {0.4 / 0.85, 0.3 / 0.85, 0.15 / 0.85, 0, 0});
}

TEST(Sampler, MinPDropsBelowFractionOfMax) {
  SamplerOptions o = with_seed(6);
  o.min_p = 0.3f;  // threshold 0.12: keeps 0.4, 0.3, 0.15
  Sampler s(o, 5);
  expect_distribution(s, log_of(kP), {0.4 / 0.85, 0.3 / 0.85, 0.15 / 0.85, 0, 0});
}

TEST(Sampler, TemperatureAppliesAfterTruncation) {
  // At T = 2 the flattened distribution would need 3 tokens to reach 0.65; truncation is decided at
  // T = 1 (2 tokens), then the survivors are flattened.
  SamplerOptions o = with_seed(7);
  o.top_p = 0.65f;
  o.temperature = 2.0f;
  Sampler s(o, 5);
  expect_distribution(s, log_of(kP), normalized({std::sqrt(0.4), std::sqrt(0.3), 0, 0, 0}));
}

TEST(Sampler, TopPCutoffKeepsTies) {
  const std::vector<float> logits = log_of({0.3, 0.3, 0.3, 0.1});
  for (float top_p : {0.0f, 0.35f, 0.5f}) {
    SamplerOptions o;
    o.top_p = top_p;
    Sampler s(o, 4);
    s.sample(logits.data());
    const auto& lp = s.last_probs();
    for (int t = 0; t < 3; ++t) EXPECT_NEAR(lp[t], 1.0 / 3, 1e-6) << "top_p " << top_p;
    EXPECT_EQ(lp[3], 0.0f);
  }
}

TEST(Sampler, TopKBreaksTiesTowardLowestIds) {
  SamplerOptions o;
  o.top_k = 2;
  Sampler s(o, 4);
  const std::vector<float> logits = log_of({0.1, 0.3, 0.3, 0.3});
  s.sample(logits.data());
  EXPECT_NEAR(s.last_probs()[1], 0.5, 1e-6);
  EXPECT_NEAR(s.last_probs()[2], 0.5, 1e-6);
  EXPECT_EQ(s.last_probs()[3], 0.0f);
}

TEST(Sampler, BannedTokensAreNeverDrawn) {
  SamplerOptions o = with_seed(8);
  o.banned_tokens = {0, 3};
  o.logit_bias = {{0, 100.0f}};  // a ban wins over a bias
  Sampler s(o, 5);
  expect_distribution(s, log_of(kP), normalized({0, 0.3, 0.15, 0, 0.05}), 50000);
}

TEST(Sampler, AllBannedThrows) {
  SamplerOptions o;
  o.banned_tokens = {0, 1};
  Sampler s(o, 2);
  const std::vector<float> logits = {1.0f, 2.0f};
  EXPECT_THROW(s.sample(logits.data()), Error);
}

TEST(Sampler, NanLogitsCountAsMinusInfinity) {
  Sampler s(with_seed(9), 3);
  const std::vector<float> logits = {std::numeric_limits<float>::quiet_NaN(), 0.0f, 0.0f};
  for (int i = 0; i < 1000; ++i) EXPECT_NE(s.sample(logits.data()), 0u);
}

TEST(Sampler, LogitBiasShiftsLogits) {
  SamplerOptions o;
  o.logit_bias = {{2, float(std::log(3.0))}, {0, -std::numeric_limits<float>::infinity()}};
  Sampler s(o, 4);
  const std::vector<float> logits(4, 0.5f);
  s.sample(logits.data());
  const auto& lp = s.last_probs();
  EXPECT_EQ(lp[0], 0.0f);
  EXPECT_NEAR(lp[1], 0.2, 1e-6);
  EXPECT_NEAR(lp[2], 0.6, 1e-6);
  EXPECT_NEAR(lp[3], 0.2, 1e-6);
}

TEST(Sampler, PenaltiesWithDecayFollowPipFormula) {
  SamplerOptions o;
  o.presence_penalty = 0.5f;
  o.frequency_penalty = 0.3f;
  o.penalty_decay = 0.9f;
  Sampler s(o, 4);
  s.accept(1);       // occ {1: 1}
  s.accept(1);       // decay then add: {1: 1.9}
  s.accept(2, 0.0f); // {1: 1.71, 2: 0} - a weight-0 entry still pays the presence penalty
  const double d = double(0.9f);
  const double occ1 = (1.0 * d + 1.0) * d;
  EXPECT_NEAR(s.occurrences().count(1), occ1, 1e-12);
  EXPECT_EQ(s.occurrences().count(2), 0.0);

  const std::vector<double> raw = {0.2, 0.1, -0.3, 0.0};
  std::vector<float> logits(raw.begin(), raw.end());
  s.sample(logits.data());
  const std::vector<double> expected = softmax({raw[0], raw[1] - (0.5 + occ1 * 0.3), raw[2] - 0.5, raw[3]});
  for (int t = 0; t < 4; ++t) EXPECT_NEAR(s.last_probs()[t], expected[t], 1e-6) << "token " << t;

  s.reset();
  s.sample(logits.data());
  const std::vector<double> plain = softmax(raw);
  for (int t = 0; t < 4; ++t) EXPECT_NEAR(s.last_probs()[t], plain[t], 1e-6) << "token " << t;
}

TEST(Sampler, SampleProbsMatchesSampleOnLogProbs) {
  SamplerOptions o = with_seed(10);
  o.presence_penalty = 0.4f;
  o.frequency_penalty = 0.4f;
  o.logit_bias = {{3, 1.0f}};
  o.top_p = 0.8f;
  o.temperature = 0.7f;
  Sampler a(o, 5), b(o, 5);
  for (Sampler* s : {&a, &b}) s->accept(0);
  std::vector<float> unnormalized;
  for (double p : kP) unnormalized.push_back(float(p * 7.0));
  const std::vector<float> logits = log_of(kP);
  for (int i = 0; i < 200; ++i) EXPECT_EQ(a.sample_probs(unnormalized.data()), b.sample(logits.data()));
  for (int t = 0; t < 5; ++t) EXPECT_NEAR(a.last_probs()[t], b.last_probs()[t], 1e-5);
  EXPECT_FLOAT_EQ(unnormalized[0], float(0.4 * 7.0));  // input untouched
}

TEST(Sampler, SampleProbsDistributionAndErrors) {
  Sampler s(with_seed(11), 5);
  std::vector<float> w = {2.0f, 0.0f, 1.0f, 1.0f, 0.0f};
  std::vector<int> counts(5);
  for (int i = 0; i < 40000; ++i) ++counts[s.sample_probs(w.data())];
  EXPECT_EQ(counts[1] + counts[4], 0);
  EXPECT_NEAR(counts[0] / 40000.0, 0.5, 0.015);
  std::vector<float> zeros(5, 0.0f);
  EXPECT_THROW(s.sample_probs(zeros.data()), Error);
  w[2] = -1.0f;
  EXPECT_THROW(s.sample_probs(w.data()), Error);
}

// A naive full-sort implementation of pip's truncation must keep the same tokens as the fast path
// on a realistic vocabulary, including a deliberately flat one.
TEST(Sampler, LargeVocabTruncationMatchesSortReference) {
  const uint32_t V = 65536;
  std::mt19937 gen(12);
  for (float spread : {0.3f, 3.0f}) {
    std::normal_distribution<float> nd(0.0f, spread);
    std::vector<float> logits(V);
    for (float& v : logits) v = nd(gen);
    for (auto [top_p, top_k, min_p] : {std::tuple{0.85f, 0, 0.0f}, std::tuple{1.0f, 40, 0.0f},
                                       std::tuple{0.5f, 0, 0.05f}, std::tuple{0.95f, 1000, 0.0f}}) {
      SamplerOptions o;
      o.top_p = top_p;
      o.top_k = top_k;
      o.min_p = min_p;
      Sampler s(o, V);
      s.sample(logits.data());
      const auto& lp = s.last_probs();

      std::vector<double> x(logits.begin(), logits.end());
      const std::vector<double> p = softmax(x);
      std::vector<uint32_t> order(V);
      std::iota(order.begin(), order.end(), 0u);
      std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return p[a] > p[b]; });
      size_t keep = V;
      double cum = 0.0;
      for (size_t j = 0; j < V; ++j) {
        cum += p[order[j]];
        if (cum >= top_p) { keep = j + 1; break; }
      }
      if (top_k > 0) keep = std::min<size_t>(keep, top_k);
      while (keep > 1 && p[order[keep - 1]] < min_p * p[order[0]]) --keep;
      // Float rounding may move the boundary by a token or so when probabilities are near-equal.
      size_t kept = 0;
      for (float v : lp) kept += v > 0.0f;
      EXPECT_NEAR(double(kept), double(keep), 2.0 + keep * 1e-4)
          << "spread " << spread << " top_p " << top_p << " top_k " << top_k;
      for (size_t j = 0; j < std::min<size_t>(keep, 20); ++j) EXPECT_GT(lp[order[j]], 0.0f);
    }
  }
}

TEST(Sampler, InvalidOptionsThrowNamingTheOption) {
  auto message = [](auto mutate, uint32_t vocab = 10) -> std::string {
    SamplerOptions o;
    mutate(o);
    try {
      Sampler s(o, vocab);
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::Argument);
      return e.what();
    }
    return "no throw";
  };
  EXPECT_EQ(message([](SamplerOptions& o) { o.temperature = -1.0f; }), "temperature must be >= 0, got -1");
  EXPECT_EQ(message([](SamplerOptions& o) { o.top_p = 1.5f; }), "top_p must be in [0, 1], got 1.5");
  EXPECT_NE(message([](SamplerOptions& o) { o.top_p = NAN; }).find("top_p"), std::string::npos);
  EXPECT_NE(message([](SamplerOptions& o) { o.top_k = -1; }).find("top_k must be >= 0"), std::string::npos);
  EXPECT_NE(message([](SamplerOptions& o) { o.min_p = 2.0f; }).find("min_p must be in [0, 1]"), std::string::npos);
  EXPECT_NE(message([](SamplerOptions& o) { o.penalty_decay = 1.1f; }).find("penalty_decay"), std::string::npos);
  EXPECT_NE(message([](SamplerOptions& o) { o.presence_penalty = INFINITY; }).find("presence_penalty"),
            std::string::npos);
  EXPECT_NE(message([](SamplerOptions& o) { o.frequency_penalty = NAN; }).find("frequency_penalty"),
            std::string::npos);
  EXPECT_NE(message([](SamplerOptions& o) { o.temperature = INFINITY; }).find("temperature"), std::string::npos);
  EXPECT_NE(message([](SamplerOptions& o) { o.logit_bias = {{10, 1.0f}}; }).find("logit_bias"), std::string::npos);
  EXPECT_NE(message([](SamplerOptions& o) { o.logit_bias = {{1, NAN}}; }).find("logit_bias"), std::string::npos);
  EXPECT_NE(message([](SamplerOptions& o) { o.banned_tokens = {99}; }).find("banned_tokens"), std::string::npos);
  EXPECT_NE(message([](SamplerOptions&) {}, 0).find("vocab_size"), std::string::npos);
  EXPECT_EQ(message([](SamplerOptions& o) { o.temperature = 0.0f; o.top_p = 0.0f; o.min_p = 1.0f; }), "no throw");

  Sampler s(SamplerOptions{}, 10);
  EXPECT_THROW(s.accept(10), Error);
  EXPECT_THROW(s.accept(1, -1.0f), Error);
}
