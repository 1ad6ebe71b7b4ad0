#version 450
// The persistent decode step (RWKV-7, one token of one sequence, F32 or F16 weights; step7_mixed: any mix
// of F32, F16 and Q8_0 matrices, each job's type read from its entry): one dispatch runs
// every op of the token, the ops that gpu_v7.cpp records as dispatches (matvecs with the LN prologue,
// plain matvecs, WKV-7 with the output projection), in order, separated by grid barriers instead of
// dispatch boundaries. A barrier between dispatches costs ~7 us on an H100 (drain, launch, ramp); here
// each workgroup issues its first weight loads of the next op before it waits at the grid barrier, so
// the weights stream while the barrier completes.
//
// Ops::begin_persistent() captures what Ops would have dispatched: each op is its shader's push-constant
// bytes and workgroup count (`groups`). This dispatch has one workgroup per multiprocessor (all
// resident at once, which the grid barrier needs); workgroup i runs tasks i, i + n, ... of each op, as
// if it were those workgroups of the op's own dispatch. The spin at the barrier is bounded: if the
// workgroups were not all resident it gives up, raises `sync[1]`, and the host falls back to dispatches.
#define PERSISTENT 1
#define LN_PROLOGUE 1
#define WANT_WG_SUM
#define MV_SPEC_RB 1
#define MV_SPEC_U 2
#define WK_SPEC_S 3
#define WK_SPEC_P 4
#define WK_SPEC_NSLOT 5
#define WO_FUSE 1
#define WO_DTYPE DTYPE
#extension GL_KHR_shader_subgroup_shuffle : require
#ifdef STEP_PROFILE
#extension GL_EXT_shader_realtime_clock : require
#endif
#include "common.glsl"
layout(local_size_x_id = 0) in;  // S * P of WKV-7 (256 for head size 64)

#ifdef STEP_PROFILE
uint prof_op;  // the op being run (phase stamps inside WKV-7)
void stamp(uint k, uint which);
#define WK_STAMP(i) stamp(prof_op, i)
#endif

#include "matvec.glsl"
#undef pc
#include "wkv7.glsl"
#undef pc

layout(buffer_reference, std430, buffer_reference_align = 8) readonly buffer MatvecPCRef { MatvecPC v; };
layout(buffer_reference, std430, buffer_reference_align = 8) readonly buffer Wkv7PCRef { Wkv7PC v; };
struct Op {
  MatvecPCRef mv;  // kind 1: the matvec's push constants
  Wkv7PCRef wk;    // kind 2: WKV-7's
  uint kind, groups;
  uint range;      // the workgroups that run it: first | count << 16
  uint wait;       // the count it waits for | which count << 28 | its group << 30 (persistent_step.h)
};
layout(buffer_reference, std430, buffer_reference_align = 16) readonly buffer Ops { Op o[]; };
layout(buffer_reference, std430, buffer_reference_align = 4) coherent volatile buffer SyncWords { uint v[]; };

layout(buffer_reference, std430, buffer_reference_align = 4) buffer ProfWords { uint v[]; };

layout(push_constant) uniform StepPC {
  Ops ops;
  SyncWords sync;  // [0] arrivals (zeroed before the step), [1] set when a barrier gave up, [2] and [3]
                   // the side and main groups' arrivals
  uint n_ops;
  uint spin_limit;
  ProfWords prof;  // STEP_PROFILE: (op, workgroup) -> [released, done] device-clock times (low 32 bits, ns)
  uint flags;      // 2: matvecs load no weights before their grid barrier (measurements); 16: Q8_0 jobs
                   // take 8-bit activations and integer dot products (persistent_step.h)
} spc;

// The profiled variant (step7_*_prof, GpuModel::profile_decode): invocation 0 of each workgroup notes
// when it passed op k's grid barrier (0), when its whole workgroup had finished op k (1), and inside
// WKV-7 when it passed phases 2..6 (wkv7.glsl WK_STAMP).
#ifdef STEP_PROFILE
void stamp(uint k, uint which) {
  if (gl_LocalInvocationIndex == 0u)  // 8 words per (op, workgroup): kProfileWords in persistent_step.h
    spc.prof.v[(k * gl_NumWorkGroups.x + gl_WorkGroupID.x) * 8u + which] = clockRealtime2x32EXT().x;
}
#else
void stamp(uint k, uint which) {}
#endif

// A grid barrier in two halves, so that a workgroup can issue the next op's weight loads in between:
// arrive() makes this workgroup's writes visible to every workgroup and counts it in (into the grid count,
// and an op of a group into its group's count too); wait() returns once count `word` has reached `target`
// (the counts run up over the step: persistent_step.cpp plans the targets).
void grid_arrive(uint k, uint group) {
  memoryBarrierBuffer();
  barrier();
  stamp(k, 1u);
  if (gl_LocalInvocationIndex == 0u) {
    atomicAdd(spc.sync.v[0], 1u);
    if (group != 0u) atomicAdd(spc.sync.v[group == 2u ? 2u : 3u], 1u);
  }
}
void grid_wait(uint word, uint target) {
  if (target == 0u) return;  // the step's first op(s)
  if (gl_LocalInvocationIndex == 0u) {
    uint spins = 0u;
    // Atomic reads: lavapipe's workgroups did not see each other's counts through plain volatile ones.
    while (atomicOr(spc.sync.v[word], 0u) < target && atomicOr(spc.sync.v[1], 0u) == 0u)
      if (++spins > spc.spin_limit) atomicExchange(spc.sync.v[1], 1u);
  }
  barrier();
}

void main() {
  const uint me = gl_WorkGroupID.x;
  for (uint k = 0u; k < spc.n_ops; ++k) {
    Op op = spc.ops.o[k];
    // This op's workgroups: all, or one of two groups that run side by side (uniform per workgroup).
    const uint first = op.range & 0xFFFFu, n = op.range >> 16, local = me - first;
    if (local >= n) continue;
    const uint word = (op.wait >> 28) & 3u, target = op.wait & 0x0FFFFFFFu;
#ifdef STEP_PROFILE
    prof_op = k;
#endif
    if (op.kind == 1u) {
      // The first batch of weights of this workgroup's first task, loaded while the others finish
      // the previous op (weights only: nothing the step writes).
      mv_pc = op.mv.v;
#ifdef MIXED_JOBS
      mv_q8_int = (spc.flags & 16u) != 0u;
#endif
      uvec4 wb[MAX_LOADS];
      SbWord sb[SB_N];
      const bool ahead = local < op.groups && (spc.flags & 2u) == 0u;
      if (ahead) matvec_preload(local, wb, sb);
      grid_wait(word, target);
      stamp(k, 0u);
      for (uint wg = local; wg < op.groups; wg += n) matvec_task(wg, ahead && wg == local, wb, sb);
    } else {
      wk_pc = op.wk.v;
      grid_wait(word, target);
      stamp(k, 0u);
      for (uint wg = local; wg < op.groups; wg += n) wkv7_task(wg);
    }
    // Counted in as it ends, so that a complete step counts every op's workgroups (the host checks).
    grid_arrive(k, op.wait >> 30);
  }
}
