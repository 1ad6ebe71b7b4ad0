// CPU kernel throughput, through the same paths the model uses (Linear on a 2-thread pool).
//  * MemRead: the ceiling. Sums a 256 MB buffer with 1 and 2 threads; GB/s = bytes read per second.
//  * Matvec (decode): one token against a matrix of 8192 columns sized to ~96 MB of weights (three
//    times the L3), so every row comes from DRAM as in decoding a real model. GB/s = weight bytes/s;
//    compare with MemRead/threads:2.
//  * Matmul (prefill): T = 64 and 512 tokens against 2048 x 2048. GFLOP/s = 2*rows*cols*T per second
//    (int8 multiply-adds for quantized weights). Float weights go to OpenBLAS only on CPUs without the
//    AVX-512 kernels (Linear).
//  * SmallBatch (batched decoding): T = 1 and 8 token rows against a 768-column matrix, from DRAM and
//    from cache.
//  * layer_norm and the WKV recurrences per token (H = 32, S = 64: a 2048-wide model).
// All timings are wall time (UseRealTime): the work runs on pool threads.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "core/tensor.h"
#include "core/thread_pool.h"
#include "kernels/cpu/linear.h"
#include "kernels/cpu/matvec.h"
#include "kernels/cpu/ops.h"
#include "models/wkv.h"
#include "quantize/quantize_blocks.h"

using namespace rwkv;

