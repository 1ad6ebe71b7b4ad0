#include "kernels/vulkan/weights.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"

namespace rwkv::vk {

namespace {

uint32_t quant_bytes(DType t) { return t == DType::Q8_0 ? 32 : 16; }
bool has_min(DType t) { return t == DType::Q4_1 || t == DType::Q5_1; }
bool has_high_bits(DType t) { return t == DType::Q5_0 || t == DType::Q5_1; }

// Splits rwkv.cpp blocks of one row into quants / (d|m<<16) / qh arrays (little-endian hosts).
void split_row(DType t, const uint8_t* src, int64_t nb, uint8_t* qs, uint32_t* scales, uint32_t* high) {
  const size_t bb = dtype_row_bytes(t, kQuantBlock);
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* p = src + size_t(b) * bb;
    uint16_t d = 0, m = 0;
    std::memcpy(&d, p, 2);
    size_t at = 2;
    if (has_min(t)) std::memcpy(&m, p + 2, 2), at = 4;
    if (has_high_bits(t)) std::memcpy(&high[b], p + at, 4), at += 4;
    std::memcpy(qs + size_t(b) * quant_bytes(t), p + at, quant_bytes(t));
    scales[b] = uint32_t(d) | (uint32_t(m) << 16);
  }
}

}  // namespace

const char* matvec_shader(DType t) {
  switch (t) {
    case DType::F32: return "matvec_f32";
    case DType::F16: return "matvec_f16";
    case DType::Q4_0: return "matvec_q4_0";
    case DType::Q4_1: return "matvec_q4_1";
    case DType::Q5_0: return "matvec_q5_0";
    case DType::Q5_1: return "matvec_q5_1";
    case DType::Q8_0: return "matvec_q8_0";
  }
  throw Error(ErrorCode::DType, "no GPU kernel for this weight type");
}

const char* gemm_shader(DType t) {
  switch (t) {
    case DType::F16: return "gemm_f16";
    case DType::Q4_0: return "gemm_q4_0";
    case DType::Q4_1: return "gemm_q4_1";
    case DType::Q5_0: return "gemm_q5_0";
    case DType::Q5_1: return "gemm_q5_1";
    case DType::Q8_0: return "gemm_q8_0";
    default: break;
  }
  throw Error(ErrorCode::DType, "no GPU GEMM kernel for this weight type");
}

const char* gemm_few_shader(DType t) {
  switch (t) {
    case DType::F16: return "gemm_few_f16";
    case DType::Q4_0: return "gemm_few_q4_0";
    case DType::Q4_1: return "gemm_few_q4_1";
    case DType::Q5_0: return "gemm_few_q5_0";
    case DType::Q5_1: return "gemm_few_q5_1";
    case DType::Q8_0: return "gemm_few_q8_0";
    default: break;
  }
  throw Error(ErrorCode::DType, "no GPU few-token GEMM kernel for this weight type");
}

GpuMatrix GpuMatrix::rows_view(int64_t r0, int64_t r1) const {
  GpuMatrix v = *this;
  v.rows = r1 - r0;
  v.w = sub(w, uint64_t(r0) * row_units * 16, uint64_t(v.rows) * row_units * 16);
  if (dtype_is_quantized(dtype)) {
    v.ws = sub(ws, uint64_t(r0) * row_blocks * 4, uint64_t(v.rows) * row_blocks * 4);
    if (has_high_bits(dtype)) v.wh = sub(wh, uint64_t(r0) * row_blocks * 4, uint64_t(v.rows) * row_blocks * 4);
  }
  return v;
}

GpuMatrix upload_matrix(Arena& arena, Uploader& up, const Tensor& t) {
  GpuMatrix m;
  m.dtype = t.dtype;
  m.rows = t.rows();
  m.cols = t.cols();
  const size_t src_row = t.row_bytes();
  if (!dtype_is_quantized(t.dtype)) {
    const uint32_t per_unit = t.dtype == DType::F32 ? 4 : 8;
    m.row_units = uint32_t((m.cols + per_unit - 1) / per_unit);
    const size_t dst_row = size_t(m.row_units) * 16;
    m.w = arena.allocate(uint64_t(m.rows) * dst_row);
    if (dst_row == src_row) {
      up.upload(m.w, 0, t.data, uint64_t(m.rows) * dst_row);  // already aligned: straight from the mapped file
    } else {
      std::vector<uint8_t> row(dst_row, 0);  // zero padding: padded weights times padded activations add 0
      for (int64_t r = 0; r < m.rows; ++r) {
        std::memcpy(row.data(), t.row(r), src_row);
        up.upload(m.w, uint64_t(r) * dst_row, row.data(), dst_row);
      }
    }
    m.bytes = m.w.size;
    return m;
  }
  if (m.cols % kQuantBlock != 0) throw Error(ErrorCode::Shape, "tensor '" + t.name + "': quantized rows must be whole blocks");
  const int64_t nb = m.cols / kQuantBlock;
  m.row_blocks = uint32_t(nb);
  m.row_units = uint32_t(nb * quant_bytes(t.dtype) / 16);
  m.w = arena.allocate(uint64_t(m.rows) * m.row_units * 16);
  m.ws = arena.allocate(uint64_t(m.rows) * nb * 4);
  if (has_high_bits(t.dtype)) m.wh = arena.allocate(uint64_t(m.rows) * nb * 4);
  // Repack in slabs of rows to bound host memory for big matrices (the head of a large model).
  const int64_t slab = std::max<int64_t>(1, (16 << 20) / std::max<int64_t>(1, nb * 40));
  std::vector<uint8_t> qs;
  std::vector<uint32_t> scales, high;
  for (int64_t r0 = 0; r0 < m.rows; r0 += slab) {
    const int64_t n = std::min(slab, m.rows - r0);
    qs.assign(size_t(n * nb) * quant_bytes(t.dtype), 0);
    scales.assign(size_t(n * nb), 0);
    high.assign(size_t(n * nb), 0);
    for (int64_t r = 0; r < n; ++r)
      split_row(t.dtype, t.row(r0 + r), nb, qs.data() + size_t(r * nb) * quant_bytes(t.dtype), scales.data() + r * nb,
                high.data() + r * nb);
    up.upload(m.w, uint64_t(r0) * m.row_units * 16, qs.data(), qs.size());
    up.upload(m.ws, uint64_t(r0 * nb) * 4, scales.data(), scales.size() * 4);
    if (has_high_bits(t.dtype)) up.upload(m.wh, uint64_t(r0 * nb) * 4, high.data(), high.size() * 4);
  }
  m.bytes = m.w.size + m.ws.size + m.wh.size;
  return m;
}

Slice upload_floats(Arena& arena, Uploader& up, const std::vector<float>& v) {
  Slice s = arena.allocate(v.size() * sizeof(float));
  up.upload(s, 0, v.data(), v.size() * sizeof(float));
  return s;
}

}  // namespace rwkv::vk
