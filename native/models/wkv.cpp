#include "models/wkv.h"

#include <functional>

namespace rwkv {

namespace {
// Heads run in parallel only when there is enough work to beat the hand-off (not for tiny models).
void for_each_head(ThreadPool& pool, int64_t H, int64_t work, const std::function<void(int64_t)>& fn) {
  if (work < 64 * 1024) {
    for (int64_t h = 0; h < H; ++h) fn(h);
  } else {
    pool.run(H, [&](int64_t h, int) { fn(h); });
  }
}
}  // namespace

void wkv5_6(const WkvArgs& a, ThreadPool& pool) {
  const int64_t C = a.H * a.S, S = a.S;
  for_each_head(pool, a.H, a.H * S * S * a.T, [&](int64_t h) {
    float* st = a.state + h * S * S;
    for (int64_t t = 0; t < a.T; ++t) {
      const int64_t o = t * C + h * S;
      const float* r = a.r + o;
      const float* k = a.k + o;
      const float* v = a.v + o;
      const float* w = (a.w_per_token ? a.w_per_token + o : a.w_fixed + h * S);
      const float* u = a.u + h * S;
      float* y = a.y + o;
      for (int64_t j = 0; j < S; ++j) y[j] = 0;
      for (int64_t i = 0; i < S; ++i) {
        float* row = st + i * S;
        const float ri = r[i], ki = k[i], wi = w[i], uki = u[i] * ki;
        for (int64_t j = 0; j < S; ++j) {
          const float kv = ki * v[j];
          y[j] += ri * (uki * v[j] + row[j]);
          row[j] = wi * row[j] + kv;
        }
      }
    }
  });
}

void wkv7(const Wkv7Args& a, ThreadPool& pool) {
  const int64_t C = a.H * a.S, S = a.S;
  for_each_head(pool, a.H, a.H * S * S * a.T, [&](int64_t h) {
    float* st = a.state + h * S * S;
    for (int64_t t = 0; t < a.T; ++t) {
      const int64_t o = t * C + h * S;
      const float* r = a.r + o;
      const float* w = a.w + o;
      const float* k = a.k + o;
      const float* v = a.v + o;
      const float* kk = a.kk + o;
      const float* aa = a.a + o;
      float* y = a.y + o;
      for (int64_t i = 0; i < S; ++i) {
        float* row = st + i * S;
        float sa = 0;
        for (int64_t j = 0; j < S; ++j) sa -= row[j] * kk[j];
        float yi = 0;
        const float vi = v[i];
        for (int64_t j = 0; j < S; ++j) {
          row[j] = row[j] * w[j] + vi * k[j] + sa * (kk[j] * aa[j]);
          yi += row[j] * r[j];
        }
        y[i] = yi;
      }
    }
  });
}

}  // namespace rwkv
