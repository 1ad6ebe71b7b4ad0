#version 450
// y = W·x for T > 1 tokens with cooperative matrices (VK_NV_cooperative_matrix: 16x16x16 FP16 x FP16
// -> FP32 on a subgroup), several weight matrices per dispatch (matvec.comp's job table and
// epilogues). Used by Ops::matvec only where the device has them (Device::coop_matrix); matvec.comp
// stays the path everywhere else. Compiled once per weight type (DTYPE as in matvec.comp).
//
// A workgroup of WM x WN subgroups computes a BM x BN tile of Y^T (BM weight rows x BN tokens); each
// subgroup a (BM/WM) x (BN/WN) piece as FM x FN accumulators of 16 x 16. Per BK columns the workgroup
// stages the weight tile (FP16: copied as loaded; quantized: dequantized to FP16) and the activation
// tile (FP32 -> FP16) in shared memory, double-buffered: the next tile's global loads are issued
// before this tile's products and written to the other buffer after them, one barrier per BK.
//
// Activations are FP16. With `split` (push constant; F16 weights) they are split as x = hi + lo (hi: x
// cut to 11 significant bits, lo the rest, scaled by 2^11) and both parts are multiplied, so the
// products carry ~22 bits of x: F16 weights then agree with the CPU path to summation order. Quantized
// weights use hi only: FP16 activations are finer than the CPU's 8-bit ones (the difference to the CPU
// is its rounding).
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"

#ifndef DTYPE
#define DTYPE 1
#endif
// Tile shape (ops.cpp's kGemmRows x kGemmTokens). Measured on an H100 (prefill 512 of 1.5B FP16, tok/s):
// 64 x 64 with 4 subgroups (2 x 2 accumulators each, one buffer) 6950; 128 x 64 with 4 subgroups (4 x 2)
// 7700, 8 (2 x 2) 8800, 16 (2 x 1) 10400; 128 x 128 or 256 x 64 with 16 subgroups (one buffer, to fit
// 48 KB of shared memory) 8800 / 9400; 16 subgroups with one buffer 10050. More subgroups hide the
// latency of the global loads, which Vulkan cannot issue asynchronously.
const uint BM = 128u, BN = 64u, WM = 4u, WN = 4u;
const uint BK = 32u;
const uint THREADS = 32u * WM * WN;
const uint FM = BM / WM / 16u, FN = BN / WN / 16u;  // accumulators per subgroup, along rows and tokens
layout(local_size_x = 512) in;  // 32 * WM * WN

#include "matvec_job.glsl"

layout(push_constant) uniform PC {
  Jobs jobs;
  uint n_jobs;
  uint T;
  uint row_tiles_unused;
  uint total_wgs;
  uint split;  // 1: x = hi + lo (two products)
} pc;

// Shared tiles in units of 8 halves (uvec4) for the weights and 4 halves (uvec2) for the activations;
// rows padded by 8 halves (80 bytes apart: the 16-byte row pieces a fragment load reads fall in
// different banks).
const uint LDW = (BK + 8u) / 8u;  // uvec4 per weight row
const uint LDX = (BK + 8u) / 4u;  // uvec2 per activation row
shared uvec4 sh_w[2u * BM * LDW];
shared uvec2 sh_x[2u * BN * LDX];
shared uvec2 sh_xl[2u * BN * LDX];
shared float sh_o[WM * WN * 256u];  // one 16 x 16 result per subgroup at a time (epilogue)

const uint NW = BM * BK / 8u / THREADS;  // weight units of 8 each invocation stages per BK
const uint NX = BN * BK / 4u / THREADS;  // activation vec4 each invocation stages per BK

#include "gemm_load.glsl"

// 4 activations of token t from column k; zero past the row or past T.
vec4 load_x4(Job jb, uint t, uint k) {
  if (t >= pc.T || k >= jb.cols) return vec4(0.0);
  Vec4s x4 = Vec4s(jb.x);
  vec4 a = x4.v[(t * jb.x_stride + k) / 4u];
  [[unroll]] for (uint i = 0; i < 4u; ++i)
    if (k + i >= jb.cols) a[i] = 0.0;
  return a;
}

