#version 450
// Token shift over T tokens from the normed rows `ln` (layer_norm.comp, flag 1). One invocation per
// (channel, token), token t's prev being token t-1's normed row (the shift state for t = 0). The
// invocation of token 0 also replaces the state by the last token's normed row, after reading it: the
// state of a channel is touched by that one invocation, so no races inside the dispatch.
// (One invocation per channel walking the tokens took 100-200 us per dispatch for T = 512 on an H100.)
#include "common.glsl"
#include "mix.glsl"

layout(local_size_x_id = 0) in;

void main() {
  const uint n = flat_workgroup() * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
  const uint cpad = (pc.C + gl_WorkGroupSize.x - 1u) / gl_WorkGroupSize.x * gl_WorkGroupSize.x;
  const uint i = n % cpad, t = n / cpad;
  if (i >= pc.C || t >= pc.rows) return;
  const float cur = pc.ln.v[t * pc.ln_stride + i];
  const float prev = t == 0u ? pc.state.v[i] : pc.ln.v[(t - 1u) * pc.ln_stride + i];
  write_mixes(t, i, cur, prev);
  if (t == 0u) pc.state.v[i] = pc.ln.v[(pc.rows - 1u) * pc.ln_stride + i];
}
