// RWKV-7 on the GPU (models/v7.cpp). Per layer and token step, 7 dispatches for one token per sequence
// (4 for one token of one sequence with float weights: LN1/LN2 inside the next matvec, see fuse_ln, and
// x += Wo·y inside WKV-7, see wo_fuse), more for sequences (+ activation quantization for quantized weights):
//   LN1 + six token-shift mixes -> r, k, v, and the LoRA down-projections (one matvec dispatch)
//   -> LoRA up-projections (inside WKV-7 for one token per sequence) -> fused WKV-7 (decay, a, value
//   residual, κ̂, state, GroupNorm, bonus, gate) -> x += Wo·y -> LN2 + mix -> relu²(Wk·x) -> x += Wv·k
#include <algorithm>
#include <string>

#include "core/error.h"
#include "kernels/vulkan/env_knobs.h"
#include "kernels/vulkan/gpu_layers.h"

namespace rwkv::vk {
namespace {

struct LayerV7 {
  Slice ln1_w, ln1_b, ln2_w, ln2_b;  // (C)
  Slice mix;                         // x_rwkvag: (6, C) in the order r, w, k, v, a, g
  Slice params;                      // (8, C): w0, a0, v0, k_k, k_a, r_k, ln_x.weight, ln_x.bias
  Slice ffn_mix;                     // ffn.x_k (C)
  GpuMatrix receptance, key, value, output;  // (C, C)
  GpuMatrix w1, a1, g1, v1;                  // (C, D*)
  GpuMatrix w2, a2, g2, v2;                  // (D*, C)
  GpuMatrix ffn_key, ffn_value;              // (C, F), (F, C)
};

struct WkvPC {
  uint64_t io, params, state, lora, w2, a2, g2, v2;
  uint32_t H, T, stride, flags;
  float eps;
  uint32_t state_stride;  // batched decode: floats between sequences' states (wkv7.comp)
  uint32_t plane, lora_stride, dwa, dgv;
};
static_assert(sizeof(WkvPC) <= 128, "push constants");

// Invocations per WKV-7 state row for one token per sequence (RWKV_VK_WKV_P overrides, for
// measurements): `preferred` (4: a head's workgroup has 256 invocations and a quarter of the dependent
// steps; 8 for batched decode, below) where S allows.
uint32_t wkv_split(uint32_t S, uint32_t preferred) {
  static const uint32_t forced = env_uint("RWKV_VK_WKV_P", 0, 1, 1024);
  for (uint32_t p : {forced > 0 ? forced : preferred, 4u, 2u, 1u})
    if (S % p == 0 && S * p <= 1024) return p;
  return 1;
}

// Deferred GroupNorm for sequences (RWKV_VK_WKV_DEFER=0 turns it off, for measurements).
// Invocations per WKV-7 state row for sequences (T > 1; RWKV_VK_WKV_SEQ_P). Two halve each token's
// dependent chain of 2 x S fmas per row at the cost of one subgroup shuffle per sum; more cost more
// than they save, as the token loop is one workgroup per head (H100, prefill 512 tokens, tok/s, P = 1 / 2
// / 4 / 8: 1.5B FP16 9970 / 11180 / 8940 / 8110, 0.4B FP16 18200 / 21600 / 15670 / 13740).
uint32_t seq_wkv_split(uint32_t S) {
  static const uint32_t forced = env_uint("RWKV_VK_WKV_SEQ_P", 2, 1, 16);
  for (uint32_t p : {forced, 2u, 1u})
    if (S % p == 0 && S * p <= 1024) return p;
  return 1;
}

bool wkv_defer_default() {
  static const bool on = env_flag("RWKV_VK_WKV_DEFER", true);
  return on;
}

// LoRA up-projections inside the WKV-7 dispatch (F32/F16 matrices; RWKV_VK_WKV_LORA=0 turns it off).
bool fuse_lora_default() {
  static const bool on = env_flag("RWKV_VK_WKV_LORA", true);
  return on;
}
bool fuse_lora_forced() {
  static const bool set = std::getenv("RWKV_VK_WKV_LORA") && *std::getenv("RWKV_VK_WKV_LORA");
  return set;
}
constexpr uint64_t kStepLoraBytes = 48 << 10;

// LN1 + mixes and LN2 + mix computed inside the following matvec (one token, one sequence, float
// weights; RWKV_VK_LN_FUSE=0 turns it off): 5 dispatches per layer instead of 7.
bool ln_fuse_default() {
  static const bool on = env_flag("RWKV_VK_LN_FUSE", true);
  return on;
}

// x += Wo·WKV-7 inside the WKV-7 dispatch (wkv7.comp WO_FUSE; one token of one sequence, F32/F16 Wo,
// with the LN prologue and the fused LoRA; RWKV_VK_WO_FUSE=0 turns it off): H * R workgroups, R row
// chunks of Wo (RWKV_VK_WO_R; default C / 256: 256 rows a workgroup, best on an H100 for 0.4B and 1.5B).
bool wo_fuse_default() {
  static const bool on = env_flag("RWKV_VK_WO_FUSE", true);
  return on;
}
// The persistent step: the output projection as a matvec op after WKV-7 instead of inside it
// (RWKV_VK_STEP_WO=0 puts it back inside). A grid barrier costs far less than a dispatch, and a matvec
// streams Wo over every multiprocessor instead of each WKV-7 workgroup loading its slice besides its
// head's work (H100, GPU replay ms per token, inside / op: 1.5B FP16 1.998 / 1.853, 0.4B 0.972 / 0.904).
bool step_wo_op() {
  static const bool on = env_flag("RWKV_VK_STEP_WO", true);
  return on;
}
// The persistent step with the output projection as its own op: each head's WKV-7 state rows split over
// RWKV_VK_WKV_SPLIT workgroups (default 8 or 4, below; 1: one workgroup per head), the GroupNorm moved into the
// projection's input staging (matvec.glsl gn_stage), the LoRA up-projections then always their own op.
// H100, GPU replay ms per token, 1 / 4 parts (two runs): 1.5B FP16 1.755, 1.729 / 1.702, 1.690; 0.4B FP16
// 0.920, 0.921 / 0.860, 0.854.
// Eight parts where the heads' 8 workgroups each fit the step's workgroups at once (0.4B: 16 heads x 8 of
// 132; H100, GPU replay ms per token, 4 / 8 parts, two rounds: 0.4B FP16 0.862, 0.858 / 0.849, 0.846, 0.4B
// Q8_0 0.903 / 0.890, 0.889); four otherwise (1.5B: 32 heads x 8 take two rounds, 1.655-1.657 against
// 1.634 with 4).
uint32_t wkv_split_parts(uint32_t heads, uint32_t workgroups) {
  static const uint32_t n = env_uint("RWKV_VK_WKV_SPLIT", 0, 1, 16);
  if (n) return n;
  return heads * 8 <= workgroups ? 8 : 4;
}
uint32_t wo_chunks() {
  static const uint32_t n = env_uint("RWKV_VK_WO_R", 0, 1, 128);  // 0: C / 256 (256 rows of Wo a workgroup)
  return n;
}
struct WkvWoPC {
  uint64_t io, params, state, lora, w2, a2, g2, v2, wo, x, red, copy_src;
  uint32_t H, flags;
  float eps;
  uint32_t plane, dwa, dgv, wo_units, R;
};
static_assert(sizeof(WkvWoPC) <= 128, "push constants");


class GpuV7 final : public GpuLayers {
 public:
  explicit GpuV7(LayerBuild& b) : info_(b.info) {
    const int64_t C = info_.n_embd, F = info_.ffn_size;
    const WeightBinder& w = b.w;
    auto rank = [&](const char* name) { return w.get(std::string("blocks.0.att.") + name).rows(); };
    const int64_t Dw = rank("w1"), Da = rank("a1"), Dg = rank("g1");
    const int64_t Dv = info_.n_layer > 1 ? w.get("blocks.1.att.v1").rows() : 1;
    auto vec = [&](const std::vector<float>& v) { return b.floats({v}); };
    for (int l = 0; l < b.n_layers; ++l) {
      const std::string p = "blocks." + std::to_string(l) + ".";
      LayerV7 L;
      L.ln1_w = vec(w.vec(p + "ln1.weight", C)); L.ln1_b = vec(w.vec(p + "ln1.bias", C));
      L.ln2_w = vec(w.vec(p + "ln2.weight", C)); L.ln2_b = vec(w.vec(p + "ln2.bias", C));
      L.mix = vec(w.vec(p + "att.x_rwkvag", 6 * C));
      L.params = b.floats({w.vec(p + "att.w0", C), w.vec(p + "att.a0", C),
                           l > 0 ? w.vec(p + "att.v0", C) : std::vector<float>(size_t(C), 0.0f), w.vec(p + "att.k_k", C),
                           w.vec(p + "att.k_a", C), w.vec(p + "att.r_k", C), w.vec(p + "att.ln_x.weight", C),
                           w.vec(p + "att.ln_x.bias", C)});
      L.ffn_mix = vec(w.vec(p + "ffn.x_k", C));
      L.receptance = b.matrix(p + "att.receptance.weight", C, C);
      L.key = b.matrix(p + "att.key.weight", C, C);
      L.value = b.matrix(p + "att.value.weight", C, C);
      L.output = b.matrix(p + "att.output.weight", C, C);
      L.w1 = b.matrix(p + "att.w1", C, Dw); L.w2 = b.matrix(p + "att.w2", Dw, C);
      L.a1 = b.matrix(p + "att.a1", C, Da); L.a2 = b.matrix(p + "att.a2", Da, C);
      L.g1 = b.matrix(p + "att.g1", C, Dg); L.g2 = b.matrix(p + "att.g2", Dg, C);
      if (l > 0) { L.v1 = b.matrix(p + "att.v1", C, Dv); L.v2 = b.matrix(p + "att.v2", Dv, C); }
      L.ffn_key = b.matrix(p + "ffn.key.weight", C, F);
      L.ffn_value = b.matrix(p + "ffn.value.weight", F, C);
      layers_.push_back(std::move(L));
    }
    ScratchPlan& s = b.plan;
    ln_ = s.plane(C);
    mixes_ = s.row_group({C, C, C, C, C, C});  // xr, xw, xk, xv, xa, xg
    lora_ = s.row_group({Dw, Da, Dg, Dv});
    // Everything the WKV kernel reads or writes shares one row stride: r, k, v, wl, al, g, vl, v_first, y.
    wkv_ = s.row_group({C, C, C, C, C, C, C, C, C});
    ffn_x_ = s.plane(C);
    ffn_k_ = s.plane(F);
    // wkv7.comp WO_FUSE's reduction area (zeroed with the scratch; every step leaves its counters at
    // zero): counters, then one partial row per head.
    wo_red_ = s.flat(256 + std::max<int64_t>(info_.n_head, 2) * C);  // also a split WKV-7's bonus and v (2C)
  }

