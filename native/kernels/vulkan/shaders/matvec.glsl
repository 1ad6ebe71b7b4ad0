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
#ifdef LN_PROLOGUE
#define WANT_WG_SUM
#endif
#include "common.glsl"

#ifndef PERSISTENT
layout(local_size_x_id = 0) in;
#endif

#ifndef DTYPE
#define DTYPE 1
#endif
#define IS_QUANT (DTYPE >= 2)
// The scale words that ride with a batch of weight loads (load_batch): one uint, or with step7_nibble two
#ifdef NIBBLE_JOBS
#define SbWord uvec2  // (the block's d | m word, its Q5 fifth bits)
#define SB_DM(s) (s).x
#else
#define SbWord uint
#define SB_DM(s) (s)
#endif

#include "matvec_job.glsl"
#ifndef MV_SPEC_RB
#define MV_SPEC_RB 1
#define MV_SPEC_U 2
#endif

// The push constants; the persistent step (step7.comp) reads the same bytes from its op table.
#define MATVEC_PC_FIELDS \
  Jobs jobs; \
  uint n_jobs; \
  uint T; \
  uint rows_per_wg; \
  uint total_wgs; \
  uint sg_per_row; /* T == 1: subgroups sharing one row (1, 2 or 4; divides gl_NumSubgroups) */ \
  uint fuse_quant; /* quantized types, T == 1: quantize x in shared memory here (cols <= 32 * MAX_XBLOCKS) */ \
  Floats copy_src; /* copy_n != 0: workgroup 0 also copies copy_n floats copy_src -> copy_dst (a shift */ \
  Floats copy_dst; /*   state whose readers finished before this dispatch's barrier, see LN_PROLOGUE) */ \
  uint copy_n; \
  uint ln_C; /* LN_PROLOGUE: channels of the normed row */ \
  float ln_eps; \
  uint ln_flags; /* 1: workgroup 0 writes the normed row to ln_out; 4: persistent plain op, GroupNorm */ \
                 /* prologue (gn_stage: ln_C head size, ln_x gate, ln_state bonus, ln_out v) */ \
  Floats ln_x; /* (ln_C) the residual row to norm */ \
  Floats ln_w, ln_b; \
  Floats ln_state; /* (ln_C) token-shift state (previous token's normed row) */ \
  Floats ln_out; /* (ln_C) this token's normed row (the next shift state; copied there later) */
#ifdef PERSISTENT
struct MatvecPC {
  MATVEC_PC_FIELDS
};
MatvecPC mv_pc;
#define pc mv_pc
#else
layout(push_constant) uniform PC {
  MATVEC_PC_FIELDS
} pc;
#endif

#ifdef LN_PROLOGUE
// Variants matvec_f32_ln / matvec_f16_ln (one token, float weights): every workgroup computes the
// LayerNorm of ln_x and its job's token-shift mix itself, into shared memory, instead of reading an
// input written by a separate norm dispatch (one dispatch and one barrier fewer). The job's `x` is then
// the (C) mix vector m: input = cur + (state - cur) * m, as layer_norm.comp / mix.glsl compute it.
#ifdef PERSISTENT
const uint MAX_C = 8192u;  // also the input of a plain op (ffn.value: 4C), staged here
#else
const uint MAX_C = 4096u;
#endif
shared vec4 sh_x4[MAX_C / 4u];
#ifdef PERSISTENT
const uint LN_J = 2u;  // vec4s of the row per invocation: C <= 2048 over 256 invocations
// The norm's parameters, read together with the row (one round trip to L2 after the grid barrier
// instead of two). Not loaded before the barrier: registers held across it made the step spill.
#define LN_PAR(k, j, i) ln_par[(k) * LN_J + (j)]
#else
const uint LN_J = 8u;  // C <= 4096 over at least 128 invocations
#define LN_PAR(k, j, i) ((k) == 0u ? Vec4s(pc.ln_w).v[i] : (k) == 1u ? Vec4s(pc.ln_b).v[i] : (k) == 2u ? Vec4s(pc.ln_state).v[i] : Vec4s(jb.x).v[i])
#endif
void ln_prologue(Job jb, uint wg, uint padded) {
  // The row is read once into registers (LN_J vec4 per invocation at most).
#ifdef PERSISTENT
  vec4 ln_par[4u * LN_J];
  {
    Vec4s w4 = Vec4s(pc.ln_w), b4 = Vec4s(pc.ln_b), st4 = Vec4s(pc.ln_state), m4 = Vec4s(jb.x);
    for (uint j = 0u; j < LN_J; ++j) {
      const uint i = gl_LocalInvocationID.x + j * gl_WorkGroupSize.x;
      ln_par[j] = ln_par[LN_J + j] = ln_par[2u * LN_J + j] = ln_par[3u * LN_J + j] = vec4(0.0);
      if (i < pc.ln_C / 4u) {
        ln_par[j] = w4.v[i];
        ln_par[LN_J + j] = b4.v[i];
        ln_par[2u * LN_J + j] = st4.v[i];
        ln_par[3u * LN_J + j] = m4.v[i];
      }
    }
  }
#endif
  const uint tid = gl_LocalInvocationID.x, n = gl_WorkGroupSize.x, C4 = pc.ln_C / 4u;
  Vec4s x4 = Vec4s(pc.ln_x);
  vec4 xr[LN_J];
  vec4 s4 = vec4(0.0);
  for (uint j = 0u; j < LN_J; ++j) {
    const uint i = tid + j * n;
    xr[j] = i < C4 ? x4.v[i] : vec4(0.0);
    s4 += xr[j];
  }
  const float mean = wg_sum((s4.x + s4.y) + (s4.z + s4.w)) / float(pc.ln_C);
  vec4 q4 = vec4(0.0);
  for (uint j = 0u; j < LN_J; ++j) {
    const vec4 d = tid + j * n < C4 ? xr[j] - mean : vec4(0.0);
    q4 += d * d;
  }
  const float inv = 1.0 / sqrt(wg_sum((q4.x + q4.y) + (q4.z + q4.w)) / float(pc.ln_C) + pc.ln_eps);
  Vec4s o4 = Vec4s(pc.ln_out);
  const bool write = wg == 0u && (pc.ln_flags & 1u) != 0u;
  for (uint j = 0u; j < LN_J; ++j) {
    const uint i = tid + j * n;
    if (i < C4) {
      const vec4 cur = (xr[j] - mean) * inv * LN_PAR(0u, j, i) + LN_PAR(1u, j, i);
      sh_x4[i] = cur + (LN_PAR(2u, j, i) - cur) * LN_PAR(3u, j, i);
      if (write) o4.v[i] = cur;
    }
  }
  for (uint i = C4 + tid; i < padded / 4u; i += n) sh_x4[i] = vec4(0.0);
  barrier();
}
#endif

