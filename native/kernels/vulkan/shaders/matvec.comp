#version 450
// y = W·x for T tokens (one token while decoding), for several weight matrices in one dispatch.
// Compiled once per weight type (DTYPE = rwkv.cpp's numbering: 0 F32, 1 F16, 2 Q4_0, 3 Q4_1,
// 7 Q5_0, 8 Q5_1, 9 Q8_0). Each subgroup computes whole rows: its lanes stride over the row's units
// (4 floats, 8 halves or one 32-weight block) and subgroupAdd() gives the dot product, so every
// weight byte is read once per dispatch (memory-bound: this is where decoding spends its time).
//
// Quantized types follow the CPU contract (kernels/cpu/matvec.h): activations are pre-quantized to
// 8-bit blocks (quantize.comp: d = amax/127, q = round(x/d), s = d*sum(q)) and each block's dot is an
// integer sum: d_w*d_x*sum(q_w*q_x) (+ m_w*s_x for Q4_1/Q5_1).
//
// Weight layouts (weights.cpp repacks rwkv.cpp blocks into these at upload; the values are unchanged):
//   F32/F16: rows of `w_row_units` uvec4 (4 floats / 8 halves), zero-padded to a whole uvec4.
//   quantized: w  = quants, rows of nb blocks; Q8_0 32 int8 (2 uvec4), Q4/Q5 16 nibble bytes (1 uvec4),
//                   byte j holding q[j] (low nibble) and q[j+16] (high nibble), as in rwkv.cpp;
//              ws = one uint per block: f16 d (low half) | f16 m (high half, _1 types);
//              wh = one uint per block: Q5 high bits, bit j of q[j].
// Activations: x  (T, x_stride) floats, padded with zeros to the next unit;
//              xq (T, x_stride) int8 as uvec4, xd (T, x_stride/32) vec2 (d, s) for quantized types.
#include "common.glsl"

layout(local_size_x_id = 0) in;

#ifndef DTYPE
#define DTYPE 1
#endif
#define IS_QUANT (DTYPE >= 2)

#include "matvec_job.glsl"

layout(push_constant) uniform PC {
  Jobs jobs;
  uint n_jobs;
  uint T;
  uint rows_per_wg;
  uint total_wgs;
  uint sg_per_row;  // T == 1: subgroups sharing one row (1, 2 or 4; divides gl_NumSubgroups)
  uint fuse_quant;  // quantized types, T == 1: quantize x in shared memory here (cols <= 32 * MAX_XBLOCKS)
} pc;

shared float partial_sums[128];

// Tokens per pass over a row when T > 1 (accumulators held in registers): each weight unit is loaded
// and decoded once per pass and used for all of them, so a batched decode step of up to 16 sequences
// reads every weight once, like one token does.
const uint TT = 16;

#if IS_QUANT
#include "quant_act.glsl"
// Sum of 4 signed-byte products (both signed).
int dot_ss(uint a, uint b) {
  return bitfieldExtract(int(a), 0, 8) * bitfieldExtract(int(b), 0, 8) +
         bitfieldExtract(int(a), 8, 8) * bitfieldExtract(int(b), 8, 8) +
         bitfieldExtract(int(a), 16, 8) * bitfieldExtract(int(b), 16, 8) +
         bitfieldExtract(int(a), 24, 8) * bitfieldExtract(int(b), 24, 8);
}
// Unsigned bytes of a times signed bytes of b.
int dot_us(uint a, uint b) {
  return int(a & 255u) * bitfieldExtract(int(b), 0, 8) + int((a >> 8) & 255u) * bitfieldExtract(int(b), 8, 8) +
         int((a >> 16) & 255u) * bitfieldExtract(int(b), 16, 8) + int(a >> 24) * bitfieldExtract(int(b), 24, 8);
}
int sum_s(uint b) {
  return bitfieldExtract(int(b), 0, 8) + bitfieldExtract(int(b), 8, 8) + bitfieldExtract(int(b), 16, 8) +
         bitfieldExtract(int(b), 24, 8);
}
// Four Q5 high bits (h & 15) moved to bit 4 of each byte.
uint spread4(uint h) { return ((h & 1u) << 4) | ((h & 2u) << 11) | ((h & 4u) << 18) | ((h & 8u) << 25); }

// Weight block k of a row, loaded and decoded: Q8_0 a, b = the 32 int8; Q4/Q5 a = q[0..15], b = q[16..31]
// as unsigned bytes (high bits merged); dm = (d, m).
struct WUnit {
  uvec4 a, b;
  vec2 dm;
};
WUnit load_unit(Job jb, uint row, uint k) {
  const uint blk = row * jb.w_row_blocks + k;
  WUnit u;
  u.dm = unpackHalf2x16(jb.ws.v[blk]);
#if DTYPE == 9
  u.a = jb.w.v[row * jb.w_row_units + k * 2u];
  u.b = jb.w.v[row * jb.w_row_units + k * 2u + 1u];
#else
  const uvec4 q = jb.w.v[row * jb.w_row_units + k];
  u.a = q & 0x0F0F0F0Fu;
  u.b = (q >> 4) & 0x0F0F0F0Fu;
#if DTYPE == 7 || DTYPE == 8
  const uint h = jb.wh.v[blk];
  u.a |= uvec4(spread4(h), spread4(h >> 4), spread4(h >> 8), spread4(h >> 12));
  u.b |= uvec4(spread4(h >> 16), spread4(h >> 20), spread4(h >> 24), spread4(h >> 28));
#endif
#endif
  return u;
}

