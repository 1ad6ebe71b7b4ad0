// RWKV-7 time mixing for one head per workgroup (S*P invocations, S = head size, P invocations per state
// row), T tokens in order. Fused, so a token costs one dispatch instead of six:
//   lora (flag 2):         wl, al, g, vl = the LoRA up-projections of this head's channels (w2, a2, g2, v2
//                          times the down-projections' outputs); else read from the io planes
//   prep (per channel j):  w = exp(-e^-0.5 * sigmoid(w0 + wl)),  a = sigmoid(a0 + al),
//                          v: layer 0 stores v_first, later layers v += (v_first - v)*sigmoid(v0 + vl),
//                          kk = normalize_head(k * k_k),  kt = k * (1 + (a - 1) * k_a)
//   state (row i = value index, split over P invocations of S/P keys each, kept in registers):
//                          sa = sum_j S[i][j] * -kk[j];  S[i][j] = S[i][j]*w[j] + v[i]*kt[j] + sa*kk[j]*a[j]
//                          y[i] = sum_j S[i][j] * r[j]
//   out:                   y = GroupNorm_head(y) + (sum_j r*kt*r_k) * v,  then y *= g
// Same operation order as models/v7.cpp and models/wkv.cpp, except that the sums over j are split in P.
#define WANT_WG_SUM
#include "common.glsl"
#extension GL_KHR_shader_subgroup_shuffle : require

#ifndef PERSISTENT
layout(local_size_x_id = 0) in;  // S * P
#define WK_SPEC_S 1
#define WK_SPEC_P 2
#define WK_SPEC_NSLOT 3
#endif
layout(constant_id = WK_SPEC_S) const uint S = 64;
layout(constant_id = WK_SPEC_P) const uint P = 1;
const uint SP = S / P;

#ifdef WO_FUSE
// Variants wkv7_wo_f16 / wkv7_wo_f32 (one token of one sequence, LoRA fused, flag 2): the output
// projection x += Wo·y folded in. Workgroup (h, r) of H*R runs head h's WKV (the R workgroups of a head
// repeat it; the last of them to finish writes the state back, after all have read it) and then
// multiplies the head's y by its columns of Wo for rows chunk r (prefetched at the start, so they stream
// during the WKV); the last of the H workgroups of chunk r sums the heads' partials in head order and adds
// them to x (split_reduce.glsl). Workgroup 0 also copies the LN1 row `copy_src` into the shift state,
// replacing the att.output matvec's StateCopy: here `state` points at that shift state (C floats), and
// the WKV state follows it.
#include "split_reduce.glsl"
layout(constant_id = WK_SPEC_NSLOT) const uint NSLOT = 4;  // Wo uvec4 per invocation: ceil(CR * UPR / (S * P))
#if WO_DTYPE == 1
const uint UPR = S / 8u;  // Wo uvec4 per row and head
#else
const uint UPR = S / 4u;
#endif
#define WKV7_WO_PC_FIELDS \
  Floats io, params, state, lora; \
  Uvec4s w2, a2, g2, v2; \
  Uvec4s wo; /* (C, C) rows of wo_units uvec4 */ \
  Floats x; /* (C) residual row */ \
  Floats red; /* uint counters [0, 256): chunks at 0, heads at 128; partials (H, C) from float 256 */ \
  Floats copy_src; /* (C) LN1's normed row */ \
  uint H, flags; \
  float eps; \
  uint plane, dwa, dgv; \
  uint wo_units; \
  uint R; /* row chunks of Wo */