shared float partial_sums[128];

#ifndef PERSISTENT
// Rows a subgroup takes at a time when T > 1 (ops.cpp: RWKV_VK_T_ROWS).
layout(constant_id = 3) const uint TR = 1u;
#endif

// Tokens per pass over a row when T > 1 (accumulators held in registers): each weight unit is loaded
// and decoded once per pass and used for all of them, so a batched decode step of up to 16 sequences
// reads every weight once, like one token does.
const uint TT = 16;

#if IS_QUANT
#include "quant_act.glsl"
#include "int_dot.glsl"

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
// The T > 1 loop's activation unit k of token t, loaded once for all the rows that use it.
struct XUnit {
  uvec4 q0, q1;
  vec2 ds;
};
XUnit load_x(Job jb, uint k, uint t) {
  const uint xb = (t * jb.x_stride) / 32u + k;
  XUnit x;
  x.q0 = jb.xq.v[xb * 2u], x.q1 = jb.xq.v[xb * 2u + 1u], x.ds = jb.xd.v[xb];
  return x;
}
float dot_x(WUnit u, XUnit x) { return unit_block_dot(u, x.q0, x.q1, x.ds); }
#ifdef LN_PROLOGUE
#define DOT1(jb, row, k) block_dot_shared(jb, row, k)  // the prologue's row, quantized in shared memory
#else
#define DOT1(jb, row, k) (pc.fuse_quant != 0u ? block_dot_shared(jb, row, k) : block_dot_global(jb, row, k, k))
#endif

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
struct XUnit {
  vec4 a, b;
};
XUnit load_x(Job jb, uint k, uint t) {
  Vec4s x4 = Vec4s(jb.x);
  const uint xb = (t * jb.x_stride) / 4u + 2u * k;
  XUnit x;
  x.a = x4.v[xb], x.b = x4.v[xb + 1u];
  return x;
}
float dot_x(WUnit u, XUnit x) { return dot(u.a, x.a) + dot(u.b, x.b); }
#ifdef MIXED_JOBS
// step7_mixed (the persistent step of a model with Q8_0 matrices; built with DTYPE 1): each job's own
// weight type decides its unit of 16 bytes: 4 floats (F32), 8 halves (F16) or 16 int8 (half a Q8_0 block,
// whose f16 scale is ws[block]). With the step's flag 16 (mv_q8_int, the default) a Q8_0 job rounds its staged
// row to 8-bit blocks (q8_stage) and agrees with the CPU's 8-bit dot products; without it the activations
// stay floats and the ops agree with the CPU on the dequantized weights.
uint x_per_unit(Job jb) { return jb.w_type == 0u ? 1u : jb.w_type == 1u ? 2u : jb.w_type == 9u ? 4u : 8u; }
// Q4_0, Q4_1, Q5_0, Q5_1 (step7_nibble): a unit is a block's 16 bytes of nibbles, 32 weights.
bool nibble_type(uint t) { return t >= 2u && t <= 8u; }
#define UNITS(jb) (((jb).cols + 4u * x_per_unit(jb) - 1u) / (4u * x_per_unit(jb)))
#else
#define UNITS(jb) (((jb).cols + 7u) / 8u)
#endif
#define LOADW(jb, row, k) load_unit(jb, row, k)
#ifdef LN_PROLOGUE
float dot_raw(uvec4 w, uint k) {
  const vec4 a = vec4(unpackHalf2x16(w.x), unpackHalf2x16(w.y));
  const vec4 b = vec4(unpackHalf2x16(w.z), unpackHalf2x16(w.w));
  return dot(a, sh_x4[2u * k]) + dot(b, sh_x4[2u * k + 1u]);
}
#define DOT1(jb, row, k) dot_raw(jb.w.v[(row) * jb.w_row_units + (k)], k)
#define LN_PAD 8u
#else
#define DOT1(jb, row, k) unit_dot(jb, row, k, 0u)
#endif

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
struct XUnit {
  vec4 a;
};
XUnit load_x(Job jb, uint k, uint t) {
  XUnit x;
  x.a = Vec4s(jb.x).v[(t * jb.x_stride) / 4u + k];
  return x;
}
float dot_x(WUnit u, XUnit x) { return dot(u.a, x.a); }
#define UNITS(jb) (((jb).cols + 3u) / 4u)
#define LOADW(jb, row, k) load_unit(jb, row, k)
#ifdef LN_PROLOGUE
float dot_raw(uvec4 w, uint k) { return dot(uintBitsToFloat(w), sh_x4[k]); }
#define DOT1(jb, row, k) dot_raw(jb.w.v[(row) * jb.w_row_units + (k)], k)
#define LN_PAD 4u
#else
#define DOT1(jb, row, k) unit_dot(jb, row, k, 0u)
#endif
#endif

