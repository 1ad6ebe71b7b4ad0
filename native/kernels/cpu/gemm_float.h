// The prompt GEMM for float weights (gemm_float_avx512.cpp): Y[t*ldy + r] = dot(W[r], X_t) for F32/F16
// weights, t in [0, T), r in [r0, r1); the same bits as the AVX-512 row kernels give each (row, token).
// a.x_id names X: a thread running several row ranges of one product packs X once.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/cpu/matvec.h"

namespace rwkv::cpu {

void gemm_float_avx512(const MatvecArgs& a, const void* X, size_t x_row_bytes, int64_t T, float* Y, int64_t ldy,
                       int64_t r0, int64_t r1);

// Prompts of more tokens than this, on rows at least kGemmMinCols wide, go through the GEMM.
constexpr int64_t kGemmMinTokens = 16;
constexpr int64_t kGemmMinCols = 256;

}  // namespace rwkv::cpu
