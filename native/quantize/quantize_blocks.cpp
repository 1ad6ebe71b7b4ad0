// Reference quantizers restated from engine-spec §8.5. Every step is float32 arithmetic in the same
// order ggml uses: x·(1/d) rather than x/d, truncation by an integer cast, `roundf` for Q8_0.
// Float64 or a fused multiply-add would round some half-way cases the other way and the blocks
// would no longer match files made by rwkv.cpp.
#include "quantize/quantize_blocks.h"

#include <cfloat>
#include <cmath>
#include <cstring>

#include "core/error.h"

// Keep `a*b + c` as two rounded float operations even where FMA is available.
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace rwkv {
namespace {

// The signed element of largest magnitude; the first one wins a tie (ggml compares with `<`).
float signed_absmax(const float* x) {
  float amax = 0.0f, max = 0.0f;
  for (int j = 0; j < kQuantBlock; ++j) {
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

void min_max(const float* x, float* lo, float* hi) {
  float mn = FLT_MAX, mx = -FLT_MAX;
  for (int j = 0; j < kQuantBlock; ++j) {
    if (x[j] < mn) mn = x[j];
    if (x[j] > mx) mx = x[j];
  }
  *lo = mn;
  *hi = mx;
}

// Symmetric 4/5-bit: d = m / -half so the largest-magnitude element maps to code 0 exactly, and
// codes are trunc(x/d + half + 0.5) clamped to the top code.
template <int kBits>
void quantize_symmetric(const float* x, uint16_t* d_out, uint8_t* qs, uint32_t* qh) {
  constexpr int kHalf = 1 << (kBits - 1);
  constexpr int kTop = (1 << kBits) - 1;
  const float d = signed_absmax(x) / float(-kHalf);
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  *d_out = fp32_to_fp16(d);
  uint32_t hi_bits = 0;
  for (int j = 0; j < 16; ++j) {
    const float x0 = x[j] * id;
    const float x1 = x[j + 16] * id;
    const float bias = float(kHalf) + 0.5f;
    int q0 = int(int8_t(x0 + bias));
    int q1 = int(int8_t(x1 + bias));
    if (q0 > kTop) q0 = kTop;
    if (q1 > kTop) q1 = kTop;
    qs[j] = uint8_t((q0 & 0x0f) | (q1 & 0x0f) << 4);
    hi_bits |= uint32_t((q0 >> 4) & 1) << j | uint32_t((q1 >> 4) & 1) << (j + 16);
  }
  if (qh) *qh = hi_bits;
}

// Asymmetric 4/5-bit: lo..hi split into 15 or 31 steps; codes are trunc((x - lo)/d + 0.5).
template <int kBits>
void quantize_affine(const float* x, uint16_t* d_out, uint16_t* m_out, uint8_t* qs, uint32_t* qh) {
  constexpr int kTop = (1 << kBits) - 1;
  float lo, hi;
  min_max(x, &lo, &hi);
  const float d = (hi - lo) / float(kTop);
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  *d_out = fp32_to_fp16(d);
  *m_out = fp32_to_fp16(lo);
  uint32_t hi_bits = 0;
  for (int j = 0; j < 16; ++j) {
    const float x0 = (x[j] - lo) * id;
    const float x1 = (x[j + 16] - lo) * id;
    // (x - lo)/d + 0.5 stays below 32 in float32, so the clamp never changes a code; it guards
    // inputs with inf/NaN, where ggml's result is undefined anyway.
    int q0 = int(uint8_t(x0 + 0.5f));
    int q1 = int(uint8_t(x1 + 0.5f));
    if (q0 > kTop) q0 = kTop;
    if (q1 > kTop) q1 = kTop;
    qs[j] = uint8_t((q0 & 0x0f) | (q1 & 0x0f) << 4);
    hi_bits |= uint32_t((q0 >> 4) & 1) << j | uint32_t((q1 >> 4) & 1) << (j + 16);
  }
  if (qh) *qh = hi_bits;
}

void quantize_q8_0(const float* x, BlockQ8_0* b) {
  float amax = 0.0f;
  for (int j = 0; j < kQuantBlock; ++j) amax = std::fmax(amax, std::fabs(x[j]));
  const float d = amax / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  b->d = fp32_to_fp16(d);
  for (int j = 0; j < kQuantBlock; ++j) b->qs[j] = int8_t(std::roundf(x[j] * id));
}

}  // namespace

void quantize_row(DType t, const float* src, void* dst, int64_t n) {
  if (dtype_is_quantized(t) && n % kQuantBlock != 0)
    throw Error(ErrorCode::Shape, std::string("quantize_row: ") + dtype_name(t) + " rows need a multiple of 32 elements, got " +
                                      std::to_string(n));
  const int64_t nb = n / kQuantBlock;
  switch (t) {
    case DType::F32:
      std::memcpy(dst, src, size_t(n) * 4);
      return;
    case DType::F16: {
      uint16_t* d = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) d[i] = fp32_to_fp16(src[i]);
      return;
    }
    case DType::Q4_0: {
      BlockQ4_0* b = static_cast<BlockQ4_0*>(dst);
      for (int64_t i = 0; i < nb; ++i) quantize_symmetric<4>(src + i * kQuantBlock, &b[i].d, b[i].qs, nullptr);
      return;
    }
    case DType::Q5_0: {
      BlockQ5_0* b = static_cast<BlockQ5_0*>(dst);
      for (int64_t i = 0; i < nb; ++i) {
        uint32_t qh;
        quantize_symmetric<5>(src + i * kQuantBlock, &b[i].d, b[i].qs, &qh);
        std::memcpy(b[i].qh, &qh, 4);  // little-endian on every platform we build for
      }
      return;
    }
    case DType::Q4_1: {
      BlockQ4_1* b = static_cast<BlockQ4_1*>(dst);
      for (int64_t i = 0; i < nb; ++i) quantize_affine<4>(src + i * kQuantBlock, &b[i].d, &b[i].m, b[i].qs, nullptr);
      return;
    }
    case DType::Q5_1: {
      BlockQ5_1* b = static_cast<BlockQ5_1*>(dst);
      for (int64_t i = 0; i < nb; ++i) {
        uint32_t qh;
        quantize_affine<5>(src + i * kQuantBlock, &b[i].d, &b[i].m, b[i].qs, &qh);
        std::memcpy(b[i].qh, &qh, 4);
      }
      return;
    }
    case DType::Q8_0: {
      BlockQ8_0* b = static_cast<BlockQ8_0*>(dst);
      for (int64_t i = 0; i < nb; ++i) quantize_q8_0(src + i * kQuantBlock, &b[i]);
      return;
    }
  }
  throw Error(ErrorCode::DType, "quantize_row: unsupported data type " + std::to_string(uint32_t(t)));
}

}  // namespace rwkv
