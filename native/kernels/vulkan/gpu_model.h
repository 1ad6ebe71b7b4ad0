// GpuModel: runs layers [0, n) of a model, and the head when n == n_layer, on a Vulkan GPU.
//
//   auto gpu = vk::GpuModel::create(index, info, {.layers = 12});
//   gpu->eval(x, T, state, x, logits);   // x: T rows of C after the embedding (CPU)
//
// Weights of those layers are uploaded once, in their stored type. Each token count T gets one
// command buffer, recorded on first use and replayed after: copy x in, every GPU layer, the head,
// copy x / logits out. Nothing else happens between GPU ops during a step.
//
// State: the GPU keeps its own copy of the offloaded layers' state (the first n layer slices of the
// CPU state vector, same layout). eval() uploads it before the step and downloads it after, unless
// told otherwise by StateSync:
//  * generation != 0 and the same `state` pointer and generation as the previous call: the GPU copy
//    is still current, so the upload is skipped. The caller must change the generation (or pass 0)
//    whenever the CPU vector was written by anyone else (reset, load, another model).
//  * download = false: the CPU vector's GPU-layer slices are left stale after the call; a later call
//    with download = true (or sync_state()) brings them back. Layers on the CPU are always current.
// Not thread-safe: the engine serialises calls on one model.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/vulkan/device.h"

namespace rwkv {
struct TensorIndex;
struct ModelInfo;
}  // namespace rwkv

namespace rwkv::vk {

struct GpuOptions {
  int layers = 0;         // how many layers (from the first) to run on the GPU; clamped to n_layer
  int device = -1;        // Vulkan device index; -1: the first discrete GPU (see Device::create)
  int max_tokens = 512;   // tokens per GPU step; longer inputs are split into steps of this size (512:
                          // fastest prefill on an H100 with the cooperative-matrix GEMM, BENCHMARKS.md)
  // One-token steps as one persistent dispatch (shaders/step7.comp): -1 as RWKV_VK_PERSISTENT says
  // (default 1), 0 off, 1 where the multiprocessor count is known, 2 also elsewhere (then with
  // RWKV_VK_PERSISTENT_WGS workgroups, default 1: the tests on lavapipe).
  int persistent = -1;
  // Tests: the persistent step's workgroups (0: RWKV_VK_PERSISTENT_WGS, else one per multiprocessor),
  // and whether create() checks that its grid barriers complete (false: eval() meets a barrier that
  // gives up, and must recover from it).
  int persistent_workgroups = 0;
  bool persistent_check = true;
  // Workgroups of the step's side group, which run a layer's LoRA projections beside its r, k, v products
  // (gpu_v7.cpp): -1 as RWKV_VK_SIDE_WGS says (default: 30% of the step's at C >= 2048, else 50%, from 32
  // workgroups up), 0 none; as many as the step has: both groups are all of them, one after the other
  // (tests on one workgroup).
  int persistent_side_workgroups = -1;
  // The step's variants (persistent_step.h kStep* flags: no weight preload before the grid barriers, for
  // measurements; how Q8_0 jobs multiply): -1 as RWKV_VK_STEP_FLAGS says (default kStepQ8Int: 8-bit
  // activations for Q8_0 jobs, as the CPU).
  int persistent_flags = -1;
  // The device's integer dot products for quantized products (Device::create's int_dot): -1 as
  // RWKV_VK_INT_DOT says (default: where the driver calls them accelerated), 0 never, 1 wherever it has them.
  int int_dot = -1;
};

struct StateSync {
  uint64_t generation = 0;  // 0: unknown, always upload
  bool download = true;
};

class GpuModel {
 public:
  // Throws Error(ErrorCode::Device) when no usable device exists or a Vulkan call fails.
  static std::unique_ptr<GpuModel> create(const TensorIndex& index, const ModelInfo& info, const GpuOptions& options);
  ~GpuModel();

  int layers() const;
  // Whether one-token steps run as one persistent dispatch (shaders/step7.comp) rather than a
  // dispatch per op: RWKV-7 with F32/F16 weights and C <= 2048 on a device whose multiprocessor count
  // is known (NVIDIA), when its load-time check passed.
  bool persistent_decode() const;
  bool runs_head() const;  // all layers offloaded: logits come from the GPU
  const DeviceInfo& device() const;
  uint64_t weight_bytes() const;  // of the offloaded layers (and head) on the GPU

  // x_in: T rows of C (the embedded tokens); state: the whole CPU state vector; x_out: T rows of C
  // after the GPU layers (may be x_in; null when not wanted); logits: n_vocab floats of the last token,
  // written when runs_head() and not null. v_first: RWKV-7 only, when layers run on the CPU after the
  // GPU ones: receives layer 0's v (T rows of C), which those layers mix in (Workspace::v_first).
  void eval(const float* x_in, int64_t T, float* state, float* x_out, float* logits, const StateSync& sync = {},
            std::vector<float>* v_first = nullptr);
  // Copies the GPU state of the offloaded layers into `state` (after eval with download = false).
  void sync_state(float* state);

  // Batched decode: one token each of B sequences in one step (RWKV-7; 2 <= B <= max_tokens), so every
  // weight is read once for all of them. x_in: B rows of C; states[b]: sequence b's whole CPU state
  // vector; generations[b]: as StateSync::generation, per sequence (a sequence's GPU copy lives in slot
  // b of a batch state buffer and its upload is skipped when slot b last held the same pointer and
  // generation). x_out: B rows of C (may be x_in; null when not wanted); logits[b]: n_vocab floats of
  // sequence b when runs_head() (null entries skipped); v_first as in eval(), B rows. download = false
  // leaves the states' newest copies in their slots (the CPU copies stale) until sync_batch_state(),
  // or until the slot goes to another state, which first downloads it into its owner: the caller must
  // sync every such state before its memory goes away. The batch slots and eval()'s single copy are
  // kept apart: eval() of a state held newer in a slot downloads it first, and either path invalidates
  // the other's copy of a state it advances.
  bool can_batch(int B) const;
  void eval_batch(const float* x_in, int B, float* const* states, const uint64_t* generations, float* x_out,
                  float* const* logits, bool download = true, std::vector<float>* v_first = nullptr);
  // Copies a batch slot's newer copy of `state` into it; false when no slot holds a newer copy.
  bool sync_batch_state(float* state);
  // Like time_decode_steps for the batched step of B sequences: seconds per step (B tokens).
  double time_decode_batch_steps(int B, int n);

  // Decode timing helper for benchmarks: replays the one-token step `n` times back to back in one
  // submission (same input x, state evolving on the GPU) and returns seconds per step.
  double time_decode_steps(int n);
  // Per-op GPU time of one decode step from timestamps (label: seconds), as text, for benchmarks.
  // T > 1: a sequence step of T tokens, or with `batched` a step of T sequences of one token each (batch
  // slots' contents are lost: it runs on whatever they hold, and they are marked empty afterwards).
  std::string profile_decode(int reps = 5, int T = 1, bool batched = false);
  // The driver's statistics of the pipelines built so far whose shader name starts with `prefix`
  // (RWKV_VK_SHADER_STATS=1; Pipelines::statistics), for shader work.
  std::string shader_statistics(const std::string& prefix = "") const;

 private:
  GpuModel();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rwkv::vk