#if DTYPE <= 1
// One token, float weights (the host sets RB > 0): each subgroup takes RB rows at a time and each lane
// loads U weight units of every one of them before the first use, RB * U independent 16-byte loads in
// flight per lane (the loops below keep four, and share long rows between subgroups through shared
// memory and two barriers per row). The activation unit each lane needs is read once per U and used
// for all RB rows. Rows past the end repeat the last row (loaded, never written).
layout(constant_id = MV_SPEC_RB) const uint RB = 0u;
layout(constant_id = MV_SPEC_U) const uint U = 4u;
// Arrays sized by the specialization (RB * U loads, at most 16: ops.cpp), not by the largest shape: with
// fixed 16-entry arrays the persistent step kept registers for all of them (H100, 0.4B FP16, 8 loads:
// 1.564 -> 1.199 ms a token).
const uint RB1 = RB == 0u ? 1u : RB;  // RB = 0 (not this loop) still sizes arrays
const uint MAX_LOADS = RB1 * U;
#if defined(LN_PROLOGUE) || defined(PERSISTENT)
vec4 x_unit(Job jb, uint i) { return sh_x4[i]; }
#else
vec4 x_unit(Job jb, uint i) { return Vec4s(jb.x).v[i]; }
#endif
#if DTYPE == 1
float w_dot(uvec4 w, vec4 x0, vec4 x1) {
  return dot(vec4(unpackHalf2x16(w.x), unpackHalf2x16(w.y)), x0) + dot(vec4(unpackHalf2x16(w.z), unpackHalf2x16(w.w)), x1);
}
#define X_PER_UNIT 2u
#else
float w_dot(uvec4 w, vec4 x0, vec4 x1) { return dot(uintBitsToFloat(w), x0); }
#define X_PER_UNIT 1u
#endif
#ifdef MIXED_JOBS
// Four int8 as floats without a conversion instruction (an H100 converts at a quarter of its float rate,
// and converting bound the first form of this step: 1.5B Q8_0 as slow as FP16): q + 128 (the sign bit
// flipped) as the low byte of the float 2^23 + (q + 128), then 2^23 + 128 subtracted, all exact.
vec4 int8s(uint v) {
  const uint u = v ^ 0x80808080u;
  return vec4(uintBitsToFloat(0x4B000000u | (u & 0xFFu)), uintBitsToFloat(0x4B000000u | ((u >> 8) & 0xFFu)),
              uintBitsToFloat(0x4B000000u | ((u >> 16) & 0xFFu)), uintBitsToFloat(0x4B000000u | (u >> 24))) -
         8388736.0;
}
// 16 int8 weights (q[16h .. 16h + 15] of a Q8_0 block) against their 16 activations, unscaled.
float q8_dot(uvec4 w, vec4 x0, vec4 x1, vec4 x2, vec4 x3) {
  return (dot(int8s(w.x), x0) + dot(int8s(w.y), x1)) + (dot(int8s(w.z), x2) + dot(int8s(w.w), x3));
}
// A quantized job's per-unit scale words ride with its weight loads (one uint per load: the block's f16 d,
// and m for the _1 types; step7_nibble adds the Q5 types' fifth bits as a second word); other shaders keep
// a one-entry array the compiler drops.
const uint SB_N = MAX_LOADS;
#define XPU(jb) x_per_unit(jb)
#include "quant_act.glsl"
#include "int_dot.glsl"
// The persistent step's flag 16 (step7.comp sets it per op): Q8_0 jobs round their staged input to 8-bit
// blocks, as the CPU's Q8_0 kernels and the dispatch path do, and take integer dot products (the
// device's own in the *_idot build) instead of turning every weight into a float.
bool mv_q8_int = false;
int sum_q(uvec4 q) { return (sum_s(q.x) + sum_s(q.y)) + (sum_s(q.z) + sum_s(q.w)); }
// The staged row (n floats in sh_x4, n a multiple of 32 and at most 32 per invocation) as 8-bit blocks, in
// place: block b's 32 int8 in sh_x4[2b], sh_x4[2b + 1] (bits, 16 a vec4), its d_x in lane b % 4 of
// sh_x4[2nb + b/4] and the sum of its 32 q (an integer, exact in a float) in lane b % 4 of
// sh_x4[2nb + ceil(nb/4) + b/4], nb = n/32. Every block is read into registers before any is written.
void q8_stage(uint n) {
  const uint b = gl_LocalInvocationID.x, nb = n / 32u;
  uvec4 q0 = uvec4(0u), q1 = uvec4(0u);
  vec2 ds = vec2(0.0);
  if (b < nb) {
    float v[32];
    for (uint j = 0u; j < 8u; ++j) {
      const vec4 x4 = sh_x4[b * 8u + j];
      v[4u * j] = x4.x, v[4u * j + 1u] = x4.y, v[4u * j + 2u] = x4.z, v[4u * j + 3u] = x4.w;
    }
    quantize_vals(v, q0, q1, ds);
  }
  barrier();
  if (b < nb) {
    sh_x4[2u * b] = uintBitsToFloat(q0);
    sh_x4[2u * b + 1u] = uintBitsToFloat(q1);
    sh_x4[2u * nb + b / 4u][b % 4u] = ds.x;
    sh_x4[2u * nb + (nb + 3u) / 4u + b / 4u][b % 4u] = float(sum_q(q0) + sum_q(q1));
  }
  barrier();
}
#else
const uint SB_N = 1u;
#define XPU(jb) X_PER_UNIT
#endif

