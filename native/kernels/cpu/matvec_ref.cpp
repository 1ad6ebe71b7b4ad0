// Reference kernels: straightforward loops, the ground truth for the SIMD versions.
#include <cmath>
#include <cstring>

#include "kernels/cpu/matvec.h"

namespace rwkv::cpu {

size_t prepared_row_bytes(DType t, int64_t cols) {
  if (t == DType::F32 || t == DType::F16) return size_t(cols) * sizeof(float);
  return size_t(cols / kQuantBlock) * sizeof(ActBlockQ8);
}

namespace {
void quantize_row_ref(const float* x, int64_t cols, ActBlockQ8* blocks) {
  for (int64_t b = 0; b < cols / kQuantBlock; ++b) {
    const float* xb = x + b * kQuantBlock;
    float amax = 0.0f;
    for (int j = 0; j < kQuantBlock; ++j) amax = std::fmax(amax, std::fabs(xb[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    int sum = 0;
    for (int j = 0; j < kQuantBlock; ++j) {
      const int q = int(std::nearbyint(xb[j] * id));  // round half to even, as ggml's x86 path
      blocks[b].qs[j] = int8_t(q);
      sum += q;
    }
    blocks[b].d = d;
    blocks[b].s = d * float(sum);
  }
}
}  // namespace

void prepare_activations(DType t, const float* x, int64_t cols, void* out) {
  if (t == DType::F32 || t == DType::F16) {
    std::memcpy(out, x, size_t(cols) * sizeof(float));
    return;
  }
  quantize_row_ref(x, cols, static_cast<ActBlockQ8*>(out));
}

namespace {

float dot_f32(const float* w, const float* x, int64_t n) {
  // Eight partial sums: a fixed order that the compiler can vectorise, independent of the caller.
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] += w[i + j] * x[i + j];
  float s = 0;
  for (int j = 0; j < 8; ++j) s += acc[j];
  for (; i < n; ++i) s += w[i] * x[i];
  return s;
}

float dot_f16(const uint16_t* w, const float* x, int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] += fp16_to_fp32(w[i + j]) * x[i + j];
  float s = 0;
  for (int j = 0; j < 8; ++j) s += acc[j];
  for (; i < n; ++i) s += fp16_to_fp32(w[i]) * x[i];
  return s;
}

// Unpacks one weight block to integer quants q[32] and returns (d, m) with value = q*d + m.
inline void unpack_block(DType t, const uint8_t* p, int8_t q[32], float* d, float* m) {
  switch (t) {
    case DType::Q4_0: {
      const BlockQ4_0* b = reinterpret_cast<const BlockQ4_0*>(p);
      for (int j = 0; j < 16; ++j) { q[j] = int8_t((b->qs[j] & 15) - 8); q[j + 16] = int8_t((b->qs[j] >> 4) - 8); }
      *d = fp16_to_fp32(b->d); *m = 0;
      return;
    }
    case DType::Q4_1: {
      const BlockQ4_1* b = reinterpret_cast<const BlockQ4_1*>(p);
      for (int j = 0; j < 16; ++j) { q[j] = int8_t(b->qs[j] & 15); q[j + 16] = int8_t(b->qs[j] >> 4); }
      *d = fp16_to_fp32(b->d); *m = fp16_to_fp32(b->m);
      return;
    }
    case DType::Q5_0: {
      const BlockQ5_0* b = reinterpret_cast<const BlockQ5_0*>(p);
      uint32_t qh; std::memcpy(&qh, b->qh, 4);
      for (int j = 0; j < 16; ++j) {
        q[j] = int8_t(((b->qs[j] & 15) | ((qh >> j) & 1) << 4) - 16);
        q[j + 16] = int8_t(((b->qs[j] >> 4) | ((qh >> (j + 16)) & 1) << 4) - 16);
      }
      *d = fp16_to_fp32(b->d); *m = 0;
      return;
    }
    case DType::Q5_1: {
      const BlockQ5_1* b = reinterpret_cast<const BlockQ5_1*>(p);
      uint32_t qh; std::memcpy(&qh, b->qh, 4);
      for (int j = 0; j < 16; ++j) {
        q[j] = int8_t((b->qs[j] & 15) | ((qh >> j) & 1) << 4);
        q[j + 16] = int8_t((b->qs[j] >> 4) | ((qh >> (j + 16)) & 1) << 4);
      }
      *d = fp16_to_fp32(b->d); *m = fp16_to_fp32(b->m);
      return;
    }
    case DType::Q8_0: {
      const BlockQ8_0* b = reinterpret_cast<const BlockQ8_0*>(p);
      std::memcpy(q, b->qs, 32);
      *d = fp16_to_fp32(b->d); *m = 0;
      return;
    }
    default: *d = *m = 0; return;
  }
}

size_t block_bytes(DType t) { return dtype_row_bytes(t, kQuantBlock); }

float dot_quant(DType t, const uint8_t* w, const ActBlockQ8* x, int64_t n) {
  const size_t bb = block_bytes(t);
  float sum = 0;
  int8_t q[32];
  for (int64_t b = 0; b < n / kQuantBlock; ++b) {
    float d, m;
    unpack_block(t, w + size_t(b) * bb, q, &d, &m);
    int32_t isum = 0;
    for (int j = 0; j < 32; ++j) isum += int32_t(q[j]) * x[b].qs[j];
    sum += d * x[b].d * float(isum) + m * x[b].s;
  }
  return sum;
}

float dot_row(const MatvecArgs& a, int64_t r, const void* x) {
  const uint8_t* w = a.w + size_t(r) * a.w_row_bytes;
  switch (a.dtype) {
    case DType::F32: return dot_f32(reinterpret_cast<const float*>(w), static_cast<const float*>(x), a.cols);
    case DType::F16: return dot_f16(reinterpret_cast<const uint16_t*>(w), static_cast<const float*>(x), a.cols);
    default: return dot_quant(a.dtype, w, static_cast<const ActBlockQ8*>(x), a.cols);
  }
}

void matvec_rows_ref(const MatvecArgs& a, const void* x, float* y, int64_t r0, int64_t r1) {
  for (int64_t r = r0; r < r1; ++r) y[r] = dot_row(a, r, x);
}

void matmul_rows_ref(const MatvecArgs& a, const void* X, size_t x_row_bytes, int64_t T, float* Y, int64_t ldy,
                     int64_t r0, int64_t r1) {
  const uint8_t* xb = static_cast<const uint8_t*>(X);
  for (int64_t r = r0; r < r1; ++r)
    for (int64_t t = 0; t < T; ++t) Y[t * ldy + r] = dot_row(a, r, xb + size_t(t) * x_row_bytes);
}

}  // namespace

const KernelSet& reference_kernels() {
  static const KernelSet set{"reference", matvec_rows_ref, matmul_rows_ref, quantize_row_ref};
  return set;
}

}  // namespace rwkv::cpu
