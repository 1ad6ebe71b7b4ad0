#include "engine.h"

#include <algorithm>
#include <thread>

#include "core/thread_pool.h"
#include "formats/rwkv_bin.h"
#include "models/architecture.h"

namespace rwkv {

namespace {

int default_threads() {
  // Decoding is memory-bound: one thread per core saturates bandwidth; hyperthreads only add contention.
  const unsigned n = std::thread::hardware_concurrency();
  return int(std::max(1u, n));
}

}  // namespace

Model::Model() = default;
Model::~Model() = default;

std::shared_ptr<Model> Model::load(const std::string& path, const LoadOptions& options) {
  if (options.threads < 0) throw Error(ErrorCode::Argument, "threads must be >= 0, got " + std::to_string(options.threads));
  std::shared_ptr<Model> m(new Model());
  m->index_ = std::make_unique<TensorIndex>(open_rwkv_bin(path));
  m->arch_ = make_architecture(*m->index_, path);
  m->pool_ = std::make_unique<ThreadPool>(options.threads > 0 ? options.threads : default_threads());
  m->workspace_ = std::make_unique<Workspace>(*m->pool_);
  return m;
}

const ModelInfo& Model::info() const { return arch_->info(); }
int Model::threads() const { return pool_->size(); }

void Model::init_state(float* state) const {
  const ModelInfo& i = info();
  for (int l = 0; l < i.n_layer; ++l) arch_->init_layer_state(state + l * i.state_floats_per_layer());
}

std::vector<float> Model::initial_state() const {
  std::vector<float> s(size_t(info().state_size()));
  init_state(s.data());
  return s;
}

void Model::eval(const uint32_t* tokens, size_t n, float* state, float* logits, size_t max_chunk) {
  const ModelInfo& i = info();
  for (size_t t = 0; t < n; ++t)
    if (tokens[t] >= uint32_t(i.n_vocab))
      throw Error(ErrorCode::Argument, "token id " + std::to_string(tokens[t]) + " at position " + std::to_string(t) +
                                           " is out of range: this model's vocabulary has " + std::to_string(i.n_vocab) + " tokens");
  if (n == 0) return;
  max_chunk = std::max<size_t>(1, max_chunk);
  std::lock_guard<std::mutex> lock(mutex_);
  for (size_t start = 0; start < n; start += max_chunk) {
    const size_t len = std::min(max_chunk, n - start);
    const bool last = start + len == n;
    eval_chunk(tokens + start, len, state, last ? logits : nullptr);
  }
}

void Model::eval_chunk(const uint32_t* tokens, size_t n, float* state, float* logits) {
  const ModelInfo& i = info();
  const int64_t C = i.n_embd, T = int64_t(n);
  if (x_.size() < size_t(T * C)) x_.resize(size_t(T * C));
  workspace_->arena.reserve(arch_->scratch_floats_per_token() * size_t(T) + size_t(C) + 256);
  float* x = x_.data();
  for (int64_t t = 0; t < T; ++t) arch_->embed(tokens[t], x + t * C);
  for (int l = 0; l < i.n_layer; ++l) arch_->layer(l, x, T, state + l * i.state_floats_per_layer(), *workspace_);
  if (logits) {
    workspace_->arena.reset();
    arch_->head(x + (T - 1) * C, logits, *workspace_);
  }
  tokens_evaluated_ += n;
}

}  // namespace rwkv
