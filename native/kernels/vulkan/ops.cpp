#include "kernels/vulkan/ops.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>

#include "core/error.h"
#include "kernels/vulkan/env_knobs.h"

namespace rwkv::vk {

Act ScratchPlan::plane(int64_t n, bool pad) {
  const uint32_t stride = pad ? round_up(n) : uint32_t(n);
  Act a{used_, stride};
  used_ += round_up(int64_t(max_tokens_) * stride);
  return a;
}

Act ScratchPlan::flat(int64_t n) {
  Act a{used_, round_up(n)};
  used_ += round_up(n);
  return a;
}

std::vector<Act> ScratchPlan::row_group(const std::vector<int64_t>& widths) {
  uint32_t stride = 0;
  for (int64_t w : widths) stride += round_up(w);
  const Act base = plane(stride, false);
  std::vector<Act> out;
  uint64_t at = 0;
  for (int64_t w : widths) out.push_back(Act{base.offset + at, stride}), at += round_up(w);
  return out;
}

namespace {

// Mirrors `struct Job` in matvec.comp (std430: 10 addresses, then 8 uints).
struct GpuJob {
  uint64_t x, xq, xd, w, ws, wh, y, aux0, aux1, aux2;
  uint32_t rows, cols, x_stride, y_stride, wg_begin, epilogue, w_row_units, w_row_blocks, w_type, w_pad;
};
static_assert(sizeof(GpuJob) == 120, "must match matvec_job.glsl");

struct MatvecPC {
  uint64_t jobs;
  uint32_t n_jobs, T, rows_per_wg, total_wgs, sg_per_row, fuse_quant;
  uint64_t copy_src, copy_dst;
  uint32_t copy_n, ln_C;
  float ln_eps;
  uint32_t ln_flags;
  uint64_t ln_x, ln_w, ln_b, ln_state, ln_out;
};
static_assert(sizeof(MatvecPC) == 104 && sizeof(MatvecPC) <= 128, "must match matvec.comp");

// LN-prologue matvec (matvec_f32_ln / matvec_f16_ln): every workgroup norms the whole input row, so
// its cost grows with the number of workgroups (each reads x and four C-vectors through L2). Rows per
// workgroup are chosen so that a dispatch has about RWKV_VK_LN_WGS workgroups (default 512; H100:
// 0.4B and 1.5B were fastest at 400-500), or RWKV_VK_LN_ROWS times the plain matvec's rows when set;
// RWKV_VK_LN_THREADS: invocations per workgroup (default 128).
uint32_t ln_rows_factor() {
  static const uint32_t n = env_uint("RWKV_VK_LN_ROWS", 0, 1, 64);
  return n;
}
uint32_t ln_target_wgs() {
  static const uint32_t n = env_uint("RWKV_VK_LN_WGS", 512, 1, 1u << 20);
  return n;
}
uint32_t ln_threads() {
  static const uint32_t n = env_uint("RWKV_VK_LN_THREADS", 128, 128, 1024);
  return n;
}

// Longest input quantized inside the matvec (at most matvec.comp's MAX_XBLOCKS * 32). Measured on an H100
// (RWKV-7 Q8_0): fused beats a separate quantize pass for 2048 columns (12.4 vs 14.8 us for a
// 2048x2048 matrix) but loses for 4096 (0.4B ffn.value: 17.9 us) and 8192 (27.0 vs 21.4 us), since
// every workgroup re-quantizes the whole input.
constexpr int64_t kMaxFusedQuantCols = 2048;
constexpr uint32_t kMaxLnQuantCols = 1024;  // Ops::can_prologue

struct QuantizePC {
  uint64_t src, q, ds;
  uint32_t n_blocks;
};

// Mirrors mix.glsl's push constants.
struct MixPC {
  uint64_t x, w, b, ln, mix, mix_out, state, sx_out;
  uint32_t C, rows, x_stride, out_stride, ln_stride;
  uint32_t n_mix, mode, mix_plane, flags;
  float eps;
  uint32_t split;
  uint32_t state_stride;
};
static_assert(sizeof(MixPC) <= 128, "push constants");

constexpr uint32_t kMatvecThreads = 128;

// gemm.comp's tile: 128 weight rows x 64 tokens per workgroup of 512 invocations.
constexpr uint32_t kGemmRows = 128, kGemmTokens = 64;

// F16 weights: activations split in two FP16 halves (gemm.comp), ~22 bits of x, agreement with the CPU
// to summation order; RWKV_VK_GEMM_SPLIT=0: one FP16 half only (faster, ~1e-3 relative).
bool gemm_split() {
  static const bool on = env_flag("RWKV_VK_GEMM_SPLIT", true);
  return on;
}
// Fewest tokens for which T > 1 matvecs go through gemm.comp where the device has cooperative matrices
// (RWKV_VK_COOP_MIN_T, default 32: below that, e.g. batched decode of 16 streams, a 64-token tile wastes
// most of its work and matvec.comp was faster on an H100).
uint32_t coop_min_tokens() {
  static const uint32_t n = env_uint("RWKV_VK_COOP_MIN_T", 32, 2, 1u << 30);
  return n;
}

// 2 to coop_min_tokens() - 1 tokens (batched decoding) with cooperative matrices: gemm_few.comp for F16
// and quantized weights (RWKV_VK_FEW=0: matvec.comp's T > 1 loop). Its workgroups take kFewRows rows x
// 16 tokens of a job and a share of its columns in chunks of kFewCols; a job's columns are split into
// parts so that a dispatch has about RWKV_VK_FEW_WGS workgroups (default 256, about two a multiprocessor
// on an H100; 1.5B FP16, 16 tokens, ms a step: 128 5.13, 256 4.96, 512 5.62).
constexpr uint32_t kFewRows = 128, kFewCols = 128, kFewTokens = 16;
bool few_enabled() {
  static const bool on = env_flag("RWKV_VK_FEW", true);
  return on;
}
// Quantized weights there too (RWKV_VK_FEW_Q=0: matvec.comp with 8-bit activations): dequantized to FP16
// per subgroup, activations FP16 as in gemm.comp.
bool few_quantized() {
  static const bool on = env_flag("RWKV_VK_FEW_Q", true);
  return on;
}
uint32_t few_target_wgs() {
  static const uint32_t n = env_uint("RWKV_VK_FEW_WGS", 256, 1, Ops::kFewMaxWorkgroups);
  return n;
}

// One token, float weights, a dispatch per op: weight loads each lane keeps in flight in matvec.glsl's
// blocked_rows() (RWKV_VK_MV_LOADS, at most 16; default 0: the older loops, four loads, long rows shared
// between subgroups). H100, GPU replay, 0.4B / 1.5B FP16: 0 1.120 / 2.209 ms, 8 1.102 / 2.209, 16
// 1.142 / 2.300: a dispatch of this size is bound by its launch and ramp, not by loads in flight. The
// persistent step always takes the blocked loop, which it can start before its barrier, with
// persistent_loads() loads unless RWKV_VK_MV_LOADS says otherwise.
uint32_t blocked_loads() {
  static const uint32_t n = env_uint("RWKV_VK_MV_LOADS", 0, 0, 16);
  return n;
}
// The persistent step's loads per lane. It runs one 256-invocation workgroup per multiprocessor, every
// op in one shader, so registers decide its speed: H100, GPU replay ms per token, 0.4B / 1.5B FP16,
// loads 1: 1.511 / 3.719, 2: 1.050 / 2.251, 4: 0.943 / 1.897, 8: 1.199 / 1.889, 16: 1.609 / 2.466
// (dispatches: 1.116 / 2.192). With the later step (LoRA up and the output projection as ops, WKV-7 split
// over 4 workgroups a head), 8 loads took 1.5B from 1.717-1.731 to 1.637 ms and 0.4B from 0.862 to 0.923:
// 8 pays where it is a lane's whole share of a row (per_lane units >= 8: one batch per row), and where it
// would take two rows a batch it costs registers. So: 8 loads for rows of 8 or more units a lane, else 4.
// Except for rows of 2048 columns or more: the Q8_0 step of 1.5B (4 units of 16 int8 a lane, so two rows
// a batch) took 1.519-1.570 ms with 8 loads against 1.668-1.680 with 4 (H100, two sessions), where 0.4B
// (1024 columns) lost with 8 in both types (Q8_0 0.903 -> 1.095, FP16 0.862 -> 0.923).
uint32_t persistent_loads(uint32_t per_lane, uint32_t row_cols) { return per_lane >= 8 || row_cols >= 2048 ? 8 : 4; }

// The persistent step for models with quantized matrices (step7_mixed for Q8_0, step7_nibble for Q4_0, Q4_1,
// Q5_0, Q5_1; RWKV_VK_STEP_Q8=0: a dispatch per op, which quantizes activations to 8 bits as the CPU does).
bool mixed_step_enabled() {
  static const bool on = env_flag("RWKV_VK_STEP_Q8", true);
  return on;
}
bool nibble_type(DType t) { return t == DType::Q4_0 || t == DType::Q4_1 || t == DType::Q5_0 || t == DType::Q5_1; }
bool mixed_type(DType t) { return t == DType::F32 || t == DType::F16 || t == DType::Q8_0 || nibble_type(t); }
// Columns per 16-byte weight unit of the persistent step's loop.
uint32_t unit_cols(DType t) { return t == DType::F32 ? 4 : t == DType::Q8_0 ? 16 : nibble_type(t) ? 32 : 8; }

// T > 1 tokens through matvec.comp (batched decoding of up to 31 sequences, and prompts where the device has
// no cooperative matrices): rows a subgroup takes at a time, each activation unit it loads then serving
// that many rows (RWKV_VK_T_ROWS, 1-8).
uint32_t t_rows() {
  static const uint32_t n = env_uint("RWKV_VK_T_ROWS", 1, 1, 8);
  return n;
}

// Rows per subgroup (RWKV_VK_ROWS_PER_SUBGROUP, default 1): more rows per workgroup, fewer workgroups.
uint32_t rows_per_subgroup() {
  static const uint32_t n = env_uint("RWKV_VK_ROWS_PER_SUBGROUP", 1, 1, 64);
  return n;
}

}  // namespace

Ops::Ops(Device& device, Pipelines& pipelines, const ScratchPlan& plan, const Slice& scratch, const Slice& act_q,
         const Slice& act_d)
    : device_(device), pipelines_(pipelines), plan_(plan), scratch_(scratch), act_q_(act_q), act_d_(act_d) {}

const char* Ops::label_for(const std::string& shader) {
  const std::string name = prefix_.empty() ? shader : prefix_ + ":" + shader;
  for (const auto& s : label_store_)
    if (*s == name) return s->c_str();
  label_store_.push_back(std::make_unique<std::string>(name));
  return label_store_.back()->c_str();
}

void Ops::layer_norm_mix(const Act& x, uint32_t rows, VkDeviceAddress w, VkDeviceAddress b, uint32_t C, float eps,
                         const MixSpec& m) {
  MixPC pc{};
  pc.x = addr(x);
  pc.w = w;
  pc.b = b;
  pc.ln = m.write_ln ? addr(m.ln) : addr(x);
  pc.mix = m.mix ? m.mix : w;
  pc.mix_out = m.n_mix ? addr(m.out) : addr(x);
  pc.state = m.state ? m.state : w;
  pc.sx_out = m.write_sx ? addr(m.sx) : addr(x);
  pc.C = C;
  pc.rows = rows;
  pc.x_stride = x.stride;
  pc.out_stride = m.out.stride;
  pc.ln_stride = m.ln.stride;
  pc.n_mix = uint32_t(m.n_mix);
  pc.mode = m.mode;
  pc.mix_plane = ScratchPlan::round_up(C);
  pc.eps = eps;
  const uint32_t threads = std::min<uint32_t>(256, std::max<uint32_t>(32, C));
  // A workgroup per 256 channels of each row (see layer_norm.comp): one token's norm on one
  // multiprocessor took 30 us for C = 2048 on an H100, most of a layer's non-matmul time.
  pc.split = std::max<uint32_t>(1, (C + 255) / 256);
  if (m.n_mix == 0 && !m.write_sx) {  // a plain norm (the head)
    pc.flags = 1;
    dispatch("layer_norm", {threads}, pc, rows * pc.split);
    barrier();
    return;
  }
  if (rows == 1 || seq_stride_ != 0) {  // one token (per sequence): norm and shift in one dispatch
    pc.flags = 2u | (m.write_ln ? 1u : 0u) | (m.write_sx ? 4u : 0u);
    pc.state_stride = seq_stride_;
    dispatch("layer_norm", {threads}, pc, rows * pc.split);
    barrier();
    return;
  }
  if (!m.write_ln) throw Error(ErrorCode::Internal, "layer_norm_mix: T > 1 needs an ln plane");
  pc.flags = 1;
  dispatch("layer_norm", {threads}, pc, rows * pc.split);
  barrier();
  pc.flags = m.write_sx ? 4u : 0u;
  dispatch("token_mix", {64}, pc, (C + 63) / 64 * rows);  // one invocation per channel and token
  barrier();
}

bool Ops::few_products() const {
  return has_few_area_ && !capture_ && device_.coop_matrix() && few_enabled() && T_ >= 2 && T_ < coop_min_tokens();
}

bool Ops::mixed_op(const std::vector<MatJob>& jobs) const {
  if (!capture_ || T_ != 1 || seq_stride_ != 0 || !mixed_step_enabled()) return false;
  bool quantized = false;
  for (const MatJob& j : jobs) {
    if (!mixed_type(j.m->dtype)) return false;
    // q8_stage() rounds one 32-block of a quantized job's input per invocation.
    if (dtype_is_quantized(j.m->dtype) && j.m->cols > 32 * int64_t(persist_threads_)) return false;
    quantized |= dtype_is_quantized(j.m->dtype);
  }
  return quantized;
}

bool Ops::can_prologue(const std::vector<MatJob>& jobs, uint32_t C) const {
  if (T_ != 1 || seq_stride_ != 0 || C == 0 || C > 4096 || C % 8 != 0) return false;
  // Quantized weights: every workgroup norms, mixes and quantizes the row itself (whole 32-blocks). That
  // pays for the norm dispatch and barrier it saves up to C = 1024 (H100, 0.4B Q8_0 / Q5_1 decode 632 ->
  // 719 / 623 -> 710 tok/s) but not at 2048 (1.5B Q8_0 420 -> 412: its many workgroups each redo 64 blocks).
  // A step7_mixed op quantizes in shared memory, in place, one block per invocation (q8_stage: up to 8192
  // columns), so any C holds there.
  const uint32_t max_quant_cols = mixed_op(jobs) ? 4096 : kMaxLnQuantCols;
  for (const MatJob& j : jobs) {
    if (dtype_is_quantized(j.m->dtype) && (C % 32 != 0 || C > max_quant_cols)) return false;
    if (j.m->cols != int64_t(C) || !j.mix) return false;
  }
  return true;
}

void Ops::matvec(const std::vector<MatJob>& jobs, const LnPrologue* pre, const StateCopy* copy, const GroupNormPrologue* gn) {
  if (pre && !can_prologue(jobs, pre->C)) throw Error(ErrorCode::Internal, "matvec: LN prologue not possible here");
  if (gn && (pre || !capture_ || T_ != 1)) throw Error(ErrorCode::Internal, "matvec: GroupNorm prologue only in the persistent step");
  bool first_group = true;
  uint32_t few_base = 0;  // gemm_few.comp's reduction area taken by this op's dispatches so far
  std::map<DType, std::vector<const MatJob*>> groups;
  // The persistent step of a model with Q8_0 matrices: all jobs one op (step7_mixed), keyed Q8_0.
  const bool mixed = mixed_op(jobs);
  for (const MatJob& j : jobs) groups[mixed ? DType::Q8_0 : j.m->dtype].push_back(&j);
  // One token: each workgroup of a quantized matvec quantizes its own input in shared memory (saves a
  // dispatch and a barrier, ~6 us each on an H100); long inputs (kMaxFusedQuantCols) and T > 1 go
  // through quantize.comp first.
  // T > 1 with cooperative matrices: gemm.comp, FP16 activations (no 8-bit quantization), F16 and
  // quantized weights (F32 weights keep matvec.comp: FP16 would round them).
  auto gemm = [&](DType t) { return device_.coop_matrix() && T_ >= coop_min_tokens() && t != DType::F32; };
  auto few = [&](DType t, const std::vector<const MatJob*>& list) {
    if (!few_products() || pre || t == DType::F32 || mixed) return false;
    if (t != DType::F16 && !few_quantized()) return false;
    for (const MatJob* j : list)  // whole fragments of 16 x 16; vec4 activation loads
      if (j->m->rows % 16 || j->m->cols % 16 || j->x.offset % 4 || j->x.stride % 4) return false;
    return true;
  };
  auto fused = [&](DType t, const std::vector<const MatJob*>& list) {
    if (!dtype_is_quantized(t) || T_ != 1 || mixed) return false;
    for (const MatJob* j : list)
      if (j->m->cols > kMaxFusedQuantCols) return false;
    return true;
  };

  // Quantized weights take 8-bit activations: quantize every float range they read, once, merging
  // overlapping and nearby ranges (a row group read by several jobs is one range).
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const auto& [dtype, list] : groups) {
    if (!dtype_is_quantized(dtype) || mixed || fused(dtype, list) || gemm(dtype) || few(dtype, list)) continue;
    for (const MatJob* j : list) {
      if (j->x.offset % 32 || j->x.stride % 32) throw Error(ErrorCode::Internal, "matvec: quantized input not block aligned");
      const uint64_t end = j->x.offset + uint64_t(T_ - 1) * j->x.stride + uint64_t(j->m->cols);
      ranges.emplace_back(j->x.offset, (end + 31) / 32 * 32);
    }
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 0; i < ranges.size();) {
    uint64_t lo = ranges[i].first, hi = ranges[i].second;
    // Small gaps are quantized too: one dispatch over a few unused vectors beats a second dispatch.
    for (++i; i < ranges.size() && ranges[i].first <= hi + 16384; ++i) hi = std::max(hi, ranges[i].second);
    QuantizePC q{scratch_.address + lo * 4, act_q_.address + lo, act_d_.address + lo / 32 * 8, uint32_t((hi - lo) / 32)};
    dispatch("quantize", {64}, q, (q.n_blocks + 63) / 64);
  }
  if (!ranges.empty()) barrier();

