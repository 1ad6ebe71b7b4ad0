// Ops: records the GPU work of a layer, one call per op, into a token step's command buffer.
// Activations live in one scratch buffer as planes of (max_tokens, stride) floats (Act); each op takes
// its inputs and outputs as Acts and ends with a barrier, so the next op sees its results.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/vulkan/recorder.h"
#include "kernels/vulkan/weights.h"

namespace rwkv::vk {

// A (T, stride) float plane in the scratch buffer, `offset` floats from its start.
struct Act {
  uint64_t offset = 0;
  uint32_t stride = 0;
  Act at(uint64_t floats) const { return Act{offset + floats, stride}; }  // a column range inside the plane
};

// Lays out planes before the scratch buffer exists; widths are padded to 32 floats so that every row
// starts on a quantization block (quantize.comp) and on a 16-byte boundary (vec4 loads).
class ScratchPlan {
 public:
  explicit ScratchPlan(uint32_t max_tokens) : max_tokens_(max_tokens) {}
  Act plane(int64_t n, bool pad = true);
  // Several vectors per token in one row: token t holds [v0 | v1 | ...] (each padded), so what one
  // token step reads (e.g. the six v7 mixes) is one contiguous range, whatever max_tokens is.
  std::vector<Act> row_group(const std::vector<int64_t>& widths);
  // `n` floats once (not per token): the reduction area of wkv7.comp's fused output projection.
  Act flat(int64_t n);
  uint64_t floats() const { return used_; }
  uint32_t max_tokens() const { return max_tokens_; }
  static uint32_t round_up(int64_t n) { return uint32_t((n + 31) / 32 * 32); }

 private:
  uint32_t max_tokens_;
  uint64_t used_ = 0;
};

enum class Epilogue : uint32_t { None = 0, Tanh = 1, Sigmoid = 2, Relu2 = 3, Add = 4, GatedAdd = 5, Silu = 6, Ddlerp = 7 };

struct MatJob {
  const GpuMatrix* m;
  Act x;   // (T, m->cols) input
  Act y;   // (T, m->rows) output
  Epilogue e = Epilogue::None;
  Act aux0{}, aux1{};          // GatedAdd: aux0 = gate; Ddlerp: aux0 = x, aux1 = sx
  VkDeviceAddress aux2 = 0;    // Ddlerp: the per-row mix vector
  VkDeviceAddress mix = 0;     // with a LnPrologue: this job's (C) token-shift mix vector (x unused)
};

// One token, float weights: the matvec norms `x` and mixes it with the shift state itself, per
// workgroup (matvec_f32_ln / matvec_f16_ln), instead of reading a row written by layer_norm_mix.
// The state is only read; workgroup 0 writes the normed row to `ln_out`, and a later dispatch copies
// it into the state (StateCopy) once every reader of the state is behind a barrier.
struct LnPrologue {
  Act x;                       // (C) residual row
  VkDeviceAddress w = 0, b = 0;
  VkDeviceAddress state = 0;   // (C) previous token's normed row
  Act ln_out;                  // (C) this token's normed row
  uint32_t C = 0;
  float eps = 1e-5f;
  bool write_ln = true;        // false: another op of the same row writes ln_out
};
// The persistent step's output projection after a split WKV-7 (wkv7.glsl flag 2048): its input, raw
// y rows, is group-normed per head, plus the bonus r*kt*r_k summed over the head times v, times the gate,
// as each workgroup stages it (matvec.glsl gn_stage).
struct GroupNormPrologue {
  VkDeviceAddress g = 0, w = 0, b = 0;  // (C) gate, GroupNorm weight and bias
  VkDeviceAddress bonus = 0, v = 0;     // (C) r*kt*r_k per channel, the mixed v
  uint32_t head_size = 0;
  float eps = 0;
};
struct StateCopy {
  Act src;
  VkDeviceAddress dst = 0;
  uint32_t n = 0;
};

// What layer_norm + token shift writes (see shaders/mix.glsl).
struct MixSpec {
  int n_mix = 0;          // 0: layer norm only
  uint32_t mode = 2;      // 1 lerp (v4, v5), 2 x + (prev - x)*m (v6, v7)
  VkDeviceAddress mix = 0;    // (n_mix, C)
  Act out{};                  // first of n_mix vectors of one row group (ScratchPlan::row_group), width C each
  VkDeviceAddress state = 0;  // (C) shift state
  bool write_ln = false;      // also keep the normed rows in `ln`
  Act ln{};
  bool write_sx = false;      // v6: prev - cur, same stride as ln
  Act sx{};
};

class Ops {
 public:
  Ops(Device& device, Pipelines& pipelines, const ScratchPlan& plan, const Slice& scratch, const Slice& act_q,
      const Slice& act_d);

