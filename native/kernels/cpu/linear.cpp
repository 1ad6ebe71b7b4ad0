#include "kernels/cpu/linear.h"

#include <algorithm>
#include <atomic>

#include "core/blas.h"
#include "core/error.h"
#include "kernels/cpu/gemm_float.h"

namespace rwkv::cpu {

namespace {
constexpr int kCblasRowMajor = 101, kCblasNoTrans = 111, kCblasTrans = 112;
// Below this many multiply-adds a product runs on the calling thread alone.
constexpr int64_t kSerialWork = 32 * 1024;
constexpr size_t kMinTaskBytes = 16 * 1024;
constexpr int64_t kTaskRows = 12;  // whole 3- and 4-row register tiles
}  // namespace

uint64_t next_activation_id() {
  static std::atomic<uint64_t> last{0};
  return last.fetch_add(1, std::memory_order_relaxed) + 1;
}

Linear::Linear(ThreadPool& pool)
    : pool_(pool), kernels_(best_kernels()), slice_(size_t(pool.size())), tile_(size_t(pool.size())) {}

void Linear::run(const Tensor& W, const float* X, int64_t T, float* Y) { run_group({{&W, X, Y}}, T); }

void Linear::run_rows(const Tensor& W, int64_t row_begin, int64_t row_end, const float* X, int64_t T, float* Y) {
  run_group({{&W, X, Y, row_begin, row_end}}, T);
}

void Linear::run_group(std::initializer_list<Job> jobs, int64_t T) {
  constexpr int kMaxJobs = 8;
  if (jobs.size() > size_t(kMaxJobs)) throw Error(ErrorCode::Internal, "Linear::run_group: too many jobs");
  // Float weights with several tokens: OpenBLAS only where the CPU lacks the AVX-512 kernels. Measured on
  // the 0.1B synthetic model (BENCHMARKS.md), the fused FP16 kernels prefill 2.2x faster than widening
  // tiles for sgemm, and they keep sequence mode bit-identical to token-by-token mode.
  const bool blas = T > 1 && !exact_rows_ && &kernels_ == &reference_kernels() && Blas::get();
  MatvecArgs args[kMaxJobs];
  const void* xs[kMaxJobs];
  size_t x_row_bytes[kMaxJobs], offsets[kMaxJobs], packed_offsets[kMaxJobs];
  int64_t rows[kMaxJobs];
  float* ys[kMaxJobs];
  const float* in[kMaxJobs];
  // Prompts: every input quantized (quantized weights) and packed into the kernels' layout once, by all
  // threads together, into one shared buffer, instead of each thread repacking it for each of its row
  // ranges. Otherwise quantized inputs are prepared here, into one buffer, and the kernels pack for
  // themselves.
  const bool shared = T > kSharedPackTokens && kernels_.pack != nullptr;
  size_t total = 0, packed_total = 0;
  int n = 0;
  int64_t work = 0;
  for (const Job& j : jobs) {
    const int64_t r0 = j.row_begin, r1 = j.row_end < 0 ? j.W->rows() : j.row_end;
    const MatvecArgs a{j.W->dtype, j.W->row(r0), j.W->row_bytes(), j.W->cols()};
    if (blas && !dtype_is_quantized(a.dtype)) {
      run_blas(a, r1 - r0, j.X, T, j.Y);
      continue;
    }
    args[n] = a;
    rows[n] = r1 - r0;
    in[n] = j.X;
    ys[n] = j.Y;
    const bool quantized = dtype_is_quantized(a.dtype);
    x_row_bytes[n] = quantized ? prepared_row_bytes(a.dtype, a.cols) : size_t(a.cols) * sizeof(float);
    offsets[n] = total;
    // Shared packing quantizes a slice at a time into per-thread rows: no prepared copy of the whole input.
    if (quantized && !shared) total += x_row_bytes[n] * size_t(T);
    packed_offsets[n] = packed_total;
    if (shared) packed_total += (kernels_.packed_bytes(a, T) + 63) / 64 * 64;
    work += rows[n] * a.cols * T;
    ++n;
  }
  if (prepared_.size() < total) prepared_.resize(total);
  packed_.reserve(packed_total);
  uint8_t* packed_base = packed_.data();  // 2 MB aligned
  uint8_t* packed_at[kMaxJobs] = {};
  for (int i = 0; i < n; ++i) {
    xs[i] = in[i];
    // Names a quantized input, so a kernel that repacks it for itself (decoding, batches of up to 16)
    // does so once per thread, not once per row range.
    if (dtype_is_quantized(args[i].dtype)) args[i].x_id = next_activation_id();
    if (shared && kernels_.packed_bytes(args[i], T) > 0) args[i].packed = packed_at[i] = packed_base + packed_offsets[i];
    // A quantized product with its input packed reads a.packed alone: no prepared rows to hand it.
    if (shared && dtype_is_quantized(args[i].dtype)) xs[i] = nullptr;
    if (!dtype_is_quantized(args[i].dtype) || shared) continue;
    uint8_t* out = prepared_.data() + offsets[i];
    for (int64_t t = 0; t < T; ++t)
      kernels_.quantize_row(in[i] + t * args[i].cols, args[i].cols, reinterpret_cast<ActBlockQ8*>(out + size_t(t) * x_row_bytes[i]));
    xs[i] = out;
  }
  if (shared) {
    tasks_.clear();
    for (int i = 0; i < n; ++i)
      if (packed_at[i])
        for (int64_t t = 0; t < T; t += kPackSliceTokens) tasks_.push_back({i, t, std::min(T, t + kPackSliceTokens)});
    auto pack_slice = [&](int64_t k, int thread) {
      const Task& task = tasks_[size_t(k)];
      const MatvecArgs& a = args[task.job];
      const float* x = in[task.job] + task.r0 * a.cols;
      if (!dtype_is_quantized(a.dtype)) {
        kernels_.pack(a, x, x_row_bytes[task.job], T, task.r0, task.r1, packed_at[task.job]);
        return;
      }
      // Quantized a slice at a time into this thread's rows, then packed from them.
      std::vector<uint8_t>& q = slice_[size_t(thread)];
      if (q.size() < x_row_bytes[task.job] * size_t(kPackSliceTokens)) q.resize(x_row_bytes[task.job] * size_t(kPackSliceTokens));
      for (int64_t t = task.r0; t < task.r1; ++t)
        kernels_.quantize_row(x + (t - task.r0) * a.cols, a.cols,
                              reinterpret_cast<ActBlockQ8*>(q.data() + size_t(t - task.r0) * x_row_bytes[task.job]));
      kernels_.pack(a, q.data(), x_row_bytes[task.job], T, task.r0, task.r1, packed_at[task.job]);
    };
    if (work < kSerialWork)
      for (int64_t k = 0; k < int64_t(tasks_.size()); ++k) pack_slice(k, 0);
    else
      pool_.run(int64_t(tasks_.size()), pack_slice);
  }
  auto rows_of = [&](int i, int64_t r0, int64_t r1) {
    if (T == 1) kernels_.matvec_rows(args[i], xs[i], ys[i], r0, r1);
    else kernels_.matmul_rows(args[i], xs[i], x_row_bytes[i], T, ys[i], rows[i], r0, r1);
  };
  // Small products finish faster on one thread than the hand-off to the pool takes (tiny models).
  if (work < kSerialWork) {
    for (int i = 0; i < n; ++i) rows_of(i, 0, rows[i]);
    return;
  }
  size_t bytes = 0;
  for (int i = 0; i < n; ++i) bytes += size_t(rows[i]) * args[i].w_row_bytes;
  tasks_.clear();
  if (T <= kSharedPackTokens) {
    // Decoding (one token, or a batch of sequences a token each) streams the weights from memory.
    // Guided tasks: each takes 1/threads of the bytes still unassigned (with 2 threads: half the
    // region, then a quarter, ...), in row order, so a thread reads long runs of rows and the threads'
    // runs meet rarely, while the last, small tasks still even them out. Equal tasks of 1/16, taken by
    // the cores in turn, left each core's prefetchers running on into rows the other core then read
    // from a remote cache, and left the software prefetch of a short run nothing to run ahead into.
    // 0.1B decode +8-20%, batched +5-13% (native/kernels/cpu/README.md, "How a region's rows become tasks").
    size_t left = bytes;
    for (int i = 0; i < n; ++i) {
      const size_t row_bytes = std::max<size_t>(1, args[i].w_row_bytes);
      for (int64_t r = 0; r < rows[i];) {
        const size_t want = std::max<size_t>(left / size_t(pool_.size()), kMinTaskBytes);
        int64_t step = std::max<int64_t>(kTaskRows, int64_t(want / row_bytes) / kTaskRows * kTaskRows);
        if (rows[i] - r - step < kTaskRows) step = rows[i] - r;  // no sliver of a task at the end
        tasks_.push_back({i, r, r + step});
        left -= std::min(left, size_t(step) * row_bytes);
        r += step;
      }
    }
  } else {
    // Prompts (compute-bound; guided tasks measured the same): tasks of about equal bytes of weights (types
    // differ: a LoRA matrix in F16 beside Q8_0 ones), a few per thread for each product so the threads'
    // shares even out; the pool hands them out dynamically.
    const size_t target = std::max<size_t>(bytes / size_t(pool_.size() * 8), kMinTaskBytes);
    for (int i = 0; i < n; ++i) {
      // Whole 3- and 4-row register tiles per task; whole 48-row blocks for the float prompt GEMM.
      const int64_t tile = !dtype_is_quantized(args[i].dtype) && float_gemm_applies(T, args[i].cols) ? kGemmBlockRows : kTaskRows;
      const int64_t step = std::max<int64_t>(tile, int64_t(target / std::max<size_t>(1, args[i].w_row_bytes)) / tile * tile);
      for (int64_t r = 0; r < rows[i]; r += step) tasks_.push_back({i, r, std::min(rows[i], r + step)});
    }
  }
  pool_.run(int64_t(tasks_.size()), [&](int64_t k, int) {
    const Task& task = tasks_[size_t(k)];
    rows_of(task.job, task.r0, task.r1);
  });
}

void Linear::run_blas(const MatvecArgs& a, int64_t rows, const float* X, int64_t T, float* Y) {
  const Blas* blas = Blas::get();
  const int64_t K = a.cols;
  // Tiles of rows small enough that an F16 tile widened to float stays in L2.
  const int64_t tile_rows = std::max<int64_t>(16, std::min<int64_t>(256, (256 * 1024) / std::max<int64_t>(1, K)));
  pool_.parallel_for(rows, tile_rows, [&](int64_t r0, int64_t r1, int thread) {
    for (int64_t b = r0; b < r1; b += tile_rows) {
      const int64_t n = std::min(tile_rows, r1 - b);
      const float* w;
      if (a.dtype == DType::F32) {
        w = reinterpret_cast<const float*>(a.w + size_t(b) * a.w_row_bytes);
      } else {
        auto& tile = tile_[size_t(thread)];
        if (tile.size() < size_t(n * K)) tile.resize(size_t(n * K));
        for (int64_t r = 0; r < n; ++r) dequantize_row(a.dtype, a.w + size_t(b + r) * a.w_row_bytes, tile.data() + r * K, K);
        w = tile.data();
      }
      blas->sgemm(kCblasRowMajor, kCblasNoTrans, kCblasTrans, int(T), int(n), int(K), 1.0f, X, int(K), w, int(K), 0.0f,
                  Y + b, int(rows));
    }
  });
}

}  // namespace rwkv::cpu
