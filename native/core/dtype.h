// Data types of weights, in rwkv.cpp's `.bin` numbering (not ggml's: Q5_0 is 7 here, 6 there),
// and the 32-weight quantization blocks they use. Block layouts are byte-exact with rwkv.cpp/ggml
// so files we write load there and theirs load here.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace rwkv {

enum class DType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 7,
  Q5_1 = 8,
  Q8_0 = 9,
};

constexpr int kQuantBlock = 32;  // weights per quantization block, every quantized type

#pragma pack(push, 1)
struct BlockQ4_0 { uint16_t d; uint8_t qs[16]; };                  // (nib - 8) * d
struct BlockQ4_1 { uint16_t d, m; uint8_t qs[16]; };               // nib * d + m
struct BlockQ5_0 { uint16_t d; uint8_t qh[4]; uint8_t qs[16]; };   // ((nib | hi<<4) - 16) * d
struct BlockQ5_1 { uint16_t d, m; uint8_t qh[4]; uint8_t qs[16]; };// (nib | hi<<4) * d + m
struct BlockQ8_0 { uint16_t d; int8_t qs[32]; };                   // q * d
// Activations only: Q8_0 plus s = d * sum(qs), so Q4_1/Q5_1 dots can add m * s per block.
struct BlockQ8_1 { float d, s; int8_t qs[32]; };
#pragma pack(pop)
static_assert(sizeof(BlockQ4_0) == 18 && sizeof(BlockQ4_1) == 20 && sizeof(BlockQ5_0) == 22 &&
              sizeof(BlockQ5_1) == 24 && sizeof(BlockQ8_0) == 34, "block layouts must match rwkv.cpp");

// True for the seven types this engine reads; rejects removed (Q4_1_O, Q4_2, Q4_3) and K types.
bool dtype_is_known(uint32_t raw);
bool dtype_is_quantized(DType t);
const char* dtype_name(DType t);
// Parses "FP32", "F32", "fp16", "Q5_1", ... ; returns false if unknown.
bool dtype_from_name(const std::string& name, DType* out);
// Bytes taken by `n` consecutive elements (n must be a multiple of 32 for quantized types).
size_t dtype_row_bytes(DType t, int64_t n);

// IEEE binary16 <-> binary32, round to nearest even; handles subnormals, inf and NaN.
float fp16_to_fp32(uint16_t h);
uint16_t fp32_to_fp16(float f);

// Dequantize `n` elements (a multiple of 32 for quantized types) starting at `src` into float.
void dequantize_row(DType t, const void* src, float* dst, int64_t n);

}  // namespace rwkv
