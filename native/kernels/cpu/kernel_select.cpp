// Picks the kernel set once per process from the CPU's features.
#include <cstdlib>
#include <cstring>
#include <vector>

#include "kernels/cpu/matvec.h"

namespace rwkv::cpu {

const KernelSet* avx512_kernels();       // kernels/cpu/matvec_avx512.cpp
const KernelSet* avx512_vbmi_kernels();  // the same file built with VBMI and BITALG (matvec_vbmi_avx512.cpp)

std::vector<const KernelSet*> avx512_kernel_sets() {
  std::vector<const KernelSet*> sets;
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw") ||
      !__builtin_cpu_supports("avx512vl") || !__builtin_cpu_supports("avx512vnni"))
    return sets;
  if (__builtin_cpu_supports("avx512vbmi") && __builtin_cpu_supports("avx512bitalg")) sets.push_back(avx512_vbmi_kernels());
  sets.push_back(avx512_kernels());
#endif
  return sets;
}

const KernelSet& best_kernels() {
  static const KernelSet* chosen = [] {
    // RWKV_KERNELS=reference (or the name of an AVX-512 set, e.g. avx512-vnni) forces the plain kernels
    // (or that set): debugging, A/B measurements. Otherwise the fastest set this CPU runs.
    const char* force = std::getenv("RWKV_KERNELS");
    if (force && std::strcmp(force, "reference") == 0) return &reference_kernels();
    const std::vector<const KernelSet*> sets = avx512_kernel_sets();
    for (const KernelSet* k : sets)
      if (force && std::strcmp(force, k->name) == 0) return k;
    return sets.empty() ? &reference_kernels() : sets.front();
  }();
  return *chosen;
}

}  // namespace rwkv::cpu
