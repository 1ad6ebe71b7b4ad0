// RWKV v6 on the GPU (models/v6.cpp). Per layer: LN1 + shift (keeping x and sx) -> tanh(maa_w1·xxx)
// -> five maa_w2 slices with the ddlerp epilogue (x + sx*(maa_j + m_j)) -> r, k, v, silu(g) and
// tanh(decay_w1·xw) -> decay_w2 -> fused WKV-6 (decay exp(-exp(.)), GroupNorm, gate) -> x += Wo·y
// -> channel mix.
#include "core/error.h"
#include "kernels/vulkan/gpu_channel_mix.h"

namespace rwkv::vk {
namespace {

struct LayerV6 {
  Slice ln1_w, ln1_b;
  Slice maa_x;        // (C)
  Slice maa;          // (5, C): maa_w, maa_k, maa_v, maa_r, maa_g (the order of maa_w2's slices)
  Slice params;       // (4, C): time_decay, time_faaaa, ln_x.weight, ln_x.bias
  GpuMatrix maa_w1;   // (C, 5D)
  GpuMatrix maa_w2[5];  // (D, C) each
  GpuMatrix decay_w1, decay_w2;
  GpuMatrix key, value, receptance, output, gate;
  GpuChannelMix ffn;
};

class GpuV6 final : public GpuLayers {
 public:
  explicit GpuV6(LayerBuild& b) : info_(b.info) {
    const int64_t C = info_.n_embd;
    const WeightBinder& w = b.w;
    const Tensor& w1 = w.get("blocks.0.att.time_maa_w1");
    if (w1.rows() % 5 != 0) throw Error(ErrorCode::Shape, "time_maa_w1 rows are not a multiple of 5");
    D_ = w1.rows() / 5;
    Dd_ = w.get("blocks.0.att.time_decay_w1").rows();
    for (int l = 0; l < b.n_layers; ++l) {
      const std::string p = "blocks." + std::to_string(l) + ".";
      const std::string maa = p + "att.time_maa_";
      LayerV6 L;
      L.ln1_w = b.floats({w.vec(p + "ln1.weight", C)});
      L.ln1_b = b.floats({w.vec(p + "ln1.bias", C)});
      L.maa_x = b.floats({w.vec(maa + "x", C)});
      L.maa = b.floats({w.vec(maa + "w", C), w.vec(maa + "k", C), w.vec(maa + "v", C), w.vec(maa + "r", C), w.vec(maa + "g", C)});
      L.params = b.floats({w.vec(p + "att.time_decay", C), w.vec(p + "att.time_faaaa", C), w.vec(p + "att.ln_x.weight", C),
                           w.vec(p + "att.ln_x.bias", C)});
      L.maa_w1 = b.matrix(p + "att.time_maa_w1", C, 5 * D_);
      const GpuMatrix w2 = b.matrix(p + "att.time_maa_w2", D_, 5 * C);
      for (int j = 0; j < 5; ++j) L.maa_w2[j] = w2.rows_view(j * C, (j + 1) * C);
      L.decay_w1 = b.matrix(p + "att.time_decay_w1", C, Dd_);
      L.decay_w2 = b.matrix(p + "att.time_decay_w2", Dd_, C);
      L.key = b.matrix(p + "att.key.weight", C, C);
      L.value = b.matrix(p + "att.value.weight", C, C);
      L.receptance = b.matrix(p + "att.receptance.weight", C, C);
      L.output = b.matrix(p + "att.output.weight", C, C);
      L.gate = b.matrix(p + "att.gate.weight", C, C);
      L.ffn = GpuChannelMix::bind(b, p, true);
      layers_.push_back(std::move(L));
    }
    // a, sx and the five ddlerp targets share a stride: the ddlerp epilogue reads a and sx at the
    // target's index.
    lerp_ = b.plan.row_group({C, C, C, C, C, C, C});  // a, sx, xw, xk, xv, xr, xg
    xxx_ = b.plan.plane(C);
    h_ = b.plan.plane(5 * D_);
    dh_ = b.plan.plane(Dd_);
    wkv_ = b.plan.row_group({C, C, C, C, C, C});  // r, k, v, g, wl, y
    ffn_ = ChannelMixScratch::plan(b.plan, C, info_.ffn_size);
  }

  void record(int l, Ops& ops, const Act& x, VkDeviceAddress state) const override {
    const LayerV6& L = layers_[size_t(l)];
    const uint32_t C = uint32_t(info_.n_embd), T = ops.T();
    const MixSpec att{.n_mix = 1, .mode = 2, .mix = L.maa_x.address, .out = xxx_, .state = state + uint64_t(C) * 4,
                      .write_ln = true, .ln = lerp_[0], .write_sx = true, .sx = lerp_[1]};
    ops.layer_norm_mix(x, T, L.ln1_w.address, L.ln1_b.address, C, 1e-5f, att);
    ops.matvec({{&L.maa_w1, xxx_, h_, Epilogue::Tanh}});
    std::vector<MatJob> lerp;
    for (int j = 0; j < 5; ++j) {
      MatJob m{&L.maa_w2[j], h_.at(uint64_t(j) * D_), lerp_[size_t(2 + j)], Epilogue::Ddlerp};
      m.aux0 = lerp_[0];
      m.aux1 = lerp_[1];
      m.aux2 = L.maa.address + uint64_t(j) * C * 4;
      lerp.push_back(m);
    }
    ops.matvec(lerp);
    const Act &xw = lerp_[2], &xk = lerp_[3], &xv = lerp_[4], &xr = lerp_[5], &xg = lerp_[6];
    const Act &r = wkv_[0], &k = wkv_[1], &v = wkv_[2], &g = wkv_[3], &wl = wkv_[4], &y = wkv_[5];
    ops.matvec({{&L.receptance, xr, r}, {&L.key, xk, k}, {&L.value, xv, v}, {&L.gate, xg, g, Epilogue::Silu},
                {&L.decay_w1, xw, dh_, Epilogue::Tanh}});
    ops.matvec({{&L.decay_w2, dh_, wl}});

    Wkv5PC pc{};
    pc.r = ops.addr(r), pc.k = ops.addr(k), pc.v = ops.addr(v), pc.wl = ops.addr(wl), pc.g = ops.addr(g);
    pc.params = L.params.address;
    pc.state = state + uint64_t(2 * C) * 4;
    pc.y = ops.addr(y);
    pc.H = uint32_t(info_.n_head), pc.T = T, pc.stride = r.stride, pc.flags = 3u;
    pc.eps = info_.group_norm_eps;
    const uint32_t S = uint32_t(info_.head_size);
    ops.dispatch("wkv5", {S, S}, pc, pc.H);
    ops.barrier();
    ops.matvec({{&L.output, y, x, Epilogue::Add}});
    record_channel_mix(ops, L.ffn, ffn_, x, C, state);
  }

 private:
  ModelInfo info_;
  int64_t D_ = 0, Dd_ = 0;
  std::vector<LayerV6> layers_;
  std::vector<Act> lerp_, wkv_;
  Act xxx_, h_, dh_;
  ChannelMixScratch ffn_;
};

}  // namespace

std::unique_ptr<GpuLayers> make_gpu_v6(LayerBuild& b) { return std::make_unique<GpuV6>(b); }

}  // namespace rwkv::vk
