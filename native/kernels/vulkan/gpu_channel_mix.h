// The FFN half of v4, v5 and v6 layers on the GPU (models/channel_mix.cpp, kinds Lerp and Maa):
//   LN2 + two token-shift mixes -> relu²(Wk·xk) and sigmoid(Wr·xr) in one dispatch
//   -> x += sigmoid(r) * (Wv·k)  (the gated-residual epilogue)
// v7's FFN has no receptance and lives in gpu_v7.cpp.
#pragma once
#include <string>

#include "kernels/vulkan/gpu_layers.h"

namespace rwkv::vk {

struct GpuChannelMix {
  uint32_t mode = 1;       // mix.glsl: 1 lerp (v4, v5), 2 maa (v6)
  Slice ln_w, ln_b;        // ln2 (C)
  Slice mix;               // (2, C): mix_k, mix_r
  GpuMatrix key, value, receptance;

  static GpuChannelMix bind(LayerBuild& b, const std::string& prefix, bool maa);
};

// Scratch planes shared by every layer's FFN.
struct ChannelMixScratch {
  Act ln;            // (T, C)
  std::vector<Act> xk_xr;
  Act k;             // (T, F)
  Act r;             // (T, C) unpadded, the stride of x (the gated epilogue reads it at x's index)

  static ChannelMixScratch plan(ScratchPlan& s, int64_t C, int64_t F);
};

void record_channel_mix(Ops& ops, const GpuChannelMix& m, const ChannelMixScratch& s, const Act& x, uint32_t C,
                        VkDeviceAddress ffn_xx);

}  // namespace rwkv::vk
