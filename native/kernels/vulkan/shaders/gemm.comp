#version 450
// y = W·x for T > 1 tokens with cooperative matrices (VK_NV_cooperative_matrix: 16x16x16 FP16 x FP16
// -> FP32 on a subgroup), several weight matrices per dispatch (matvec.comp's job table and
// epilogues). Used by Ops::matvec only where the device has them (Device::coop_matrix); matvec.comp
// stays the path everywhere else. Compiled once per weight type (DTYPE as in matvec.comp).
//
// A workgroup (4 subgroups) computes a BM x BN tile of Y^T: BM weight rows x BN tokens; each subgroup
// a 32 x 32 quarter as 2 x 2 accumulators. Per BK = 64 columns the workgroup stages the weight tile
// (dequantized to FP16) and the activation tile (FP32 -> FP16) in shared memory; the next tile's
// global loads are issued before this tile's products.
//
// Activations are FP16. With `split` (push constant; F16 weights) they are split as x = hi + lo (hi: x
// cut to 11 significant bits, lo the rest, scaled by 2^11) and both parts are multiplied, so the
// products carry ~22 bits of x: F16 weights then agree with the CPU path to summation order. Quantized weights use hi only: FP16
// activations are finer than the CPU's 8-bit ones (the difference to the CPU is its rounding).
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"

layout(local_size_x = 128) in;

#ifndef DTYPE
#define DTYPE 1
#endif

#include "matvec_job.glsl"

layout(push_constant) uniform PC {
  Jobs jobs;
  uint n_jobs;
  uint T;
  uint row_tiles_unused;
  uint total_wgs;
  uint split;  // 1: x = hi + lo (two products)
} pc;

#ifndef GEMM_BK
#define GEMM_BK 64
#endif
const uint BM = 64, BN = 64, BK = GEMM_BK;  // GEMM_BK 32: variant gemm_f16_bk32 (measurements)
const uint NU = BM * BK / 8u / 128u;  // units of 8 weights (and of 8 activations) each invocation stages per BK
const uint LDA = BK + 8;  // shared row stride in halves (144 bytes: 16-byte aligned rows, fewer bank conflicts)
const uint LDC = BM + 4;  // result tile, token-major

shared float16_t sh_w[BM * LDA];
shared float16_t sh_x[BN * LDA];
shared float16_t sh_xl[BN * LDA];
shared float sh_c[BN * LDC];