#ifdef PERSISTENT
struct Wkv7PC {
  WKV7_WO_PC_FIELDS
};
Wkv7PC wk_pc;
#define pc wk_pc
#else
layout(push_constant) uniform PC {
  WKV7_WO_PC_FIELDS
} pc;
#endif
#define PC_T 1u
#define STATE_OFF (pc.H * S)  // `state` points at the att shift state; the WKV state follows it
#define PC_STRIDE 0u
#define PC_STATE_STRIDE 0u
#define PC_LORA_STRIDE 0u
shared float sh_y[S];
#ifdef PERSISTENT
#define SH_WO(i) sh_x4[(i) >> 2][(i) & 3u]  // matvec.comp's staging area, free during this op
#else
shared float sh_wo[NSLOT * S * P];
#define SH_WO(i) sh_wo[i]
#endif
#else
layout(push_constant) uniform PC {
  Floats io;        // the wkv row group: r, k, v, wl, al, g, vl, v_first, y, each `plane` floats after the
                    // previous one, token t at t * stride
  Floats params;    // 8 vectors of C: w0, a0, v0, k_k, k_a, r_k, ln_x.weight, ln_x.bias
  Floats state;     // (H, S, S) [h][value i][key j], this layer's
  Floats lora;      // flag 2: the LoRA row group (outputs of w1, a1, g1, v1), token t at t * lora_stride
  Uvec4s w2, a2, g2, v2;  // flag 2: (C, D) matrices, rows of F32 or F16 padded to a uvec4 (weights.cpp)
  uint H, T, stride, flags;  // flags: 1 = layer 0, 2 = LoRA up-projections here; bits 4..7: matrix m
                             // (w2, a2, g2, v2) is F16 (bit 4 + m), else F32; 256 = deferred norm,
                             // 512 = the norm pass (both below), 4096 = the state read as vec4 (load_state)
  float eps;
  uint state_stride;  // 0: the T rows are one sequence. Else batched decode: row b is one token of
                      // sequence b, whose state is b * state_stride floats after `state`; H*T workgroups
  uint plane;
  uint lora_stride;
  uint dwa, dgv;     // LoRA ranks w | a << 16, g | v << 16 (their vectors lie at 32-padded offsets in the row)
} pc;
#define PC_T pc.T
#define STATE_OFF 0u
#define PC_STRIDE pc.stride
#define PC_STATE_STRIDE pc.state_stride
#define PC_LORA_STRIDE pc.lora_stride
#endif


shared float sh_r[S], sh_w[S], sh_kt[S], sh_nkk[S], sh_kka[S], sh_v[S];
shared float sh_lora[4u * S];
// The LoRA down-projections' outputs of the token (fused LoRA): wl | al | g | vl inputs at 32-padded offsets.
const uint MAX_LORA_X = 1024u;
shared float sh_lx[MAX_LORA_X];
shared float sh_red[S * P];

#ifndef WK_STAMP
#define WK_STAMP(i)  // the persistent step's profiled variant notes the time of each phase (step7.comp)
#endif

uint pad32(uint n) { return (n + 31u) / 32u * 32u; }

// Sum of x over the P invocations of one state row (adjacent invocations), returned to all of them.
// Within a subgroup (P a power of two dividing it, so every row's invocations share one) by butterfly
// shuffles: no barrier; each pair is added in the same order on every lane, so all P get the same
// bits. Otherwise through shared memory (two barriers). Uniform control flow: P and the subgroup size
// are the same for the whole workgroup.
float row_sum(float x, uint tid, uint i) {
  if (P == 1u) return x;
  if ((P & (P - 1u)) == 0u && gl_SubgroupSize % P == 0u) {
    for (uint m = 1u; m < P; m <<= 1) x += subgroupShuffleXor(x, m);
    return x;
  }
  sh_red[tid] = x;
  barrier();
  float s = 0.0;
  for (uint q = 0; q < P; ++q) s += sh_red[i * P + q];
  barrier();
  return s;
}