namespace {

constexpr int kThreads = 2;

// A weight matrix in its stored type, filled from random normals (quantized like a real model).
struct Matrix {
  std::vector<uint8_t> bytes;
  Tensor t;
};

Matrix make_matrix(DType dt, int64_t rows, int64_t cols) {
  Matrix m;
  const size_t rb = dtype_row_bytes(dt, cols);
  m.bytes.resize(rb * size_t(rows));
  std::mt19937 gen(42);
  std::normal_distribution<float> nd(0.0f, 0.05f);
  std::vector<float> row(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    for (auto& v : row) v = nd(gen);
    uint8_t* dst = m.bytes.data() + size_t(r) * rb;
    if (dt == DType::F32) {
      std::memcpy(dst, row.data(), rb);
    } else if (dt == DType::F16) {
      for (int64_t c = 0; c < cols; ++c) {
        const uint16_t h = fp32_to_fp16(row[size_t(c)]);
        std::memcpy(dst + 2 * c, &h, 2);
      }
    } else {
      quantize_row(dt, row.data(), dst, cols);
    }
  }
  m.t.name = "bench";
  m.t.dtype = dt;
  m.t.n_dims = 2;
  m.t.ne[0] = cols;
  m.t.ne[1] = rows;
  m.t.data = m.bytes.data();
  m.t.nbytes = m.bytes.size();
  return m;
}

std::vector<float> random_floats(size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = nd(gen);
  return v;
}

// ---- memory bandwidth ceiling -------------------------------------------------------------------

void BM_MemRead(benchmark::State& state) {
  const int threads = int(state.range(0));
  const size_t n = size_t(256) << 20 >> 3;  // 256 MB of uint64
  std::vector<uint64_t> buf(n);
  for (size_t i = 0; i < n; ++i) buf[i] = i;
  ThreadPool pool(threads);
  std::vector<uint64_t> partial(size_t(threads) * 8);
  for (auto _ : state) {
    pool.parallel_for(int64_t(n / 8), 1 << 16, [&](int64_t b, int64_t e, int th) {
      // Eight independent sums: enough loads in flight to saturate the memory system.
      uint64_t s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      for (int64_t i = b; i < e; ++i)
        for (int j = 0; j < 8; ++j) s[j] += buf[size_t(i) * 8 + size_t(j)];
      for (int j = 0; j < 8; ++j) partial[size_t(th) * 8 + size_t(j)] += s[j];
    });
    benchmark::DoNotOptimize(partial.data());
  }
  state.counters["GB/s"] = benchmark::Counter(double(n * 8) * double(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_MemRead)->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);

// ---- matvec (decode) ------------------------------------------------------------------------------

// The decode row kernel alone: one thread, 16 rows of 768 columns (7-24 KB, in L1), no pool, the activations
// prepared once. What a row costs to compute, apart from memory and threads: "ns/quad" is the time for 128
// weights of one row (four 32-weight blocks). Compare it with a core's share of the memory's rate: a Q5_1 quad
// is 96 bytes, so 3.2 ns a quad is 30 GB/s.
void BM_RowKernel(benchmark::State& state) {
  const DType dt = DType(state.range(0));
  const int64_t rows = 16, cols = 768;
  const Matrix m = make_matrix(dt, rows, cols);
  const std::vector<float> x = random_floats(size_t(cols), 1);
  std::vector<uint8_t> xp(dtype_is_quantized(dt) ? cpu::prepared_row_bytes(dt, cols) : size_t(cols) * sizeof(float));
  if (dtype_is_quantized(dt)) cpu::prepare_activations(dt, x.data(), cols, xp.data());
  else std::memcpy(xp.data(), x.data(), xp.size());
  std::vector<float> y(static_cast<size_t>(rows));
  const cpu::KernelSet& k = cpu::best_kernels();
  cpu::MatvecArgs a{dt, m.t.data, m.t.row_bytes(), cols};
  a.x_id = 1;  // the same activations every call: packed once, as within one product
  for (auto _ : state) {
    k.matvec_rows(a, xp.data(), y.data(), 0, rows);
    benchmark::DoNotOptimize(y.data());
  }
  const double quads = double(rows * cols / 128);
  // Seconds per (quad * 1e-9): nanoseconds per quad.
  state.counters["ns/quad"] =
      benchmark::Counter(quads * 1e-9, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  state.counters["GB/s"] = benchmark::Counter(double(rows) * double(m.t.row_bytes()), benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(std::string(dtype_name(dt)) + " " + k.name);
}
BENCHMARK(BM_RowKernel)->Apply([](benchmark::internal::Benchmark* b) {
  for (DType t : {DType::F32, DType::F16, DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0}) b->Arg(int64_t(t));
});

void BM_Matvec(benchmark::State& state) {
  const DType dt = DType(state.range(0));
  const int threads = int(state.range(1));
  const int64_t cols = 8192;
  const size_t target = size_t(96) << 20;
  const int64_t rows = std::max<int64_t>(2048, int64_t(target / dtype_row_bytes(dt, cols)) / 64 * 64);
  const Matrix m = make_matrix(dt, rows, cols);
  const std::vector<float> x = random_floats(size_t(cols), 1);
  std::vector<float> y(static_cast<size_t>(rows));
  ThreadPool pool(threads);
  cpu::Linear linear(pool);
  for (auto _ : state) {
    linear.run(m.t, x.data(), 1, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  state.SetLabel(std::string(dtype_name(dt)) + " " + std::to_string(rows) + "x" + std::to_string(cols) + " " +
                 cpu::best_kernels().name);
  state.counters["GB/s"] =
      benchmark::Counter(double(m.bytes.size()) * double(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

// The reference kernels on the same matrices, for the speed-up (Linear always takes the best set).
void BM_MatvecReference(benchmark::State& state) {
  const DType dt = DType(state.range(0));
  const int64_t cols = 8192;
  const size_t target = size_t(96) << 20;
  const int64_t rows = std::max<int64_t>(2048, int64_t(target / dtype_row_bytes(dt, cols)) / 64 * 64);
  const Matrix m = make_matrix(dt, rows, cols);
  const std::vector<float> x = random_floats(size_t(cols), 1);
  std::vector<uint8_t> xp(cpu::prepared_row_bytes(dt, cols));
  std::vector<float> y(static_cast<size_t>(rows));
  ThreadPool pool(kThreads);
  const cpu::MatvecArgs a{dt, m.t.data, m.t.row_bytes(), cols};
  for (auto _ : state) {
    cpu::prepare_activations(dt, x.data(), cols, xp.data());
    pool.parallel_for(rows, 16, [&](int64_t r0, int64_t r1, int) {
      cpu::reference_kernels().matvec_rows(a, xp.data(), y.data(), r0, r1);
    });
    benchmark::DoNotOptimize(y.data());
  }
  state.SetLabel(dtype_name(dt));
  state.counters["GB/s"] =
      benchmark::Counter(double(m.bytes.size()) * double(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

// ---- matmul (prefill) -----------------------------------------------------------------------------

void BM_Matmul(benchmark::State& state) {
  const DType dt = DType(state.range(0));
  const int64_t T = state.range(1), rows = 2048, cols = 2048;
  const Matrix m = make_matrix(dt, rows, cols);
  const std::vector<float> x = random_floats(size_t(cols * T), 2);
  std::vector<float> y(size_t(rows * T));
  ThreadPool pool(kThreads);
  cpu::Linear linear(pool);
  for (auto _ : state) {
    linear.run(m.t, x.data(), T, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  state.SetLabel(std::string(dtype_name(dt)) + " T=" + std::to_string(T));
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * double(rows * cols * T) * double(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

const DType kTypes[] = {DType::F32, DType::F16, DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0};

void matvec_args(benchmark::internal::Benchmark* b) {
  for (DType t : kTypes)
    for (int64_t threads : {1, 2}) b->Args({int64_t(t), threads});
}
// Batched decoding's products: a matrix of 768 columns (the 0.1B head's width; 3072: its FFN value) against
// T = 1 or 8 token rows, through Linear as the engine runs them (row kernels, exact rows). At T = 8 each
// weight is read from DRAM once for eight tokens; the ratio of the two times is what batching gains.
void BM_SmallBatch(benchmark::State& state) {
  const DType dt = DType(state.range(0));
  const int64_t T = state.range(1), megabytes = state.range(2), cols = state.range(3);
  const int64_t rows = int64_t((size_t(megabytes) << 20) / dtype_row_bytes(dt, cols)) / 64 * 64;
  const Matrix m = make_matrix(dt, rows, cols);
  const std::vector<float> x = random_floats(size_t(cols * T), 2);
  std::vector<float> y(size_t(rows * T));
  ThreadPool pool(kThreads);
  cpu::Linear linear(pool);
  linear.set_exact_rows(true);
  for (auto _ : state) {
    linear.run(m.t, x.data(), T, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  const double bytes = double(rows) * double(dtype_row_bytes(dt, cols));
  state.counters["GB/s"] = benchmark::Counter(bytes, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * double(rows * cols * T) / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(std::string(dtype_name(dt)) + " T=" + std::to_string(T) + " " + std::to_string(megabytes) + " MB, " +
                 std::to_string(cols) + " columns");
}
// 96 MB streams from DRAM; 1 MB stays in cache (the kernel's compute rate alone).
void small_batch_args(benchmark::internal::Benchmark* b) {
  for (DType t : {DType::F16, DType::Q8_0, DType::Q5_1, DType::Q4_0, DType::Q4_1})
    for (int64_t T : {1, 8})
      for (int64_t mb : {96, 1})
        for (int64_t cols : {768, 3072}) b->Args({int64_t(t), T, mb, cols});
}
BENCHMARK(BM_SmallBatch)->Apply(small_batch_args)->UseRealTime()->Unit(benchmark::kMillisecond);

void matmul_args(benchmark::internal::Benchmark* b) {
  for (DType t : kTypes)
    for (int64_t T : {64, 512}) b->Args({int64_t(t), T});
}
BENCHMARK(BM_Matvec)->Apply(matvec_args)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_MatvecReference)->Arg(int64_t(DType::F16))->Arg(int64_t(DType::Q4_0))->Arg(int64_t(DType::Q8_0))
    ->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Matmul)->Apply(matmul_args)->UseRealTime()->Unit(benchmark::kMillisecond);

// ---- per-token ops ------------------------------------------------------------------------------

void BM_LayerNorm(benchmark::State& state) {
  const int64_t n = state.range(0);
  const std::vector<float> x = random_floats(size_t(n), 3), w = random_floats(size_t(n), 4), b = random_floats(size_t(n), 5);
  std::vector<float> out(static_cast<size_t>(n));
  for (auto _ : state) {
    cpu::layer_norm(x.data(), w.data(), b.data(), n, 1e-5f, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_LayerNorm)->Arg(2048)->Arg(4096);

constexpr int64_t kH = 32, kS = 64, kC = kH * kS;

void BM_Wkv5_6(benchmark::State& state) {
  const int64_t T = state.range(0);
  const std::vector<float> r = random_floats(size_t(T * kC), 6), k = random_floats(size_t(T * kC), 7),
                           v = random_floats(size_t(T * kC), 8), u = random_floats(size_t(kC), 9);
  std::vector<float> w(size_t(T * kC), 0.95f), y(size_t(T * kC)), st(size_t(kH * kS * kS), 0.0f);
  ThreadPool pool(kThreads);
  const std::vector<WkvArgs> a{{kH, kS, T, r.data(), k.data(), v.data(), w.data(), nullptr, u.data(), y.data(), st.data()}};
  for (auto _ : state) {
    wkv5_6(a, pool);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetItemsProcessed(state.iterations() * T);  // tokens
}
BENCHMARK(BM_Wkv5_6)->Arg(1)->Arg(64)->UseRealTime();

void BM_Wkv7(benchmark::State& state) {
  const int64_t T = state.range(0);
  const std::vector<float> r = random_floats(size_t(T * kC), 10), k = random_floats(size_t(T * kC), 11),
                           v = random_floats(size_t(T * kC), 12);
  // kk is L2-normalised per head as in the model, which keeps the state bounded over iterations.
  std::vector<float> kk = random_floats(size_t(T * kC), 13);
  for (int64_t h = 0; h < T * kH; ++h) {
    float n = 0;
    for (int64_t j = 0; j < kS; ++j) n += kk[size_t(h * kS + j)] * kk[size_t(h * kS + j)];
    for (int64_t j = 0; j < kS; ++j) kk[size_t(h * kS + j)] /= std::sqrt(n);
  }
  std::vector<float> w(size_t(T * kC), 0.95f), a(size_t(T * kC), 0.5f), y(size_t(T * kC)), st(size_t(kH * kS * kS), 0.0f);
  ThreadPool pool(kThreads);
  const std::vector<Wkv7Args> args{{kH, kS, T, r.data(), w.data(), k.data(), v.data(), kk.data(), a.data(), y.data(), st.data()}};
  for (auto _ : state) {
    wkv7(args, pool);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetItemsProcessed(state.iterations() * T);
}
BENCHMARK(BM_Wkv7)->Arg(1)->Arg(64)->UseRealTime();

}  // namespace