  // seq_state_stride != 0: batched decode, the T rows are one token each of T sequences whose states
  // lie seq_state_stride floats apart (token shift and WKV per row); 0: T tokens of one sequence.
  void begin(Recorder& rec, uint32_t T, uint32_t seq_state_stride = 0) { rec_ = &rec, T_ = T, seq_stride_ = seq_state_stride; }
  uint32_t seq_state_stride() const { return seq_stride_; }
  // Whether this step's F16 and quantized matrix products of whole 16 x 16 fragments run as gemm_few.comp
  // (2 to coop_min_tokens() - 1 rows, cooperative matrices, the reduction area planned).
  bool few_products() const;
  Recorder& rec() { return *rec_; }
  uint32_t T() const { return T_; }
  VkDeviceAddress addr(const Act& a) const { return scratch_.address + a.offset * 4; }
  Slice slice(const Act& a, uint64_t floats) const { return sub(scratch_, a.offset * 4, floats * 4); }
  Pipelines& pipelines() { return pipelines_; }
  uint32_t subgroup_size() const { return device_.subgroup_size(); }

  // Rows of x (T rows of C, stride x.stride) normed into mix planes / ln; then token shift.
  void layer_norm_mix(const Act& x, uint32_t rows, VkDeviceAddress w, VkDeviceAddress b, uint32_t C, float eps,
                      const MixSpec& mix);
  // Any number of independent matrix-vector products over T tokens (grouped by weight type).
  void matvec(const std::vector<MatJob>& jobs, const LnPrologue* pre = nullptr, const StateCopy* copy = nullptr,
              const GroupNormPrologue* gn = nullptr);
  // Whether matvec() can take `pre` for these jobs (T = 1, one sequence, float weights, C <= 4096).
  bool can_prologue(const std::vector<MatJob>& jobs, uint32_t C) const;
  template <class PC>
  void dispatch(const std::string& shader, const std::vector<uint32_t>& spec, const PC& pc, uint32_t groups) {
    if (capture_) {
      const uint8_t* p = reinterpret_cast<const uint8_t*>(&pc);
      captured_.push_back({shader, spec, std::vector<uint8_t>(p, p + sizeof pc), groups, label_for(shader), group_});
      return;
    }
    rec_->dispatch(pipelines_.get(shader, spec), pc, groups, label_for(shader));
  }
  void barrier() {
    if (!capture_) rec_->compute_barrier();
  }

