#include "core/dtype.h"

#include <algorithm>
#include <cctype>
#include <cmath>

namespace rwkv {

bool dtype_is_known(uint32_t raw) {
  switch (raw) {
    case 0: case 1: case 2: case 3: case 7: case 8: case 9: return true;
    default: return false;
  }
}

bool dtype_is_quantized(DType t) { return t != DType::F32 && t != DType::F16; }

const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "FP32";
    case DType::F16: return "FP16";
    case DType::Q4_0: return "Q4_0";
    case DType::Q4_1: return "Q4_1";
    case DType::Q5_0: return "Q5_0";
    case DType::Q5_1: return "Q5_1";
    case DType::Q8_0: return "Q8_0";
  }
  return "?";
}

bool dtype_from_name(const std::string& name, DType* out) {
  std::string s = name;
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
  if (s == "FP32" || s == "F32") { *out = DType::F32; return true; }
  if (s == "FP16" || s == "F16") { *out = DType::F16; return true; }
  if (s == "Q4_0") { *out = DType::Q4_0; return true; }
  if (s == "Q4_1") { *out = DType::Q4_1; return true; }
  if (s == "Q5_0") { *out = DType::Q5_0; return true; }
  if (s == "Q5_1") { *out = DType::Q5_1; return true; }
  if (s == "Q8_0") { *out = DType::Q8_0; return true; }
  return false;
}

size_t dtype_row_bytes(DType t, int64_t n) {
  switch (t) {
    case DType::F32: return size_t(n) * 4;
    case DType::F16: return size_t(n) * 2;
    case DType::Q4_0: return size_t(n / kQuantBlock) * sizeof(BlockQ4_0);
    case DType::Q4_1: return size_t(n / kQuantBlock) * sizeof(BlockQ4_1);
    case DType::Q5_0: return size_t(n / kQuantBlock) * sizeof(BlockQ5_0);
    case DType::Q5_1: return size_t(n / kQuantBlock) * sizeof(BlockQ5_1);
    case DType::Q8_0: return size_t(n / kQuantBlock) * sizeof(BlockQ8_0);
  }
  return 0;
}

float fp16_to_fp32(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      int e = -1;
      do { ++e; mant <<= 1; } while ((mant & 0x400) == 0);
      bits = sign | uint32_t(127 - 15 - e) << 23 | (mant & 0x3ff) << 13;
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | mant << 13;
  } else {
    bits = sign | (exp + 127 - 15) << 23 | mant << 13;
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t fp32_to_fp16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000;
  const uint32_t abs = x & 0x7fffffff;
  if (abs >= 0x7f800000u) return uint16_t(sign | 0x7c00 | (abs > 0x7f800000u ? 0x200 : 0));  // inf/nan
  if (abs >= 0x477ff000u) return uint16_t(sign | 0x7c00);  // rounds to >= 65520: overflow to inf
  if (abs < 0x38800000u) {  // below the smallest normal half: subnormal or zero
    if (abs < 0x33000000u) return uint16_t(sign);  // < 2^-25 rounds to zero
    const uint32_t e = abs >> 23;
    const uint32_t m = (abs & 0x7fffff) | 0x800000;
    const uint32_t shift = 126 - e;  // 14 + (112 - e) + ... : bits to drop to reach 2^-24 units
    uint32_t q = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1);
    const uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1))) ++q;
    return uint16_t(sign | q);
  }
  uint32_t h = ((abs >> 13) - (112u << 10));
  const uint32_t rem = abs & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) ++h;
  return uint16_t(sign | h);
}

void dequantize_row(DType t, const void* src, float* dst, int64_t n) {
  const int64_t nb = n / kQuantBlock;
  switch (t) {
    case DType::F32:
      std::memcpy(dst, src, size_t(n) * 4);
      return;
    case DType::F16: {
      // Rows of a file may start at any byte (tensor data is not padded): read each half with memcpy.
      const uint8_t* s = static_cast<const uint8_t*>(src);
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, s + 2 * i, 2);
        dst[i] = fp16_to_fp32(h);
      }
      return;
    }
    case DType::Q4_0: {
      const BlockQ4_0* b = static_cast<const BlockQ4_0*>(src);
      for (int64_t i = 0; i < nb; ++i, dst += 32) {
        const float d = fp16_to_fp32(b[i].d);
        for (int j = 0; j < 16; ++j) {
          dst[j] = float((b[i].qs[j] & 0x0f) - 8) * d;
          dst[j + 16] = float((b[i].qs[j] >> 4) - 8) * d;
        }
      }
      return;
    }
    case DType::Q4_1: {
      const BlockQ4_1* b = static_cast<const BlockQ4_1*>(src);
      for (int64_t i = 0; i < nb; ++i, dst += 32) {
        const float d = fp16_to_fp32(b[i].d), m = fp16_to_fp32(b[i].m);
        for (int j = 0; j < 16; ++j) {
          dst[j] = float(b[i].qs[j] & 0x0f) * d + m;
          dst[j + 16] = float(b[i].qs[j] >> 4) * d + m;
        }
      }
      return;
    }
    case DType::Q5_0: {
      const BlockQ5_0* b = static_cast<const BlockQ5_0*>(src);
      for (int64_t i = 0; i < nb; ++i, dst += 32) {
        const float d = fp16_to_fp32(b[i].d);
        uint32_t qh;
        std::memcpy(&qh, b[i].qh, 4);
        for (int j = 0; j < 16; ++j) {
          const int lo = (b[i].qs[j] & 0x0f) | int((qh >> j) & 1) << 4;
          const int hi = (b[i].qs[j] >> 4) | int((qh >> (j + 16)) & 1) << 4;
          dst[j] = float(lo - 16) * d;
          dst[j + 16] = float(hi - 16) * d;
        }
      }
      return;
    }
    case DType::Q5_1: {
      const BlockQ5_1* b = static_cast<const BlockQ5_1*>(src);
      for (int64_t i = 0; i < nb; ++i, dst += 32) {
        const float d = fp16_to_fp32(b[i].d), m = fp16_to_fp32(b[i].m);
        uint32_t qh;
        std::memcpy(&qh, b[i].qh, 4);
        for (int j = 0; j < 16; ++j) {
          const int lo = (b[i].qs[j] & 0x0f) | int((qh >> j) & 1) << 4;
          const int hi = (b[i].qs[j] >> 4) | int((qh >> (j + 16)) & 1) << 4;
          dst[j] = float(lo) * d + m;
          dst[j + 16] = float(hi) * d + m;
        }
      }
      return;
    }
    case DType::Q8_0: {
      const BlockQ8_0* b = static_cast<const BlockQ8_0*>(src);
      for (int64_t i = 0; i < nb; ++i, dst += 32) {
        const float d = fp16_to_fp32(b[i].d);
        for (int j = 0; j < 32; ++j) dst[j] = float(b[i].qs[j]) * d;
      }
      return;
    }
  }
}

}  // namespace rwkv