  const Act* v_first() const override { return &wkv_[7]; }
  DType matrix_dtype() const override { return layers_.empty() ? DType::F16 : layers_[0].key.dtype; }

  void record(int l, Ops& ops, const Act& x, VkDeviceAddress state) const override {
    const LayerV7& L = layers_[size_t(l)];
    const uint32_t C = uint32_t(info_.n_embd), T = ops.T();
    const Act &xr = mixes_[0], &xw = mixes_[1], &xk = mixes_[2], &xv = mixes_[3], &xa = mixes_[4], &xg = mixes_[5];
    const Act &r = wkv_[0], &k = wkv_[1], &v = wkv_[2], &wl = wkv_[3], &al = wkv_[4], &g = wkv_[5], &vl = wkv_[6];
    const Act &y = wkv_[8];
    // Mix vectors of x_rwkvag, in the order r, w, k, v, a, g (LN prologue only).
    auto mixv = [&](int j) { return L.mix.address + uint64_t(j) * C * 4; };
    std::vector<MatJob> down = {
        {&L.receptance, xr, r}, {&L.key, xk, k}, {&L.value, xv, v},
        {&L.w1, xw, lora_[0], Epilogue::Tanh}, {&L.a1, xa, lora_[1]}, {&L.g1, xg, lora_[2], Epilogue::Sigmoid}};
    if (l > 0) down.push_back({&L.v1, xv, lora_[3]});
    const int mix_of[7] = {0, 2, 3, 1, 4, 5, 3};
    for (size_t i = 0; i < down.size(); ++i) down[i].mix = mixv(mix_of[i]);
    std::vector<MatJob> ffn_key = {{&L.ffn_key, ffn_x_, ffn_k_, Epilogue::Relu2}};
    ffn_key[0].mix = L.ffn_mix.address;
    // One token of one sequence with float weights: the norms and token shifts run inside the matvecs
    // that read them; the shift states are replaced by the next matvec (after its barrier).
    const bool fuse_ln = ln_fuse_default() && ops.can_prologue(down, C) && ops.can_prologue(ffn_key, C);
    const uint64_t att_xx = state + uint64_t(C) * 4, ffn_xx = state;
    LnPrologue pre1{x, L.ln1_w.address, L.ln1_b.address, att_xx, ln_, C, 1e-5f};
    LnPrologue pre2{x, L.ln2_w.address, L.ln2_b.address, ffn_xx, ln_, C, 1e-5f};
    StateCopy copy1{ln_, att_xx, C}, copy2{ln_, ffn_xx, C};
    if (!fuse_ln) {
      const MixSpec att{.n_mix = 6, .mode = 2, .mix = L.mix.address, .out = mixes_[0], .state = att_xx,
                        .write_ln = T > 1, .ln = ln_};
      ops.set_label("ln1+mix");
      ops.layer_norm_mix(x, T, L.ln1_w.address, L.ln1_b.address, C, 1e-5f, att);
    }
    const GpuMatrix* ups[4] = {&L.w2, &L.a2, &L.g2, l > 0 ? &L.v2 : nullptr};
    // One token per sequence (decode, batched decode): LoRA up-projections inside WKV-7 and 4 invocations
    // per state row. Sequences (T > 1) keep the separate up-projection (inside, its barriers per token cost
    // more than they save: H100, 0.4B prefill 2320 vs 2980 tok/s) and 2 invocations per row.
    const bool one_token = T == 1 || ops.seq_state_stride() != 0;
    const bool persistent = ops.persistent_workgroups() != 0;
    const uint32_t S = uint32_t(info_.head_size);
    bool fuse = one_token && fuse_lora_default();
    // Batched decode whose matrix products run on the matrix units (gemm_few): the LoRA up-projections as
    // such a product too, and 8 invocations per state row. Fused, each (head, sequence) workgroup loads its
    // head's LoRA rows, 16 times over for 16 sequences (H200, 16 streams, GPU replay ms a step, fused with
    // 4 per row -> own op with 8: 1.5B FP16 3.94-4.12 -> 3.62-3.64, 1.5B Q8_0 4.87-4.91 -> 4.60, 0.4B FP16
    // 2.32-2.33 -> 2.25; own op with 4 / 16: 1.5B FP16 3.77-3.79 / 3.70). RWKV_VK_WKV_LORA=1 keeps it fused.
    const bool batched_few = ops.seq_state_stride() != 0 && ops.few_products();
    if (batched_few && !fuse_lora_forced()) fuse = false;
    uint32_t f16_mask = 0;
    uint32_t lora_in = 0;          // the up-projections' inputs, staged in shared memory (wkv7.glsl MAX_LORA_X)
    uint64_t lora_head_bytes = 0;  // a head's rows of them
    for (int m = 0; m < 4; ++m) {
      if (!ups[m]) continue;
      lora_in += (uint32_t(ups[m]->cols) + 31) / 32 * 32;
      lora_head_bytes += uint64_t(ups[m]->cols) * S * (ups[m]->dtype == DType::F16 ? 2 : 4);
      if (ups[m]->dtype == DType::F16) f16_mask |= 1u << m;
      else if (ups[m]->dtype != DType::F32) fuse = false;
    }
    if (lora_in > 1024) fuse = false;
    // The persistent step runs WKV-7 on one workgroup per head (the output projection is its own op), so
    // a head's LoRA rows load through one multiprocessor: past kStepLoraBytes they run as a matvec op over
    // all of them (H100, GPU replay ms per token, fused / op: 1.5B FP16 (64 KB a head) 1.853 / 1.779,
    // 0.4B (36 KB) 0.904 / 0.921). RWKV_VK_WKV_LORA=0/1 decides instead where set.
    if (persistent && lora_head_bytes > kStepLoraBytes && !fuse_lora_forced()) fuse = false;
    // WKV-7 split over workgroups per head (gn_stage holds at most 8 channels per invocation, a head's in
    // whole subgroups or one); its workgroups then need the up-projections' outputs from an op before.
    const uint32_t sg = ops.subgroup_size();
    const uint32_t parts = wkv_split_parts(uint32_t(info_.n_head), ops.persistent_workgroups());
    const bool can_split = persistent && step_wo_op() && S % parts == 0 && C <= 8 * int64_t(ops.persistent_threads()) &&
                           (S % sg == 0 || S < sg);
    const uint32_t split = can_split ? parts : 1;
    if (split > 1) fuse = false;
    std::vector<MatJob> up = {{&L.w2, lora_[0], wl}, {&L.a2, lora_[1], al}, {&L.g2, lora_[2], g}};
    if (l > 0) up.push_back({&L.v2, lora_[3], vl});
    // The persistent step with a side group: the LoRA down- and up-projections on the side group's
    // workgroups while the rest stream r, k and v (one op's length instead of two ops and a grid barrier:
    // the up-projections wait for the down ones, not for r, k, v). Only the r, k, v op writes the norm.
    if (!fuse && fuse_ln && ops.persistent_side_workgroups() > 0) {
      using G = Ops::StepGroup;
      const std::vector<MatJob> rkv(down.begin(), down.begin() + 3), lora_down(down.begin() + 3, down.end());
      LnPrologue pre1_side = pre1;
      pre1_side.write_ln = false;
      ops.set_step_group(G::Main);
      ops.set_label("att.ln1+rkv");
      ops.matvec(rkv, &pre1);
      ops.set_step_group(G::Side);
      ops.set_label("att.ln1+lora_down");
      ops.matvec(lora_down, &pre1_side);
      ops.set_label("att.lora_up");
      ops.matvec(up);
      ops.set_step_group(G::All);
    } else {
      ops.set_label(fuse_ln ? "att.ln1+rkv+lora_down" : "att.rkv+lora_down");
      ops.matvec(down, fuse_ln ? &pre1 : nullptr);
      if (!fuse) {
        ops.set_label("att.lora_up");
        ops.matvec(up);
      }
    }

    WkvPC pc{};
    pc.io = ops.addr(r);
    pc.plane = uint32_t(k.offset - r.offset);
    pc.params = L.params.address;
    pc.state = state + uint64_t(2 * C) * 4;
    pc.lora = ops.addr(lora_[0]);
    pc.lora_stride = lora_[0].stride;
    pc.w2 = L.w2.w.address, pc.a2 = L.a2.w.address, pc.g2 = L.g2.w.address;
    pc.v2 = l > 0 ? L.v2.w.address : pc.w2;
    pc.dwa = uint32_t(L.w2.cols) | uint32_t(L.a2.cols) << 16;
    pc.dgv = uint32_t(L.g2.cols) | (l > 0 ? uint32_t(L.v2.cols) : 0u) << 16;
    pc.H = uint32_t(info_.n_head), pc.T = T, pc.stride = r.stride;
    pc.flags = (l == 0 ? 1u : 0u) | (fuse ? 2u | f16_mask << 4 : 0u);
    pc.eps = info_.group_norm_eps;
    pc.state_stride = ops.seq_state_stride();
    uint32_t P = one_token ? wkv_split(S, batched_few ? 8u : 4u) : seq_wkv_split(S);
    if (persistent && ops.persistent_threads() % S == 0 && ops.persistent_threads() / S <= S)
      P = ops.persistent_threads() / S;  // the step's workgroup size (else the plan finds no match: dispatches)
    // The state as vec4 (wkv7.glsl load_state): 16-byte aligned for every sequence, whole vec4 per part.
    if (pc.state % 16 == 0 && pc.state_stride % 4 == 0 && (S / P) % 4 == 0) pc.flags |= 4096u;
    // The persistent step takes this form for any output type: there the projection is an op of its own
    // (step_wo_op), and WKV-7 never reads Wo.
    const bool wo_fuse = (fuse || persistent) && fuse_ln && T == 1 && ops.seq_state_stride() == 0 && wo_fuse_default() &&
                         (L.output.dtype == DType::F16 || L.output.dtype == DType::F32 || (persistent && step_wo_op())) &&
                         pc.H <= 128;
    if (wo_fuse) {
      WkvWoPC q{};
      q.io = pc.io, q.params = pc.params, q.state = att_xx, q.lora = pc.lora;  // the WKV state follows att_xx
      q.w2 = pc.w2, q.a2 = pc.a2, q.g2 = pc.g2, q.v2 = pc.v2;
      q.wo = L.output.w.address, q.x = ops.addr(x), q.red = ops.addr(wo_red_), q.copy_src = ops.addr(ln_);
      q.H = pc.H, q.flags = pc.flags, q.eps = pc.eps, q.plane = pc.plane, q.dwa = pc.dwa, q.dgv = pc.dgv;
      q.wo_units = L.output.row_units, q.R = wo_chunks() ? wo_chunks() : std::clamp<uint32_t>(C / 256, 1, 128);
      // The persistent step: the output projection an op after this one (y to the io plane, the state
      // written by each head's `split` workgroups), or H * R tasks, R so that they take one round.
      const bool wo_op = persistent && step_wo_op();
      if (wo_op) q.R = split, q.flags |= 1024u | (split > 1 ? 2048u : 0u);
      else if (persistent && !wo_chunks()) q.R = std::clamp<uint32_t>(ops.persistent_workgroups() / q.H, 1, 128);
      const uint32_t upr = S / (L.output.dtype == DType::F32 ? 4u : 8u), cr = (C + q.R - 1) / q.R;  // as the shader named below
      const uint32_t nslot = wo_op ? 1u : (cr * upr + S * P - 1) / (S * P);
      ops.set_label(wo_op ? "att.wkv7" : "att.wkv7+output");
      ops.dispatch(L.output.dtype == DType::F32 ? "wkv7_wo_f32" : "wkv7_wo_f16", {S * P, S, P, nslot}, q, q.H * q.R);
      ops.barrier();
      if (wo_op) {
        ops.set_label("att.output");
        const GroupNormPrologue gn{ops.addr(g), L.params.address + uint64_t(6 * C) * 4, L.params.address + uint64_t(7 * C) * 4,
                                   ops.addr(wo_red_) + 256 * 4, ops.addr(wo_red_) + (256 + uint64_t(C)) * 4, S, info_.group_norm_eps};
        ops.matvec({{&L.output, y, x, Epilogue::Add}}, nullptr, nullptr, split > 1 ? &gn : nullptr);
      }
    } else {
      ops.set_label(fuse ? "att.lora_up+wkv7" : "att.wkv7");
      // Sequences: GroupNorm, bonus and gate in a second dispatch over every (head, token) (wkv7.comp,
      // "deferred norm"), taking 6 barriers per token out of the sequential loop.
      const bool defer = !one_token && wkv_defer_default();
      if (defer) pc.flags |= 256u;
      ops.dispatch("wkv7", {S * P, S, P}, pc, pc.H * (pc.state_stride ? T : 1u));
      ops.barrier();
      if (defer) {
        pc.flags = (pc.flags & ~256u) | 512u;
        ops.set_label("att.wkv7_norm");
        ops.dispatch("wkv7", {S * P, S, P}, pc, pc.H * T);
        ops.barrier();
      }
      ops.set_label("att.output");
      ops.matvec({{&L.output, y, x, Epilogue::Add}}, nullptr, fuse_ln ? &copy1 : nullptr);
    }

    if (!fuse_ln) {
      const MixSpec ffn{.n_mix = 1, .mode = 2, .mix = L.ffn_mix.address, .out = ffn_x_, .state = ffn_xx,
                        .write_ln = T > 1, .ln = ln_};
      ops.set_label("ln2+mix");
      ops.layer_norm_mix(x, T, L.ln2_w.address, L.ln2_b.address, C, 1e-5f, ffn);
    }
    ops.set_label(fuse_ln ? "ffn.ln2+key" : "ffn.key");
    ops.matvec(ffn_key, fuse_ln ? &pre2 : nullptr);
    ops.set_label("ffn.value");
    ops.matvec({{&L.ffn_value, ffn_k_, x, Epilogue::Add}}, nullptr, fuse_ln ? &copy2 : nullptr);
  }

 private:
  ModelInfo info_;
  std::vector<LayerV7> layers_;
  Act ln_, ffn_x_, ffn_k_, wo_red_;
  std::vector<Act> mixes_, lora_, wkv_;
};

}  // namespace

std::unique_ptr<GpuLayers> make_gpu_v7(LayerBuild& b) { return std::make_unique<GpuV7>(b); }

}  // namespace rwkv::vk
