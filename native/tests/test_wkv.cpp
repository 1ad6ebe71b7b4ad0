// The AVX-512 WKV-7 kernel against the plain loop: same recurrence, sums in another order, so the
// states and outputs agree to float rounding over several tokens; and the fast exp the models use.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/fast_exp.h"
#include "kernels/cpu/matvec.h"
#include "core/thread_pool.h"
#include "models/wkv.h"

using namespace rwkv;

namespace {

// The AVX-512 kernels were chosen for this CPU (kernels/cpu/kernel_select.cpp).
bool cpu_has_avx512() { return &cpu::best_kernels() != &cpu::reference_kernels(); }

float max_abs(const std::vector<float>& v) {
  float m = 0;
  for (float x : v) m = std::max(m, std::abs(x));
  return m;
}

}  // namespace

TEST(Wkv7, Avx512KernelMatchesPlainLoop) {
  if (!cpu_has_avx512()) GTEST_SKIP() << "no AVX-512 on this CPU";
  std::mt19937 gen(7);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::uniform_real_distribution<float> decay(0.545f, 1.0f), rate(0.0f, 1.0f);
  for (int64_t S : {32, 64, 128}) {
    std::vector<float> st(size_t(S * S));
    for (float& x : st) x = nd(gen);
    std::vector<float> st_fast = st;
    for (int token = 0; token < 4; ++token) {
      std::vector<float> r(S), w(S), k(S), v(S), kk(S), a(S), y(S), y_fast(S);
      float norm = 0;
      for (int64_t j = 0; j < S; ++j) {
        r[j] = nd(gen), w[j] = decay(gen), k[j] = nd(gen), v[j] = nd(gen), kk[j] = nd(gen), a[j] = rate(gen);
        norm += kk[j] * kk[j];
      }
      for (float& x : kk) x /= std::sqrt(norm);  // κ̂ is unit length per head
      wkv7_step_plain(S, st.data(), r.data(), w.data(), k.data(), v.data(), kk.data(), a.data(), y.data());
      ASSERT_TRUE(wkv7_step_avx512(S, st_fast.data(), r.data(), w.data(), k.data(), v.data(), kk.data(), a.data(),
                                   y_fast.data()));
      // Sums of S terms of size ~max|S|: a few ulps of the largest magnitude.
      const float tol_st = 4e-7f * max_abs(st) * float(S) / 8, tol_y = 4e-7f * max_abs(y) * float(S) / 8;
      for (size_t i = 0; i < st.size(); ++i) ASSERT_NEAR(st_fast[i], st[i], tol_st) << "S=" << S << " i=" << i;
      for (int64_t i = 0; i < S; ++i) ASSERT_NEAR(y_fast[size_t(i)], y[size_t(i)], tol_y) << "S=" << S << " i=" << i;
    }
  }
  std::vector<float> any(16 * 16);
  EXPECT_FALSE(wkv7_step_avx512(48, any.data(), any.data(), any.data(), any.data(), any.data(), any.data(),
                                any.data(), any.data()));  // no kernel: the caller falls back
}

TEST(FastExp, RelativeErrorOverTheWholeRange) {
  double worst = 0;
  for (float x = -87.0f; x <= 88.0f; x += 0.0137f) {
    const double want = std::exp(double(x));
    worst = std::max(worst, std::abs(double(exp_fast(x)) - want) / want);
  }
  EXPECT_LT(worst, 5e-7);
  EXPECT_EQ(exp_fast(0.0f), 1.0f);
  EXPECT_GT(exp_fast(1000.0f), 1e38f);       // saturates instead of inf
  EXPECT_GT(exp_fast(-1000.0f), 0.0f);       // and instead of 0
  EXPECT_TRUE(std::isnan(exp_fast(NAN)));
  EXPECT_NEAR(sigmoid_fast(0.0f), 0.5f, 1e-7f);
  EXPECT_NEAR(sigmoid_fast(3.0f), 1.0 / (1.0 + std::exp(-3.0)), 1e-7);
  EXPECT_EQ(sigmoid_fast(-200.0f) < 1e-37f, true);
}

// A prompt's heads gather their inputs into contiguous planes before the token loop (wkv.cpp,
// wkv7_head_gathered): the same steps on the same values, so the states and outputs are those of the
// tokens fed one at a time, bit for bit, on either step kernel (S = 48 has no AVX-512 kernel).
TEST(Wkv7, GatheredSequenceGivesTheBitsOfOneTokenAtATime) {
  std::mt19937 gen(11);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::uniform_real_distribution<float> decay(0.545f, 1.0f), rate(0.0f, 1.0f);
  ThreadPool pool(2);
  for (int64_t S : {64, 48}) {
    for (int64_t T : {15, 16, 40}) {
      const int64_t H = 3, C = H * S;
      std::vector<float> r(T * C), w(T * C), k(T * C), v(T * C), kk(T * C), a(T * C);
      for (int64_t i = 0; i < T * C; ++i) r[i] = nd(gen), w[i] = decay(gen), k[i] = nd(gen), v[i] = nd(gen), a[i] = rate(gen);
      for (int64_t hrow = 0; hrow < T * H; ++hrow) {  // κ̂: unit length per head and token
        float n = 0;
        for (int64_t j = 0; j < S; ++j) kk[hrow * S + j] = nd(gen), n += kk[hrow * S + j] * kk[hrow * S + j];
        for (int64_t j = 0; j < S; ++j) kk[hrow * S + j] /= std::sqrt(n);
      }
      std::vector<float> st0(H * S * S);
      for (float& x : st0) x = nd(gen);
      std::vector<float> st_seq = st0, st_one = st0, y_seq(T * C, NAN), y_one(T * C, NAN);
      wkv7({{H, S, T, r.data(), w.data(), k.data(), v.data(), kk.data(), a.data(), y_seq.data(), st_seq.data()}}, pool);
      for (int64_t t = 0; t < T; ++t) {
        const int64_t o = t * C;
        wkv7({{H, S, 1, r.data() + o, w.data() + o, k.data() + o, v.data() + o, kk.data() + o, a.data() + o,
               y_one.data() + o, st_one.data()}}, pool);
      }
      EXPECT_EQ(st_seq, st_one) << "S=" << S << " T=" << T;
      EXPECT_EQ(y_seq, y_one) << "S=" << S << " T=" << T;
    }
  }
}
