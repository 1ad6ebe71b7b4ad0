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

// Whether a float product of T tokens on rows of `cols` goes through the GEMM (prompts; batched decoding
// of up to 16 sequences and narrow rows keep the row kernels' tiles).
constexpr bool float_gemm_applies(int64_t T, int64_t cols) { return T > 16 && cols >= 256; }
// The GEMM packs and walks the weights in blocks of this many rows: row ranges handed to it in whole
// blocks waste no lanes.
constexpr int64_t kGemmBlockRows = 48;

}  // namespace rwkv::cpu
