#include "core/blas.h"

#include <dlfcn.h>

#include <cstdlib>

namespace rwkv {

std::string openblas_coretype_for_cpu() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
    return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
#endif
  return "";
}

const Blas* Blas::get() {
  static const Blas* instance = []() -> const Blas* {
    if (const char* off = std::getenv("RWKV_NO_BLAS"); off && *off && *off != '0') return nullptr;
    // Must happen before the library's constructor runs; an explicit user setting wins (overwrite = 0).
    const std::string coretype = openblas_coretype_for_cpu();
    if (!coretype.empty()) setenv("OPENBLAS_CORETYPE", coretype.c_str(), 0);
    static const char* const kCandidates[] = {"libopenblas.so.0", "libopenblas.so", "libopenblasp.so.0",
                                              "libopenblas.dylib"};
    for (const char* name : kCandidates) {
      void* handle = dlopen(name, RTLD_NOW | RTLD_LOCAL);
      if (!handle) continue;
      auto* blas = new Blas();
      blas->sgemm = reinterpret_cast<decltype(blas->sgemm)>(dlsym(handle, "cblas_sgemm"));
      blas->set_num_threads = reinterpret_cast<decltype(blas->set_num_threads)>(dlsym(handle, "openblas_set_num_threads"));
      if (!blas->sgemm) { delete blas; dlclose(handle); continue; }
      // The engine parallelises over row tiles itself; OpenBLAS threads would only oversubscribe.
      if (blas->set_num_threads) blas->set_num_threads(1);
      blas->library = name;
      const char* ct = std::getenv("OPENBLAS_CORETYPE");
      blas->coretype = ct ? ct : "";
      return blas;
    }
    return nullptr;
  }();
  return instance;
}

}  // namespace rwkv