// One block's contribution: a decoded weight block against activation block (x0, x1, xds).
float unit_block_dot(WUnit u, uvec4 x0, uvec4 x1, vec2 xds) {
  const vec2 dm = u.dm;
#if DTYPE == 9
  const uvec4 w0 = u.a, w1 = u.b;
  const int isum = dot_ss(w0.x, x0.x) + dot_ss(w0.y, x0.y) + dot_ss(w0.z, x0.z) + dot_ss(w0.w, x0.w) +
                   dot_ss(w1.x, x1.x) + dot_ss(w1.y, x1.y) + dot_ss(w1.z, x1.z) + dot_ss(w1.w, x1.w);
  return dm.x * xds.x * float(isum);
#else
  const uvec4 lo = u.a, hi = u.b;
  int isum = dot_us(lo.x, x0.x) + dot_us(lo.y, x0.y) + dot_us(lo.z, x0.z) + dot_us(lo.w, x0.w) +
             dot_us(hi.x, x1.x) + dot_us(hi.y, x1.y) + dot_us(hi.z, x1.z) + dot_us(hi.w, x1.w);
#if DTYPE == 2 || DTYPE == 7
  const int xsum = sum_s(x0.x) + sum_s(x0.y) + sum_s(x0.z) + sum_s(x0.w) + sum_s(x1.x) + sum_s(x1.y) + sum_s(x1.z) + sum_s(x1.w);
  isum -= (DTYPE == 2 ? 8 : 16) * xsum;  // q = nibble - 8 (Q4_0) or 5-bit value - 16 (Q5_0)
  return dm.x * xds.x * float(isum);
#else
  return dm.x * xds.x * float(isum) + dm.y * xds.y;  // Q4_1 / Q5_1: + m * s
#endif
#endif
}
float block_dot(Job jb, uint row, uint k, uvec4 x0, uvec4 x1, vec2 xds) {
  return unit_block_dot(load_unit(jb, row, k), x0, x1, xds);
}

// Activations quantized by this workgroup (fuse_quant): one token's input, at most MAX_XBLOCKS blocks.
const uint MAX_XBLOCKS = 512u;
shared uvec4 sh_xq[2u * MAX_XBLOCKS];
shared vec2 sh_xd[MAX_XBLOCKS];

float block_dot_global(Job jb, uint row, uint k, uint xb) {
  return block_dot(jb, row, k, jb.xq.v[xb * 2u], jb.xq.v[xb * 2u + 1u], jb.xd.v[xb]);
}
float block_dot_shared(Job jb, uint row, uint k) {
  return block_dot(jb, row, k, sh_xq[k * 2u], sh_xq[k * 2u + 1u], sh_xd[k]);
}
#define UNITS(jb) ((jb).cols / 32u)
#define LOADW(jb, row, k) load_unit(jb, row, k)
float unit_dot_t(Job jb, WUnit u, uint k, uint t) {
  const uint xb = (t * jb.x_stride) / 32u + k;
  return unit_block_dot(u, jb.xq.v[xb * 2u], jb.xq.v[xb * 2u + 1u], jb.xd.v[xb]);
}
#define DOTW(jb, u, k, t) unit_dot_t(jb, u, k, t)
#define DOT1(jb, row, k) (pc.fuse_quant != 0u ? block_dot_shared(jb, row, k) : block_dot_global(jb, row, k, k))

#elif DTYPE == 1
float unit_dot(Job jb, uint row, uint k, uint t) {
  const uvec4 w = jb.w.v[row * jb.w_row_units + k];
  Vec4s x4 = Vec4s(jb.x);
  const uint xb = (t * jb.x_stride) / 4u + 2u * k;
  const vec4 a = vec4(unpackHalf2x16(w.x), unpackHalf2x16(w.y));
  const vec4 b = vec4(unpackHalf2x16(w.z), unpackHalf2x16(w.w));
  return dot(a, x4.v[xb]) + dot(b, x4.v[xb + 1u]);
}
struct WUnit {
  vec4 a, b;
};
WUnit load_unit(Job jb, uint row, uint k) {
  const uvec4 w = jb.w.v[row * jb.w_row_units + k];
  WUnit u;
  u.a = vec4(unpackHalf2x16(w.x), unpackHalf2x16(w.y));
  u.b = vec4(unpackHalf2x16(w.z), unpackHalf2x16(w.w));
  return u;
}
float unit_dot_t(Job jb, WUnit u, uint k, uint t) {
  Vec4s x4 = Vec4s(jb.x);
  const uint xb = (t * jb.x_stride) / 4u + 2u * k;
  return dot(u.a, x4.v[xb]) + dot(u.b, x4.v[xb + 1u]);
}
#define UNITS(jb) (((jb).cols + 7u) / 8u)
#define LOADW(jb, row, k) load_unit(jb, row, k)
#define DOTW(jb, u, k, t) unit_dot_t(jb, u, k, t)
#define DOT1(jb, row, k) unit_dot(jb, row, k, 0u)

