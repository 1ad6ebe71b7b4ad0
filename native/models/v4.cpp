// RWKV v4: per-channel WKV with a numerically safe running max (engine-spec section 3).
// State per layer (rwkv.cpp order): [ffn_xx, att_xx, aa, bb, pp], C floats each.
#include <cmath>
#include <vector>

#include "kernels/cpu/ops.h"
#include "models/architecture.h"
#include "models/channel_mix.h"

namespace rwkv {
namespace {

struct LayerV4 {
  std::vector<float> ln1_w, ln1_b, ln2_w, ln2_b;      // (C)
  std::vector<float> mix_k, mix_v, mix_r;              // att.time_mix_* (C)
  std::vector<float> time_first;                       // u (C), raw
  std::vector<float> time_decay;                       // w (C), stored as -exp(raw)
  Tensor key, value, receptance, output;               // (C, C)
  ChannelMix ffn;
};

class ArchitectureV4 final : public Architecture {
 public:
  ArchitectureV4(const ModelInfo& info, const WeightBinder& w) : Architecture(info, w) {
    const int64_t C = info.n_embd;
    for (int l = 0; l < info.n_layer; ++l) {
      const std::string p = "blocks." + std::to_string(l) + ".";
      LayerV4 L;
      L.ln1_w = w.vec(p + "ln1.weight", C); L.ln1_b = w.vec(p + "ln1.bias", C);
      L.ln2_w = w.vec(p + "ln2.weight", C); L.ln2_b = w.vec(p + "ln2.bias", C);
      L.mix_k = w.vec(p + "att.time_mix_k", C);
      L.mix_v = w.vec(p + "att.time_mix_v", C);
      L.mix_r = w.vec(p + "att.time_mix_r", C);
      L.time_first = w.vec(p + "att.time_first", C);
      L.time_decay = w.vec(p + "att.time_decay", C);
      L.key = w.mat(p + "att.key.weight", C, C);
      L.value = w.mat(p + "att.value.weight", C, C);
      L.receptance = w.mat(p + "att.receptance.weight", C, C);
      L.output = w.mat(p + "att.output.weight", C, C);
      L.ffn = ChannelMix::bind(w, p, ChannelMix::Kind::Lerp, C, info.ffn_size);
      layers_.push_back(std::move(L));
    }
  }

  void init_layer_state(float* s) const override {
    Architecture::init_layer_state(s);
    const int64_t C = info_.n_embd;
    // pp = -1e30 acts as log(0): the first token then gives wkv = v exactly, and never 0/0.
    for (int64_t i = 0; i < C; ++i) s[4 * C + i] = -1e30f;
  }

  size_t scratch_floats_per_token() const override {
    return size_t(10 * info_.n_embd + 2 * info_.ffn_size);
  }

  void layer(int l, float* x, const Batch& batch, Workspace& ws) const override {
    const int64_t T = batch.rows;
    const LayerV4& L = layers_[size_t(l)];
    const int64_t C = info_.n_embd;
    ws.arena.reset();
    const size_t TC = size_t(T * C);
    float* a = ws.arena.take(TC);
    float* xk = ws.arena.take(TC);
    float* xv = ws.arena.take(TC);
    float* xr = ws.arena.take(TC);
    float* k = ws.arena.take(TC);
    float* v = ws.arena.take(TC);
    float* r = ws.arena.take(TC);
    float* out = ws.arena.take(TC);

    layer_norm_rows(x, L.ln1_w.data(), L.ln1_b.data(), C, T, a, ws);
    for_each_shift(batch, a, C, C, [&](int64_t t, const float* cur, const float* prev) {
      for (int64_t i = 0; i < C; ++i) {
        xk[t * C + i] = cur[i] * L.mix_k[i] + prev[i] * (1 - L.mix_k[i]);
        xv[t * C + i] = cur[i] * L.mix_v[i] + prev[i] * (1 - L.mix_v[i]);
        xr[t * C + i] = cur[i] * L.mix_r[i] + prev[i] * (1 - L.mix_r[i]);
      }
    });
    save_shift(batch, a, C, C);
    ws.linear.run_group({{&L.key, xk, k}, {&L.value, xv, v}, {&L.receptance, xr, r}}, T);

    // WKV, sequential in t: the max-trick keeps exp() in range (engine-spec 3.2).
    float* rwkv = xk;  // reuse: xk is no longer needed
    for (const SeqSpan& seq : batch.seqs) {
      float* aa = seq.state + 2 * C;
      float* bb = seq.state + 3 * C;
      float* pp = seq.state + 4 * C;
      for (int64_t t = seq.start; t < seq.start + seq.len; ++t) {
        for (int64_t i = 0; i < C; ++i) {
        const float kk = k[t * C + i], vv = v[t * C + i];
        const float u = L.time_first[i], w = L.time_decay[i];
        float q = std::fmax(pp[i], u + kk);
        float e1 = std::exp(pp[i] - q), e2 = std::exp(u + kk - q);
        const float wkv = (e1 * aa[i] + e2 * vv) / (e1 * bb[i] + e2);
        q = std::fmax(pp[i] + w, kk);
        e1 = std::exp(pp[i] + w - q);
        e2 = std::exp(kk - q);
        aa[i] = e1 * aa[i] + e2 * vv;
        bb[i] = e1 * bb[i] + e2;
        pp[i] = q;
        rwkv[t * C + i] = cpu::sigmoid(r[t * C + i]) * wkv;
        }
      }
    }
    ws.linear.run(L.output, rwkv, T, out);
    for (size_t i = 0; i < TC; ++i) x[i] += out[i];

    L.ffn.apply(x, batch, L.ln2_w.data(), L.ln2_b.data(), ws);
  }

 private:
  std::vector<LayerV4> layers_;
};

}  // namespace

std::unique_ptr<Architecture> make_v4(const ModelInfo& info, const WeightBinder& w) {
  return std::make_unique<ArchitectureV4>(info, w);
}

}  // namespace rwkv
