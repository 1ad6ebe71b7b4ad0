// RWKV v6 "Finch": data-dependent token shift (ddlerp) and a per-token decay from a LoRA
// (engine-spec section 5). State layout as v5: [ffn_xx, att_xx, H×S×S as [h][key][value]].
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"
#include "kernels/cpu/ops.h"
#include "models/architecture.h"
#include "models/channel_mix.h"
#include "models/wkv.h"

namespace rwkv {
namespace {

struct LayerV6 {
  std::vector<float> ln1_w, ln1_b, ln2_w, ln2_b;                  // (C)
  std::vector<float> maa_x, maa_w, maa_k, maa_v, maa_r, maa_g;    // att.time_maa_* (C)
  Tensor maa_w1;            // (C, 5D): 5D rows of C
  Tensor maa_w2;            // (D, C, 5): 5 stacked matrices of C rows × D, order w, k, v, r, g
  std::vector<float> time_decay;  // (C) raw
  Tensor decay_w1;          // (C, Dd)
  Tensor decay_w2;          // (Dd, C)
  std::vector<float> first; // time_faaaa (C)
  Tensor key, value, receptance, output, gate;  // (C, C)
  std::vector<float> ln_x_w, ln_x_b;            // (C)
  ChannelMix ffn;
};

class ArchitectureV6 final : public Architecture {
 public:
  ArchitectureV6(const ModelInfo& info, const WeightBinder& w) : Architecture(info, w) {
    const int64_t C = info.n_embd;
    const Tensor& w1 = w.get("blocks.0.att.time_maa_w1");
    const Tensor& d1 = w.get("blocks.0.att.time_decay_w1");
    if (w1.rows() % 5 != 0)
      throw Error(ErrorCode::Shape, "tensor 'blocks.0.att.time_maa_w1' has " + std::to_string(w1.rows()) + " rows, not a multiple of 5");
    D_ = w1.rows() / 5;
    Dd_ = d1.rows();
    for (int l = 0; l < info.n_layer; ++l) {
      const std::string p = "blocks." + std::to_string(l) + ".";
      LayerV6 L;
      L.ln1_w = w.vec(p + "ln1.weight", C); L.ln1_b = w.vec(p + "ln1.bias", C);
      L.ln2_w = w.vec(p + "ln2.weight", C); L.ln2_b = w.vec(p + "ln2.bias", C);
      L.maa_x = w.vec(p + "att.time_maa_x", C);
      L.maa_w = w.vec(p + "att.time_maa_w", C);
      L.maa_k = w.vec(p + "att.time_maa_k", C);
      L.maa_v = w.vec(p + "att.time_maa_v", C);
      L.maa_r = w.vec(p + "att.time_maa_r", C);
      L.maa_g = w.vec(p + "att.time_maa_g", C);
      L.maa_w1 = w.mat(p + "att.time_maa_w1", C, 5 * D_);
      L.maa_w2 = w.mat(p + "att.time_maa_w2", D_, 5 * C);
      L.time_decay = w.vec(p + "att.time_decay", C);
      L.decay_w1 = w.mat(p + "att.time_decay_w1", C, Dd_);
      L.decay_w2 = w.mat(p + "att.time_decay_w2", Dd_, C);
      L.first = w.vec(p + "att.time_faaaa", C);
      L.key = w.mat(p + "att.key.weight", C, C);
      L.value = w.mat(p + "att.value.weight", C, C);
      L.receptance = w.mat(p + "att.receptance.weight", C, C);
      L.output = w.mat(p + "att.output.weight", C, C);
      L.gate = w.mat(p + "att.gate.weight", C, C);
      L.ln_x_w = w.vec(p + "att.ln_x.weight", C); L.ln_x_b = w.vec(p + "att.ln_x.bias", C);
      L.ffn = ChannelMix::bind(w, p, ChannelMix::Kind::Maa, C, info.ffn_size);
      layers_.push_back(std::move(L));
    }
  }

  size_t scratch_floats_per_token() const override {
    const size_t att = size_t(16 * info_.n_embd + 6 * D_ + Dd_ + 64);
    return std::max(att, ChannelMix::scratch_floats_per_token(info_.n_embd, info_.ffn_size));
  }