#ifdef PERSISTENT
// The input of the output projection after a split WKV-7 (ln_flags 4): x holds each head's raw y; every
// workgroup stages out = (GroupNorm_head(y) * w + b + (sum over the head of bonus) * v) * g (the same
// operations per element as wkv7.glsl's fused norm). Subgroup s takes heads s, s + n, ...; each lane
// loads all its channels' six inputs at once (one round trip to L2 rather than one per head and pass),
// then the sums per head are subgroup reductions. At most GN_N channels per lane: C <= 8 x invocations
// and a head size that is a multiple of the subgroup size or below it (gpu_v7.cpp checks).
const uint GN_N = 8u;
void gn_stage(Job jb) {
  const uint HS = pc.ln_C, C = jb.cols, lane = gl_SubgroupInvocationID, SG = gl_SubgroupSize;
  const uint per_head = max(1u, HS / SG);  // channels of one head per lane
  Floats y = Floats(jb.x), g = Floats(pc.ln_x), w = Floats(pc.ln_w), b = Floats(pc.ln_b);
  Floats bonus = Floats(pc.ln_state), v = Floats(pc.ln_out);
  float ys[GN_N], rs[GN_N], vs[GN_N], gs[GN_N], ws[GN_N], bs[GN_N];
  uint cs[GN_N];
  for (uint n = 0u; n < GN_N; ++n) {
    const uint h = gl_SubgroupID + (n / per_head) * gl_NumSubgroups, j = lane + (n % per_head) * SG;
    const bool ok = j < HS && h * HS < C;
    cs[n] = ok ? h * HS + j : 0xFFFFFFFFu;
    const uint c = ok ? h * HS + j : 0u;
    ys[n] = ok ? y.v[c] : 0.0, rs[n] = ok ? bonus.v[c] : 0.0, vs[n] = ok ? v.v[c] : 0.0;
    gs[n] = ok ? g.v[c] : 0.0, ws[n] = ok ? w.v[c] : 0.0, bs[n] = ok ? b.v[c] : 0.0;
  }
  for (uint k = 0u; k < GN_N / per_head; ++k) {  // the k-th head of this subgroup (uniform)
    if ((gl_SubgroupID + k * gl_NumSubgroups) * HS >= C) break;
    float s = 0.0, r = 0.0;
    for (uint n = 0u; n < GN_N; ++n)
      if (n / per_head == k) s += ys[n], r += rs[n];
    const float mean = subgroupAdd(s) / float(HS), bsum = subgroupAdd(r);
    float q = 0.0;
    for (uint n = 0u; n < GN_N; ++n)
      if (n / per_head == k && cs[n] != 0xFFFFFFFFu) q += (ys[n] - mean) * (ys[n] - mean);
    const float inv = 1.0 / sqrt(subgroupAdd(q) / float(HS) + pc.ln_eps);
    for (uint n = 0u; n < GN_N; ++n) {
      if (n / per_head != k || cs[n] == 0xFFFFFFFFu) continue;
      float o = (ys[n] - mean) * inv * ws[n] + bs[n];
      o += bsum * vs[n];
      sh_x4[cs[n] >> 2][cs[n] & 3u] = o * gs[n];
    }
  }
  barrier();
}
#endif