// Row `row` of LoRA matrix m times its input vector (at `xo` in sh_lx, `d` long). Weights in batches of
// 8 independent loads, summed in order (the same sum as one load at a time, without a round trip each:
// a head's LoRA rows run up to 32 units, 256 for g of 1.5B).
const uint LORA_BATCH = 8u;
float lora_dot(uint m, uint row, uint xo, uint d) {
  Uvec4s w = m == 0u ? pc.w2 : m == 1u ? pc.a2 : m == 2u ? pc.g2 : pc.v2;
  const bool f16 = (pc.flags & (16u << m)) != 0u;
  const uint units = f16 ? (d + 7u) / 8u : (d + 3u) / 4u;
  float s = 0.0;
  for (uint u0 = 0u; u0 < units; u0 += LORA_BATCH) {
    uvec4 q[LORA_BATCH];
    for (uint j = 0u; j < LORA_BATCH; ++j) q[j] = u0 + j < units ? w.v[row * units + u0 + j] : uvec4(0u);
    for (uint j = 0u; j < LORA_BATCH; ++j) {
      const uint u = u0 + j;
      if (u >= units) break;
      if (f16) {
        const uint x0 = xo + 8u * u;
        s += dot(vec4(unpackHalf2x16(q[j].x), unpackHalf2x16(q[j].y)), vec4(sh_lx[x0], sh_lx[x0 + 1u], sh_lx[x0 + 2u], sh_lx[x0 + 3u])) +
             dot(vec4(unpackHalf2x16(q[j].z), unpackHalf2x16(q[j].w)), vec4(sh_lx[x0 + 4u], sh_lx[x0 + 5u], sh_lx[x0 + 6u], sh_lx[x0 + 7u]));
      } else {
        const uint x0 = xo + 4u * u;
        s += dot(uintBitsToFloat(q[j]), vec4(sh_lx[x0], sh_lx[x0 + 1u], sh_lx[x0 + 2u], sh_lx[x0 + 3u]));
      }
    }
  }
  return s;
}

// Deferred norm (flag 256; sequences): the token loop writes the raw y_i, r*kt*r_k into the k plane
// and the mixed v into the v plane (each read before by the same invocation), and leaves the GroupNorm,
// bonus and gate to a second dispatch (flag 512, one workgroup per head and token, in parallel): the
// loop then has 4 barriers per token instead of 10. Same operations in the same order as the fused form.
void norm_pass() {
  // S * P invocations: the first S hold channel i each, the others only take part in the sums.
  const uint h = gl_WorkGroupID.x % pc.H, t = gl_WorkGroupID.x / pc.H, tid = gl_LocalInvocationID.x;
  const bool act = tid < S;
  const uint i = act ? tid : 0u;
  const uint C = pc.H * S, ci = h * S + i, oi = t * PC_STRIDE + ci;
  const float yi = pc.io.v[8u * pc.plane + oi], rkr = pc.io.v[pc.plane + oi], vi = pc.io.v[2u * pc.plane + oi];
  const float g = pc.io.v[5u * pc.plane + oi];
  const float lnw = pc.params.v[6u * C + ci], lnb = pc.params.v[7u * C + ci];
  const float mean = wg_sum(act ? yi : 0.0) / float(S);
  const float var = wg_sum(act ? (yi - mean) * (yi - mean) : 0.0) / float(S);
  const float bonus = wg_sum(act ? rkr : 0.0);
  float out_i = (yi - mean) * (1.0 / sqrt(var + pc.eps)) * lnw + lnb;
  out_i += bonus * vi;
  if (act) pc.io.v[8u * pc.plane + oi] = out_i * g;
}

void load_inputs(uint o, bool fused, bool layer0, out float q[7]) {
  q[0] = pc.io.v[o];
  q[1] = pc.io.v[pc.plane + o];
  q[2] = pc.io.v[2u * pc.plane + o];
  q[3] = fused ? 0.0 : pc.io.v[3u * pc.plane + o];
  q[4] = fused ? 0.0 : pc.io.v[4u * pc.plane + o];
  q[5] = fused || layer0 ? 0.0 : pc.io.v[6u * pc.plane + o];
  q[6] = layer0 ? 0.0 : pc.io.v[7u * pc.plane + o];
}

// Where invocation tid's state row part starts.
uint state_base(uint wg) {
  const uint h = wg % pc.H, seq = wg / pc.H, tid = gl_LocalInvocationID.x, i = tid / P, p = tid % P;
  return (PC_STATE_STRIDE != 0u ? seq * PC_STATE_STRIDE : 0u) + h * S * S + i * S + p * SP + STATE_OFF;
}

