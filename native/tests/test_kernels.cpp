// Row kernels: the fast set (best_kernels) against the reference, for every weight type, matvec and
// matmul, odd row counts (tile tails) and several widths; and the property sequence mode relies on:
// for quantized weights, matmul gives every token exactly the bits matvec gives it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/tensor.h"
#include "core/thread_pool.h"
#include "kernels/cpu/linear.h"
#include "kernels/cpu/matvec.h"
#include "quantize/quantize_blocks.h"

using namespace rwkv;
using namespace rwkv::cpu;

namespace {

const DType kAllTypes[] = {DType::F32, DType::F16, DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0};
const int64_t kRows[] = {1, 3, 17, 130};
const int64_t kCols[] = {32, 64, 96, 192, 224, 256, 1024, 2080, 4096};  // 192, 224: quads + a pair (+ a lone block); 2080: 3 column ranges of the 8-token float tile
const int64_t kTokens[] = {1, 2, 7, 8, 13, 64};  // 8 and 13: the 8-token float tiles, with a remainder

bool have_fast() { return std::string(best_kernels().name) != reference_kernels().name; }

// A weight matrix in its stored type, plus its dequantized values (for the error bound).
struct Weights {
  DType t;
  int64_t rows, cols;
  std::vector<uint8_t> bytes;
  std::vector<float> deq;
  MatvecArgs args() const { return {t, bytes.data(), dtype_row_bytes(t, cols), cols}; }
  // A view of these weights as a model matrix, for Linear.
  Tensor tensor() const {
    Tensor W;
    W.name = "w";
    W.dtype = t;
    W.n_dims = 2;
    W.ne[0] = cols;
    W.ne[1] = rows;
    W.data = bytes.data();
    W.nbytes = bytes.size();
    return W;
  }
};

Weights make_weights(DType t, int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  Weights w{t, rows, cols, {}, {}};
  const size_t rb = dtype_row_bytes(t, cols);
  w.bytes.resize(rb * size_t(rows));
  w.deq.resize(size_t(rows * cols));
  std::vector<float> row(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    // Rows of different magnitude, some with an offset (exercises the m of the _1 types).
    const float scale = 0.02f * float(1 + r % 5), shift = (r % 3 == 0) ? 0.05f : 0.0f;
    for (auto& v : row) v = nd(gen) * scale + shift;
    uint8_t* dst = w.bytes.data() + size_t(r) * rb;
    if (t == DType::F32) {
      std::memcpy(dst, row.data(), rb);
    } else if (t == DType::F16) {
      for (int64_t c = 0; c < cols; ++c) {
        const uint16_t h = fp32_to_fp16(row[size_t(c)]);
        std::memcpy(dst + 2 * c, &h, 2);
      }
    } else {
      quantize_row(t, row.data(), dst, cols);
      // The quantizer never writes -128, but the kernels must not depend on that.
      if (t == DType::Q8_0 && r % 4 == 1) reinterpret_cast<BlockQ8_0*>(dst)->qs[3] = -128;
    }
    dequantize_row(t, dst, w.deq.data() + r * cols, cols);
  }
  return w;
}

// T activation rows; one block of each row is all zero (d = 0) and one is tiny.
std::vector<float> make_activations(int64_t T, int64_t cols, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> x(size_t(T * cols));
  for (auto& v : x) v = nd(gen);
  for (int64_t t = 0; t < T; ++t) {
    if (cols >= 64) std::fill_n(x.begin() + t * cols + 32, 32, 0.0f);
    for (int j = 0; j < std::min<int64_t>(32, cols); ++j) x[size_t(t * cols + j)] *= 1e-6f;
  }
  return x;
}

std::vector<uint8_t> prepare(DType t, const std::vector<float>& x, int64_t T, int64_t cols) {
  const size_t rb = prepared_row_bytes(t, cols);
  std::vector<uint8_t> p(rb * size_t(T));
  for (int64_t i = 0; i < T; ++i) prepare_activations(t, x.data() + i * cols, cols, p.data() + size_t(i) * rb);
  return p;
}

// sum_j |w_j| |x_j| for row r and token t: the scale of the dot's rounding error.
double magnitude(const Weights& w, const std::vector<float>& x, int64_t r, int64_t t) {
  double s = 0;
  for (int64_t c = 0; c < w.cols; ++c) s += std::fabs(double(w.deq[size_t(r * w.cols + c)]) * x[size_t(t * w.cols + c)]);
  return s;
}

// Largest |a - b| / sum|w||x| over all outputs (Y laid out [t][r]).
double max_rel_error(const Weights& w, const std::vector<float>& x, int64_t T, const std::vector<float>& a,
                     const std::vector<float>& b) {
  double worst = 0;
  for (int64_t t = 0; t < T; ++t)
    for (int64_t r = 0; r < w.rows; ++r) {
      const double mag = magnitude(w, x, r, t) + 1e-30;
      worst = std::max(worst, std::fabs(double(a[size_t(t * w.rows + r)]) - b[size_t(t * w.rows + r)]) / mag);
    }
  return worst;
}

// The tolerance of the fast kernels against the reference. Quantized: the block integer sums are
// exact, only the float accumulation order differs. Float: the order of a long float dot differs.
constexpr double kTolerance = 1e-5;

std::string label(DType t, int64_t rows, int64_t cols, int64_t T = 1) {
  return std::string(dtype_name(t)) + " rows=" + std::to_string(rows) + " cols=" + std::to_string(cols) +
         " T=" + std::to_string(T);
}

TEST(Kernels, FastSetIsChosenOnAvx512Cpus) {
  __builtin_cpu_init();
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
  if (!avx512) GTEST_SKIP() << "no AVX-512 VNNI on this CPU";
  if (const char* f = std::getenv("RWKV_KERNELS"); f && std::string(f) == "reference") GTEST_SKIP();
  EXPECT_TRUE(have_fast()) << best_kernels().name;
}

TEST(Kernels, QuantizedActivationsMatchReferenceBitForBit) {
  if (!have_fast()) GTEST_SKIP() << "no fast kernel set on this CPU";
  constexpr int64_t cols = 32 * 40;
  std::vector<float> x = make_activations(1, cols, 77);
  for (int64_t i = 0; i < 32; ++i) x[size_t(i)] = 0.0f;                           // an all-zero block
  // amax 127 gives d = 1, so the others are exact half-way ties: nearest even, as the reference rounds.
  for (int64_t i = 32; i < 64; ++i) x[size_t(i)] = i == 32 ? 127.0f : float(i - 48) + 0.5f;
  for (int64_t i = 64; i < 96; ++i) x[size_t(i)] = i == 70 ? -3.0f : 1e-30f;       // a tiny block, negative amax
  std::vector<ActBlockQ8> ref(size_t(cols / 32)), fast(size_t(cols / 32));
  reference_kernels().quantize_row(x.data(), cols, ref.data());
  best_kernels().quantize_row(x.data(), cols, fast.data());
  EXPECT_EQ(0, std::memcmp(ref.data(), fast.data(), ref.size() * sizeof(ActBlockQ8)));
  for (size_t b = 0; b < ref.size(); ++b) {
    EXPECT_EQ(ref[b].d, fast[b].d) << b;
    EXPECT_EQ(ref[b].s, fast[b].s) << b;
  }
}

TEST(Kernels, MatvecMatchesReference) {
  if (!have_fast()) GTEST_SKIP() << "no fast kernel set on this CPU";
  const KernelSet& ref = reference_kernels();
  const KernelSet& fast = best_kernels();
  for (DType t : kAllTypes) {
    double worst = 0;
    for (int64_t cols : kCols)
      for (int64_t rows : kRows) {
        const Weights w = make_weights(t, rows, cols, uint32_t(rows * 7919 + cols));
        const std::vector<float> x = make_activations(1, cols, uint32_t(cols + 1));
        const std::vector<uint8_t> xp = prepare(t, x, 1, cols);
        std::vector<float> yr(static_cast<size_t>(rows)), yf(static_cast<size_t>(rows), -1.0f);
        ref.matvec_rows(w.args(), xp.data(), yr.data(), 0, rows);
        fast.matvec_rows(w.args(), xp.data(), yf.data(), 0, rows);
        const double e = max_rel_error(w, x, 1, yf, yr);
        worst = std::max(worst, e);
        EXPECT_LE(e, kTolerance) << label(t, rows, cols);
      }
    std::cout << "  matvec " << dtype_name(t) << ": max |fast - ref| / sum|w||x| = " << worst << "\n";
    RecordProperty(std::string("matvec_max_rel_err_") + dtype_name(t), std::to_string(worst));
  }
}

// The AVX-512 sets this CPU has ("avx512-vbmi" unpacks nibble quads with byte permutes where "avx512-vnni"
// uses narrow loads): the same quants and the same ops after them, so the same bits, one token or a few.
TEST(Kernels, Avx512SetsGiveTheSameBits) {
  const std::vector<const KernelSet*> sets = avx512_kernel_sets();
  if (sets.size() < 2) GTEST_SKIP() << "fewer than two AVX-512 kernel sets on this CPU";
  for (DType t : kAllTypes)
    for (int64_t cols : kCols)
      for (int64_t rows : kRows)
        for (int64_t T : {1, 3, 4, 13}) {
          const Weights w = make_weights(t, rows, cols, uint32_t(rows * 31 + cols + T));
          const std::vector<float> x = make_activations(T, cols, uint32_t(cols + T));
          const std::vector<uint8_t> xp = prepare(t, x, T, cols);
          const size_t xrb = dtype_is_quantized(t) ? prepared_row_bytes(t, cols) : size_t(cols) * sizeof(float);
          std::vector<std::vector<float>> out;
          for (const KernelSet* k : sets) {
            std::vector<float> y(size_t(rows * T), -1.0f);
            if (T == 1) k->matvec_rows(w.args(), xp.data(), y.data(), 0, rows);
            else k->matmul_rows(w.args(), xp.data(), xrb, T, y.data(), rows, 0, rows);
            out.push_back(std::move(y));
          }
          for (size_t s = 1; s < out.size(); ++s)
            ASSERT_EQ(0, std::memcmp(out[0].data(), out[s].data(), out[0].size() * sizeof(float)))
                << sets[0]->name << " vs " << sets[s]->name << ": " << label(t, rows, cols) << " T " << T;
        }
}

TEST(Kernels, FloatMatvecHandlesOddWidths) {
  if (!have_fast()) GTEST_SKIP();
  for (DType t : {DType::F32, DType::F16})
    for (int64_t cols : {1, 7, 16, 33, 100}) {
      const Weights w = make_weights(t, 5, cols, uint32_t(cols));
      const std::vector<float> x = make_activations(1, cols, 3);
      std::vector<float> yr(5), yf(5);
      reference_kernels().matvec_rows(w.args(), x.data(), yr.data(), 0, 5);
      best_kernels().matvec_rows(w.args(), x.data(), yf.data(), 0, 5);
      EXPECT_LE(max_rel_error(w, x, 1, yf, yr), kTolerance) << label(t, 5, cols);
    }
}

TEST(Kernels, MatmulMatchesReference) {
  if (!have_fast()) GTEST_SKIP();
  const KernelSet& ref = reference_kernels();
  const KernelSet& fast = best_kernels();
  for (DType t : kAllTypes) {
    double worst = 0;
    for (int64_t cols : {32, 96, 224, 1024})
      for (int64_t rows : kRows)
        for (int64_t T : kTokens) {
          const Weights w = make_weights(t, rows, cols, uint32_t(rows * 31 + cols));
          const std::vector<float> x = make_activations(T, cols, uint32_t(T * 17 + cols));
          const std::vector<uint8_t> xp = prepare(t, x, T, cols);
          const size_t xrb = prepared_row_bytes(t, cols);
          std::vector<float> yr(size_t(rows * T)), yf(size_t(rows * T), -1.0f);
          ref.matmul_rows(w.args(), xp.data(), xrb, T, yr.data(), rows, 0, rows);
          fast.matmul_rows(w.args(), xp.data(), xrb, T, yf.data(), rows, 0, rows);
          const double e = max_rel_error(w, x, T, yf, yr);
          worst = std::max(worst, e);
          EXPECT_LE(e, kTolerance) << label(t, rows, cols, T);
        }
    std::cout << "  matmul " << dtype_name(t) << ": max |fast - ref| / sum|w||x| = " << worst << "\n";
  }
}

// Sequence mode = token-by-token mode, bit for bit, whatever the weight type (matvec.h's contract).
TEST(Kernels, MatmulIsBitIdenticalToMatvec) {
  for (const KernelSet* ks : {&reference_kernels(), &best_kernels()})
    for (DType t : kAllTypes)
      for (int64_t cols : {32, 224, 256, 2080, 4096})  // 2080, 4096: the 8-token float tile in column ranges
        for (int64_t rows : kRows)
          for (int64_t T : kTokens) {
            if (cols >= 2080 && T == 64 && rows == 130) continue;  // enough coverage, keeps the test quick
            const Weights w = make_weights(t, rows, cols, uint32_t(rows + cols));
            const std::vector<float> x = make_activations(T, cols, uint32_t(T + cols * 3));
            const std::vector<uint8_t> xp = prepare(t, x, T, cols);
            const size_t xrb = prepared_row_bytes(t, cols);
            std::vector<float> seq(size_t(rows * T)), one(size_t(rows * T));
            ks->matmul_rows(w.args(), xp.data(), xrb, T, seq.data(), rows, 0, rows);
            for (int64_t i = 0; i < T; ++i) ks->matvec_rows(w.args(), xp.data() + size_t(i) * xrb, one.data() + i * rows, 0, rows);
            ASSERT_EQ(0, std::memcmp(seq.data(), one.data(), seq.size() * sizeof(float)))
                << ks->name << " " << label(t, rows, cols, T);
          }
}

// Q8_0's AVX-512 kernels take 16 blocks a vector and treat a row's last, shorter group apart (with bodies of
// their own for whole groups and for 8 blocks): every row length from 1 to 40 blocks, in one-token decoding,
// small batches (tiles from the stored rows) and prompts (rows unpacked once per chunk), against the
// reference and bit for bit between sequence and token-by-token.
TEST(Kernels, Q8_0EveryRowLengthUpToTwoAndAHalfHexes) {
  for (int64_t nb = 1; nb <= 40; ++nb) {
    const int64_t cols = 32 * nb, rows = 9;
    const Weights w = make_weights(DType::Q8_0, rows, cols, uint32_t(nb * 101));
    for (int64_t T : {1, 3, 21}) {
      const std::vector<float> x = make_activations(T, cols, uint32_t(nb * 7 + T));
      const std::vector<uint8_t> xp = prepare(DType::Q8_0, x, T, cols);
      const size_t xrb = prepared_row_bytes(DType::Q8_0, cols);
      std::vector<float> ref(size_t(rows * T)), seq(size_t(rows * T)), one(size_t(rows * T));
      reference_kernels().matmul_rows(w.args(), xp.data(), xrb, T, ref.data(), rows, 0, rows);
      best_kernels().matmul_rows(w.args(), xp.data(), xrb, T, seq.data(), rows, 0, rows);
      for (int64_t i = 0; i < T; ++i)
        best_kernels().matvec_rows(w.args(), xp.data() + size_t(i) * xrb, one.data() + i * rows, 0, rows);
      EXPECT_LE(max_rel_error(w, x, T, seq, ref), kTolerance) << label(DType::Q8_0, rows, cols, T);
      ASSERT_EQ(0, std::memcmp(seq.data(), one.data(), seq.size() * sizeof(float))) << label(DType::Q8_0, rows, cols, T);
    }
  }
}

// A row range [r0, r1) writes exactly those outputs, and they do not depend on the range's bounds.
// The same for float weights at widths that are not a multiple of 16 (a masked last vector), wide
// enough that batched decoding splits each row into column ranges.
TEST(Kernels, FloatMatmulIsBitIdenticalToMatvecAtOddWidths) {
  for (DType t : {DType::F32, DType::F16})
    for (int64_t cols : {1100, 2051})
      for (int64_t T : {8, 9, 16, 17, 40}) {  // 17, 40: the prompt GEMM, with partial token tiles and groups
        const int64_t rows = 37;
        const Weights w = make_weights(t, rows, cols, uint32_t(cols));
        const std::vector<float> x = make_activations(T, cols, uint32_t(T));
        const size_t xrb = size_t(cols) * sizeof(float);
        std::vector<float> seq(size_t(rows * T)), one(size_t(rows * T));
        best_kernels().matmul_rows(w.args(), x.data(), xrb, T, seq.data(), rows, 0, rows);
        for (int64_t i = 0; i < T; ++i) best_kernels().matvec_rows(w.args(), x.data() + i * cols, one.data() + i * rows, 0, rows);
        ASSERT_EQ(0, std::memcmp(seq.data(), one.data(), seq.size() * sizeof(float))) << label(t, rows, cols, T);
      }
}

// Rows [r0, r1) of the product alone: those rows get the bits of the whole product, every other output
// keeps its fill value.
void expect_range_writes_only_its_rows(const Weights& w, const void* X, size_t x_row_bytes, int64_t T, int64_t r0,
                                       int64_t r1, const std::string& what) {
  const int64_t rows = w.rows;
  std::vector<float> full(size_t(rows * T)), part(size_t(rows * T), 12345.0f);
  best_kernels().matmul_rows(w.args(), X, x_row_bytes, T, full.data(), rows, 0, rows);
  best_kernels().matmul_rows(w.args(), X, x_row_bytes, T, part.data(), rows, r0, r1);
  for (int64_t i = 0; i < T; ++i)
    for (int64_t r = 0; r < rows; ++r) {
      const float p = part[size_t(i * rows + r)];
      if (r >= r0 && r < r1) EXPECT_EQ(p, full[size_t(i * rows + r)]) << what << " r=" << r;
      else EXPECT_EQ(p, 12345.0f) << what << " r=" << r;
    }
}

TEST(Kernels, RowRangesWriteOnlyTheirRows) {
  for (DType t : kAllTypes) {
    const int64_t rows = 130, cols = 256, T = 7;
    const Weights w = make_weights(t, rows, cols, 11);
    const std::vector<float> x = make_activations(T, cols, 12);
    const std::vector<uint8_t> xp = prepare(t, x, T, cols);
    const size_t xrb = prepared_row_bytes(t, cols);
    expect_range_writes_only_its_rows(w, xp.data(), xrb, T, 5, 78, label(t, rows, cols, T));
  }
}

// The float prompt GEMM packs 48-row blocks from r0: a range that starts and ends mid-block writes
// exactly its rows, with the bits of the whole product.
TEST(Kernels, FloatGemmRowRangesWriteOnlyTheirRows) {
  for (DType t : {DType::F32, DType::F16}) {
    const int64_t rows = 150, cols = 272, T = 33;
    const Weights w = make_weights(t, rows, cols, 21);
    const std::vector<float> x = make_activations(T, cols, 22);
    const size_t xrb = size_t(cols) * sizeof(float);
    expect_range_writes_only_its_rows(w, x.data(), xrb, T, 5, 101, label(t, rows, cols, T));
  }
}

// Decoding (one token) splits a group's rows into guided tasks (each 1/threads of the bytes left): every
// row of every product is written exactly once, whatever the products' sizes and types, with the bits of
// the product run alone on one thread. Outputs start as NaN, so a row no task covers shows.
TEST(Kernels, LinearDecodeGroupWritesEveryRowOnce) {
  ThreadPool pool(2), one_thread(1);
  Linear linear(pool), alone(one_thread);
  const int64_t cols = 544;
  const std::vector<float> x = make_activations(1, cols, 7);
  // Sizes around the task rounding: a matrix under one 12-row tile, one just past a task, a large one.
  const std::vector<std::pair<DType, int64_t>> shapes = {{DType::Q5_1, 7}, {DType::F16, 1000}, {DType::Q8_0, 2411},
                                                         {DType::Q4_0, 13}, {DType::F32, 250}};
  std::vector<Weights> ws;
  std::vector<Tensor> ts;
  for (size_t i = 0; i < shapes.size(); ++i) ws.push_back(make_weights(shapes[i].first, shapes[i].second, cols, uint32_t(40 + i)));
  for (const Weights& w : ws) ts.push_back(w.tensor());
  std::vector<std::vector<float>> got(ts.size()), want(ts.size());
  for (size_t i = 0; i < ts.size(); ++i) {
    got[i].assign(size_t(ts[i].rows()), std::nanf(""));
    want[i].assign(size_t(ts[i].rows()), 0.0f);
    alone.run(ts[i], x.data(), 1, want[i].data());
  }
  linear.run_group({{&ts[0], x.data(), got[0].data()}, {&ts[1], x.data(), got[1].data()}, {&ts[2], x.data(), got[2].data()},
                    {&ts[3], x.data(), got[3].data()}, {&ts[4], x.data(), got[4].data()}},
                   1);
  for (size_t i = 0; i < ts.size(); ++i)
    EXPECT_EQ(0, std::memcmp(got[i].data(), want[i].data(), got[i].size() * sizeof(float))) << label(ws[i].t, ws[i].rows, cols, 1);
}

// Through Linear on a 2-thread pool (rows split across threads, activations prepared once per call; more
// than 16 tokens: quantized and packed once, by both threads, into the layout the kernels share): results
// agree with the reference kernels, and T tokens at once equal T single tokens for quantized types (and for
// float ones where the AVX-512 kernels run). 544 columns: 17 blocks, four quads and a lone block.
TEST(Kernels, LinearWithTwoThreads) {
  ThreadPool pool(2);
  Linear linear(pool);
  const bool exact_floats = &best_kernels() != &reference_kernels();
  for (DType t : kAllTypes)
    for (int64_t rows : {3, 130, 1000})
      for (auto [cols, T] : {std::pair<int64_t, int64_t>{512, 9}, {512, 37}, {544, 40}}) {
        const Weights w = make_weights(t, rows, cols, uint32_t(rows));
        const Tensor W = w.tensor();
        const std::vector<float> x = make_activations(T, cols, 5);
        std::vector<float> seq(size_t(rows * T)), one(size_t(rows * T)), ref(size_t(rows * T));
        linear.run(W, x.data(), T, seq.data());
        for (int64_t i = 0; i < T; ++i) linear.run(W, x.data() + i * cols, 1, one.data() + i * rows);
        const std::vector<uint8_t> xp = prepare(t, x, T, cols);
        reference_kernels().matmul_rows(w.args(), xp.data(), prepared_row_bytes(t, cols), T, ref.data(), rows, 0, rows);
        EXPECT_LE(max_rel_error(w, x, T, one, ref), kTolerance) << label(t, rows, cols, T);
        // Float weights with T > 1 may go to OpenBLAS: a different summation order, still accurate.
        EXPECT_LE(max_rel_error(w, x, T, seq, ref), dtype_is_quantized(t) ? kTolerance : 1e-4) << label(t, rows, cols, T);
        if (dtype_is_quantized(t) || exact_floats)
          EXPECT_EQ(0, std::memcmp(seq.data(), one.data(), seq.size() * sizeof(float))) << label(t, rows, cols, T);
        // Other activations through the same Linear (its prepared buffer, the threads' packed copies):
        // nothing of the previous call may be reused.
        const std::vector<float> x2 = make_activations(T, cols, 6);
        linear.run(W, x2.data(), T, seq.data());
        const std::vector<uint8_t> xp2 = prepare(t, x2, T, cols);
        reference_kernels().matmul_rows(w.args(), xp2.data(), prepared_row_bytes(t, cols), T, ref.data(), rows, 0, rows);
        EXPECT_LE(max_rel_error(w, x2, T, seq, ref), dtype_is_quantized(t) ? kTolerance : 1e-4) << label(t, rows, cols, T);
      }
}

}  // namespace
