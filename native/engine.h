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
struct TensorIndex;
struct Workspace;
class ThreadPool;

struct LoadOptions {
  int threads = 0;  // 0: one per physical core the process may use
};

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
  // Long inputs are processed in chunks of up to max_chunk tokens, each as one sequence pass.
  // Throws Error(E_ARGUMENT) for a token id >= n_vocab, before touching the state.
  void eval(const uint32_t* tokens, size_t n, float* state, float* logits, size_t max_chunk = 64);

  // Counts tokens evaluated since load (for tests and statistics).
  uint64_t tokens_evaluated() const { return tokens_evaluated_; }

 private:
  Model();
  void eval_chunk(const uint32_t* tokens, size_t n, float* state, float* logits);

  std::unique_ptr<TensorIndex> index_;
  std::unique_ptr<Architecture> arch_;
  std::unique_ptr<ThreadPool> pool_;
  std::unique_ptr<Workspace> workspace_;
  std::vector<float> x_;  // residual stream, T×C
  std::mutex mutex_;
  uint64_t tokens_evaluated_ = 0;
};

}  // namespace rwkv
