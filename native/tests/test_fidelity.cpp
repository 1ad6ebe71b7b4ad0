// Each version's forward pass against the reference logits of the tiny trained models
// (../shared/models/tiny/README.md): feed the bytes "in (34, 105, 110) from the initial state.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <vector>

#include "engine.h"
#include "test_support.h"

using namespace rwkv;

namespace {

std::vector<float> read_expected(const std::string& stem) {
  std::ifstream f(test::shared_dir() + "/models/tiny/expected-logits-" + stem + ".bin", std::ios::binary);
  std::vector<float> v(256);
  f.read(reinterpret_cast<char*>(v.data()), 256 * sizeof(float));
  if (!f) v.clear();
  return v;
}

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  float m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

const uint32_t kPrompt[3] = {34, 105, 110};

class Fp32Fidelity : public ::testing::TestWithParam<const char*> {};

TEST_P(Fp32Fidelity, TokenByTokenMatchesReference) {
  const std::string stem = GetParam();
  const std::vector<float> expected = read_expected(stem);
  ASSERT_EQ(expected.size(), 256u) << "missing reference logits for " << stem;
  auto model = Model::load(test::tiny_model("tiny-rwkv-" + stem + "-FP32"), {.threads = 2});
  std::vector<float> state = model->initial_state(), logits(256);
  for (uint32_t tok : kPrompt) model->eval(&tok, 1, state.data(), logits.data());
  const float diff = max_abs_diff(logits, expected);
  RecordProperty("max_abs_diff", std::to_string(diff));
  EXPECT_LT(diff, 1e-4f) << stem;
}

TEST_P(Fp32Fidelity, SequenceModeMatchesReference) {
  const std::string stem = GetParam();
  const std::vector<float> expected = read_expected(stem);
  ASSERT_EQ(expected.size(), 256u);
  auto model = Model::load(test::tiny_model("tiny-rwkv-" + stem + "-FP32"), {.threads = 2});
  std::vector<float> state = model->initial_state(), logits(256);
  model->eval(kPrompt, 3, state.data(), logits.data());
  EXPECT_LT(max_abs_diff(logits, expected), 1e-4f) << stem;
}

INSTANTIATE_TEST_SUITE_P(TinyModels, Fp32Fidelity, ::testing::Values("4v0-660K", "5v1-730K", "5v2-730K", "6v0-1m", "7v0-834K"),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (char& c : s) if (c == '-') c = '_';
                           return s;
                         });

}  // namespace