// 8 consecutive weights of row `row` from column k (k % 8 == 0), as floats; zero past the row.
void load_w8(Job jb, uint row, uint k, out float v[8]) {
  [[unroll]] for (uint i = 0; i < 8u; ++i) v[i] = 0.0;
  if (row >= jb.rows || k >= jb.cols) return;
#if DTYPE == 0
  const uint u = row * jb.w_row_units + k / 4u;
  const vec4 a = uintBitsToFloat(jb.w.v[u]);
  v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w;
  if (k / 4u + 1u < jb.w_row_units) {
    const vec4 b = uintBitsToFloat(jb.w.v[u + 1u]);
    v[4] = b.x, v[5] = b.y, v[6] = b.z, v[7] = b.w;
  }
#elif DTYPE == 1
  const uvec4 q = jb.w.v[row * jb.w_row_units + k / 8u];
  const vec2 a = unpackHalf2x16(q.x), b = unpackHalf2x16(q.y), c = unpackHalf2x16(q.z), d = unpackHalf2x16(q.w);
  v[0] = a.x, v[1] = a.y, v[2] = b.x, v[3] = b.y, v[4] = c.x, v[5] = c.y, v[6] = d.x, v[7] = d.y;
#else
  const uint blk = k / 32u, j0 = k % 32u;
  const vec2 dm = unpackHalf2x16(jb.ws.v[row * jb.w_row_blocks + blk]);
#if DTYPE == 9
  const uvec4 q = jb.w.v[row * jb.w_row_units + blk * 2u + j0 / 16u];
  const uint w0 = (j0 % 16u) == 0u ? q.x : q.z, w1 = (j0 % 16u) == 0u ? q.y : q.w;
  [[unroll]] for (uint i = 0; i < 4u; ++i) {
    v[i] = dm.x * float(bitfieldExtract(int(w0), int(8u * i), 8));
    v[4u + i] = dm.x * float(bitfieldExtract(int(w1), int(8u * i), 8));
  }
#else
  const uvec4 q = jb.w.v[row * jb.w_row_units + blk];
  const uint b0 = j0 % 16u;  // first byte
  const uint w0 = b0 == 0u ? q.x : q.z, w1 = b0 == 0u ? q.y : q.w;
  const uint sh = j0 >= 16u ? 4u : 0u;
#if DTYPE == 7 || DTYPE == 8
  const uint h = jb.wh.v[row * jb.w_row_blocks + blk] >> j0;
#endif
  [[unroll]] for (uint i = 0; i < 8u; ++i) {
    uint qi = ((i < 4u ? w0 : w1) >> (8u * (i % 4u) + sh)) & 15u;
#if DTYPE == 7 || DTYPE == 8
    qi |= ((h >> i) & 1u) << 4;
#endif
#if DTYPE == 2
    v[i] = dm.x * float(int(qi) - 8);
#elif DTYPE == 7
    v[i] = dm.x * float(int(qi) - 16);
#else
    v[i] = dm.x * float(qi) + dm.y;
#endif
  }
#endif
#endif
  [[unroll]] for (uint i = 0; i < 8u; ++i)
    if (k + i >= jb.cols) v[i] = 0.0;
}