// The state row part of invocation tid (SP floats from sbase): as vec4 where the host found the state
// 16-byte aligned and SP a multiple of 4 (flag 4096), so that each lane reads one contiguous run and a
// subgroup's loads one contiguous range; else float by float. The same values either way.
bool state_as_vec4() { return SP % 4u == 0u && (pc.flags & 4096u) != 0u; }
void load_state(uint sbase, bool mine, inout float st[SP]) {
  if (state_as_vec4()) {
    Vec4s s4 = Vec4s(pc.state);
    for (uint j = 0; j < SP; j += 4u) {
      const vec4 q = mine ? s4.v[(sbase + j) >> 2] : vec4(0.0);
      st[j] = q.x, st[j + 1u] = q.y, st[j + 2u] = q.z, st[j + 3u] = q.w;
    }
  } else {
    for (uint j = 0; j < SP; ++j) st[j] = mine ? pc.state.v[sbase + j] : 0.0;
  }
}
void store_state(uint sbase, float st[SP]) {
  if (state_as_vec4()) {
    Vec4s s4 = Vec4s(pc.state);
    for (uint j = 0; j < SP; j += 4u) s4.v[(sbase + j) >> 2] = vec4(st[j], st[j + 1u], st[j + 2u], st[j + 3u]);
  } else {
    for (uint j = 0; j < SP; ++j) pc.state.v[sbase + j] = st[j];
  }
}