  const uint32_t subgroups = std::max<uint32_t>(1, kMatvecThreads / std::max<uint32_t>(1, subgroup_size()));
  // One job-table entry (matvec.comp / gemm.comp read the same table); the caller picks the activation
  // addresses (floats, 8-bit quants, their scales) and the job's first workgroup.
  auto job_entry = [this](const MatJob& j, VkDeviceAddress x, VkDeviceAddress xq, VkDeviceAddress xd, uint32_t wg_begin) {
    const GpuMatrix& m = *j.m;
    GpuJob g{};
    g.x = x;
    g.xq = xq;
    g.xd = xd;
    g.w = m.w.address;
    g.ws = m.ws.address;
    g.wh = m.wh.address;
    g.y = addr(j.y);
    g.aux0 = addr(j.aux0);
    g.aux1 = addr(j.aux1);
    g.aux2 = j.aux2 ? j.aux2 : g.aux0;
    g.rows = uint32_t(m.rows);
    g.cols = uint32_t(m.cols);
    g.x_stride = j.x.stride;
    g.y_stride = j.y.stride;
    g.wg_begin = wg_begin;
    g.epilogue = uint32_t(j.e);
    g.w_row_units = m.row_units;
    g.w_row_blocks = m.row_blocks;
    g.w_type = uint32_t(m.dtype);
    return g;
  };
  // Job entries of gemm.comp / gemm_few.comp, which read float activations only (absent scale planes
  // point at the weights, never read); `shape(m)` gives a job's workgroups and its K parts (w_pad).
  // Returns the dispatch's push constants.
  auto coop_jobs = [&](DType dtype, const std::vector<const MatJob*>& list, auto shape) {
    const uint64_t table_offset = jobs_.size();
    uint32_t wg = 0;
    for (const MatJob* j : list) {
      if (j->x.offset % 4 || j->x.stride % 4) throw Error(ErrorCode::Internal, "gemm: input not vec4 aligned");
      GpuJob g = job_entry(*j, addr(j->x), addr(j->x), addr(j->x), wg);
      if (!g.ws) g.ws = g.w;
      if (!g.wh) g.wh = g.w;
      const auto [n, parts] = shape(*j->m);
      g.w_pad = parts;
      wg += n;
      const uint8_t* p = reinterpret_cast<const uint8_t*>(&g);
      jobs_.insert(jobs_.end(), p, p + sizeof g);
    }
    if (jobs_.size() > job_table_.size) throw Error(ErrorCode::Internal, "matvec job table overflow");
    MatvecPC pc{};
    pc.jobs = job_table_.address + table_offset, pc.n_jobs = uint32_t(list.size()), pc.T = T_;
    pc.total_wgs = wg, pc.sg_per_row = dtype == DType::F16 && gemm_split() ? 1u : 0u;
    return pc;
  };
  for (auto& [dtype, list] : groups) {
    if (gemm(dtype)) {
      const uint32_t tok_tiles = (T_ + kGemmTokens - 1) / kGemmTokens;
      MatvecPC pc = coop_jobs(dtype, list, [&](const GpuMatrix& m) {
        return std::pair<uint32_t, uint32_t>(uint32_t((m.rows + kGemmRows - 1) / kGemmRows) * tok_tiles, 1);
      });
      pc.rows_per_wg = kGemmRows;
      dispatch(gemm_shader(dtype), {}, pc, pc.total_wgs);
      continue;
    }
    if (few(dtype, list)) {
      const uint32_t tok_tiles = (T_ + kFewTokens - 1) / kFewTokens;
      uint64_t tiles = 0;
      for (const MatJob* j : list) tiles += uint64_t((j->m->rows + kFewRows - 1) / kFewRows) * tok_tiles;
      // K parts per job, so that the dispatch has about few_target_wgs() workgroups. Dispatches of one
      // op (one per weight type) run together: each split one takes its own range of the area's counters
      // and partial tiles (from `few_base`); where none is left, the columns are not split.
      uint64_t parts = std::max<uint64_t>(1, few_target_wgs() / std::max<uint64_t>(1, tiles));
      auto shape = [&](const GpuMatrix& m) {
        const uint64_t ks = std::min<uint64_t>(parts, (m.cols + kFewCols - 1) / kFewCols);
        return std::pair<uint32_t, uint32_t>(uint32_t((m.rows + kFewRows - 1) / kFewRows) * tok_tiles * uint32_t(ks), uint32_t(ks));
      };
      uint64_t total = 0;
      for (const MatJob* j : list) total += shape(*j->m).first;
      if (parts > 1 && few_base + total > kFewMaxWorkgroups) parts = 1;
      MatvecPC pc = coop_jobs(dtype, list, shape);
      pc.rows_per_wg = few_base;  // gemm_few.comp's area_base
      pc.copy_src = addr(few_area_) + uint64_t(kFewMaxWorkgroups) * 4;  // partial tiles
      pc.copy_dst = addr(few_area_);                                     // counters
      if (parts > 1) few_base += pc.total_wgs;
      dispatch(gemm_few_shader(dtype), {}, pc, pc.total_wgs);
      continue;
    }
    // One token: long rows are shared by 2 or 4 subgroups (more loads in flight per row; an H100
    // streamed F16 rows of 8192 at ~1.5 TB/s with one warp per row).
    uint32_t units = 0;
    for (const MatJob* j : list) {
      const int64_t c = j->m->cols;
      units = std::max<uint32_t>(units, uint32_t(dtype == DType::F32 ? c / 4 : dtype == DType::F16 ? c / 8 : c / 32));
    }
    const uint32_t threads = capture_ ? persist_threads_ : pre ? ln_threads() : kMatvecThreads;
    const uint32_t sgs = pre || capture_ ? std::max<uint32_t>(1, threads / std::max<uint32_t>(1, subgroup_size())) : subgroups;
    uint32_t spr = 1;
    if (T_ == 1) {
      const uint32_t per_lane = units / std::max<uint32_t>(1, subgroup_size());
      spr = per_lane >= 16 ? 4 : per_lane >= 8 ? 2 : 1;
      while (spr > 1 && sgs % spr) spr /= 2;
    }
    const bool fuse = fused(dtype, list);
    // Float weights, one token: RB rows per subgroup, U units of each per lane (blocked_rows()).
    std::vector<uint32_t> spec{threads};
    if (T_ == 1 && (!dtype_is_quantized(dtype) || mixed) && (blocked_loads() > 0 || capture_)) {
      // The persistent step compiles one shape for all its matvecs: that of the model's C.
      const uint32_t lane_units = capture_ ? persist_cols_ / unit_cols(persist_dtype_) : units;
      const uint32_t per_lane = (lane_units + subgroup_size() - 1) / std::max<uint32_t>(1, subgroup_size());
      uint32_t u = 1;
      const uint32_t loads = blocked_loads() ? blocked_loads() : persistent_loads(per_lane, persist_cols_);
      while (u < per_lane && u < loads) u *= 2;
      const uint32_t rb = std::max<uint32_t>(1, loads / u);
      spr = 1;
      spec = {threads, rb, u};
    } else if (T_ > 1) {
      spec = {threads, 0, 4, t_rows()};  // RB 0, U 4: matvec.glsl's defaults; TR rows a subgroup at a time
    }
    // Rows a subgroup takes at a time: RB (blocked loop), TR (T > 1), else one.
    const uint32_t sg_rows = spec.size() > 3 ? spec[3] : spec.size() > 1 ? spec[1] : 1;
    // A workgroup that quantizes its input does more rows, so each quantization serves more weights.
    uint32_t rpw = std::max<uint32_t>(1, sgs / spr) * sg_rows * rows_per_subgroup() * (fuse ? 4 : 1);
    if (capture_) {  // about one task per workgroup of the persistent step (of the op's group)
      uint64_t rows = 0;
      for (const MatJob* j : list) rows += uint64_t(j->m->rows);
      const uint64_t wgs = std::max<uint32_t>(1, group_workgroups());
      const uint64_t want = (rows + wgs - 1) / wgs;
      rpw = uint32_t(std::max<uint64_t>(1, (want + rpw - 1) / rpw)) * rpw;
    } else if (pre) {
      uint64_t rows = 0;
      for (const MatJob* j : list) rows += uint64_t(j->m->rows);
      const uint64_t want = (rows + ln_target_wgs() - 1) / ln_target_wgs();
      rpw *= ln_rows_factor() ? ln_rows_factor() : uint32_t(std::clamp<uint64_t>((want + rpw / 2) / rpw, 1, 64));
    }
    const uint64_t table_offset = jobs_.size();
    uint32_t wg = 0;
    for (const MatJob* j : list) {
      const GpuMatrix& m = *j->m;
      const GpuJob g = job_entry(*j, pre ? j->mix : addr(j->x), act_q_.address + j->x.offset,
                                 act_d_.address + j->x.offset / 32 * 8, wg);
      wg += uint32_t((m.rows + rpw - 1) / rpw);
      const uint8_t* p = reinterpret_cast<const uint8_t*>(&g);
      jobs_.insert(jobs_.end(), p, p + sizeof g);
    }
    if (jobs_.size() > job_table_.size) throw Error(ErrorCode::Internal, "matvec job table overflow");
    MatvecPC pc{};
    pc.jobs = job_table_.address + table_offset, pc.n_jobs = uint32_t(list.size()), pc.T = T_;
    pc.rows_per_wg = rpw, pc.total_wgs = wg, pc.sg_per_row = spr, pc.fuse_quant = fuse ? 1u : 0u;
    pc.copy_src = pc.copy_dst = pc.jobs;
    pc.ln_x = pc.ln_w = pc.ln_b = pc.ln_state = pc.ln_out = pc.jobs;
    if (copy && first_group) pc.copy_src = addr(copy->src), pc.copy_dst = copy->dst, pc.copy_n = copy->n;
    bool nibbles = false;  // a mixed op with Q4/Q5 jobs: step7_nibble's (persistent_step.cpp)
    for (const MatJob* j : list) nibbles |= nibble_type(j->m->dtype);
    std::string shader = !mixed ? matvec_shader(dtype) : nibbles ? "matvec_nibble" : "matvec_mixed";  // the name a captured op goes by
    if (pre) {
      shader += "_ln";
      pc.ln_C = pre->C, pc.ln_eps = pre->eps, pc.ln_flags = first_group && pre->write_ln ? 1u : 0u;
      pc.ln_x = addr(pre->x), pc.ln_w = pre->w, pc.ln_b = pre->b, pc.ln_state = pre->state, pc.ln_out = addr(pre->ln_out);
    }
    if (gn) {
      pc.ln_flags |= 4u, pc.ln_C = gn->head_size, pc.ln_eps = gn->eps;
      pc.ln_x = gn->g, pc.ln_w = gn->w, pc.ln_b = gn->b, pc.ln_state = gn->bonus, pc.ln_out = gn->v;
    }
    first_group = false;
    dispatch(shader, spec, pc, wg);
  }
  barrier();
}

}  // namespace rwkv::vk
