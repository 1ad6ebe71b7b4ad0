#version 450
// LayerNorm of each row (one workgroup per row): out = (x - mean) / sqrt(var + eps) * w + b, biased
// variance computed around the mean (two passes, as the CPU does). With flag 2 (one token) the token
// shift follows in the same dispatch: each invocation mixes the channels it normed with the shift
// state and then replaces the state, so no other invocation ever reads a channel it writes.
#define WANT_WG_SUM
#include "common.glsl"
#include "mix.glsl"

layout(local_size_x_id = 0) in;

void main() {
  const uint row = flat_workgroup();
  if (row >= pc.rows) return;
  const uint base = row * pc.x_stride;
  const uint tid = gl_LocalInvocationID.x, n = gl_WorkGroupSize.x;
  float s = 0.0;
  for (uint i = tid; i < pc.C; i += n) s += pc.x.v[base + i];
  const float mean = wg_sum(s) / float(pc.C);
  float q = 0.0;
  for (uint i = tid; i < pc.C; i += n) {
    const float d = pc.x.v[base + i] - mean;
    q += d * d;
  }
  const float inv = 1.0 / sqrt(wg_sum(q) / float(pc.C) + pc.eps);
  for (uint i = tid; i < pc.C; i += n) {
    const float cur = (pc.x.v[base + i] - mean) * inv * pc.w.v[i] + pc.b.v[i];
    if ((pc.flags & 1u) != 0u) pc.ln.v[row * pc.ln_stride + i] = cur;
    if ((pc.flags & 2u) != 0u) {
      write_mixes(0u, i, cur, pc.state.v[i]);
      pc.state.v[i] = cur;
    }
  }
}
