// RWKV v7 "Goose": a generalised delta rule with a per-token decay, in-context learning rate and
// value residual (engine-spec section 6).
// State per layer: [ffn_xx (C), att_xx (C), H matrices S×S as [h][value i][key j]] (transposed vs v5/v6).
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/simd_clones.h"
#include "kernels/cpu/ops.h"
#include "models/architecture.h"
#include "models/channel_mix.h"
#include "models/wkv.h"

namespace rwkv {
namespace {

struct LayerV7 {
  std::vector<float> ln1_w, ln1_b, ln2_w, ln2_b;        // (C)
  std::vector<float> x_r, x_w, x_k, x_v, x_a, x_g;      // att.x_rwkvag split (C each)
  std::vector<float> w0, a0, v0;                        // (C); v0 absent in layer 0
  Tensor w1, a1, v1, g1;  // (C, D*): D* rows of C
  Tensor w2, a2, v2, g2;  // (D*, C): C rows of D*
  std::vector<float> k_k, k_a;                          // (C)
  std::vector<float> r_k;                               // (S, H) = [h][j], C floats
  Tensor key, value, receptance, output;                // (C, C)
  std::vector<float> ln_x_w, ln_x_b;                    // (C)
  ChannelMix ffn;
};

// exp(-0.5): w = exp(-e^-0.5 * sigmoid(w_raw)) keeps the decay in (0.545, 1).
constexpr float kDecayScale = 0.6065306597126334f;

// The per-token element-wise steps with an exp inside, as SIMD clones so they vectorize (they ran as
// libm calls, one per element: ~3% of a batched 0.1B decode step).
// Decay: w = exp(-e^-0.5 * sigmoid(w0 + w)), in place.
RWKV_SIMD_CLONES
void decay_v7(const float* __restrict w0, float* __restrict w, int64_t n) {
  for (int64_t i = 0; i < n; ++i) w[i] = exp_fast(-kDecayScale * cpu::sigmoid(w0[i] + w[i]));
}
// Value residual: v += (v_first - v) * sigmoid(v0 + lora), in place.
RWKV_SIMD_CLONES
void value_residual_v7(const float* __restrict v0, const float* __restrict lora, const float* __restrict v_first,
                       float* __restrict v, int64_t n) {
  for (int64_t i = 0; i < n; ++i) v[i] += (v_first[i] - v[i]) * cpu::sigmoid(v0[i] + lora[i]);
}

// The token shift of RWKV-7: each of the six inputs is cur + (prev - cur) * its mix.
void mix6(const float* __restrict cur, const float* __restrict prev, const LayerV7& L, int64_t C, float* __restrict xr,
          float* __restrict xw, float* __restrict xk, float* __restrict xv, float* __restrict xa, float* __restrict xg) {
  const float *__restrict mr = L.x_r.data(), *__restrict mw = L.x_w.data(), *__restrict mk = L.x_k.data(),
              *__restrict mv = L.x_v.data(), *__restrict ma = L.x_a.data(), *__restrict mg = L.x_g.data();
  for (int64_t i = 0; i < C; ++i) {
    const float c = cur[i], sx = prev[i] - c;
    xr[i] = c + sx * mr[i];
    xw[i] = c + sx * mw[i];
    xk[i] = c + sx * mk[i];
    xv[i] = c + sx * mv[i];
    xa[i] = c + sx * ma[i];
    xg[i] = c + sx * mg[i];
  }
}

class ArchitectureV7 final : public Architecture {
 public:
  ArchitectureV7(const ModelInfo& info, const WeightBinder& w) : Architecture(info, w) {
    const int64_t C = info.n_embd;
    auto rank = [&](const char* name) { return w.get(std::string("blocks.0.att.") + name).rows(); };
    Dw_ = rank("w1"), Da_ = rank("a1"), Dg_ = rank("g1");
    Dv_ = info.n_layer > 1 ? w.get("blocks.1.att.v1").rows() : 0;
    for (int l = 0; l < info.n_layer; ++l) {
      const std::string p = "blocks." + std::to_string(l) + ".";
      LayerV7 L;
      L.ln1_w = w.vec(p + "ln1.weight", C); L.ln1_b = w.vec(p + "ln1.bias", C);
      L.ln2_w = w.vec(p + "ln2.weight", C); L.ln2_b = w.vec(p + "ln2.bias", C);
      const std::vector<float> mix = w.vec(p + "att.x_rwkvag", 6 * C);
      std::vector<float>* parts[6] = {&L.x_r, &L.x_w, &L.x_k, &L.x_v, &L.x_a, &L.x_g};
      for (int j = 0; j < 6; ++j) parts[j]->assign(mix.begin() + j * C, mix.begin() + (j + 1) * C);
      L.w0 = w.vec(p + "att.w0", C);
      L.a0 = w.vec(p + "att.a0", C);
      L.w1 = w.mat(p + "att.w1", C, Dw_); L.w2 = w.mat(p + "att.w2", Dw_, C);
      L.a1 = w.mat(p + "att.a1", C, Da_); L.a2 = w.mat(p + "att.a2", Da_, C);
      L.g1 = w.mat(p + "att.g1", C, Dg_); L.g2 = w.mat(p + "att.g2", Dg_, C);
      if (l > 0) {  // layer 0 takes v as v_first; files may still carry unused v0..v2 there
        L.v0 = w.vec(p + "att.v0", C);
        L.v1 = w.mat(p + "att.v1", C, Dv_); L.v2 = w.mat(p + "att.v2", Dv_, C);
      }
      L.k_k = w.vec(p + "att.k_k", C);
      L.k_a = w.vec(p + "att.k_a", C);
      L.r_k = w.vec(p + "att.r_k", C);
      L.key = w.mat(p + "att.key.weight", C, C);
      L.value = w.mat(p + "att.value.weight", C, C);
      L.receptance = w.mat(p + "att.receptance.weight", C, C);
      L.output = w.mat(p + "att.output.weight", C, C);
      L.ln_x_w = w.vec(p + "att.ln_x.weight", C); L.ln_x_b = w.vec(p + "att.ln_x.bias", C);
      L.ffn = ChannelMix::bind(w, p, ChannelMix::Kind::V7, C, info.ffn_size);
      layers_.push_back(std::move(L));
    }
  }

