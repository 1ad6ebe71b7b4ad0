// The prompt GEMM for float weights (gemm_float_avx512.cpp): Y[t*ldy + r] = dot(W[r], X_t) for F32/F16
// weights, t in [0, T), r in [r0, r1); the same bits as the AVX-512 row kernels give each (row, token).
// a.packed: X as gemm_float_pack left it (Linear packs once for every thread); null: the call packs X.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/cpu/matvec.h"

namespace rwkv::cpu {

void gemm_float_avx512(const MatvecArgs& a, const void* X, size_t x_row_bytes, int64_t T, float* Y, int64_t ldy,
                       int64_t r0, int64_t r1);

// The GEMM's activation panels for T tokens of `cols` floats: their size, and tokens [t0, t1) packed
// into them (X: token t0's row; as KernelSet::pack). Passed as MatvecArgs::packed, one packing serves
// every thread.
size_t gemm_float_packed_bytes(int64_t cols, int64_t T);
void gemm_float_pack(const void* X, size_t x_row_bytes, int64_t cols, int64_t t0, int64_t t1, void* packed);

// Whether a float product of T tokens on rows of `cols` goes through the GEMM (prompts; batched decoding
// of up to 16 sequences and narrow rows keep the row kernels' tiles).
constexpr bool float_gemm_applies(int64_t T, int64_t cols) { return T > 16 && cols >= 256; }
// The GEMM packs and walks the weights in blocks of this many rows: row ranges handed to it in whole
// blocks waste no lanes.
constexpr int64_t kGemmBlockRows = 48;

}  // namespace rwkv::cpu
