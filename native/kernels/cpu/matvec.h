// Matrix-vector and matrix-matrix row kernels, one per weight type. This is where decoding spends
// almost all of its time: every weight row is read once per token.
//
// Contract shared by every implementation (reference and SIMD):
//  * Weights stay in their stored type and are dequantized on the fly.
//  * F32/F16 weights take float activations. Quantized weights take activations quantized to
//    ActBlockQ8 (per 32: d = amax/127, q = round(x/d)), the same scheme ggml uses, and the dot is
//    integer inside each block: sum_b d_w*d_x*sum(q_w*q_x) (+ m_w*s_x for the _1 types).
//  * matmul_rows(T tokens) gives, for every token, exactly the bits matvec_rows gives for it. This is
//    what makes sequence mode reproduce token-by-token mode bit for bit on quantized weights.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/dtype.h"

namespace rwkv::cpu {

struct ActBlockQ8 {
  float d;  // scale
  float s;  // d * sum(qs), for the offset term of Q4_1 / Q5_1
  int8_t qs[32];
};

// Bytes needed for one prepared activation row of `cols` elements for weight type `t`.
size_t prepared_row_bytes(DType t, int64_t cols);
// Float row -> the form the kernel for `t` takes (a copy for F32/F16; ActBlockQ8 for quantized).
void prepare_activations(DType t, const float* x, int64_t cols, void* out);

struct MatvecArgs {
  DType dtype;
  const uint8_t* w;   // row 0 of the weight matrix
  size_t w_row_bytes; // bytes per weight row
  int64_t cols;       // elements per row
  // Names the contents of the activations passed with these args for one call (Linear gives each
  // quantized input a process-wide unique id): a kernel run on several row ranges of one product may
  // keep work it did on them (the AVX-512 set repacks quantized activations once per thread, not once
  // per range). 0: nothing may be reused.
  uint64_t x_id = 0;
  // The activations already in the layout this kernel set's prompt kernels read (KernelSet::pack), for
  // all T tokens: packed once per product and shared by every thread. Null: the kernel packs for itself.
  const void* packed = nullptr;
};

// A new, process-wide unique x_id.
uint64_t next_activation_id();

// y[r] = dot(W[r], x) for r in [r0, r1). `x` is a prepared activation row.
using MatvecRowsFn = void (*)(const MatvecArgs& a, const void* x, float* y, int64_t r0, int64_t r1);
// Y[t*ldy + r] = dot(W[r], X_t) for t in [0, T), r in [r0, r1); X_t = X + t*x_row_bytes (prepared rows).
using MatmulRowsFn = void (*)(const MatvecArgs& a, const void* X, size_t x_row_bytes, int64_t T, float* Y,
                              int64_t ldy, int64_t r0, int64_t r1);

// One float row -> ActBlockQ8 blocks (quantized weight types); bit-identical to prepare_activations.
using QuantizeRowFn = void (*)(const float* x, int64_t cols, ActBlockQ8* out);

// Prompts (more than kSharedPackTokens tokens): the layout a set's matmul_rows reads its activations in.
// packed_bytes: its size for T tokens (0: this product packs nothing). pack: tokens [t0, t1) of the T
// into it, from their prepared rows (X: token t0's, x_row_bytes apart); t0 a multiple of kPackSliceTokens,
// t1 one too or T. Slices may run on different threads.
using PackedBytesFn = size_t (*)(const MatvecArgs& a, int64_t T);
using PackFn = void (*)(const MatvecArgs& a, const void* X, size_t x_row_bytes, int64_t T, int64_t t0, int64_t t1,
                        void* packed);
constexpr int64_t kSharedPackTokens = 16;
constexpr int64_t kPackSliceTokens = 16;

struct KernelSet {
  const char* name;
  MatvecRowsFn matvec_rows;
  MatmulRowsFn matmul_rows;
  QuantizeRowFn quantize_row;
  PackedBytesFn packed_bytes = nullptr;  // both null: the set's kernels pack for themselves
  PackFn pack = nullptr;
};

// Plain C++ kernels: the reference every fast kernel is tested against.
const KernelSet& reference_kernels();
// The AVX-512 sets this CPU can run, fastest first ("avx512-vbmi" where it has VBMI and BITALG, then
// "avx512-vnni"); empty without AVX-512 VNNI.
std::vector<const KernelSet*> avx512_kernel_sets();
// The fastest kernels this CPU supports (chosen once, from cpuid). Falls back to the reference.
const KernelSet& best_kernels();

}  // namespace rwkv::cpu
