#version 450
// RWKV-7 time mixing for one head per workgroup (S invocations, S = head size, any value), T tokens
// in order. Fused, so a token costs one dispatch instead of five:
//   prep (per channel j):  w = exp(-e^-0.5 * sigmoid(w0 + wl)),  a = sigmoid(a0 + al),
//                          v: layer 0 stores v_first, later layers v += (v_first - v)*sigmoid(v0 + vl),
//                          kk = normalize_head(k * k_k),  kt = k * (1 + (a - 1) * k_a)
//   state (invocation i owns row i = value index, kept in registers):
//                          sa = sum_j S[i][j] * -kk[j];  S[i][j] = S[i][j]*w[j] + v[i]*kt[j] + sa*kk[j]*a[j]
//                          y[i] = sum_j S[i][j] * r[j]
//   out:                   y = GroupNorm_head(y) + (sum_j r*kt*r_k) * v,  then y *= g
// Same operation order as models/v7.cpp and models/wkv.cpp.
#define WANT_WG_SUM
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint S = 64;

layout(push_constant) uniform PC {
  Floats r, k, v;   // (T, stride) projections
  Floats wl, al;    // (T, stride) decay and in-context-rate LoRA outputs (before w0 / a0)
  Floats g;         // (T, stride) gate
  Floats vl;        // (T, stride) value-residual LoRA output (layers > 0)
  Floats vfirst;    // (T, stride) layer 0's v, written by layer 0 and read by the others
  Floats params;    // 8 vectors of C: w0, a0, v0, k_k, k_a, r_k, ln_x.weight, ln_x.bias
  Floats state;     // (H, S, S) [h][value i][key j], this layer's
  Floats y;         // (T, stride) out
  uint H, T, stride, flags;  // flags: 1 = layer 0
  float eps;
  uint state_stride;  // 0: the T rows are one sequence. Else batched decode: row b is one token of
                      // sequence b, whose state is b * state_stride floats after `state`; H*T workgroups
} pc;

shared float sh_r[S], sh_w[S], sh_kt[S], sh_nkk[S], sh_kka[S];

void main() {
  const uint h = gl_WorkGroupID.x % pc.H, seq = gl_WorkGroupID.x / pc.H, i = gl_LocalInvocationID.x;
  const uint C = pc.H * S, c = h * S + i;
  const bool batched = pc.state_stride != 0u;
  const uint sbase = (batched ? seq * pc.state_stride : 0u) + h * S * S + i * S;
  const uint t_begin = batched ? seq : 0u, t_end = batched ? seq + 1u : pc.T;
  float st[S];
  for (uint j = 0; j < S; ++j) st[j] = pc.state.v[sbase + j];
  const float w0 = pc.params.v[c], a0 = pc.params.v[C + c], v0 = pc.params.v[2u * C + c];
  const float k_k = pc.params.v[3u * C + c], k_a = pc.params.v[4u * C + c], r_k = pc.params.v[5u * C + c];
  const float lnw = pc.params.v[6u * C + c], lnb = pc.params.v[7u * C + c];

  for (uint t = t_begin; t < t_end; ++t) {
    const uint o = t * pc.stride + c;
    const float r = pc.r.v[o], k = pc.k.v[o];
    float v = pc.v.v[o];
    const float w = exp(-0.6065306597126334 * sigmoid(w0 + pc.wl.v[o]));
    const float a = sigmoid(a0 + pc.al.v[o]);
    if ((pc.flags & 1u) != 0u) pc.vfirst.v[o] = v;
    else v += (pc.vfirst.v[o] - v) * sigmoid(v0 + pc.vl.v[o]);
    float kk = k * k_k;
    kk *= 1.0 / max(sqrt(wg_sum(kk * kk)), 1e-12);
    const float kt = k * (1.0 + (a - 1.0) * k_a);
    sh_r[i] = r;
    sh_w[i] = w;
    sh_kt[i] = kt;
    sh_nkk[i] = kk;
    sh_kka[i] = kk * a;
    barrier();

    float sa = 0.0;
    for (uint j = 0; j < S; ++j) sa -= st[j] * sh_nkk[j];
    float yi = 0.0;
    for (uint j = 0; j < S; ++j) {
      st[j] = st[j] * sh_w[j] + v * sh_kt[j] + sa * sh_kka[j];
      yi += st[j] * sh_r[j];
    }
    // GroupNorm over the head, then the current-token bonus and the gate.
    const float mean = wg_sum(yi) / float(S);
    const float var = wg_sum((yi - mean) * (yi - mean)) / float(S);
    float out_i = (yi - mean) * (1.0 / sqrt(var + pc.eps)) * lnw + lnb;
    const float bonus = wg_sum(r * kt * r_k);
    out_i += bonus * v;
    pc.y.v[o] = out_i * pc.g.v[o];
    // wg_sum's barriers also order this token's shared reads before the next token's writes.
  }
  for (uint j = 0; j < S; ++j) pc.state.v[sbase + j] = st[j];
}
