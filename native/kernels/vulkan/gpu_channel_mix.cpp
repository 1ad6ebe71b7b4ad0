#include "kernels/vulkan/gpu_channel_mix.h"

namespace rwkv::vk {

GpuChannelMix GpuChannelMix::bind(LayerBuild& b, const std::string& p, bool maa, uint64_t* weight_bytes) {
  const int64_t C = b.info.n_embd, F = b.info.ffn_size;
  GpuChannelMix m;
  m.mode = maa ? 2 : 1;
  m.ln_w = upload_floats(b.arena, b.up, b.w.vec(p + "ln2.weight", C));
  m.ln_b = upload_floats(b.arena, b.up, b.w.vec(p + "ln2.bias", C));
  std::vector<float> mix = b.w.vec(p + (maa ? "ffn.time_maa_k" : "ffn.time_mix_k"), C);
  const std::vector<float> mr = b.w.vec(p + (maa ? "ffn.time_maa_r" : "ffn.time_mix_r"), C);
  mix.insert(mix.end(), mr.begin(), mr.end());
  m.mix = upload_floats(b.arena, b.up, mix);
  m.key = upload_matrix(b.arena, b.up, b.w.mat(p + "ffn.key.weight", C, F));
  m.value = upload_matrix(b.arena, b.up, b.w.mat(p + "ffn.value.weight", F, C));
  m.receptance = upload_matrix(b.arena, b.up, b.w.mat(p + "ffn.receptance.weight", C, C));
  *weight_bytes += m.key.bytes + m.value.bytes + m.receptance.bytes;
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
  MixSpec mix;
  mix.n_mix = 2;
  mix.mode = m.mode;
  mix.mix = m.mix.address;
  mix.out = s.xk_xr[0];
  mix.state = ffn_xx;
  mix.write_ln = ops.T() > 1;
  mix.ln = s.ln;
  ops.layer_norm_mix(x, ops.T(), m.ln_w.address, m.ln_b.address, C, 1e-5f, mix);
  ops.matvec({{&m.key, s.xk_xr[0], s.k, Epilogue::Relu2}, {&m.receptance, s.xk_xr[1], s.r, Epilogue::Sigmoid}});
  MatJob out{&m.value, s.k, x, Epilogue::GatedAdd};
  out.aux0 = s.r;
  ops.matvec({out});
}

}  // namespace rwkv::vk
