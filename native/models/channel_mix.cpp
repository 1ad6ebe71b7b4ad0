#include "models/channel_mix.h"

#include <algorithm>

#include "kernels/cpu/ops.h"

namespace rwkv {

ChannelMix ChannelMix::bind(const WeightBinder& w, const std::string& p, Kind kind, int64_t C, int64_t F) {
  ChannelMix m;
  m.kind = kind;
  m.C = C;
  m.F = F;
  switch (kind) {
    case Kind::Lerp:
      m.mix_k = w.vec(p + "ffn.time_mix_k", C);
      m.mix_r = w.vec(p + "ffn.time_mix_r", C);
      break;
    case Kind::Maa:
      m.mix_k = w.vec(p + "ffn.time_maa_k", C);
      m.mix_r = w.vec(p + "ffn.time_maa_r", C);
      break;
    case Kind::V7:
      m.mix_k = w.vec(p + "ffn.x_k", C);
      break;
  }
  m.key = w.mat(p + "ffn.key.weight", C, F);
  m.value = w.mat(p + "ffn.value.weight", F, C);
  if (kind != Kind::V7) m.receptance = w.mat(p + "ffn.receptance.weight", C, C);
  return m;
}

void ChannelMix::apply(float* x, const Batch& batch, const float* ln2_w, const float* ln2_b, Workspace& ws) const {
  ws.arena.reset();
  const int64_t T = batch.rows;  // the time-mix buffers are dead by now
  const size_t TC = size_t(T * C);
  float* b = ws.arena.take(TC);
  float* xk = ws.arena.take(TC);
  float* xr = ws.arena.take(TC);
  float* r = ws.arena.take(TC);
  float* out = ws.arena.take(TC);
  float* k = ws.arena.take(size_t(T * F));

  layer_norm_rows(x, ln2_w, ln2_b, C, T, b, ws);
  for_each_shift(batch, b, C, 0, [&](int64_t t, const float* cur, const float* prev) {
    float* ok = xk + t * C;
    float* orr = xr + t * C;
    switch (kind) {
      case Kind::Lerp:
        for (int64_t i = 0; i < C; ++i) {
          ok[i] = cur[i] * mix_k[i] + prev[i] * (1 - mix_k[i]);
          orr[i] = cur[i] * mix_r[i] + prev[i] * (1 - mix_r[i]);
        }
        break;
      case Kind::Maa:
        for (int64_t i = 0; i < C; ++i) {
          const float sx = prev[i] - cur[i];
          ok[i] = cur[i] + sx * mix_k[i];
          orr[i] = cur[i] + sx * mix_r[i];
        }
        break;
      case Kind::V7:
        for (int64_t i = 0; i < C; ++i) ok[i] = cur[i] + (prev[i] - cur[i]) * mix_k[i];
        break;
    }
  });
  save_shift(batch, b, C, 0);

  if (kind == Kind::V7) ws.linear.run(key, xk, T, k);
  else ws.linear.run_group({{&key, xk, k}, {&receptance, xr, r}}, T);  // one parallel region for both
  // Branch-free so it vectorises: a compare-and-branch here mispredicts on half of the (random-sign) keys.
  for (int64_t i = 0, n = T * F; i < n; ++i) {
    const float relu = k[i] > 0.0f ? k[i] : 0.0f;
    k[i] = relu * relu;
  }
  ws.linear.run(value, k, T, out);
  if (kind == Kind::V7) {
    for (size_t i = 0; i < TC; ++i) x[i] += out[i];
    return;
  }
  for (size_t i = 0; i < TC; ++i) x[i] += cpu::sigmoid(r[i]) * out[i];
}

}  // namespace rwkv