  void layer(int l, float* x, const Batch& batch, Workspace& ws) const override {
    const int64_t T = batch.rows;
    const LayerV6& L = layers_[size_t(l)];
    const int64_t C = info_.n_embd, D = D_;
    ws.arena.reset();
    const size_t TC = size_t(T * C);
    float* a = ws.arena.take(TC);
    float* sx = ws.arena.take(TC);
    float* xxx = ws.arena.take(TC);
    float* h = ws.arena.take(size_t(T * 5 * D));
    float* hj = ws.arena.take(size_t(T * D));
    float* m = ws.arena.take(TC);
    float* xw = ws.arena.take(TC);
    float* xk = ws.arena.take(TC);
    float* xv = ws.arena.take(TC);
    float* xr = ws.arena.take(TC);
    float* xg = ws.arena.take(TC);
    float* dh = ws.arena.take(size_t(T * Dd_));
    float* decay = ws.arena.take(TC);
    float* r = ws.arena.take(TC);
    float* k = ws.arena.take(TC);
    float* v = ws.arena.take(TC);
    float* g = ws.arena.take(TC);
    float* y = ws.arena.take(TC);

    layer_norm_rows(x, L.ln1_w.data(), L.ln1_b.data(), C, T, a, ws);
    for_each_shift(batch, a, C, C, [&](int64_t t, const float* cur, const float* prev) {
      for (int64_t i = 0; i < C; ++i) {
        sx[t * C + i] = prev[i] - cur[i];
        xxx[t * C + i] = cur[i] + sx[t * C + i] * L.maa_x[i];
      }
    });
    save_shift(batch, a, C, C);

    // ddlerp: five data-dependent mixes from one shared LoRA.
    ws.linear.run(L.maa_w1, xxx, T, h);
    for (int64_t i = 0; i < T * 5 * D; ++i) h[i] = std::tanh(h[i]);
    float* targets[5] = {xw, xk, xv, xr, xg};
    const std::vector<float>* maa[5] = {&L.maa_w, &L.maa_k, &L.maa_v, &L.maa_r, &L.maa_g};
    for (int j = 0; j < 5; ++j) {
      for (int64_t t = 0; t < T; ++t) std::copy(h + t * 5 * D + j * D, h + t * 5 * D + (j + 1) * D, hj + t * D);
      ws.linear.run_rows(L.maa_w2, j * C, (j + 1) * C, hj, T, m);
      const float* mu = maa[j]->data();
      for (int64_t t = 0; t < T; ++t)
        for (int64_t i = 0; i < C; ++i) targets[j][t * C + i] = a[t * C + i] + sx[t * C + i] * (mu[i] + m[t * C + i]);
    }

    // r, k, v, g and the decay LoRA's down-projection read only the mixed inputs: one parallel region.
    ws.linear.run_group({{&L.receptance, xr, r}, {&L.key, xk, k}, {&L.value, xv, v}, {&L.gate, xg, g}, {&L.decay_w1, xw, dh}}, T);
    for (size_t i = 0; i < TC; ++i) g[i] = g[i] * cpu::sigmoid(g[i]);

    // Per-token decay: w = exp(-exp(time_decay + tanh(x_w·W1)·W2)).
    for (int64_t i = 0; i < T * Dd_; ++i) dh[i] = std::tanh(dh[i]);
    ws.linear.run(L.decay_w2, dh, T, decay);
    for (int64_t t = 0; t < T; ++t)
      for (int64_t i = 0; i < C; ++i) decay[t * C + i] = std::exp(-std::exp(L.time_decay[i] + decay[t * C + i]));

    ws.wkv_args.clear();
    for (const SeqSpan& seq : batch.seqs) {
      const int64_t o = seq.start * C;
      WkvArgs args{info_.n_head, info_.head_size, seq.len, r + o, k + o, v + o, decay + o, nullptr, L.first.data(), y + o, seq.state + 2 * C};
      ws.wkv_args.push_back(args);
    }
    wkv5_6(ws.wkv_args, ws.pool);
    for (int64_t t = 0; t < T; ++t)
      cpu::group_norm(y + t * C, L.ln_x_w.data(), L.ln_x_b.data(), info_.n_head, info_.head_size, info_.group_norm_eps, y + t * C);
    for (size_t i = 0; i < TC; ++i) y[i] *= g[i];
    float* out = xxx;  // reuse
    ws.linear.run(L.output, y, T, out);
    for (size_t i = 0; i < TC; ++i) x[i] += out[i];

    L.ffn.apply(x, batch, L.ln2_w.data(), L.ln2_b.data(), ws);
  }

 private:
  int64_t D_ = 0, Dd_ = 0;
  std::vector<LayerV6> layers_;
};

}  // namespace

std::unique_ptr<Architecture> make_v6(const ModelInfo& info, const WeightBinder& w) {
  return std::make_unique<ArchitectureV6>(info, w);
}

}  // namespace rwkv
