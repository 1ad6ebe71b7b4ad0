// Q8_0 weights on AVX-512 VNNI (q8_0_avx512.cpp): the KernelSet entries of the AVX-512 set for this
// type. Same contract as every row kernel (matvec.h): matmul gives each token the bits matvec gives it.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/cpu/matvec.h"

namespace rwkv::cpu {

void matvec_q8_0_avx512(const MatvecArgs& a, const void* x, float* y, int64_t r0, int64_t r1);
void matmul_q8_0_avx512(const MatvecArgs& a, const void* X, size_t x_row_bytes, int64_t T, float* Y, int64_t ldy,
                        int64_t r0, int64_t r1);
// The activation layout the matmul reads, for T tokens of `cols` (KernelSet::packed_bytes / pack).
size_t q8_0_packed_bytes(int64_t cols, int64_t T);
void q8_0_pack(const void* X, size_t x_row_bytes, int64_t cols, int64_t t0, int64_t t1, void* packed);

}  // namespace rwkv::cpu
