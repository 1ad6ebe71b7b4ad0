// Weights on the GPU: matrices stay in their stored type (F32, F16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0), repacked
// at upload into the aligned layouts matvec.comp reads (its header comment has them); values unchanged.
// Vectors (norm weights, mixes, decays) are widened to float on the CPU first, as the CPU path does.
#pragma once
#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "kernels/vulkan/buffer.h"

namespace rwkv::vk {

struct GpuMatrix {
  DType dtype = DType::F32;
  int64_t rows = 0, cols = 0;
  Slice w;   // F32/F16 rows or quants
  Slice ws;  // quantized: per-block scales
  Slice wh;  // Q5: per-block high bits
  uint32_t row_units = 0;   // uvec4 per row in w
  uint32_t row_blocks = 0;  // blocks per row (quantized)
  uint64_t bytes = 0;       // on the GPU

  // Rows [r0, r1) as a matrix of their own (stacked matrices such as v6's time_maa_w2).
  GpuMatrix rows_view(int64_t r0, int64_t r1) const;
};

GpuMatrix upload_matrix(Arena& arena, Uploader& up, const Tensor& t);
Slice upload_floats(Arena& arena, Uploader& up, const std::vector<float>& v);

// The matvec shader variant for a weight type ("matvec_f16", ...).
const char* matvec_shader(DType t);
// The cooperative-matrix GEMM variant ("gemm_f16", ...; no F32).
const char* gemm_shader(DType t);
// Its few-token form for batched decoding ("gemm_few_f16", ...; no F32).
const char* gemm_few_shader(DType t);

}  // namespace rwkv::vk