  // The persistent step (step7.comp, gpu_model.cpp): between begin_persistent() and end_persistent(),
  // dispatch() captures each op instead of recording it and barrier() records nothing (the step's grid
  // barriers order the ops). Matvecs are then shaped for it: `threads` invocations, the blocked loop
  // sized for rows of `row_cols` columns (the model's C), rows spread over `workgroups` tasks.
  // Which of the step's workgroups run an op: all of them, or one of two disjoint groups that run side
  // by side (the last `side` workgroups, and the rest; a side group of all the workgroups makes both
  // groups all of them, one group's ops after the other's: tests on one workgroup). An op of a group
  // waits only for the ops before the group's run began and for its own group's earlier ops
  // (persistent_step.h).
  enum class StepGroup : uint8_t { All = 0, Main = 1, Side = 2 };
  // The workgroups [first, first + count) of a step of `workgroups` that run ops of group `g`, the last
  // `side` being the side group.
  struct StepRange {
    uint32_t first, count;
  };
  static StepRange step_group_range(StepGroup g, uint32_t workgroups, uint32_t side) {
    if (side >= workgroups) return {0, workgroups};  // both groups are every workgroup
    if (g == StepGroup::Side) return {workgroups - side, side};
    return {0, g == StepGroup::Main ? workgroups - side : workgroups};
  }
  struct CapturedOp {
    std::string shader;
    std::vector<uint32_t> spec;
    std::vector<uint8_t> pc;
    uint32_t groups;
    std::string label;  // as label_for() names it (step profiles)
    StepGroup group = StepGroup::All;
  };
  // `row_dtype`: the type of the model's layer matrices, whose rows of `row_cols` set the loop's shape.
  // Matvecs mixing F32, F16 and quantized weights become one op (`matvec_mixed`, or `matvec_nibble` with Q4/Q5
  // jobs: step7_mixed / step7_nibble read each job's type): no quantize pass (quantized jobs round their
  // staged input to 8-bit blocks in shared memory), the norm prologue for any C.
  // `side_workgroups`: the size of the side group (0: none; at most `workgroups`).
  void begin_persistent(uint32_t workgroups, uint32_t threads, uint32_t row_cols, DType row_dtype,
                        uint32_t side_workgroups = 0) {
    capture_ = true, persist_wgs_ = workgroups, persist_threads_ = threads, persist_cols_ = row_cols;
    persist_dtype_ = row_dtype;
    persist_side_ = side_workgroups;
    group_ = StepGroup::All;
    captured_.clear();
  }
  std::vector<CapturedOp> end_persistent() {
    capture_ = false;
    return std::move(captured_);
  }
  uint32_t persistent_workgroups() const { return capture_ ? persist_wgs_ : 0; }
  uint32_t persistent_threads() const { return capture_ ? persist_threads_ : 0; }
  uint32_t persistent_side_workgroups() const { return capture_ ? persist_side_ : 0; }
  // The group that runs the ops captured from now on (All until set; persistent step only).
  void set_step_group(StepGroup g) { group_ = g; }
  // Labels for profiles: the shader name, prefixed by what the caller is doing (set_label("head")).
  void set_label(const std::string& prefix) { prefix_ = prefix; }
  const char* label_for(const std::string& shader);

  // gemm_few.comp's reduction area in the scratch (zeroed with it): kFewMaxWorkgroups counters, then
  // as many partial tiles of kFewTileFloats. Without it (no cooperative matrices) T > 1 matvecs below
  // coop_min_tokens() keep matvec.comp.
  static constexpr uint32_t kFewMaxWorkgroups = 1024, kFewTileFloats = 128 * 16;
  static constexpr int64_t few_area_floats() { return kFewMaxWorkgroups * (1 + int64_t(kFewTileFloats)); }
  void set_few_area(const Act& a) { few_area_ = a, has_few_area_ = true; }

  // The per-step table of matvec jobs: filled while recording, uploaded by the owner before use.
  std::vector<uint8_t>& job_bytes() { return jobs_; }
  void set_job_table(const Slice& s) { job_table_ = s; jobs_.clear(); }

 private:
  Device& device_;
  Pipelines& pipelines_;
  ScratchPlan plan_;
  Slice scratch_, act_q_, act_d_;
  Slice job_table_;
  std::vector<uint8_t> jobs_;
  Act few_area_{};
  bool has_few_area_ = false;
  Recorder* rec_ = nullptr;
  uint32_t T_ = 1;
  uint32_t seq_stride_ = 0;
  std::string prefix_;
  bool capture_ = false;
  uint32_t persist_wgs_ = 0, persist_threads_ = 0, persist_cols_ = 0, persist_side_ = 0;
  StepGroup group_ = StepGroup::All;
  // Workgroups of the step that run ops of the current group.
  uint32_t group_workgroups() const { return step_group_range(group_, persist_wgs_, persist_side_).count; }
  DType persist_dtype_ = DType::F16;
  // Whether the step being captured runs these jobs' matvec as one op of step7_mixed.
  bool mixed_op(const std::vector<MatJob>& jobs) const;
  std::vector<CapturedOp> captured_;
  std::vector<std::unique_ptr<std::string>> label_store_;  // stable C strings for Recorder labels
};

}  // namespace rwkv::vk
