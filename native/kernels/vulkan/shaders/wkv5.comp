#version 450
// RWKV v5/v6 time mixing for one head per workgroup (S invocations, any S), T tokens in order,
// fused with the head's GroupNorm and the gate:
//   invocation j owns value column j of the head's state (S[i][j] for every key i, in registers):
//   y[j] = sum_i r[i]*(u[i]*k[i]*v[j] + S[i][j]);  S[i][j] = w[i]*S[i][j] + k[i]*v[j]
//   v5: w is the stored per-channel decay; v6: w = exp(-exp(time_decay + wl)) per token.
//   then y = GroupNorm_head(y), and y *= g when the version has a gate (5.2, 6).
// Same operation order as models/wkv.cpp.
#define WANT_WG_SUM
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint S = 64;

layout(push_constant) uniform PC {
  Floats r, k, v;   // (T, stride)
  Floats wl;        // (T, stride) v6 decay LoRA output
  Floats g;         // (T, stride) gate (already silu'd)
  Floats params;    // 4 vectors of C: decay (v5: w; v6: time_decay), u, ln_x.weight, ln_x.bias
  Floats state;     // (H, S, S) [h][key i][value j]
  Floats y;         // (T, stride) out
  uint H, T, stride, flags;  // flags: 1 per-token decay (v6), 2 gate
  float eps;
} pc;

shared float sh_r[S], sh_k[S], sh_w[S], sh_uk[S];

void main() {
  const uint h = gl_WorkGroupID.x, j = gl_LocalInvocationID.x;
  const uint C = pc.H * S, c = h * S + j;
  const uint sbase = h * S * S + j;
  float st[S];
  for (uint i = 0; i < S; ++i) st[i] = pc.state.v[sbase + i * S];
  const float decay = pc.params.v[c], u = pc.params.v[C + c];
  const float lnw = pc.params.v[2u * C + c], lnb = pc.params.v[3u * C + c];

  for (uint t = 0; t < pc.T; ++t) {
    const uint o = t * pc.stride + c;
    const float k = pc.k.v[o];
    sh_r[j] = pc.r.v[o];
    sh_k[j] = k;
    sh_w[j] = (pc.flags & 1u) != 0u ? exp(-exp(decay + pc.wl.v[o])) : decay;
    sh_uk[j] = u * k;
    barrier();
    const float vj = pc.v.v[o];
    float yj = 0.0;
    for (uint i = 0; i < S; ++i) {
      const float kv = sh_k[i] * vj;
      yj += sh_r[i] * (sh_uk[i] * vj + st[i]);
      st[i] = sh_w[i] * st[i] + kv;
    }
    const float mean = wg_sum(yj) / float(S);
    const float var = wg_sum((yj - mean) * (yj - mean)) / float(S);
    float out_j = (yj - mean) * (1.0 / sqrt(var + pc.eps)) * lnw + lnb;
    if ((pc.flags & 2u) != 0u) out_j *= pc.g.v[o];
    pc.y.v[o] = out_j;
  }
  for (uint i = 0; i < S; ++i) pc.state.v[sbase + i * S] = st[i];
}