// Lanes per row: the whole subgroup, or for short rows (the LoRA up-projections: 8-32 units) the fewest
// lanes whose U loads each cover the row, so that a subgroup works on SG / L rows at once instead of
// leaving most lanes idle (one round trip per row).
uint lanes_per_row(uint units) {
  uint L = gl_SubgroupSize;
  while (L > 1u && (L / 2u) * U >= units) L /= 2u;
  return L;
}

// Batch loads: rows rb + r * G + g (g = this lane's group of L lanes, G = SG / L groups), units
// k0 + u * L + (lane % L).
void load_batch(Job jb, uint rb, uint last, uint k0, uint units, uint L, out uvec4 dst[MAX_LOADS], out SbWord sc[SB_N]) {
  const uint lane = gl_SubgroupInvocationID, G = gl_SubgroupSize / L, g = lane / L, li = lane % L;
  for (uint r = 0u; r < RB; ++r) {
    const uint row = min(rb + r * G + g, last), base = row * jb.w_row_units;
    for (uint u = 0u; u < U; ++u) {
      const uint k = k0 + u * L + li;
      dst[r * U + u] = k < units ? jb.w.v[base + k] : uvec4(0u);
#ifdef MIXED_JOBS
      const bool scaled = k < units && jb.w_type >= 2u;  // quantized: the block's words ride along
      const uint blk = row * jb.w_row_blocks + (jb.w_type == 9u ? k / 2u : k);
#ifdef NIBBLE_JOBS
      sc[r * U + u] = scaled ? uvec2(jb.ws.v[blk], jb.w_type >= 7u && jb.w_type <= 8u ? jb.wh.v[blk] : 0u) : uvec2(0u);
#else
      sc[r * U + u] = scaled ? jb.ws.v[blk] : 0u;
#endif
#endif
    }
  }
#ifndef MIXED_JOBS
  sc[0] = SbWord(0u);
#endif
}

