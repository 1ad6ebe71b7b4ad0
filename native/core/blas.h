// OpenBLAS, loaded at run time with dlopen.
// Why not link it: Debian's OpenBLAS picks its kernels when it loads, and on some CPUs it guesses
// wrong ("Prescott") and runs sgemm 5x slow unless OPENBLAS_CORETYPE is set first. Loading it
// ourselves lets us set that variable from the CPU's real features before it initialises (users can
// still override it), and lets the engine work, more slowly, where OpenBLAS is not installed.
#pragma once
#include <string>

namespace rwkv {

struct Blas {
  // C = A(MxK, row-major) * B(NxK, row-major)^T, i.e. cblas_sgemm(RowMajor, NoTrans, Trans, ...).
  void (*sgemm)(int order, int trans_a, int trans_b, int m, int n, int k, float alpha, const float* a, int lda,
                const float* b, int ldb, float beta, float* c, int ldc) = nullptr;
  void (*set_num_threads)(int) = nullptr;
  std::string library;   // the path that was loaded
  std::string coretype;  // OPENBLAS_CORETYPE in effect ("" if unset)

  // Null when OpenBLAS cannot be loaded; the caller falls back to its own kernels.
  static const Blas* get();
};

// The OPENBLAS_CORETYPE that suits this CPU, from cpuid ("SkylakeX", "Haswell", ...; "" to leave it).
std::string openblas_coretype_for_cpu();

}  // namespace rwkv
