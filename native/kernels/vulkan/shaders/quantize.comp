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

#include "quant_act.glsl"

void main() {
  const uint b = flat_workgroup() * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
  if (b >= pc.n_blocks) return;
  uvec4 q0, q1;
  vec2 ds;
  quantize_block(pc.src, b * 32u, q0, q1, ds);
  pc.q.v[b * 8u + 0u] = q0.x; pc.q.v[b * 8u + 1u] = q0.y; pc.q.v[b * 8u + 2u] = q0.z; pc.q.v[b * 8u + 3u] = q0.w;
  pc.q.v[b * 8u + 4u] = q1.x; pc.q.v[b * 8u + 5u] = q1.y; pc.q.v[b * 8u + 6u] = q1.z; pc.q.v[b * 8u + 7u] = q1.w;
  pc.ds.v[b] = ds;
}