// preloaded: this subgroup's first batch is already in wb (the persistent step loads it before its
// grid barrier). Each batch's successor is loaded before the batch is used (two batches in flight per
// lane).
void blocked_rows(Job jb, uint wg, uint row0, uint row_end, uint units, bool preloaded,
                  inout uvec4 wb[MAX_LOADS], inout SbWord sb[SB_N]) {
  const uint lane = gl_SubgroupInvocationID, last = row_end - 1u;
  const uint L = lanes_per_row(units), G = gl_SubgroupSize / L, g = lane / L, li = lane % L;
  const uint first = row0 + gl_SubgroupID * RB * G, rows_step = gl_NumSubgroups * RB * G;
  const uint xpu = XPU(jb);
  if (!preloaded && first < row_end) load_batch(jb, first, last, 0u, units, L, wb, sb);  // streams during the norm
#ifdef PERSISTENT
  barrier();  // the previous task's reads of sh_x4 are done
  if ((pc.ln_flags & 4u) != 0u) {
    gn_stage(jb);
  } else if (pc.ln_C != 0u) {
    ln_prologue(jb, wg, units * 4u * xpu);
  } else {  // a plain op: its input staged once (coherent reads), then read from shared memory
    Vec4s x4 = Vec4s(jb.x);
    for (uint i = gl_LocalInvocationID.x; i < units * xpu; i += gl_WorkGroupSize.x) sh_x4[i] = x4.v[i];
    barrier();
  }
#ifdef MIXED_JOBS
  if ((mv_q8_int && jb.w_type == 9u) || nibble_type(jb.w_type)) q8_stage(units * 4u * xpu);
#endif
#elif defined(LN_PROLOGUE)
  ln_prologue(jb, wg, units * LN_PAD);
#endif
  float acc[RB1];
  for (uint r = 0u; r < RB; ++r) acc[r] = 0.0;
  uint rb = first, k0 = 0u;
  while (rb < row_end) {
    uint nrb = rb, nk0 = k0 + L * U;  // the batch after: the row block's next units, or the next block's first
    if (nk0 >= units) nk0 = 0u, nrb = rb + rows_step;
    uvec4 wn[MAX_LOADS];  // the successor batch, live only within an iteration (the step is at 245 of 255 registers)
    SbWord sn[SB_N];
    if (nrb < row_end) load_batch(jb, nrb, last, nk0, units, L, wn, sn);
#ifdef NIBBLE_JOBS
    if (nibble_type(jb.w_type)) {  // a block's 32 nibbles (and fifth bits) against its 32 int8 of x (q8_stage)
      const uint nb = units, sums = 2u * nb + (nb + 3u) / 4u;
      for (uint u = 0u; u < U; ++u) {
        const uint k = k0 + u * L + li;
        if (k < units) {
          const uvec4 xa = floatBitsToUint(sh_x4[2u * k]), xb = floatBitsToUint(sh_x4[2u * k + 1u]);
          const float dx = sh_x4[2u * nb + k / 4u][k % 4u], sq = sh_x4[sums + k / 4u][k % 4u];
          for (uint r = 0u; r < RB; ++r) {
            const uvec4 q = wb[r * U + u];
            uvec4 lo = q & 0x0F0F0F0Fu, hi = (q >> 4) & 0x0F0F0F0Fu;
            if (jb.w_type >= 7u) {
              const uint h = sb[r * U + u].y;
              lo |= uvec4(spread4(h), spread4(h >> 4), spread4(h >> 8), spread4(h >> 12));
              hi |= uvec4(spread4(h >> 16), spread4(h >> 20), spread4(h >> 24), spread4(h >> 28));
            }
            int isum = (dot_us(lo.x, xa.x) + dot_us(lo.y, xa.y)) + (dot_us(lo.z, xa.z) + dot_us(lo.w, xa.w)) +
                       ((dot_us(hi.x, xb.x) + dot_us(hi.y, xb.y)) + (dot_us(hi.z, xb.z) + dot_us(hi.w, xb.w)));
            const vec2 dm = unpackHalf2x16(SB_DM(sb[r * U + u]));
            if (jb.w_type == 2u || jb.w_type == 7u) {  // q = nibble - 8 (Q4_0) or 5-bit value - 16 (Q5_0)
              isum -= (jb.w_type == 2u ? 8 : 16) * int(sq);
              acc[r] += dm.x * dx * float(isum);
            } else {  // + m * s_x (Q4_1, Q5_1)
              acc[r] += dm.x * dx * float(isum) + dm.y * (dx * sq);
            }
          }
        }
      }
    } else
#endif
#ifdef MIXED_JOBS
    if (jb.w_type == 9u && mv_q8_int) {  // 16 int8 of weights against 16 int8 of x (q8_stage)
      const uint nb = units / 2u;
      for (uint u = 0u; u < U; ++u) {
        const uint k = k0 + u * L + li;
        if (k < units) {
          const uvec4 xq = floatBitsToUint(sh_x4[k]);
          const float dx = sh_x4[2u * nb + k / 8u][(k / 2u) % 4u];
          for (uint r = 0u; r < RB; ++r) {
            const uvec4 w = wb[r * U + u];
            const int isum = (dot_ss(w.x, xq.x) + dot_ss(w.y, xq.y)) + (dot_ss(w.z, xq.z) + dot_ss(w.w, xq.w));
            acc[r] += unpackHalf2x16(SB_DM(sb[r * U + u])).x * dx * float(isum);
          }
        }
      }
    } else if (jb.w_type == 9u) {
      for (uint u = 0u; u < U; ++u) {
        const uint k = k0 + u * L + li;
        if (k < units) {
          const vec4 x0 = sh_x4[4u * k], x1 = sh_x4[4u * k + 1u], x2 = sh_x4[4u * k + 2u], x3 = sh_x4[4u * k + 3u];
          for (uint r = 0u; r < RB; ++r)
            acc[r] += unpackHalf2x16(SB_DM(sb[r * U + u])).x * q8_dot(wb[r * U + u], x0, x1, x2, x3);
        }
      }
    } else if (jb.w_type == 0u) {
      for (uint u = 0u; u < U; ++u) {
        const uint k = k0 + u * L + li;
        if (k < units)
          for (uint r = 0u; r < RB; ++r) acc[r] += dot(uintBitsToFloat(wb[r * U + u]), sh_x4[k]);
      }
    } else
#endif
    for (uint u = 0u; u < U; ++u) {
      const uint k = k0 + u * L + li;
      if (k < units) {
        const vec4 x0 = x_unit(jb, X_PER_UNIT * k), x1 = X_PER_UNIT == 2u ? x_unit(jb, X_PER_UNIT * k + 1u) : x0;
        for (uint r = 0u; r < RB; ++r) acc[r] += w_dot(wb[r * U + u], x0, x1);
      }
    }
    if (nk0 == 0u) {  // the row block is done
      for (uint r = 0u; r < RB; ++r) {
        float s = acc[r];
        if (L == gl_SubgroupSize) {
          s = subgroupAdd(s);
        } else {  // the sum over this lane's group (adjacent lanes)
          for (uint m = 1u; m < L; m <<= 1) s += subgroupShuffleXor(s, m);
        }
        const uint row = rb + r * G + g;
        if (row < row_end && li == 0u) finish(jb, 0u, row, s);
        acc[r] = 0.0;
      }
    }
    for (uint i = 0u; i < MAX_LOADS; ++i) wb[i] = wn[i];
    for (uint i = 0u; i < SB_N; ++i) sb[i] = sn[i];
    rb = nrb, k0 = nk0;
  }
}
#endif

