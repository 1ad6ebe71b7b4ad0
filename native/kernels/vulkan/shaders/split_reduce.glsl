// Split-K within one dispatch, deterministically (wkv7.comp with WO_FUSE): workgroups write
// partial sums to a scratch area through `coherent` references, then count themselves in at a counter;
// the workgroup that arrives last (no waiting: the others simply end) reads every partial in a fixed
// order and sums them, so the result does not depend on which workgroup finished when. It also resets
// the counter, so a step leaves every counter at zero for the next (the scratch starts zeroed).
// Needs common.glsl.
layout(buffer_reference, std430, buffer_reference_align = 16) coherent buffer CVec4s { vec4 v[]; };
layout(buffer_reference, std430, buffer_reference_align = 4) coherent buffer CFloats { float v[]; };

shared uint sh_arrive;

// Call in uniform control flow, after this workgroup's partial writes. True (in every invocation) for
// the workgroup that is the n-th to arrive at counter `idx` of `cnt`.
bool arrive_last(Uints cnt, uint idx, uint n) {
  memoryBarrierBuffer();
  barrier();
  if (gl_LocalInvocationID.x == 0u) {
    const uint old = atomicAdd(cnt.v[idx], 1u);
    if (old == n - 1u) atomicExchange(cnt.v[idx], 0u);
    sh_arrive = old;
  }
  barrier();
  const bool last = sh_arrive == n - 1u;
  memoryBarrierBuffer();
  return last;
}