void main() {
  const uint wg = flat_workgroup();
  if (wg >= pc.total_wgs) return;
  uint ji = 0;
  for (uint i = 1; i < pc.n_jobs; ++i)
    if (pc.jobs.j[i].wg_begin <= wg) ji = i;
  Job jb = pc.jobs.j[ji];
  const uint row_tiles = (jb.rows + BM - 1u) / BM;
  const uint local = wg - jb.wg_begin;
  const uint row0 = (local % row_tiles) * BM, tok0 = (local / row_tiles) * BN;
  const uint tid = gl_LocalInvocationID.x, lane = gl_SubgroupInvocationID;
  const uint sg = gl_SubgroupID;  // subgroups of 32 (NVIDIA); WM x WN over the tile
  const uint sm = (sg / WN) * (BM / WM), sn = (sg % WN) * (BN / WN);
  const bool split = pc.split != 0u;

  fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> acc[FM][FN], acl[FM][FN];
  [[unroll]] for (uint i = 0; i < FM; ++i)
    [[unroll]] for (uint j = 0; j < FN; ++j) {
      acc[i][j] = fcoopmatNV<32, gl_ScopeSubgroup, 16, 16>(0.0);
      acl[i][j] = fcoopmatNV<32, gl_ScopeSubgroup, 16, 16>(0.0);
    }

  // Staged units: weight unit e = row e / (BK/8), columns (e % (BK/8)) * 8; activation e = token
  // e / (BK/4), columns (e % (BK/4)) * 4. Consecutive invocations read consecutive bytes of a row.
  uvec4 wv[NW];
  vec4 xv[NX];
  [[unroll]] for (uint u = 0; u < NW; ++u) {
    const uint e = tid + u * THREADS;
    wv[u] = load_w8(jb, row0 + e / (BK / 8u), (e % (BK / 8u)) * 8u);
  }
  [[unroll]] for (uint u = 0; u < NX; ++u) {
    const uint e = tid + u * THREADS;
    xv[u] = load_x4(jb, tok0 + e / (BK / 4u), (e % (BK / 4u)) * 4u);
  }
  uint buf = 0u;
  for (uint k0 = 0; k0 < jb.cols; k0 += BK) {
    // Registers -> shared buffer `buf` (its last readers finished before the previous barrier).
    [[unroll]] for (uint u = 0; u < NW; ++u) {
      const uint e = tid + u * THREADS;
      sh_w[buf * BM * LDW + (e / (BK / 8u)) * LDW + e % (BK / 8u)] = wv[u];
    }
    [[unroll]] for (uint u = 0; u < NX; ++u) {
      const uint e = tid + u * THREADS, o = buf * BN * LDX + (e / (BK / 4u)) * LDX + e % (BK / 4u);
      const vec4 hi = split ? x_hi(xv[u]) : xv[u];  // gemm_load.glsl
      sh_x[o] = uvec2(packHalf2x16(hi.xy), packHalf2x16(hi.zw));
      if (split) {
        const vec4 lo = x_lo(xv[u], hi);
        sh_xl[o] = uvec2(packHalf2x16(lo.xy), packHalf2x16(lo.zw));
      }
    }
    barrier();
    if (k0 + BK < jb.cols) {  // the next tile's loads, in flight during the products
      [[unroll]] for (uint u = 0; u < NW; ++u) {
        const uint e = tid + u * THREADS;
        wv[u] = load_w8(jb, row0 + e / (BK / 8u), k0 + BK + (e % (BK / 8u)) * 8u);
      }
      [[unroll]] for (uint u = 0; u < NX; ++u) {
        const uint e = tid + u * THREADS;
        xv[u] = load_x4(jb, tok0 + e / (BK / 4u), k0 + BK + (e % (BK / 4u)) * 4u);
      }
    }
    [[unroll]] for (uint kk = 0; kk < BK; kk += 16u) {
      fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> a[FM], b[FN];
      [[unroll]] for (uint i = 0; i < FM; ++i) coopMatLoadNV(a[i], sh_w, buf * BM * LDW + (sm + 16u * i) * LDW + kk / 8u, LDW, false);
      [[unroll]] for (uint j = 0; j < FN; ++j) coopMatLoadNV(b[j], sh_x, buf * BN * LDX + (sn + 16u * j) * LDX + kk / 4u, LDX, true);
      [[unroll]] for (uint i = 0; i < FM; ++i)
        [[unroll]] for (uint j = 0; j < FN; ++j) acc[i][j] = coopMatMulAddNV(a[i], b[j], acc[i][j]);
      if (split) {
        [[unroll]] for (uint j = 0; j < FN; ++j) coopMatLoadNV(b[j], sh_xl, buf * BN * LDX + (sn + 16u * j) * LDX + kk / 4u, LDX, true);
        [[unroll]] for (uint i = 0; i < FM; ++i)
          [[unroll]] for (uint j = 0; j < FN; ++j) acl[i][j] = coopMatMulAddNV(a[i], b[j], acl[i][j]);
      }
    }
    buf ^= 1u;
  }
  // Epilogue: each subgroup writes its accumulators one 16 x 16 at a time through its own slot,
  // token-major (element (row r, token t) at t * 16 + r), then applies the job's epilogue per element.
  // (The lo products are added after a second trip through the slot: this glslc's optimizer crashes
  // on a sum of two cooperative matrices.)
  [[unroll]] for (uint i = 0; i < FM; ++i)
    [[unroll]] for (uint j = 0; j < FN; ++j) {
      float v[8];
      coopMatStoreNV(acc[i][j], sh_o, sg * 256u, 16, true);
      subgroupMemoryBarrierShared();
      subgroupBarrier();
      [[unroll]] for (uint n = 0; n < 8u; ++n) v[n] = sh_o[sg * 256u + lane + 32u * n];
      if (split) {
        subgroupBarrier();
        coopMatStoreNV(acl[i][j], sh_o, sg * 256u, 16, true);
        subgroupMemoryBarrierShared();
        subgroupBarrier();
        [[unroll]] for (uint n = 0; n < 8u; ++n) v[n] += sh_o[sg * 256u + lane + 32u * n] * (1.0 / 2048.0);
      }
      [[unroll]] for (uint n = 0; n < 8u; ++n) {
        const uint e = lane + 32u * n, t = tok0 + sn + 16u * j + e / 16u, r = row0 + sm + 16u * i + e % 16u;
        if (t < pc.T && r < jb.rows) finish(jb, t, r, v[n]);
      }
      subgroupBarrier();
    }
}