// The end of row r in the T = 1 loops: `spr` subgroups share each row (`part` is this one's share);
// their sums meet in shared memory. Uniform control flow (barriers when spr > 1).
void finish_row(Job jb, uint r, uint row_end, float acc, uint spr, uint part) {
  if (spr == 1u) {
    if (r < row_end && subgroupElect()) finish(jb, 0u, r, acc);
    return;
  }
  if (subgroupElect()) partial_sums[gl_SubgroupID] = acc;
  barrier();
  if (part == 0u && r < row_end && subgroupElect()) {
    float sum = 0.0;
    for (uint p = 0; p < spr; ++p) sum += partial_sums[gl_SubgroupID + p];
    finish(jb, 0u, r, sum);
  }
  barrier();
}

// Workgroup `wg`'s job and row range.
struct Task {
  Job jb;
  uint row0, row_end, units;
};
Task task_of(uint wg) {
  uint ji = 0;
  for (uint i = 1; i < pc.n_jobs; ++i)
    if (pc.jobs.j[i].wg_begin <= wg) ji = i;
  Task t;
  t.jb = pc.jobs.j[ji];
  t.row0 = (wg - t.jb.wg_begin) * pc.rows_per_wg;
  t.row_end = min(t.row0 + pc.rows_per_wg, t.jb.rows);
  t.units = UNITS(t.jb);
  return t;
}

