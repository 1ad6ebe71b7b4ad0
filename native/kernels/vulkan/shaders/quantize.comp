#version 450
// Activations -> 8-bit blocks for the quantized matvec kernels, exactly the CPU's scheme
// (kernels/cpu/matvec_ref.cpp prepare_activations): per 32 floats d = amax/127, q = round-half-even(x/d),
// s = d*sum(q). One invocation per block; blocks are independent, so any float range whose vectors
// start on a 32-float boundary can be quantized as one flat run of blocks.
//   src: (n_blocks*32) floats; q: (n_blocks*8) uint (4 int8 each); ds: (n_blocks) vec2 (d, s)
#include "common.glsl"

layout(local_size_x_id = 0) in;

layout(push_constant) uniform PC {
  Floats src;
  Uints q;
  Vec2s ds;
  uint n_blocks;
} pc;

void main() {
  const uint b = flat_workgroup() * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
  if (b >= pc.n_blocks) return;
  float amax = 0.0;
  for (uint j = 0; j < 32u; ++j) amax = max(amax, abs(pc.src.v[b * 32u + j]));
  const float d = amax / 127.0;
  const float id = d != 0.0 ? 1.0 / d : 0.0;
  int sum = 0;
  for (uint w = 0; w < 8u; ++w) {
    uint word = 0u;
    for (uint k = 0; k < 4u; ++k) {
      const int q = int(roundEven(pc.src.v[b * 32u + w * 4u + k] * id));
      sum += q;
      word |= uint(q & 255) << (8u * k);
    }
    pc.q.v[b * 8u + w] = word;
  }
  pc.ds.v[b] = vec2(d, d * float(sum));
}
