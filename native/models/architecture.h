// Architecture: what every RWKV version implements. The driver (models/model.cpp) embeds the
// tokens, calls layer() for each layer over all T tokens, and applies the head to the last token.
// One subclass per version (v4.cpp .. v7.cpp), each with one weights struct and its own math.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "core/large_buffer.h"
#include "core/mapped_file.h"
#include "core/thread_pool.h"
#include "formats/rwkv_bin.h"
#include "kernels/cpu/linear.h"
#include "models/model_info.h"
#include "models/weight_binder.h"
#include "models/wkv.h"

namespace rwkv {

// Bump allocator over one buffer sized before the pass, so the per-token path never allocates. The
// buffer is a LargeBuffer: a long prompt's scratch is tens of MB, first touched in its first pass.
class Arena {
 public:
  void reserve(size_t floats) { buf_.reserve(floats * sizeof(float)); }
  float* take(size_t floats) {
    float* p = reinterpret_cast<float*>(buf_.data()) + used_;
    used_ += (floats + 15) & ~size_t(15);
    return p;
  }
  void reset() { used_ = 0; }
  size_t used() const { return used_; }

 private:
  LargeBuffer buf_;
  size_t used_ = 0;
};

// The rows of one pass, grouped by sequence: a prompt is one sequence of T rows; batched decoding of
// B concurrent sequences is B sequences of one row each. Each sequence brings its own state.
struct SeqSpan {
  int64_t start = 0;      // first row
  int64_t len = 0;        // rows
  float* state = nullptr; // this layer's slice of the sequence's state
};
struct Batch {
  int64_t rows = 0;
  std::vector<SeqSpan> seqs;
};

// Token shift: calls fn(row, cur, prev) for every row, where prev is the row before it in its sequence
// or, for a sequence's first row, the value saved in its state at `xx_offset`.
template <class Fn>
void for_each_shift(const Batch& b, const float* rows, int64_t C, int64_t xx_offset, Fn&& fn) {
  for (const SeqSpan& s : b.seqs)
    for (int64_t t = 0; t < s.len; ++t) {
      const int64_t row = s.start + t;
      fn(row, rows + row * C, t == 0 ? s.state + xx_offset : rows + (row - 1) * C);
    }
}
// Saves each sequence's last row into its state at `xx_offset`, for the next call.
void save_shift(const Batch& b, const float* rows, int64_t C, int64_t xx_offset);

// What a layer needs to compute: threads, the linear-layer runner and scratch memory.
struct Workspace {
  explicit Workspace(ThreadPool& p) : pool(p), linear(p) {}
  ThreadPool& pool;
  cpu::Linear linear;
  Arena arena;
  std::vector<float> v_first;  // RWKV-7: the first layer's v, for every token of the pass
  std::vector<WkvArgs> wkv_args;    // per sequence, reused so the hot path does not allocate
  std::vector<Wkv7Args> wkv7_args;
};

// fn(t) for every row t of a pass, where the rows are independent. Several rows (a prompt, a batch of
// decoding sequences) are shared between the threads; one row runs here, where a hand-off would cost
// more than the work. Each row's arithmetic is the same either way.
template <class Fn>
void for_tokens(int64_t rows, Workspace& ws, Fn&& fn) {
  if (rows < 4 || ws.pool.size() == 1) {
    for (int64_t t = 0; t < rows; ++t) fn(t);
    return;
  }
  ws.pool.run(rows, [&](int64_t t, int) { fn(t); });
}

// Layer norm (eps 1e-5) of `rows` rows of C floats into out, the rows shared between the threads as
// for_tokens shares them.
void layer_norm_rows(const float* x, const float* w, const float* b, int64_t C, int64_t rows, float* out, Workspace& ws);

class Architecture {
 public:
  virtual ~Architecture() = default;
  const ModelInfo& info() const { return info_; }

  // Writes the initial state of one layer ((2 + S)C or 5C floats): zeros, except v4's pp = -1e30.
  virtual void init_layer_state(float* layer_state) const;
  // x: batch.rows rows of C floats (the residual stream), updated in place.
  virtual void layer(int l, float* x, const Batch& batch, Workspace& ws) const = 0;
  // Upper bound on the scratch floats one token needs inside layer().
  virtual size_t scratch_floats_per_token() const = 0;

  // emb[token] then ln0, into x (C floats).
  void embed(uint32_t token, float* x) const;
  // Embedding rows are then read from this file with pread (architecture.cpp says why); null: through the
  // mapping (a model parsed from memory).
  void read_embeddings_from(std::shared_ptr<const MappedFile> file) { emb_file_ = std::move(file); }
  // ln_out then head: `rows` rows of logits (V floats each) from `rows` residual rows.
  void head(const float* x, int64_t rows, float* logits, Workspace& ws) const;

 protected:
  Architecture(const ModelInfo& info, const WeightBinder& w);
  ModelInfo info_;

 private:
  Tensor emb_;                   // (C, V): V rows of C
  std::shared_ptr<const MappedFile> emb_file_;
  std::vector<float> ln0_w_, ln0_b_, ln_out_w_, ln_out_b_;  // (C)
  Tensor head_;                  // (C, V): V rows of C
};

// Detects the version and dimensions, binds and checks every tensor, and returns the architecture.
std::unique_ptr<Architecture> make_architecture(const TensorIndex& index, const std::string& label);

// Builders, one per version file.
std::unique_ptr<Architecture> make_v4(const ModelInfo& info, const WeightBinder& w);
std::unique_ptr<Architecture> make_v5(const ModelInfo& info, const WeightBinder& w);
std::unique_ptr<Architecture> make_v6(const ModelInfo& info, const WeightBinder& w);
std::unique_ptr<Architecture> make_v7(const ModelInfo& info, const WeightBinder& w);

}  // namespace rwkv
