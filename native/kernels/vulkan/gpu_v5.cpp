// RWKV v5.1 / v5.2 on the GPU (models/v5.cpp). Per layer: LN1 + mixes -> k, v, r (and silu gate)
// -> fused WKV-5 (+ GroupNorm, gate) -> x += Wo·y -> channel mix.
#include "kernels/vulkan/gpu_channel_mix.h"

namespace rwkv::vk {
namespace {

struct LayerV5 {
  Slice ln1_w, ln1_b;
  Slice mix;     // (3 or 4, C): time_mix_k, v, r (, g)
  Slice params;  // (4, C): decay w, first u, ln_x.weight, ln_x.bias
  GpuMatrix key, value, receptance, output, gate;
  GpuChannelMix ffn;
};

class GpuV5 final : public GpuLayers {
 public:
  explicit GpuV5(LayerBuild& b) : info_(b.info), v52_(b.info.version_minor == 2) {
    const int64_t C = info_.n_embd, H = info_.n_head, S = info_.head_size;
    const WeightBinder& w = b.w;
    // 5.1: one decay and bonus per head, broadcast over its channels.
    auto per_head = [&](const std::string& name) {
      const std::vector<float> v = w.vec(name, H);
      std::vector<float> out;
      for (int64_t h = 0; h < H; ++h) out.insert(out.end(), size_t(S), v[size_t(h)]);
      return out;
    };
    for (int l = 0; l < b.n_layers; ++l) {
      const std::string p = "blocks." + std::to_string(l) + ".";
      LayerV5 L;
      L.ln1_w = b.floats({w.vec(p + "ln1.weight", C)});
      L.ln1_b = b.floats({w.vec(p + "ln1.bias", C)});
      const std::vector<float> ln_x_w = w.vec(p + "att.ln_x.weight", C), ln_x_b = w.vec(p + "att.ln_x.bias", C);
      if (v52_) {
        L.mix = b.floats({w.vec(p + "att.time_mix_k", C), w.vec(p + "att.time_mix_v", C), w.vec(p + "att.time_mix_r", C),
                          w.vec(p + "att.time_mix_g", C)});
        L.params = b.floats({w.vec(p + "att.time_decay", C), w.vec(p + "att.time_faaaa", C), ln_x_w, ln_x_b});
        L.gate = b.matrix(p + "att.gate.weight", C, C);
      } else {
        L.mix = b.floats({w.vec(p + "att.time_mix_k", C), w.vec(p + "att.time_mix_v", C), w.vec(p + "att.time_mix_r", C)});
        L.params = b.floats({per_head(p + "att.time_decay"), per_head(p + "att.time_first"), ln_x_w, ln_x_b});
      }
      L.key = b.matrix(p + "att.key.weight", C, C);
      L.value = b.matrix(p + "att.value.weight", C, C);
      L.receptance = b.matrix(p + "att.receptance.weight", C, C);
      L.output = b.matrix(p + "att.output.weight", C, C);
      L.ffn = GpuChannelMix::bind(b, p, false);
      layers_.push_back(std::move(L));
    }
    ln_ = b.plan.plane(C);
    mixes_ = b.plan.row_group({C, C, C, C});  // xk, xv, xr, xg
    wkv_ = b.plan.row_group({C, C, C, C, C});  // r, k, v, g, y
    ffn_ = ChannelMixScratch::plan(b.plan, C, info_.ffn_size);
  }

  void record(int l, Ops& ops, const Act& x, VkDeviceAddress state) const override {
    const LayerV5& L = layers_[size_t(l)];
    const uint32_t C = uint32_t(info_.n_embd), T = ops.T();
    const MixSpec att{.n_mix = v52_ ? 4 : 3, .mode = 1, .mix = L.mix.address, .out = mixes_[0],
                      .state = state + uint64_t(C) * 4, .write_ln = T > 1, .ln = ln_};
    ops.layer_norm_mix(x, T, L.ln1_w.address, L.ln1_b.address, C, 1e-5f, att);
    const Act &r = wkv_[0], &k = wkv_[1], &v = wkv_[2], &g = wkv_[3], &y = wkv_[4];
    std::vector<MatJob> jobs = {{&L.key, mixes_[0], k}, {&L.value, mixes_[1], v}, {&L.receptance, mixes_[2], r}};
    if (v52_) jobs.push_back({&L.gate, mixes_[3], g, Epilogue::Silu});
    ops.matvec(jobs);

    Wkv5PC pc{};
    pc.r = ops.addr(r), pc.k = ops.addr(k), pc.v = ops.addr(v), pc.wl = pc.r, pc.g = ops.addr(g);
    pc.params = L.params.address;
    pc.state = state + uint64_t(2 * C) * 4;
    pc.y = ops.addr(y);
    pc.H = uint32_t(info_.n_head), pc.T = T, pc.stride = r.stride, pc.flags = v52_ ? 2u : 0u;
    pc.eps = info_.group_norm_eps;
    const uint32_t S = uint32_t(info_.head_size);
    ops.dispatch("wkv5", {S, S}, pc, pc.H);
    ops.barrier();
    ops.matvec({{&L.output, y, x, Epilogue::Add}});
    record_channel_mix(ops, L.ffn, ffn_, x, C, state);
  }

 private:
  ModelInfo info_;
  bool v52_;
  std::vector<LayerV5> layers_;
  Act ln_;
  std::vector<Act> mixes_, wkv_;
  ChannelMixScratch ffn_;
};

}  // namespace

std::unique_ptr<GpuLayers> make_gpu_v5(LayerBuild& b) { return std::make_unique<GpuV5>(b); }

}  // namespace rwkv::vk
