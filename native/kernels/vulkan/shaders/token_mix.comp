#version 450
// Token shift over T tokens from the normed rows `ln` (layer_norm.comp, flag 1). One invocation per
// channel walks the tokens in order, so the shift state is read (token 0) and replaced (last token)
// by the same invocation: no races inside the dispatch.
#include "common.glsl"
#include "mix.glsl"

layout(local_size_x_id = 0) in;

void main() {
  const uint i = flat_workgroup() * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
  if (i >= pc.C) return;
  float prev = pc.state.v[i];
  for (uint t = 0; t < pc.rows; ++t) {
    const float cur = pc.ln.v[t * pc.ln_stride + i];
    write_mixes(t, i, cur, prev);
    prev = cur;
  }
  pc.state.v[i] = prev;
}
