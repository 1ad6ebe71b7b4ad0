// Linear: y = W·x for one token, Y = X·Wᵀ for T tokens, spread over the model's thread pool.
// One token: the row kernels (memory-bound; every row read once). Several tokens: the same kernels
// over all tokens at once (each row read once for T tokens, bit-identical to one token at a time). On
// CPUs without the AVX-512 kernels, float weights go to OpenBLAS sgemm instead, tile by tile (F16 tiles
// widened to float first), since the plain reference kernels are far slower there.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <vector>

#include "core/large_buffer.h"
#include "core/tensor.h"
#include "core/thread_pool.h"
#include "kernels/cpu/matvec.h"

namespace rwkv::cpu {

class Linear {
 public:
  explicit Linear(ThreadPool& pool);
  // X: T rows of W.cols() floats; Y: T rows of W.rows() floats.
  void run(const Tensor& W, const float* X, int64_t T, float* Y);
  // While set, several tokens also go through the row kernels (never sgemm), so each token's result has
  // exactly the bits it would have alone. Used for batched decoding, where it is also the faster path.
  void set_exact_rows(bool exact) { exact_rows_ = exact; }
  // Same, but only rows [row_begin, row_end) of W (used for slices of stacked matrices).
  void run_rows(const Tensor& W, int64_t row_begin, int64_t row_end, const float* X, int64_t T, float* Y);

  // Several independent products (none reads another's output) in one parallel region: one hand-off
  // to the pool and one wait instead of one per product. A layer has several such groups (r, k, v and
  // the LoRA down-projections; the LoRA up-projections), and on small models the hand-offs cost as
  // much as the arithmetic. run() and run_rows() are groups of one; each Y gets the same bits either way.
  struct Job {
    const Tensor* W;
    const float* X;
    float* Y;
    int64_t row_begin = 0, row_end = -1;  // rows [row_begin, row_end) of W; -1: to the last
  };
  void run_group(std::initializer_list<Job> jobs, int64_t T);

 private:
  void run_blas(const MatvecArgs& a, int64_t rows, const float* X, int64_t T, float* Y);

  ThreadPool& pool_;
  const KernelSet& kernels_;
  bool exact_rows_ = false;
  std::vector<uint8_t> prepared_;              // prepared activation rows
  LargeBuffer packed_;                         // prompts: every input in the kernels' layout, shared by the threads
  std::vector<std::vector<uint8_t>> slice_;    // per-thread quantized rows of one packing slice
  struct Task {
    int job;
    int64_t r0, r1;
  };
  std::vector<Task> tasks_;                    // run_group's row ranges, reused between calls
  std::vector<std::vector<float>> tile_;       // per-thread F16 -> F32 tile for sgemm
};

}  // namespace rwkv::cpu