#ifdef PERSISTENT
// The first batch of workgroup wg's weights, loaded ahead (before the grid barrier).
void matvec_preload(uint wg, out uvec4 wb[MAX_LOADS], out SbWord sb[SB_N]) {
  Task t = task_of(wg);
  const uint L = lanes_per_row(t.units), first = t.row0 + gl_SubgroupID * RB * (gl_SubgroupSize / L);
  if (first < t.row_end) load_batch(t.jb, first, t.row_end - 1u, 0u, t.units, L, wb, sb);
}
// Workgroup wg's share of the op (the persistent step's op loop calls it for every wg it runs).
// Workgroup wg's share of the op (the persistent step's op loop calls it for every wg it runs); preloaded:
// matvec_preload ran for it.
void matvec_task(uint wg, bool preloaded, inout uvec4 wb[MAX_LOADS], inout SbWord sb[SB_N]) {
  Task t = task_of(wg);
  if (wg == 0u && pc.copy_n != 0u)
    for (uint i = gl_LocalInvocationID.x; i < pc.copy_n; i += gl_WorkGroupSize.x) pc.copy_dst.v[i] = pc.copy_src.v[i];
  blocked_rows(t.jb, wg, t.row0, t.row_end, t.units, preloaded, wb, sb);
}
#else
void main() {
  const uint wg = flat_workgroup();
  if (wg >= pc.total_wgs) return;
  Task t = task_of(wg);
  Job jb = t.jb;
  const uint row0 = t.row0, row_end = t.row_end, units = t.units;
  const uint lane = gl_SubgroupInvocationID, step = gl_SubgroupSize;
  if (wg == 0u && pc.copy_n != 0u)
    for (uint i = gl_LocalInvocationID.x; i < pc.copy_n; i += gl_WorkGroupSize.x) pc.copy_dst.v[i] = pc.copy_src.v[i];
#if DTYPE <= 1
  if (RB != 0u) {  // T == 1 (ops.cpp)
    uvec4 wb[MAX_LOADS];
    SbWord sb[SB_N];
    blocked_rows(jb, wg, row0, row_end, units, false, wb, sb);
    return;
  }
#endif
#if defined(LN_PROLOGUE) && IS_QUANT
  // Quantized weights: the normed and mixed row (in sh_x4) quantized to 8-bit blocks in shared memory,
  // as quantize.comp would from memory; then the T == 1 loop below reads them there.
  ln_prologue(jb, wg, units * 32u);
  for (uint b = gl_LocalInvocationID.x; b < units; b += gl_WorkGroupSize.x) {
    float v[32];
    for (uint j = 0; j < 8u; ++j) {
      const vec4 x4 = sh_x4[b * 8u + j];
      v[4u * j] = x4.x, v[4u * j + 1u] = x4.y, v[4u * j + 2u] = x4.z, v[4u * j + 3u] = x4.w;
    }
    uvec4 q0, q1;
    vec2 ds;
    quantize_vals(v, q0, q1, ds);
    sh_xq[b * 2u] = q0;
    sh_xq[b * 2u + 1u] = q1;
    sh_xd[b] = ds;
  }
  barrier();
#elif defined(LN_PROLOGUE)
  {  // one token (the host only uses these variants for T = 1): the T == 1 loop below, except that
     // each lane's first four weight units are loaded before the norm, so they stream during it
    const uint spr = pc.sg_per_row, rows_per_pass = gl_NumSubgroups / spr;
    const uint part = gl_SubgroupID % spr, stride = step * spr, k0 = part * step + lane;
    uvec4 p0 = uvec4(0u), p1 = uvec4(0u), p2 = uvec4(0u), p3 = uvec4(0u);
    const uint r0 = row0 + gl_SubgroupID / spr;
    if (r0 < row_end) {
      const uint base = r0 * jb.w_row_units;
      if (k0 < units) p0 = jb.w.v[base + k0];
      if (k0 + stride < units) p1 = jb.w.v[base + k0 + stride];
      if (k0 + 2u * stride < units) p2 = jb.w.v[base + k0 + 2u * stride];
      if (k0 + 3u * stride < units) p3 = jb.w.v[base + k0 + 3u * stride];
    }
    ln_prologue(jb, wg, units * LN_PAD);
    for (uint rb = row0; rb < row_end; rb += rows_per_pass) {
      const uint r = rb + gl_SubgroupID / spr;
      float a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0;
      if (r < row_end) {
        uint k = k0;
        if (rb == row0 && k + 3u * stride < units) {
          a0 += dot_raw(p0, k);
          a1 += dot_raw(p1, k + stride);
          a2 += dot_raw(p2, k + 2u * stride);
          a3 += dot_raw(p3, k + 3u * stride);
          k += 4u * stride;
        }
        for (; k + 3u * stride < units; k += 4u * stride) {
          a0 += DOT1(jb, r, k);
          a1 += DOT1(jb, r, k + stride);
          a2 += DOT1(jb, r, k + 2u * stride);
          a3 += DOT1(jb, r, k + 3u * stride);
        }
        for (; k < units; k += stride) a0 += DOT1(jb, r, k);
      }
      finish_row(jb, r, row_end, subgroupAdd((a0 + a1) + (a2 + a3)), spr, part);
    }
    return;
  }
#endif

#if IS_QUANT && !defined(LN_PROLOGUE)
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
      finish_row(jb, r, row_end, subgroupAdd((a0 + a1) + (a2 + a3)), spr, part);
    }
    return;
  }
  // T > 1: each subgroup takes TR rows at a time, so that every activation unit it loads serves TR rows
  // (rows past the end repeat the last row, loaded and not written).
  for (uint rb = row0 + gl_SubgroupID * TR; rb < row_end; rb += gl_NumSubgroups * TR) {
    for (uint t0 = 0; t0 < pc.T; t0 += TT) {
      const uint nt = min(TT, pc.T - t0);
      float acc[TR * TT];
      for (uint i = 0; i < TR * TT; ++i) acc[i] = 0.0;
      for (uint k = lane; k < units; k += step) {
        WUnit u[TR];
        for (uint r = 0u; r < TR; ++r) u[r] = LOADW(jb, min(rb + r, row_end - 1u), k);
        for (uint i = 0; i < TT; ++i) {
          if (i >= nt) break;
          const XUnit x = load_x(jb, k, t0 + i);
          for (uint r = 0u; r < TR; ++r) acc[r * TT + i] += dot_x(u[r], x);
        }
      }
      for (uint r = 0u; r < TR; ++r)
        for (uint i = 0; i < nt; ++i) {
          const float s = subgroupAdd(acc[r * TT + i]);
          if (subgroupElect() && rb + r < row_end) finish(jb, t0 + i, rb + r, s);
        }
    }
  }
}
#endif  // !PERSISTENT
