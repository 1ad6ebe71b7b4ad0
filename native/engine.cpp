#include "engine.h"

#include <algorithm>
#include <cstdio>
#include <thread>

#include "core/home_thread.h"
#include "core/thread_pool.h"
#include "formats/rwkv_bin.h"
#include "kernels/vulkan/gpu_model.h"
#include "models/architecture.h"

namespace rwkv {

namespace {

int default_threads() {
  // Decoding is memory-bound: one thread per core saturates bandwidth; hyperthreads only add contention.
  const unsigned n = std::thread::hardware_concurrency();
  return int(std::max(1u, n));
}

// gpuOffload 'auto': the most leading layers (and the head, if all layers fit) whose weights fit in 90%
// of the device's memory, less room for activations and states. Without a usable device it asks for
// every layer, so that creating the GPU model reports (once) why there is none.
int auto_gpu_layers(const TensorIndex& index, const ModelInfo& info, int device) {
  std::vector<vk::DeviceInfo> devices;
  try {
    devices = vk::list_devices();
  } catch (const Error&) {
  }
  const vk::DeviceInfo* dev = nullptr;
  if (device >= 0 && size_t(device) < devices.size()) dev = &devices[size_t(device)];
  for (const char* type : {"discrete", "integrated", "virtual"})
    for (const auto& d : devices)
      if (!dev && d.usable && d.type == type) dev = &d;
  if (!dev || !dev->usable) return info.n_layer;
  const double budget = 0.9 * double(dev->device_local_bytes) - 512.0 * 1024 * 1024;
  std::vector<double> layer_bytes(size_t(info.n_layer), 0.0);
  double head_bytes = 0;
  for (const auto& [name, t] : index.tensors) {
    int l = -1;
    if (std::sscanf(name.c_str(), "blocks.%d.", &l) == 1 && l >= 0 && l < info.n_layer) layer_bytes[size_t(l)] += double(t.nbytes);
    else if (name.rfind("head.", 0) == 0 || name.rfind("ln_out.", 0) == 0) head_bytes += double(t.nbytes);
  }
  double used = 0;
  int layers = 0;
  while (layers < info.n_layer && used + layer_bytes[size_t(layers)] <= budget) used += layer_bytes[size_t(layers++)];
  if (layers == info.n_layer && used + head_bytes > budget) --layers;  // all layers but not the head: keep one on the CPU
  return std::max(layers, 0);
}

}  // namespace

size_t default_pass_tokens(int64_t n_embd, bool all_on_gpu) {
  if (all_on_gpu) return 512;  // GpuOptions::max_tokens: the whole pass in one GPU step
  size_t t = 128;
  while (t < 512 && int64_t(2 * t) * std::max<int64_t>(n_embd, 1) <= (int64_t(1) << 19)) t *= 2;
  return t;
}

Model::Model() = default;
Model::~Model() = default;

std::shared_ptr<Model> Model::load(const std::string& path, const LoadOptions& options) {
  if (options.threads < 0) throw Error(ErrorCode::Argument, "threads must be >= 0, got " + std::to_string(options.threads));
  std::shared_ptr<Model> m(new Model());
  m->index_ = std::make_unique<TensorIndex>(open_rwkv_bin(path));
  m->arch_ = make_architecture(*m->index_, path);
  m->pool_ = std::make_unique<ThreadPool>(options.threads > 0 ? options.threads : default_threads());
  m->workspace_ = std::make_unique<Workspace>(*m->pool_);
  if (options.gpu_layers > 0 || options.gpu_layers == kGpuAuto) {
    try {
      const int layers = options.gpu_layers == kGpuAuto ? auto_gpu_layers(*m->index_, m->arch_->info(), options.gpu_device)
                                                       : options.gpu_layers;
      if (layers > 0)
        m->gpu_ = vk::GpuModel::create(*m->index_, m->arch_->info(), {.layers = layers, .device = options.gpu_device});
    } catch (const Error& e) {
      if (options.gpu_required || e.code() != ErrorCode::Device) throw;
      static std::once_flag warned;  // one warning per process, however many models ask
      std::call_once(warned, [&] { std::fprintf(stderr, "rwkv: GPU offload unavailable, running on the CPU: %s\n", e.what()); });
    }
  }
  m->pass_tokens_ = default_pass_tokens(m->info().n_embd, m->gpu_ && m->gpu_layers() == m->info().n_layer);
  return m;
}

int Model::gpu_layers() const { return gpu_ ? gpu_->layers() : 0; }
uint64_t Model::gpu_memory() const { return gpu_ ? gpu_->weight_bytes() : 0; }
std::string Model::gpu_device() const { return gpu_ ? gpu_->device().name : std::string(); }
std::string Model::gpu_decode() const {
  return !gpu_ ? std::string() : gpu_->persistent_decode() ? "persistent" : "dispatches";
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

std::string Model::fingerprint() {
  std::call_once(fingerprint_once_, [this] {
    uint64_t h = 1469598103934665603ull;  // FNV-1a 64
    auto mix = [&h](const void* p, size_t n) {
      const uint8_t* b = static_cast<const uint8_t*>(p);
      for (size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ull;
    };
    mix(&index_->header, sizeof(index_->header));
    for (const auto& [name, t] : index_->tensors) {
      mix(name.data(), name.size());
      mix(&t.dtype, sizeof(t.dtype));
      mix(t.ne, sizeof(t.ne));
      // Samples, not the whole tensor: hashing gigabytes would make saving a state take seconds.
      const uint64_t chunk = std::min<uint64_t>(t.nbytes, 1024);
      mix(t.data, chunk);
      mix(t.data + (t.nbytes - chunk) / 2, chunk);
      mix(t.data + t.nbytes - chunk, chunk);
    }
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
    fingerprint_ = buf;
  });
  return fingerprint_;
}

void Model::check_tokens(const uint32_t* tokens, size_t n) const {
  const ModelInfo& i = info();
  for (size_t t = 0; t < n; ++t)
    if (tokens[t] >= uint32_t(i.n_vocab))
      throw Error(ErrorCode::Argument, "token id " + std::to_string(tokens[t]) + " at position " + std::to_string(t) +
                                           " is out of range: this model's vocabulary has " + std::to_string(i.n_vocab) + " tokens");
}

HomeThread& Model::home() {
  std::call_once(home_once_, [this] { home_ = std::make_unique<HomeThread>(); });
  return *home_;
}

void Model::on_home_thread(const std::function<void()>& fn) { home().run(fn); }

void Model::post_to_home_thread(std::function<void()> fn) { home().post(std::move(fn)); }

void Model::eval(const uint32_t* tokens, size_t n, float* state, float* logits, size_t max_chunk) {
  check_tokens(tokens, n);
  if (n == 0) return;
  if (max_chunk == 0) max_chunk = pass_tokens_;
  std::lock_guard<std::mutex> lock(mutex_);
  for (size_t start = 0; start < n; start += max_chunk) {
    const size_t len = std::min(max_chunk, n - start);
    const bool last = start + len == n;
    run_pass({SequenceInput{tokens + start, len, state, last ? logits : nullptr}});
  }
}

void Model::sync_state(float* state) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!gpu_) return;
  if (gpu_dirty_state_ == state) {
    gpu_->sync_state(state);
    gpu_dirty_state_ = nullptr;
  }
  gpu_->sync_batch_state(state);  // a batched step may hold a newer copy in its slot
}

bool Model::eval_batch(const std::vector<SequenceInput>& seqs, const std::function<bool()>& cancel) {
  for (const SequenceInput& s : seqs) check_tokens(s.tokens, s.n);
  std::vector<SequenceInput> live;
  for (const SequenceInput& s : seqs)
    if (s.n > 0) live.push_back(s);
  if (live.empty()) return true;
  std::lock_guard<std::mutex> lock(mutex_);
  return run_pass(live, cancel);
}

bool Model::run_pass(const std::vector<SequenceInput>& seqs, const std::function<bool()>& cancel) {
  const ModelInfo& i = info();
  const int64_t C = i.n_embd;
  Batch batch;
  bool all_single = true;
  for (const SequenceInput& s : seqs) {
    batch.seqs.push_back(SeqSpan{batch.rows, int64_t(s.n), nullptr});
    batch.rows += int64_t(s.n);
    all_single &= s.n == 1;
  }
  const int64_t T = batch.rows;
  // A cancellable pass keeps the states as they were, to put them back if it stops between layers.
  const bool cancellable = bool(cancel) && !gpu_;
  if (cancellable) {
    if (cancel()) return false;
    const size_t n = size_t(i.state_size());
    saved_states_.resize(seqs.size() * n);
    for (size_t s = 0; s < seqs.size(); ++s) std::copy(seqs[s].state, seqs[s].state + n, saved_states_.begin() + long(s * n));
  }
  // One token per sequence: keep every product on the row kernels, so batching changes no bits.
  workspace_->linear.set_exact_rows(all_single);
  if (x_.size() < size_t(T * C)) x_.resize(size_t(T * C));
  workspace_->arena.reserve(arch_->scratch_floats_per_token() * size_t(T) + size_t(C) + 256);
  float* x = x_.data();
  for (size_t s = 0; s < seqs.size(); ++s)
    for (size_t t = 0; t < seqs[s].n; ++t) arch_->embed(seqs[s].tokens[t], x + (batch.seqs[s].start + int64_t(t)) * C);
  const int64_t per_layer = i.state_floats_per_layer();
  // GPU offload: the first layers (and maybe the head) of each sequence on the GPU, one sequence at a
  // time since each has its own state (or, one token each on RWKV-7, all in one batched step); x comes
  // back in place, and RWKV-7 also returns v_first.
  int first_cpu_layer = 0;
  const bool gpu_head = gpu_ && gpu_->runs_head();
  if (gpu_ && all_single && gpu_->can_batch(int(seqs.size()))) {
    // One token each of several sequences (RWKV-7): one batched GPU step reads the weights once for
    // all. When every sequence has a generation (the completion loop), the states stay in the GPU's
    // batch slots between steps, like the single path's deferred state: sync_state() brings one home,
    // and a slot given to another state is downloaded first. Otherwise every state is downloaded.
    if (gpu_dirty_state_) {
      gpu_->sync_state(gpu_dirty_state_);
      gpu_dirty_state_ = nullptr;
    }
    std::vector<float*> states, logits;
    std::vector<uint64_t> gens;
    for (const SequenceInput& s : seqs) {
      states.push_back(s.state);
      gens.push_back(s.gpu_generation);
      logits.push_back(gpu_head ? s.logits : nullptr);
    }
    std::vector<float> v_first;
    const bool download = std::any_of(gens.begin(), gens.end(), [](uint64_t g) { return g == 0; });
    gpu_->eval_batch(x, int(seqs.size()), states.data(), gens.data(), x, logits.data(), download, &v_first);
    if (!gpu_head && !v_first.empty()) workspace_->v_first = std::move(v_first);
    first_cpu_layer = gpu_->layers();
  } else if (gpu_) {
    std::vector<float> v_first, v_first_seq;
    for (size_t s = 0; s < seqs.size(); ++s) {
      float* xs = x + batch.seqs[s].start * C;
      // The GPU holds one state at a time: bring a deferred one home before another takes its place.
      if (gpu_dirty_state_ && gpu_dirty_state_ != seqs[s].state) {
        gpu_->sync_state(gpu_dirty_state_);
        gpu_dirty_state_ = nullptr;
      }
      const uint64_t gen = seqs[s].gpu_generation;
      gpu_->eval(xs, int64_t(seqs[s].n), seqs[s].state, xs, gpu_head ? seqs[s].logits : nullptr,
                 vk::StateSync{gen, /*download=*/gen == 0}, &v_first_seq);
      gpu_dirty_state_ = gen == 0 ? nullptr : seqs[s].state;
      v_first.insert(v_first.end(), v_first_seq.begin(), v_first_seq.end());
    }
    if (!gpu_head && !v_first.empty()) workspace_->v_first = std::move(v_first);
    first_cpu_layer = gpu_->layers();
  }
  for (int l = first_cpu_layer; l < i.n_layer; ++l) {
    if (cancellable && l > 0 && cancel()) {
      const size_t n = size_t(i.state_size());
      for (size_t s = 0; s < seqs.size(); ++s)
        std::copy(saved_states_.begin() + long(s * n), saved_states_.begin() + long((s + 1) * n), seqs[s].state);
      workspace_->linear.set_exact_rows(false);
      return false;
    }
    for (size_t s = 0; s < seqs.size(); ++s) batch.seqs[s].state = seqs[s].state + l * per_layer;
    arch_->layer(l, x, batch, *workspace_);
  }
  // The head only for the last row of each sequence that asks for logits, all in one product.
  std::vector<size_t> want;
  for (size_t s = 0; s < seqs.size(); ++s)
    if (seqs[s].logits && !gpu_head) want.push_back(s);
  if (!want.empty()) {
    const size_t V = size_t(i.n_vocab);
    head_in_.resize(want.size() * size_t(C));
    head_out_.resize(want.size() * V);
    for (size_t k = 0; k < want.size(); ++k) {
      const SeqSpan& span = batch.seqs[want[k]];
      std::copy(x + (span.start + span.len - 1) * C, x + (span.start + span.len) * C, head_in_.begin() + long(k * size_t(C)));
    }
    workspace_->arena.reset();
    arch_->head(head_in_.data(), int64_t(want.size()), head_out_.data(), *workspace_);
    for (size_t k = 0; k < want.size(); ++k)
      std::copy(head_out_.begin() + long(k * V), head_out_.begin() + long((k + 1) * V), seqs[want[k]].logits);
  }
  workspace_->linear.set_exact_rows(false);
  tokens_evaluated_ += uint64_t(T);
  return true;
}

}  // namespace rwkv
