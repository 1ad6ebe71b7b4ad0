// Row quantizers: float32 -> the 32-weight blocks of dtype.h, bit-identical with ggml's reference
// quantizers (the ones rwkv.cpp uses to make model files), so files we make match theirs byte for byte.
// The inverse is dequantize_row() in core/dtype.h.
#pragma once
#include <cstdint>

#include "core/dtype.h"

namespace rwkv {

// Quantizes `n` floats from `src` into `dtype_row_bytes(t, n)` bytes at `dst`.
// F32 copies, F16 rounds to nearest even; quantized types need n % 32 == 0 (else Error(Shape)).
void quantize_row(DType t, const float* src, void* dst, int64_t n);

}  // namespace rwkv
