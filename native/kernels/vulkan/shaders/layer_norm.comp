#version 450
// LayerNorm of each row: out = (x - mean) / sqrt(var + eps) * w + b, biased variance computed around
// the mean (two passes, as the CPU does). `split` workgroups share a row: each computes the row's
// statistics (the row is small and cached) and writes only its share of the channels, so one token's
// norm is spread over several multiprocessors instead of serialising on one. With flag 2 (one token)
// the token shift follows in the same dispatch: each invocation mixes the channels it normed with the
// shift state and then replaces the state, so no other invocation reads a channel it writes. Batched
// decode (flag 2 with several rows): each row is one token of its own sequence, with its own state
// `state_stride` floats after the previous row's.
#define WANT_WG_SUM
#include "common.glsl"
#include "mix.glsl"

layout(local_size_x_id = 0) in;

void main() {
  const uint row = flat_workgroup() / pc.split, part = flat_workgroup() % pc.split;
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
  const uint chunk = (pc.C + pc.split - 1u) / pc.split;
  const uint end = min(pc.C, (part + 1u) * chunk);
  for (uint i = part * chunk + tid; i < end; i += n) {
    const float cur = (pc.x.v[base + i] - mean) * inv * pc.w.v[i] + pc.b.v[i];
    if ((pc.flags & 1u) != 0u) pc.ln.v[row * pc.ln_stride + i] = cur;
    if ((pc.flags & 2u) != 0u) {
      const uint si = row * pc.state_stride + i;
      write_mixes(row, i, cur, pc.state.v[si]);
      pc.state.v[si] = cur;
    }
  }
}