#else  // F32
float unit_dot(Job jb, uint row, uint k, uint t) {
  const vec4 w = uintBitsToFloat(jb.w.v[row * jb.w_row_units + k]);
  Vec4s x4 = Vec4s(jb.x);
  return dot(w, x4.v[(t * jb.x_stride) / 4u + k]);
}
struct WUnit {
  vec4 a;
};
WUnit load_unit(Job jb, uint row, uint k) {
  WUnit u;
  u.a = uintBitsToFloat(jb.w.v[row * jb.w_row_units + k]);
  return u;
}
float unit_dot_t(Job jb, WUnit u, uint k, uint t) {
  Vec4s x4 = Vec4s(jb.x);
  return dot(u.a, x4.v[(t * jb.x_stride) / 4u + k]);
}
#define UNITS(jb) (((jb).cols + 3u) / 4u)
#define LOADW(jb, row, k) load_unit(jb, row, k)
#define DOTW(jb, u, k, t) unit_dot_t(jb, u, k, t)
#define DOT1(jb, row, k) unit_dot(jb, row, k, 0u)
#endif

void main() {
  const uint wg = flat_workgroup();
  if (wg >= pc.total_wgs) return;
  uint ji = 0;
  for (uint i = 1; i < pc.n_jobs; ++i)
    if (pc.jobs.j[i].wg_begin <= wg) ji = i;
  Job jb = pc.jobs.j[ji];
  const uint row0 = (wg - jb.wg_begin) * pc.rows_per_wg;
  const uint row_end = min(row0 + pc.rows_per_wg, jb.rows);
  const uint units = UNITS(jb);
  const uint lane = gl_SubgroupInvocationID, step = gl_SubgroupSize;

#if IS_QUANT
  if (pc.fuse_quant != 0u) {  // this job's input, quantized once per workgroup into shared memory
    for (uint b = gl_LocalInvocationID.x; b < units; b += gl_WorkGroupSize.x) {
      uvec4 q0, q1;
      vec2 ds;
      quantize_block(jb.x, b * 32u, q0, q1, ds);
      sh_xq[b * 2u] = q0;
      sh_xq[b * 2u + 1u] = q1;
      sh_xd[b] = ds;
    }
    barrier();
  }
#endif
  if (pc.T == 1u) {
    // One token: `sg_per_row` subgroups share each row (long rows then need fewer dependent
    // iterations per lane), and four independent sums keep four loads in flight per lane.
    const uint spr = pc.sg_per_row, rows_per_pass = gl_NumSubgroups / spr;
    const uint part = gl_SubgroupID % spr, stride = step * spr;
    for (uint rb = row0; rb < row_end; rb += rows_per_pass) {
      const uint r = rb + gl_SubgroupID / spr;
      float a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0;
      if (r < row_end) {
        uint k = part * step + lane;
        for (; k + 3u * stride < units; k += 4u * stride) {
          a0 += DOT1(jb, r, k);
          a1 += DOT1(jb, r, k + stride);
          a2 += DOT1(jb, r, k + 2u * stride);
          a3 += DOT1(jb, r, k + 3u * stride);
        }
        for (; k < units; k += stride) a0 += DOT1(jb, r, k);
      }
      const float acc = subgroupAdd((a0 + a1) + (a2 + a3));
      if (spr == 1u) {
        if (r < row_end && subgroupElect()) finish(jb, 0u, r, acc);
      } else {
        if (subgroupElect()) partial_sums[gl_SubgroupID] = acc;
        barrier();
        if (part == 0u && r < row_end && subgroupElect()) {
          float sum = 0.0;
          for (uint p = 0; p < spr; ++p) sum += partial_sums[gl_SubgroupID + p];
          finish(jb, 0u, r, sum);
        }
        barrier();
      }
    }
    return;
  }
  for (uint r = row0 + gl_SubgroupID; r < row_end; r += gl_NumSubgroups) {
    for (uint t0 = 0; t0 < pc.T; t0 += TT) {
      const uint nt = min(TT, pc.T - t0);
      float acc[TT];
      for (uint i = 0; i < TT; ++i) acc[i] = 0.0;
      for (uint k = lane; k < units; k += step) {
        const WUnit u = LOADW(jb, r, k);
        for (uint i = 0; i < TT; ++i)
          if (i < nt) acc[i] += DOTW(jb, u, k, t0 + i);
      }
      for (uint i = 0; i < nt; ++i) {
        const float s = subgroupAdd(acc[i]);
        if (subgroupElect()) finish(jb, t0 + i, r, s);
      }
    }
  }
}
