// Picks the kernel set once per process from the CPU's features.
#include <cstdlib>
#include <cstring>

#include "kernels/cpu/matvec.h"

namespace rwkv::cpu {

const KernelSet* avx512_kernels();  // kernels/cpu/matvec_avx512.cpp; null if not compiled in

const KernelSet& best_kernels() {
  static const KernelSet* chosen = [] {
    // RWKV_KERNELS=reference forces the plain kernels (debugging, A/B measurements).
    const char* force = std::getenv("RWKV_KERNELS");
    if (force && std::strcmp(force, "reference") == 0) return &reference_kernels();
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni"))
      if (const KernelSet* k = avx512_kernels()) return k;
#endif
    return &reference_kernels();
  }();
  return *chosen;
}

}  // namespace rwkv::cpu
