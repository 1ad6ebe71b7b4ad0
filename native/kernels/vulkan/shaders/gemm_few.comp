#version 450
// y = W·x for a few tokens (2-31: batched decoding of concurrent sequences) with cooperative matrices
// (VK_NV_cooperative_matrix, 16x16x16 FP16 x FP16 -> FP32), F16 and quantized weights; several weight
// matrices per dispatch (matvec.comp's job table and epilogues). gemm.comp's 128 x 64 tiles are made for
// prompts: at 16 tokens they would compute 4 times the products needed, and give a matrix of 2048 rows
// only 16 workgroups. matvec.comp's T > 1 loop keeps every product on the scalar units and loads all the
// tokens' activations once per weight unit, 32 times the weight bytes through the L1.
//
// Here a workgroup of SG subgroups takes BM = 16 * SG weight rows, 16 tokens, and a range of the
// columns (a job's K parts, `w_pad` in its job entry). Per chunk of KC columns each subgroup loads its
// own 16 rows' weights (8 units of 16 bytes a lane, in flight while the workgroup stages the tokens'
// activations), writes them as FP16 (dequantized for quantized types) to an area of its own in shared
// memory and multiplies them from there by the activations, staged as FP16 halves (F16 weights: hi and
// lo as in gemm.comp, so the products carry ~22 bits of x and agree with the CPU path to summation
// order; quantized: hi only, FP16 activations as gemm.comp). Fragments loaded straight from memory were
// slower on an H100 (1.5B FP16, 16 tokens: 5.90 against 4.96 ms a step). Split over K parts, each
// workgroup writes its partial tile and the last of a tile's parts to arrive sums them in a fixed order
// and applies the epilogue (split_reduce.glsl), so the result does not depend on timing. ops.cpp picks
// the parts (RWKV_VK_FEW_WGS workgroups a dispatch); rows and columns are multiples of 16 there.
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"

const uint SG = 8u;        // subgroups of 32 (NVIDIA), 16 weight rows each
const uint BM = 16u * SG;  // weight rows a workgroup
const uint KC = 128u;      // columns staged at a time (ops.cpp's kFewCols)
const uint KU = KC / 16u;  // 16-column fragments a chunk
layout(local_size_x = 256) in;  // 32 * SG

#ifndef DTYPE
#define DTYPE 1
#endif

#include "matvec_job.glsl"
#include "split_reduce.glsl"
#include "gemm_load.glsl"

// ops.cpp's MatvecPC, two of its addresses put to this shader's use.
layout(push_constant) uniform PC {
  Jobs jobs;
  uint n_jobs;
  uint T;
  uint area_base;  // this dispatch's first counter and partial tile in the area
  uint total_wgs;
  uint split;  // 1: x = hi + lo (two products)
  uint unused1;
  CFloats partials;  // BM x 16 floats per workgroup of a split job, at area_base + its workgroup index
  Uints counters;    // one per tile, at area_base + the index of its first part; zero between dispatches
} pc;

// Staged activations: 16 tokens x KC columns as FP16, in units of 8 halves; rows one unit apart in
// padding so that the 16 tokens' pieces a fragment load reads fall in different banks.
const uint LDX = KC / 8u + 1u;
shared uvec4 sh_xh[16u * LDX];
shared uvec4 sh_xl[16u * LDX];
shared float sh_o[SG * 256u];  // each subgroup's 16 x 16 result (epilogue)
// Weights: each subgroup writes its 16 rows as FP16 to an area of its own, half a chunk (KC / 2 columns)
// at a time, from where the fragments are loaded.
const uint LDA = KC / 16u + 1u;         // units of 8 halves per staged row (KC / 2 columns, padded)
const uint QU = 16u * (KC / 8u) / 32u;  // units of 8 weights each lane loads per chunk (8)
shared uvec4 sh_a[SG * 16u * LDA];

