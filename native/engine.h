// The engine's public C++ API: the one facade the Node addon (and tests, benchmarks, tools) use.
//
//   auto model = rwkv::Model::load("model.bin", {.threads = 2});
//   std::vector<float> state = model->initial_state();
//   std::vector<float> logits(model->info().n_vocab);
//   model->eval(tokens.data(), tokens.size(), state.data(), logits.data());
//
// A Model is read-only weights plus a thread pool; a state is a plain float vector owned by the
// caller, in rwkv.cpp's layout (see README "State layout"), so any number of sequences can share one
// Model. eval() is thread-safe: calls on one Model are serialised, since each already uses every thread.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/error.h"
#include "models/model_info.h"

namespace rwkv {

class Architecture;
namespace vk { class GpuModel; }
struct TensorIndex;
struct Workspace;
class ThreadPool;
class HomeThread;

// One sequence's share of a batched pass (see Model::eval_batch).
struct SequenceInput {
  const uint32_t* tokens = nullptr;
  size_t n = 0;
  float* state = nullptr;   // state_size() floats, updated in place
  float* logits = nullptr;  // n_vocab floats for the last token's logits, or null
  // GPU offload: a non-zero id from new_state_generation() says "only the engine writes this state
  // until sync_state()", so the GPU may keep it between calls instead of copying it out and back each
  // step. 0: the state is copied back after every call (always safe).
  uint64_t gpu_generation = 0;
};

constexpr int kGpuAuto = -1;

struct LoadOptions {
  int threads = 0;  // 0: one per physical core the process may use
  // Vulkan offload (kernels/vulkan/gpu_model.h): the first gpu_layers layers (and the head when that is
  // all of them) run on the GPU. No usable GPU: one warning on stderr and the CPU runs everything,
  // unless gpu_required, which makes load() throw E_DEVICE instead.
  int gpu_layers = 0;   // kGpuAuto: as many as fit in the device's memory
  int gpu_device = -1;  // Vulkan device index; -1: the first discrete GPU
  bool gpu_required = false;
};

// The prompt pass length Model::prompt_pass_tokens() picks for a model of this width.
size_t default_pass_tokens(int64_t n_embd, bool all_layers_on_gpu);

class Model {
 public:
  // Maps, validates and binds a model file. Throws rwkv::Error saying what is wrong and where.
  static std::shared_ptr<Model> load(const std::string& path, const LoadOptions& options = {});
  ~Model();

  const ModelInfo& info() const;
  int threads() const;

  std::vector<float> initial_state() const;
  void init_state(float* state) const;  // state_size() floats

  // Feeds `n` tokens starting from `state` (updated in place). Writes the last token's logits if
  // `logits` is not null (n_vocab floats). n == 0 leaves everything unchanged.
  // Long inputs are processed in chunks of up to max_chunk tokens (0: prompt_pass_tokens()), each as
  // one sequence pass. Throws Error(E_ARGUMENT) for a token id >= n_vocab, before touching the state.
  void eval(const uint32_t* tokens, size_t n, float* state, float* logits, size_t max_chunk = 0);

  // Prompt tokens per sequence pass when the caller does not choose: 512 for models up to 1024 wide,
  // 256 at 2048, 128 from 4096 (and 512 with every layer on the GPU, one GPU step). A pass repacks
  // every weight matrix for the prompt GEMM, so longer passes spread that over more tokens; past
  // 2^19 / n_embd tokens the pass's activations outgrow the caches and the gain is gone (BENCHMARKS.md,
  // "Prompt pass size").
  size_t prompt_pass_tokens() const { return pass_tokens_; }
  // Runs fn on this model's home thread (core/home_thread.h), created on first use, and waits for it: a
  // caller whose thread changes from call to call keeps the model's work on one thread.
  void on_home_thread(const std::function<void()>& fn);
  // Queues fn on the home thread and returns at once (the addon's eval: Node's main thread hands the call
  // over and is told of its end). fn must catch what it throws and must not hold the last reference to
  // this model (the home thread cannot end itself).
  void post_to_home_thread(std::function<void()> fn);

  // Layers running on the GPU (0: none) and the device's name ("" when none).
  int gpu_layers() const;
  std::string gpu_device() const;
  uint64_t gpu_memory() const;  // bytes of weights on the GPU
  // How a one-token step runs on the GPU: "persistent" (one dispatch for every layer), "dispatches"
  // (one per op), "" without GPU layers. It can change from the first to the second after a step whose
  // workgroups were not all resident.
  std::string gpu_decode() const;

  // Evaluates several independent sequences in one pass: their rows share every matrix product, so B
  // sequences decoding one token each read the weights once, not B times. When every sequence has one
  // token, products use the row kernels, so each sequence gets exactly the bits a lone eval() gives it.
  // `cancel`, if set, is asked before each layer that runs on the CPU in a pass without GPU layers
  // (an abort then lands within one layer of a long prompt pass, not at its end): once it returns
  // true, the pass stops, every state (and logits) is left as it was before the call, and eval_batch
  // returns false. It costs a copy of the states per call, so pass it for prompt passes only.
  bool eval_batch(const std::vector<SequenceInput>& seqs, const std::function<bool()>& cancel = {});

  // For SequenceInput::gpu_generation: a fresh id, and the call that makes the CPU copy of a state
  // current again before the caller reads it. Without GPU layers both are free.
  uint64_t new_state_generation() { return ++generations_; }
  void sync_state(float* state);

  // A hash of the model's header, tensor names/shapes/types and samples of every tensor's bytes
  // (16 hex digits), to tell whether a saved state belongs to this model. Computed once, on first use.
  std::string fingerprint();

  // Counts tokens evaluated since load (for tests and statistics).
  uint64_t tokens_evaluated() const { return tokens_evaluated_; }

 private:
  Model();
  void check_tokens(const uint32_t* tokens, size_t n) const;
  HomeThread& home();  // created on first use
  bool run_pass(const std::vector<SequenceInput>& seqs, const std::function<bool()>& cancel = {});

  std::unique_ptr<TensorIndex> index_;
  std::unique_ptr<Architecture> arch_;
  std::unique_ptr<ThreadPool> pool_;
  std::unique_ptr<HomeThread> home_;
  std::once_flag home_once_;
  std::unique_ptr<Workspace> workspace_;
  std::unique_ptr<vk::GpuModel> gpu_;
  size_t pass_tokens_ = 128;  // prompt_pass_tokens()
  std::vector<float> x_;  // residual stream, rows×C
  std::vector<float> head_in_, head_out_;  // last rows of the sequences that want logits
  std::vector<float> saved_states_;         // a cancellable pass's states before it (run_pass)
  std::mutex mutex_;
  std::atomic<uint64_t> tokens_evaluated_{0};
  std::atomic<uint64_t> generations_{0};
  float* gpu_dirty_state_ = nullptr;  // a state whose newest values are only on the GPU
  std::string fingerprint_;
  std::once_flag fingerprint_once_;
};

}  // namespace rwkv