// Workgroup `wg` of the dispatch (gl_WorkGroupID.x, or the persistent step's task index).
void wkv7_task(uint wg) {
  const uint h = wg % pc.H, seq = wg / pc.H, tid = gl_LocalInvocationID.x;
#ifdef WO_FUSE
  // Flag 1024 (the persistent step, RWKV_VK_STEP_WO): no output projection here; y goes to the io plane
  // like the plain variant's, and a matvec op after this one adds Wo·y to x (R = 1, or the parts below).
  const bool wo_here = (pc.flags & 1024u) == 0u;
  // Flag 2048 (with 1024): the head's state rows split over R workgroups (part `seq` of them, S / R rows
  // each); each writes its rows' raw y, and part 0 the bonus terms and the mixed v (`red` + 256, + 256 + C),
  // for the output projection's GroupNorm prologue (matvec.glsl gn_stage).
  const bool split = (pc.flags & 2048u) != 0u;
  // This workgroup's Wo slots (rows of chunk `seq`, head h's columns), loaded before the WKV.
  const uint CR = (pc.H * S + pc.R - 1u) / pc.R, c_lo = seq * CR, c_hi = min(c_lo + CR, pc.H * S);
  uvec4 wor[NSLOT];
  for (uint q = 0u; q < NSLOT; ++q) {
    wor[q] = uvec4(0u);
    if (!wo_here) continue;
    const uint slot = tid + q * S * P, row = c_lo + slot / UPR;
    if (row < c_hi) wor[q] = pc.wo.v[row * pc.wo_units + h * UPR + slot % UPR];
  }
#endif
  const uint i = tid / P, p = tid % P;  // state row i, keys [p*SP, (p+1)*SP)
  const uint C = pc.H * S;
#ifdef WO_FUSE
  const bool my_row = !split || i / (S / pc.R) == seq;  // this invocation's state row is this part's
#else
  const bool my_row = true;
#endif
  const bool chan = tid < S;  // invocations [0, S) also own channel h*S + tid
  const uint c = h * S + (chan ? tid : 0u);
  const bool batched = PC_STATE_STRIDE != 0u;
  const uint sbase = state_base(wg);
  const uint t_begin = batched ? seq : 0u, t_end = batched ? seq + 1u : PC_T;
  const bool layer0 = (pc.flags & 1u) != 0u, fused = (pc.flags & 2u) != 0u, deferred = (pc.flags & 256u) != 0u;
  float st[SP];
  load_state(sbase, my_row, st);
  const float w0 = pc.params.v[c], a0 = pc.params.v[C + c], v0 = pc.params.v[2u * C + c];
  const float k_k = pc.params.v[3u * C + c], k_a = pc.params.v[4u * C + c], r_k = pc.params.v[5u * C + c];
  const uint ci = h * S + i;  // row i's channel (GroupNorm, bonus, gate)
  const float lnw = pc.params.v[6u * C + ci], lnb = pc.params.v[7u * C + ci];
  const uint ow = pad32((pc.dwa & 0xFFFFu)), oa = ow + pad32((pc.dwa >> 16)), og = oa + pad32((pc.dgv & 0xFFFFu));

  // A token's inputs (r, k, v, wl, al, vl, v_first; channel c) are loaded one token ahead, so that their
  // latency overlaps the previous token's work (sequences: ~2 us per token and head on an H100 before).
  float nq[7];
  if (chan && t_begin < t_end) load_inputs(t_begin * PC_STRIDE + c, fused, layer0, nq);
  for (uint t = t_begin; t < t_end; ++t) {
    const uint o = t * PC_STRIDE + c;
    float q[7] = nq;
    if (chan && t + 1u < t_end) load_inputs(o + PC_STRIDE, fused, layer0, nq);
    // The gate of row i's channel, read here so that its round trip overlaps the work before the norm
    // (read where it is used, it came after the state update, one more dependent trip per token).
#ifdef WO_FUSE
    const bool need_g = !fused && !split;
#else
    const bool need_g = !fused && !deferred;
#endif
    const float g_in = need_g ? pc.io.v[5u * pc.plane + t * PC_STRIDE + ci] : 0.0;
    if (fused) {
      const uint lx_n = og + pad32(pc.dgv >> 16);  // <= MAX_LORA_X (gpu_v7.cpp fuses only then)
      for (uint u = tid; u < lx_n; u += S * P) sh_lx[u] = pc.lora.v[t * PC_LORA_STRIDE + u];
      barrier();
      for (uint u = tid; u < 4u * S; u += S * P) {
        const uint m = u / S, row = h * S + u % S;
        float d = 0.0;
        if (m == 0u) d = lora_dot(0u, row, 0u, (pc.dwa & 0xFFFFu));
        else if (m == 1u) d = lora_dot(1u, row, ow, (pc.dwa >> 16));
        else if (m == 2u) d = lora_dot(2u, row, oa, (pc.dgv & 0xFFFFu));
        else if (!layer0) d = lora_dot(3u, row, og, (pc.dgv >> 16));
        sh_lora[u] = d;
      }
      barrier();
      WK_STAMP(2u);
    }
    float kk = 0.0, kt = 0.0, r = 0.0, v = 0.0, a = 0.0;
    if (chan) {
      r = q[0];
      const float k = q[1];
      v = q[2];
      const float wl = fused ? sh_lora[tid] : q[3];
      const float al = fused ? sh_lora[S + tid] : q[4];
      const float w = exp(-0.6065306597126334 * sigmoid(w0 + wl));
      a = sigmoid(a0 + al);
      if (layer0) {
        pc.io.v[7u * pc.plane + o] = v;
      } else {
        const float vl = fused ? sh_lora[3u * S + tid] : q[5];
        v += (q[6] - v) * sigmoid(v0 + vl);
      }
      kk = k * k_k;
      kt = k * (1.0 + (a - 1.0) * k_a);
      sh_r[tid] = r;
      sh_w[tid] = w;
      sh_kt[tid] = kt;
      sh_v[tid] = v;
    }
    kk *= 1.0 / max(sqrt(wg_sum(kk * kk)), 1e-12);
    if (chan) {
      sh_nkk[tid] = kk;
      sh_kka[tid] = kk * a;
    }
    barrier();
    WK_STAMP(3u);

    float sa = 0.0;
    for (uint j = 0; j < SP; ++j) sa -= st[j] * sh_nkk[p * SP + j];
    sa = row_sum(sa, tid, i);
    const float vi = sh_v[i];
    const uint oi = t * PC_STRIDE + ci;
    float yi = 0.0;
    for (uint j = 0; j < SP; ++j) {
      const uint jj = p * SP + j;
      st[j] = st[j] * sh_w[jj] + vi * sh_kt[jj] + sa * sh_kka[jj];
      yi += st[j] * sh_r[jj];
    }
    yi = row_sum(yi, tid, i);
#ifdef WO_FUSE
    if (split) {
      WK_STAMP(4u);
      if (my_row && p == 0u) pc.io.v[8u * pc.plane + oi] = yi;
      if (chan && seq == 0u) {
        CFloats gn_in = CFloats(pc.red);
        gn_in.v[256u + c] = r * kt * r_k;
        gn_in.v[256u + C + c] = v;
      }
      continue;  // T = 1
    }
#endif
    if (deferred) {
      pc.io.v[8u * pc.plane + oi] = yi;
      if (chan) {
        pc.io.v[pc.plane + o] = r * kt * r_k;
        pc.io.v[2u * pc.plane + o] = v;
      }
      barrier();  // this token's shared reads before the next token's writes
      continue;
    }
    const float g = fused ? sh_lora[2u * S + i] : g_in;
    // GroupNorm over the head (row i's value, counted once), then the current-token bonus and the gate.
    const bool lead = p == 0u;
    const float mean = wg_sum(lead ? yi : 0.0) / float(S);
    const float var = wg_sum(lead ? (yi - mean) * (yi - mean) : 0.0) / float(S);
    const float bonus = wg_sum(chan ? r * kt * r_k : 0.0);
    if (lead) {
      float out_i = (yi - mean) * (1.0 / sqrt(var + pc.eps)) * lnw + lnb;
      out_i += bonus * vi;
#ifdef WO_FUSE
      if (wo_here) sh_y[i] = out_i * g;
      else pc.io.v[8u * pc.plane + oi] = out_i * g;
#else
      pc.io.v[8u * pc.plane + oi] = out_i * g;
#endif
    }
    WK_STAMP(4u);
    // wg_sum's barriers also order this token's shared reads before the next token's writes.
  }
#ifdef WO_FUSE
  // The last of the head's R workgroups to get here writes the state: all of them have read it.
  if (!wo_here ? my_row : arrive_last(Uints(pc.red), 128u + h, pc.R))
    store_state(sbase, st);
  if (wg == 0u)
    for (uint q = tid; q < C; q += S * P) pc.state.v[q] = pc.copy_src.v[q];
  // (No early return: the persistent step calls this in a loop, and lavapipe ended the whole invocation.)
  if (!wo_here) {
    WK_STAMP(5u);  // "Wo partial": here the state written
    WK_STAMP(6u);
  } else {  // uniform: a push constant
    // Partial Wo[c_lo:c_hi, h*S:(h+1)*S] · y_h: one uvec4 slot per product, summed per row in order.
    for (uint q = 0u; q < NSLOT; ++q) {
      const uint slot = tid + q * S * P;
      const uvec4 w = wor[q];
#if WO_DTYPE == 1
      const uint y0 = (slot % UPR) * 8u;
      const float d = dot(vec4(unpackHalf2x16(w.x), unpackHalf2x16(w.y)), vec4(sh_y[y0], sh_y[y0 + 1u], sh_y[y0 + 2u], sh_y[y0 + 3u])) +
                      dot(vec4(unpackHalf2x16(w.z), unpackHalf2x16(w.w)), vec4(sh_y[y0 + 4u], sh_y[y0 + 5u], sh_y[y0 + 6u], sh_y[y0 + 7u]));
#else
      const uint y0 = (slot % UPR) * 4u;
      const float d = dot(uintBitsToFloat(w), vec4(sh_y[y0], sh_y[y0 + 1u], sh_y[y0 + 2u], sh_y[y0 + 3u]));
#endif
      SH_WO(slot) = d;
    }
    barrier();
    WK_STAMP(5u);
    CFloats part = CFloats(pc.red);
    for (uint c = c_lo + tid; c < c_hi; c += S * P) {
      const uint b = (c - c_lo) * UPR;
      float sum = SH_WO(b);
      for (uint u = 1u; u < UPR; ++u) sum += SH_WO(b + u);
      part.v[256u + h * C + c] = sum;
    }
    const bool last_head = arrive_last(Uints(pc.red), seq, pc.H);
    WK_STAMP(6u);
    if (last_head) {
      for (uint c = c_lo + tid; c < c_hi; c += S * P) {
        float sum = part.v[256u + c];
        for (uint hh = 1u; hh < pc.H; ++hh) sum += part.v[256u + hh * C + c];
        pc.x.v[c] = pc.x.v[c] + sum;
      }
    }
  }
#else
  store_state(sbase, st);
#endif
}

#ifndef PERSISTENT
void main() {
  if ((pc.flags & 512u) != 0u) {
    norm_pass();
    return;
  }
  wkv7_task(gl_WorkGroupID.x);
}
#endif
