// RWKV v5.1 / v5.2: multi-head matrix state with a per-channel (5.2) or per-head (5.1) decay
// that does not depend on the token (engine-spec section 4).
// State per layer: [ffn_xx (C), att_xx (C), H matrices S×S as [h][key i][value j]].
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/ops.h"
#include "models/architecture.h"
#include "models/channel_mix.h"
#include "models/wkv.h"

namespace rwkv {
namespace {

struct LayerV5 {
  std::vector<float> ln1_w, ln1_b, ln2_w, ln2_b;  // (C)
  std::vector<float> mix_k, mix_v, mix_r, mix_g;  // att.time_mix_* (C); mix_g only in 5.2
  std::vector<float> decay;  // w per channel (C): stored exp(-exp(raw)); 5.1's per-head value broadcast
  std::vector<float> first;  // u per channel (C): 5.1 time_first stored exp(raw), broadcast; 5.2 time_faaaa raw
  Tensor key, value, receptance, output, gate;  // (C, C); gate only in 5.2
  std::vector<float> ln_x_w, ln_x_b;            // (C)
  ChannelMix ffn;
};

class ArchitectureV5 final : public Architecture {
 public:
  ArchitectureV5(const ModelInfo& info, const WeightBinder& w) : Architecture(info, w) {
    const int64_t C = info.n_embd, H = info.n_head, S = info.head_size;
    const bool v52 = info.version_minor == 2;
    for (int l = 0; l < info.n_layer; ++l) {
      const std::string p = "blocks." + std::to_string(l) + ".";
      LayerV5 L;
      L.ln1_w = w.vec(p + "ln1.weight", C); L.ln1_b = w.vec(p + "ln1.bias", C);
      L.ln2_w = w.vec(p + "ln2.weight", C); L.ln2_b = w.vec(p + "ln2.bias", C);
      L.mix_k = w.vec(p + "att.time_mix_k", C);
      L.mix_v = w.vec(p + "att.time_mix_v", C);
      L.mix_r = w.vec(p + "att.time_mix_r", C);
      if (v52) {
        L.mix_g = w.vec(p + "att.time_mix_g", C);
        L.decay = w.vec(p + "att.time_decay", C);
        L.first = w.vec(p + "att.time_faaaa", C);
        L.gate = w.mat(p + "att.gate.weight", C, C);
      } else {
        const std::vector<float> d = w.vec(p + "att.time_decay", H), f = w.vec(p + "att.time_first", H);
        for (int64_t h = 0; h < H; ++h)
          for (int64_t i = 0; i < S; ++i) L.decay.push_back(d[size_t(h)]), L.first.push_back(f[size_t(h)]);
      }
      L.key = w.mat(p + "att.key.weight", C, C);
      L.value = w.mat(p + "att.value.weight", C, C);
      L.receptance = w.mat(p + "att.receptance.weight", C, C);
      L.output = w.mat(p + "att.output.weight", C, C);
      L.ln_x_w = w.vec(p + "att.ln_x.weight", C); L.ln_x_b = w.vec(p + "att.ln_x.bias", C);
      L.ffn = ChannelMix::bind(w, p, ChannelMix::Kind::Lerp, C, info.ffn_size);
      layers_.push_back(std::move(L));
    }
  }

  size_t scratch_floats_per_token() const override {
    return std::max(size_t(11 * info_.n_embd + 64), ChannelMix::scratch_floats_per_token(info_.n_embd, info_.ffn_size));
  }

  void layer(int l, float* x, const Batch& batch, Workspace& ws) const override {
    const int64_t T = batch.rows;
    const LayerV5& L = layers_[size_t(l)];
    const int64_t C = info_.n_embd;
    const bool v52 = info_.version_minor == 2;
    ws.arena.reset();
    const size_t TC = size_t(T * C);
    float* a = ws.arena.take(TC);
    float* xk = ws.arena.take(TC);
    float* xv = ws.arena.take(TC);
    float* xr = ws.arena.take(TC);
    float* xg = ws.arena.take(TC);
    float* k = ws.arena.take(TC);
    float* v = ws.arena.take(TC);
    float* r = ws.arena.take(TC);
    float* g = ws.arena.take(TC);
    float* y = ws.arena.take(TC);
    float* out = ws.arena.take(TC);

    layer_norm_rows(x, L.ln1_w.data(), L.ln1_b.data(), C, T, a, ws);
    for_each_shift(batch, a, C, C, [&](int64_t t, const float* cur, const float* prev) {
      for (int64_t i = 0; i < C; ++i) {
        xk[t * C + i] = cur[i] * L.mix_k[i] + prev[i] * (1 - L.mix_k[i]);
        xv[t * C + i] = cur[i] * L.mix_v[i] + prev[i] * (1 - L.mix_v[i]);
        xr[t * C + i] = cur[i] * L.mix_r[i] + prev[i] * (1 - L.mix_r[i]);
        if (v52) xg[t * C + i] = cur[i] * L.mix_g[i] + prev[i] * (1 - L.mix_g[i]);
      }
    });
    save_shift(batch, a, C, C);
    if (v52) ws.linear.run_group({{&L.key, xk, k}, {&L.value, xv, v}, {&L.receptance, xr, r}, {&L.gate, xg, g}}, T);
    else ws.linear.run_group({{&L.key, xk, k}, {&L.value, xv, v}, {&L.receptance, xr, r}}, T);
    if (v52) {
      for (size_t i = 0; i < TC; ++i) g[i] = g[i] * cpu::sigmoid(g[i]);  // silu
    }

    ws.wkv_args.clear();
    for (const SeqSpan& seq : batch.seqs) {
      const int64_t o = seq.start * C;
      WkvArgs args{info_.n_head, info_.head_size, seq.len, r + o, k + o, v + o, nullptr, L.decay.data(), L.first.data(), y + o, seq.state + 2 * C};
      ws.wkv_args.push_back(args);
    }
    wkv5_6(ws.wkv_args, ws.pool);

    for (int64_t t = 0; t < T; ++t) {
      cpu::group_norm(y + t * C, L.ln_x_w.data(), L.ln_x_b.data(), info_.n_head, info_.head_size,
                      info_.group_norm_eps, y + t * C);
    }
    if (v52) for (size_t i = 0; i < TC; ++i) y[i] *= g[i];
    ws.linear.run(L.output, y, T, out);
    for (size_t i = 0; i < TC; ++i) x[i] += out[i];

    L.ffn.apply(x, batch, L.ln2_w.data(), L.ln2_b.data(), ws);
  }

 private:
  std::vector<LayerV5> layers_;
};

}  // namespace

std::unique_ptr<Architecture> make_v5(const ModelInfo& info, const WeightBinder& w) {
  return std::make_unique<ArchitectureV5>(info, w);
}

}  // namespace rwkv
