// Whole-file conversion of an rwkv.cpp `.bin` model, like rwkv.cpp's rwkv_quantize_model_file:
// FP32/FP16 in, Q4_0/Q4_1/Q5_0/Q5_1/Q8_0 (or FP16) out, streamed tensor by tensor.
#pragma once
#include <functional>
#include <string>

#include "core/dtype.h"
#include "core/tensor.h"

namespace rwkv {

// True for the records rwkv.cpp's quantizer converts (spec §8.5): 2-D, FP32/FP16, and not the
// embedding, the head, the v7 LoRA matrices or r_k (their precision matters more than their size).
bool tensor_is_quantizable(const Tensor& t);

// True for the records rwkv.cpp's converter stores as FP16 in an FP16 file (spec §8.5): at least
// 2-D and not one of the small per-channel vectors that keep FP32 (.time_, .k_k, .x_rwkvag, ...).
bool tensor_gets_fp16(const std::string& name, int n_dims);

// Reads `in` (FP32 or FP16 file), writes `out` (through out.tmp, renamed at the end).
// type Q*: quantizable tensors become `type`; FP16 ones are widened to FP32 first; the rest are
// copied byte for byte. type F16: FP32 tensors that the converter would store as FP16 become FP16.
// The header gets version 101 and data_type = type. `progress` gets the fraction of input bytes
// done, from 0 to 1. Throws rwkv::Error: DType for a quantized input or an unsupported target.
void quantize_model_file(const std::string& in, const std::string& out, DType type,
                         const std::function<void(double fraction)>& progress = {});

}  // namespace rwkv
