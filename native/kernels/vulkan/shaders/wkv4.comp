#version 450
// RWKV v4 WKV, one invocation per channel, T tokens in order, with the running-max trick that keeps
// exp() in range (models/v4.cpp, engine-spec 3.2). Writes sigmoid(r) * wkv (r arrives sigmoid'ed).
#include "common.glsl"

layout(local_size_x_id = 0) in;

layout(push_constant) uniform PC {
  Floats k, v, r;   // (T, stride); r = sigmoid(receptance)
  Floats params;    // 2 vectors of C: time_first u, time_decay w (stored as -exp(raw))
  Floats state;     // aa, bb, pp: 3 vectors of C
  Floats y;         // (T, stride) out
  uint C, T, stride;
} pc;

void main() {
  const uint i = flat_workgroup() * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
  if (i >= pc.C) return;
  const float u = pc.params.v[i], w = pc.params.v[pc.C + i];
  float aa = pc.state.v[i], bb = pc.state.v[pc.C + i], pp = pc.state.v[2u * pc.C + i];
  for (uint t = 0; t < pc.T; ++t) {
    const uint o = t * pc.stride + i;
    const float kk = pc.k.v[o], vv = pc.v.v[o];
    float q = max(pp, u + kk);
    float e1 = exp(pp - q), e2 = exp(u + kk - q);
    const float wkv = (e1 * aa + e2 * vv) / (e1 * bb + e2);
    q = max(pp + w, kk);
    e1 = exp(pp + w - q);
    e2 = exp(kk - q);
    aa = e1 * aa + e2 * vv;
    bb = e1 * bb + e2;
    pp = q;
    pc.y.v[o] = pc.r.v[o] * wkv;
  }
  pc.state.v[i] = aa;
  pc.state.v[pc.C + i] = bb;
  pc.state.v[2u * pc.C + i] = pp;
}
