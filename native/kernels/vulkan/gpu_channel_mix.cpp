#include "kernels/vulkan/gpu_channel_mix.h"

namespace rwkv::vk {

GpuChannelMix GpuChannelMix::bind(LayerBuild& b, const std::string& p, bool maa) {
  const int64_t C = b.info.n_embd, F = b.info.ffn_size;
  const std::string mix = maa ? "ffn.time_maa_" : "ffn.time_mix_";
  GpuChannelMix m;
  m.mode = maa ? 2 : 1;
  m.ln_w = b.floats({b.w.vec(p + "ln2.weight", C)});
  m.ln_b = b.floats({b.w.vec(p + "ln2.bias", C)});
  m.mix = b.floats({b.w.vec(p + mix + "k", C), b.w.vec(p + mix + "r", C)});
  m.key = b.matrix(p + "ffn.key.weight", C, F);
  m.value = b.matrix(p + "ffn.value.weight", F, C);
  m.receptance = b.matrix(p + "ffn.receptance.weight", C, C);
  return m;
}

ChannelMixScratch ChannelMixScratch::plan(ScratchPlan& s, int64_t C, int64_t F) {
  ChannelMixScratch c;
  c.ln = s.plane(C);
  c.xk_xr = s.row_group({C, C});
  c.k = s.plane(F);
  c.r = s.plane(C, false);
  return c;
}

void record_channel_mix(Ops& ops, const GpuChannelMix& m, const ChannelMixScratch& s, const Act& x, uint32_t C,
                        VkDeviceAddress ffn_xx) {
  const MixSpec mix{.n_mix = 2, .mode = m.mode, .mix = m.mix.address, .out = s.xk_xr[0], .state = ffn_xx,
                    .write_ln = ops.T() > 1, .ln = s.ln};
  ops.layer_norm_mix(x, ops.T(), m.ln_w.address, m.ln_b.address, C, 1e-5f, mix);
  ops.matvec({{&m.key, s.xk_xr[0], s.k, Epilogue::Relu2}, {&m.receptance, s.xk_xr[1], s.r, Epilogue::Sigmoid}});
  MatJob out{&m.value, s.k, x, Epilogue::GatedAdd};
  out.aux0 = s.r;
  ops.matvec({out});
}

}  // namespace rwkv::vk
