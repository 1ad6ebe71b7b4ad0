// AVX-512 kernels (placeholder until the SIMD set lands): returns null so the reference is used.
#include "kernels/cpu/matvec.h"

namespace rwkv::cpu {

const KernelSet* avx512_kernels() { return nullptr; }

}  // namespace rwkv::cpu
