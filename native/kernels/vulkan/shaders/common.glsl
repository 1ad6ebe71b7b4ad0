// Shared by every shader: buffer reference types (shaders get raw device addresses in push constants
// or job tables, no descriptor sets), the flat workgroup index, and a workgroup-wide sum.
#extension GL_EXT_buffer_reference : require
#extension GL_EXT_scalar_block_layout : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require

#ifndef COMMON_GLSL
#define COMMON_GLSL
// Activations (float types) are `coherent` in the persistent step (step7.comp): there one dispatch runs
// every op of a token, and an op reads what other workgroups wrote before the grid barrier, which a
// multiprocessor's own cache may hold stale. Weights (uvec4/uint types) are never written: cached reads.
#ifdef PERSISTENT
#define ACT_COHERENT coherent
#else
#define ACT_COHERENT
#endif
layout(buffer_reference, std430, buffer_reference_align = 4) ACT_COHERENT buffer Floats { float v[]; };
layout(buffer_reference, std430, buffer_reference_align = 16) ACT_COHERENT buffer Vec4s { vec4 v[]; };
layout(buffer_reference, std430, buffer_reference_align = 4) buffer Uints { uint v[]; };
layout(buffer_reference, std430, buffer_reference_align = 16) buffer Uvec4s { uvec4 v[]; };
layout(buffer_reference, std430, buffer_reference_align = 8) ACT_COHERENT buffer Vec2s { vec2 v[]; };

// Dispatches with more workgroups than the device's x limit are spread over y (Recorder::dispatch).
uint flat_workgroup() { return gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x; }

float sigmoid(float x) { return 1.0 / (1.0 + exp(-x)); }

#ifdef WANT_WG_SUM
// Sum of `v` over the workgroup, returned to every invocation. Needs uniform control flow.
// 128 slots: enough for 1024 invocations in subgroups of 8 (lavapipe).
shared float wg_sum_slots[128];
float wg_sum(float v) {
  v = subgroupAdd(v);
  if (subgroupElect()) wg_sum_slots[gl_SubgroupID] = v;
  barrier();
  float s = 0.0;
  for (uint i = 0; i < gl_NumSubgroups; ++i) s += wg_sum_slots[i];
  barrier();
  return s;
}
#endif
#endif  // COMMON_GLSL
