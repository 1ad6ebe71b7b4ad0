// RWKV v4 on the GPU (models/v4.cpp). Per layer: LN1 + three lerp mixes -> k, v, sigmoid(r)
// -> WKV-4 (running-max form, one invocation per channel) -> x += Wo·(sigmoid(r)*wkv) -> channel mix.
#include "kernels/vulkan/gpu_channel_mix.h"

namespace rwkv::vk {
namespace {

struct LayerV4 {
  Slice ln1_w, ln1_b;
  Slice mix;     // (3, C): time_mix_k, v, r
  Slice params;  // (2, C): time_first u, time_decay w
  GpuMatrix key, value, receptance, output;
  GpuChannelMix ffn;
};

struct WkvPC {
  uint64_t k, v, r, params, state, y;
  uint32_t C, T, stride;
};

class GpuV4 final : public GpuLayers {
 public:
  explicit GpuV4(LayerBuild& b) : info_(b.info) {
    const int64_t C = info_.n_embd;
    const WeightBinder& w = b.w;
    for (int l = 0; l < b.n_layers; ++l) {
      const std::string p = "blocks." + std::to_string(l) + ".";
      LayerV4 L;
      L.ln1_w = b.floats({w.vec(p + "ln1.weight", C)});
      L.ln1_b = b.floats({w.vec(p + "ln1.bias", C)});
      L.mix = b.floats({w.vec(p + "att.time_mix_k", C), w.vec(p + "att.time_mix_v", C), w.vec(p + "att.time_mix_r", C)});
      L.params = b.floats({w.vec(p + "att.time_first", C), w.vec(p + "att.time_decay", C)});
      L.key = b.matrix(p + "att.key.weight", C, C);
      L.value = b.matrix(p + "att.value.weight", C, C);
      L.receptance = b.matrix(p + "att.receptance.weight", C, C);
      L.output = b.matrix(p + "att.output.weight", C, C);
      L.ffn = GpuChannelMix::bind(b, p, false);
      layers_.push_back(std::move(L));
    }
    ln_ = b.plan.plane(C);
    mixes_ = b.plan.row_group({C, C, C});    // xk, xv, xr
    wkv_ = b.plan.row_group({C, C, C, C});   // k, v, r, rwkv
    ffn_ = ChannelMixScratch::plan(b.plan, C, info_.ffn_size);
  }

  void record(int l, Ops& ops, const Act& x, VkDeviceAddress state) const override {
    const LayerV4& L = layers_[size_t(l)];
    const uint32_t C = uint32_t(info_.n_embd), T = ops.T();
    const MixSpec att{.n_mix = 3, .mode = 1, .mix = L.mix.address, .out = mixes_[0], .state = state + uint64_t(C) * 4,
                      .write_ln = T > 1, .ln = ln_};
    ops.layer_norm_mix(x, T, L.ln1_w.address, L.ln1_b.address, C, 1e-5f, att);
    const Act &k = wkv_[0], &v = wkv_[1], &r = wkv_[2], &y = wkv_[3];
    ops.matvec({{&L.key, mixes_[0], k}, {&L.value, mixes_[1], v}, {&L.receptance, mixes_[2], r, Epilogue::Sigmoid}});
    WkvPC pc{ops.addr(k), ops.addr(v), ops.addr(r), L.params.address, state + uint64_t(2 * C) * 4, ops.addr(y), C, T, k.stride};
    ops.dispatch("wkv4", {64}, pc, (C + 63) / 64);
    ops.barrier();
    ops.matvec({{&L.output, y, x, Epilogue::Add}});
    record_channel_mix(ops, L.ffn, ffn_, x, C, state);
  }

 private:
  ModelInfo info_;
  std::vector<LayerV4> layers_;
  Act ln_;
  std::vector<Act> mixes_, wkv_;
  ChannelMixScratch ffn_;
};

}  // namespace

std::unique_ptr<GpuLayers> make_gpu_v4(LayerBuild& b) { return std::make_unique<GpuV4>(b); }

}  // namespace rwkv::vk