// 8 activations of token t from column k; zero past the row or past T.
void load_x8(Job jb, uint t, uint k, out vec4 a, out vec4 b) {
  a = vec4(0.0), b = vec4(0.0);
  if (t >= pc.T || k >= jb.cols) return;
  Vec4s x4 = Vec4s(jb.x);
  const uint base = (t * jb.x_stride + k) / 4u;
  a = x4.v[base];
  b = x4.v[base + 1u];
  [[unroll]] for (uint i = 0; i < 4u; ++i) {
    if (k + i >= jb.cols) a[i] = 0.0;
    if (k + 4u + i >= jb.cols) b[i] = 0.0;
  }
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
  const uint tid = gl_LocalInvocationID.x;
  const uint sg = gl_SubgroupID;          // 4 subgroups of 32 (NVIDIA); 2 x 2 over the tile
  const uint sm = (sg / 2u) * 32u, sn = (sg % 2u) * 32u;
  const bool split = pc.split != 0u;

  fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> acc[2][2], acl[2][2];
  [[unroll]] for (uint i = 0; i < 2u; ++i)
    [[unroll]] for (uint j = 0; j < 2u; ++j) {
      acc[i][j] = fcoopmatNV<32, gl_ScopeSubgroup, 16, 16>(0.0);
      acl[i][j] = fcoopmatNV<32, gl_ScopeSubgroup, 16, 16>(0.0);
    }

  // Each invocation stages NU units of 8 weights and NU of 8 activations per BK columns (64 x BK each).
  float wv[NU][8];
  vec4 xa[NU], xb[NU];
  uint lr[NU], lk[NU];
  [[unroll]] for (uint u = 0; u < NU; ++u) {
    const uint e = tid + u * 128u;  // row/token e / (BK / 8), columns (e % (BK / 8)) * 8
    lr[u] = e / (BK / 8u), lk[u] = (e % (BK / 8u)) * 8u;
  }
  [[unroll]] for (uint u = 0; u < NU; ++u) {
    load_w8(jb, row0 + lr[u], lk[u], wv[u]);
    load_x8(jb, tok0 + lr[u], lk[u], xa[u], xb[u]);
  }
  for (uint k0 = 0; k0 < jb.cols; k0 += BK) {
    barrier();
    [[unroll]] for (uint u = 0; u < NU; ++u) {
      const uint o = lr[u] * LDA + lk[u];
      [[unroll]] for (uint i = 0; i < 8u; ++i) sh_w[o + i] = float16_t(wv[u][i]);
      [[unroll]] for (uint i = 0; i < 8u; ++i) {
        const float xv = i < 4u ? xa[u][i] : xb[u][i - 4u];
        // hi = x with its mantissa cut to FP16's 10 bits, through the bit pattern (a float -> half ->
        // float round trip may be folded back into x by a compiler, leaving lo = 0); lo scaled by 2^11
        // so that it stays a normal FP16 number, into accumulators of its own.
        const float hi = split ? uintBitsToFloat(floatBitsToUint(xv) & 0xFFFFE000u) : xv;
        sh_x[o + i] = float16_t(hi);
        if (split) sh_xl[o + i] = float16_t((xv - hi) * 2048.0);
      }
    }
    barrier();
    if (k0 + BK < jb.cols)
      [[unroll]] for (uint u = 0; u < NU; ++u) {
        load_w8(jb, row0 + lr[u], k0 + BK + lk[u], wv[u]);
        load_x8(jb, tok0 + lr[u], k0 + BK + lk[u], xa[u], xb[u]);
      }
    [[unroll]] for (uint kk = 0; kk < BK; kk += 16u) {
      fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> a[2], b[2];
      [[unroll]] for (uint i = 0; i < 2u; ++i) coopMatLoadNV(a[i], sh_w, (sm + 16u * i) * LDA + kk, LDA, false);
      [[unroll]] for (uint j = 0; j < 2u; ++j) coopMatLoadNV(b[j], sh_x, (sn + 16u * j) * LDA + kk, LDA, true);
      [[unroll]] for (uint i = 0; i < 2u; ++i)
        [[unroll]] for (uint j = 0; j < 2u; ++j) acc[i][j] = coopMatMulAddNV(a[i], b[j], acc[i][j]);
      if (split) {
        [[unroll]] for (uint j = 0; j < 2u; ++j) coopMatLoadNV(b[j], sh_xl, (sn + 16u * j) * LDA + kk, LDA, true);
        [[unroll]] for (uint i = 0; i < 2u; ++i)
          [[unroll]] for (uint j = 0; j < 2u; ++j) acl[i][j] = coopMatMulAddNV(a[i], b[j], acl[i][j]);
      }
    }
  }
  // Result tile token-major (element (row r, token t) at t * LDC + r), then the epilogue per element,
  // consecutive invocations on consecutive rows of one token (coalesced y).
  [[unroll]] for (uint i = 0; i < 2u; ++i)
    [[unroll]] for (uint j = 0; j < 2u; ++j) coopMatStoreNV(acc[i][j], sh_c, (sn + 16u * j) * LDC + sm + 16u * i, LDC, true);
  barrier();
  float res[BM * BN / 128u];
  [[unroll]] for (uint n = 0; n < BM * BN / 128u; ++n) res[n] = sh_c[(tid + n * 128u) / BM * LDC + (tid + n * 128u) % BM];
  if (split) {  // + lo products / 2^11, through the same shared tile
    barrier();
    [[unroll]] for (uint i = 0; i < 2u; ++i)
      [[unroll]] for (uint j = 0; j < 2u; ++j) coopMatStoreNV(acl[i][j], sh_c, (sn + 16u * j) * LDC + sm + 16u * i, LDC, true);
    barrier();
    [[unroll]] for (uint n = 0; n < BM * BN / 128u; ++n)
      res[n] += sh_c[(tid + n * 128u) / BM * LDC + (tid + n * 128u) % BM] * (1.0 / 2048.0);
  }
  [[unroll]] for (uint n = 0; n < BM * BN / 128u; ++n) {
    const uint e = tid + n * 128u, t = e / BM, r = e % BM;
    if (tok0 + t < pc.T && row0 + r < jb.rows) finish(jb, tok0 + t, row0 + r, res[n]);
  }
}