void main() {
  const uint wg = flat_workgroup();
  if (wg >= pc.total_wgs) return;
  uint ji = 0;
  for (uint i = 1; i < pc.n_jobs; ++i)
    if (pc.jobs.j[i].wg_begin <= wg) ji = i;
  Job jb = pc.jobs.j[ji];
  // Workgroups of a job: token tile, then row tile, then K part (a tile's parts are consecutive).
  const uint ks = max(jb.w_pad, 1u);
  const uint per_tok = ((jb.rows + BM - 1u) / BM) * ks;
  const uint local = wg - jb.wg_begin;
  const uint tok0 = (local / per_tok) * 16u, part = local % ks, row0 = ((local % per_tok) / ks) * BM;
  const uint chunks = (jb.cols + KC - 1u) / KC;
  const uint c_begin = part * chunks / ks, c_end = (part + 1u) * chunks / ks;
  const uint tid = gl_LocalInvocationID.x, lane = gl_SubgroupInvocationID, sg = gl_SubgroupID;
  const uint r0 = row0 + 16u * sg;
  const bool has_rows = r0 < jb.rows;  // subgroup-uniform
  const bool split = pc.split != 0u;
  Vec4s x4 = Vec4s(jb.x);

  fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> acc = fcoopmatNV<32, gl_ScopeSubgroup, 16, 16>(0.0);
  fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> acl = fcoopmatNV<32, gl_ScopeSubgroup, 16, 16>(0.0);
  for (uint c = c_begin; c < c_end; ++c) {
    const uint k0 = c * KC;
    // This chunk's weights first: their loads are in flight while the activations are staged.
    // Half h of the chunk (KC / 2 columns: 8 units of 8 a row, 128 for the 16 rows, 4 a lane): lane l's
    // unit j is row j * 4 + l / 8, columns k0 + h * KC / 2 + (l % 8) * 8; wq[h * 4 + j].
    uvec4 wq[QU];
    if (has_rows) {
      [[unroll]] for (uint j = 0; j < QU; ++j)
        wq[j] = load_w8(jb, r0 + (j % 4u) * 4u + lane / 8u, k0 + (j / 4u) * (KC / 2u) + (lane % 8u) * 8u);
    }
    barrier();  // the previous chunk's fragment loads from shared memory are done
    for (uint e = tid; e < 16u * (KC / 8u); e += gl_WorkGroupSize.x) {
      const uint t = e / (KC / 8u), u = e % (KC / 8u), k = k0 + 8u * u;
      vec4 p = vec4(0.0), q = vec4(0.0);
      if (tok0 + t < pc.T && k < jb.cols) {  // cols % 16 == 0: k < cols covers all 8
        const uint xi = ((tok0 + t) * jb.x_stride + k) / 4u;
        p = x4.v[xi], q = x4.v[xi + 1u];
      }
      const vec4 ph = x_hi(p), qh = x_hi(q);  // gemm_load.glsl
      const vec4 hp = split ? ph : p, hq = split ? qh : q;
      sh_xh[t * LDX + u] = uvec4(packHalf2x16(hp.xy), packHalf2x16(hp.zw), packHalf2x16(hq.xy), packHalf2x16(hq.zw));
      if (split) {
        const vec4 lp = x_lo(p, ph), lq = x_lo(q, qh);
        sh_xl[t * LDX + u] = uvec4(packHalf2x16(lp.xy), packHalf2x16(lp.zw), packHalf2x16(lq.xy), packHalf2x16(lq.zw));
      }
    }
    barrier();
    if (has_rows) {
      const uint base = sg * 16u * LDA;
      [[unroll]] for (uint h = 0; h < 2u; ++h) {
        if (k0 + h * (KC / 2u) >= jb.cols) break;
        subgroupBarrier();  // the previous half's fragment loads are done
        [[unroll]] for (uint j = 0; j < 4u; ++j) sh_a[base + (j * 4u + lane / 8u) * LDA + lane % 8u] = wq[h * 4u + j];
        subgroupMemoryBarrierShared();
        subgroupBarrier();
        [[unroll]] for (uint i = 0; i < KU / 2u; ++i) {
          const uint kk = h * (KC / 2u) + 16u * i;
          if (k0 + kk >= jb.cols) break;
          fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> a, b;
          coopMatLoadNV(a, sh_a, base + 2u * i, LDA, false);
          coopMatLoadNV(b, sh_xh, kk / 8u, LDX, true);
          acc = coopMatMulAddNV(a, b, acc);
          if (split) {
            coopMatLoadNV(b, sh_xl, kk / 8u, LDX, true);
            acl = coopMatMulAddNV(a, b, acl);
          }
        }
      }
    }
  }

  // The subgroup's 16 x 16 result through its slot, token-major: element e = lane + 32 n is row
  // r0 + e % 16, token tok0 + e / 16. (lo added after a second trip: this glslc's optimizer crashes on
  // a sum of two cooperative matrices.)
  float v[8];
  [[unroll]] for (uint n = 0; n < 8u; ++n) v[n] = 0.0;
  if (has_rows) {
    coopMatStoreNV(acc, sh_o, sg * 256u, 16, true);
    subgroupMemoryBarrierShared();
    subgroupBarrier();
    [[unroll]] for (uint n = 0; n < 8u; ++n) v[n] = sh_o[sg * 256u + lane + 32u * n];
    if (split) {
      subgroupBarrier();
      coopMatStoreNV(acl, sh_o, sg * 256u, 16, true);
      subgroupMemoryBarrierShared();
      subgroupBarrier();
      [[unroll]] for (uint n = 0; n < 8u; ++n) v[n] += sh_o[sg * 256u + lane + 32u * n] * (1.0 / 2048.0);
    }
  }
  if (ks == 1u) {  // the whole row range here: finish directly
    if (has_rows) {
      [[unroll]] for (uint n = 0; n < 8u; ++n) {
        const uint e = lane + 32u * n, t = tok0 + e / 16u;
        if (t < pc.T) finish(jb, t, r0 + e % 16u, v[n]);
      }
    }
    return;
  }
  // Partial tile, element (row i of the tile, token t) at t * BM + i (consecutive rows side by side:
  // whole segments written and read); the last part to arrive sums them in part order.
  const uint slot = (pc.area_base + wg) * (BM * 16u);
  if (has_rows) {
    [[unroll]] for (uint n = 0; n < 8u; ++n) {
      const uint e = lane + 32u * n;
      pc.partials.v[slot + (e / 16u) * BM + 16u * sg + e % 16u] = v[n];
    }
  }
  const uint first = pc.area_base + wg - part;
  if (!arrive_last(pc.counters, first, ks)) return;
  // Each invocation sums its 8 elements over the parts, four parts' loads issued at a time (32 in
  // flight: one L2 round trip per four parts instead of one per element and part).
  const uint E = BM * 16u / 256u;  // elements per invocation (8)
  float s[E];
  [[unroll]] for (uint i = 0; i < E; ++i) s[i] = 0.0;
  const uint base = first * (BM * 16u) + tid;
  uint q = 0;
  for (; q + 4u <= ks; q += 4u) {
    float p[4u * E];
    [[unroll]] for (uint j = 0; j < 4u; ++j)
      [[unroll]] for (uint i = 0; i < E; ++i) p[j * E + i] = pc.partials.v[base + (q + j) * (BM * 16u) + 256u * i];
    [[unroll]] for (uint j = 0; j < 4u; ++j)
      [[unroll]] for (uint i = 0; i < E; ++i) s[i] += p[j * E + i];
  }
  for (; q < ks; ++q)
    [[unroll]] for (uint i = 0; i < E; ++i) s[i] += pc.partials.v[base + q * (BM * 16u) + 256u * i];
  [[unroll]] for (uint i = 0; i < E; ++i) {
    const uint e = tid + 256u * i, r = row0 + e % BM, t = tok0 + e / BM;
    if (r < jb.rows && t < pc.T) finish(jb, t, r, s[i]);
  }
}