  size_t scratch_floats_per_token() const override {
    const size_t att = size_t(16 * info_.n_embd + Dw_ + Da_ + Dv_ + Dg_ + 64);
    return std::max(att, ChannelMix::scratch_floats_per_token(info_.n_embd, info_.ffn_size));
  }

  void layer(int l, float* x, const Batch& batch, Workspace& ws) const override {
    const int64_t T = batch.rows;
    const LayerV7& L = layers_[size_t(l)];
    const int64_t C = info_.n_embd, H = info_.n_head, S = info_.head_size;
    ws.arena.reset();
    const size_t TC = size_t(T * C);
    float* a = ws.arena.take(TC);
    float* xr = ws.arena.take(TC);
    float* xw = ws.arena.take(TC);
    float* xk = ws.arena.take(TC);
    float* xv = ws.arena.take(TC);
    float* xa = ws.arena.take(TC);
    float* xg = ws.arena.take(TC);
    float* r = ws.arena.take(TC);
    float* k = ws.arena.take(TC);
    float* v = ws.arena.take(TC);
    float* w = ws.arena.take(TC);
    float* iclr = ws.arena.take(TC);
    float* g = ws.arena.take(TC);
    float* kk = ws.arena.take(TC);
    float* y = ws.arena.take(TC);
    float* tmp = ws.arena.take(TC);
    float* lw = ws.arena.take(size_t(T * Dw_));  // the LoRA down-projections, one buffer each
    float* la = ws.arena.take(size_t(T * Da_));
    float* lg = ws.arena.take(size_t(T * Dg_));
    float* lv = ws.arena.take(size_t(T * Dv_));

    layer_norm_rows(x, L.ln1_w.data(), L.ln1_b.data(), C, T, a, ws);
    for_each_shift(batch, a, C, C, [&](int64_t t, const float* cur, const float* prev) {
      // Restrict-qualified rows: without them the compiler cannot rule out that the six outputs alias
      // the inputs, and the loop ran one scalar store at a time.
      mix6(cur, prev, L, C, xr + t * C, xw + t * C, xk + t * C, xv + t * C, xa + t * C, xg + t * C);
    });
    save_shift(batch, a, C, C);

    // r, k, v and the LoRA down-projections read only the mixed inputs: one parallel region.
    const bool residual = l != 0;  // layer 0 remembers v; later layers mix towards it
    if (residual)
      ws.linear.run_group({{&L.receptance, xr, r}, {&L.key, xk, k}, {&L.value, xv, v}, {&L.w1, xw, lw},
                           {&L.a1, xa, la}, {&L.g1, xg, lg}, {&L.v1, xv, lv}}, T);
    else
      ws.linear.run_group({{&L.receptance, xr, r}, {&L.key, xk, k}, {&L.value, xv, v}, {&L.w1, xw, lw},
                           {&L.a1, xa, la}, {&L.g1, xg, lg}}, T);
    for (int64_t i = 0; i < T * Dw_; ++i) lw[i] = std::tanh(lw[i]);
    cpu::sigmoid_inplace(lg, nullptr, T * Dg_);
    // The up-projections: another region.
    if (residual)
      ws.linear.run_group({{&L.w2, lw, w}, {&L.a2, la, iclr}, {&L.g2, lg, g}, {&L.v2, lv, tmp}}, T);
    else
      ws.linear.run_group({{&L.w2, lw, w}, {&L.a2, la, iclr}, {&L.g2, lg, g}}, T);

    if (!residual) ws.v_first.assign(v, v + TC);  // layer 0 remembers v
    // Per token, independent across tokens: shared between the threads when a pass has several.
    for_tokens(T, ws, [&](int64_t t) {
      float* wt = w + t * C;
      float* at = iclr + t * C;
      float* vt = v + t * C;
      float* kt = k + t * C;
      float* kkt = kk + t * C;
      // Decay: w = exp(-e^-0.5 * sigmoid(w0 + tanh(x_w·W1)·W2)).
      decay_v7(L.w0.data(), wt, C);
      // In-context learning rate: a = sigmoid(a0 + (x_a·A1)·A2). (Gate: g = sigmoid(x_g·G1)·G2, above.)
      cpu::sigmoid_inplace(at, L.a0.data(), C);
      // Value residual: v += (v_first - v) * sigmoid(v0 + (x_v·V1)·V2).
      if (residual) value_residual_v7(L.v0.data(), tmp + t * C, ws.v_first.data() + t * C, vt, C);
      // κ̂ = normalize(k ⊙ k_k) per head (from the original k); then k̃ = k ⊙ (1 + (a - 1) ⊙ k_a).
      for (int64_t h = 0; h < H; ++h) {
        float* o = kkt + h * S;
        float norm = 0;
        for (int64_t j = 0; j < S; ++j) {
          o[j] = kt[h * S + j] * L.k_k[size_t(h * S + j)];
          norm += o[j] * o[j];
        }
        const float inv = 1.0f / std::max(std::sqrt(norm), 1e-12f);
        for (int64_t j = 0; j < S; ++j) o[j] *= inv;
      }
      for (int64_t i = 0; i < C; ++i) kt[i] = kt[i] * (1 + (at[i] - 1) * L.k_a[i]);
    });

    ws.wkv7_args.clear();
    for (const SeqSpan& seq : batch.seqs) {
      const int64_t o = seq.start * C;
      Wkv7Args args{H, S, seq.len, r + o, w + o, k + o, v + o, kk + o, iclr + o, y + o, seq.state + 2 * C};
      ws.wkv7_args.push_back(args);
    }
    wkv7(ws.wkv7_args, ws.pool);

    for_tokens(T, ws, [&](int64_t t) {
      float* yt = y + t * C;
      cpu::group_norm(yt, L.ln_x_w.data(), L.ln_x_b.data(), H, S, info_.group_norm_eps, yt);
      // Bonus for the current token: (sum_j r*k̃*r_k per head) * v.
      for (int64_t h = 0; h < H; ++h) {
        const int64_t o = t * C + h * S;
        float bonus = 0;
        for (int64_t j = 0; j < S; ++j) bonus += r[o + j] * k[o + j] * L.r_k[size_t(h * S + j)];
        for (int64_t j = 0; j < S; ++j) yt[h * S + j] += bonus * v[o + j];
      }
      for (int64_t i = 0; i < C; ++i) yt[i] *= g[t * C + i];
    });
    ws.linear.run(L.output, y, T, tmp);
    for (size_t i = 0; i < TC; ++i) x[i] += tmp[i];

    L.ffn.apply(x, batch, L.ln2_w.data(), L.ln2_b.data(), ws);
  }

 private:
  int64_t Dw_ = 0, Da_ = 0, Dv_ = 0, Dg_ = 0;
  std::vector<LayerV7> layers_;
};

}  // namespace

std::unique_ptr<Architecture> make_v7(const ModelInfo& info, const WeightBinder& w) {
  return std::make_unique<ArchitectureV7>(info, w);
}

}  // namespace rwkv
