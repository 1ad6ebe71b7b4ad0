// Synthetic RWKV-7 models: deterministic random weights in the real shapes of the published
// models (0.1B ... 7B), for benchmarks and format tests without downloading gigabytes.
//
// The same (shape, seed) always gives the same weights, in every output: the .bin file in any type,
// and the GGUF file. Values that the rwkv.cpp converter would store as FP16 (matrices, LoRA,
// emb/head) are generated FP16-representable, so the FP32 file is the exact widening of the FP16
// one and every quantized file equals quantize_model_file() applied to the FP16 file.
// Generation is row by row from a counter-based generator and streamed to disk: memory use is one
// row, and any row can be regenerated on its own (tests compare files against synthetic_row()).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace rwkv {

struct SyntheticShape {
  std::string name;
  int n_layer = 0, n_embd = 0, n_vocab = 65536, head_size = 64, ffn = 0;
  int lora_w = 0, lora_a = 0, lora_v = 0, lora_g = 0;  // LoRA ranks: decay, in-context rate, value mix, gate
};

// Presets "0.1B", "0.4B", "1.5B", "2.9B", "7B" (RWKV-7 G1 shapes); throws Error(Argument) otherwise.
SyntheticShape synthetic_shape(const std::string& preset);
std::vector<std::string> synthetic_presets();

// One tensor of the synthetic model, in rwkv.cpp `.bin` naming and ggml dimension order.
struct SyntheticTensor {
  std::string name;
  int n_dims = 1;
  int64_t ne[3] = {1, 1, 1};
  enum class Dist { Uniform, Centered } dist = Dist::Uniform;
  float a = 0, b = 0;      // Uniform: [a, b). Centered: bell-shaped, mean 0, standard deviation a.
  bool fp16_values = false;  // values are rounded to FP16 (the converter stores this tensor as FP16)

  int64_t rows() const { return ne[1] * ne[2]; }
};

// Every tensor rwkv.cpp's v7 loader needs, in the order rwkv.cpp's converter writes them.
std::vector<SyntheticTensor> synthetic_tensors(const SyntheticShape& shape);

// Row `r` of `t` (t.ne[0] floats), a pure function of (t.name, seed, r).
void synthetic_row(const SyntheticTensor& t, uint64_t seed, int64_t r, float* out);

// quantize_row(), with a fast exact path for F16 rows whose values are already FP16-representable.
void synthetic_encode_row(DType t, const float* src, void* dst, int64_t n);

// The type `t` gets in a .bin file of `file_type`: the converter's FP16 rule, then the quantizer's.
DType synthetic_tensor_dtype(const SyntheticTensor& t, DType file_type);

// Writes an rwkv.cpp .bin (version 101, data_type = type) through path.tmp. `progress` gets the
// fraction of elements written. Throws Error(Argument) for an inconsistent shape, Error(Io) on write errors.
void write_synthetic_model(const SyntheticShape& shape, DType type, uint64_t seed, const std::string& path,
                           const std::function<void(double fraction)>& progress = {});

// The type of the matrices a synthetic GGUF holds for a .bin of `model_type`: a quantized type as
// itself, a float one as FP16 (as llama.cpp's converter writes it).
inline DType synthetic_gguf_type(DType model_type) { return dtype_is_quantized(model_type) ? model_type : DType::F16; }

// Writes the same weights as a GGUF v3 file in llama.cpp's `rwkv7` layout (engine-spec §12):
// 2-D matrices FP16 (time_mix_w1/w2 FP32, as llama.cpp's converter does), vectors FP32. With a quantized
// `model_type` (the .bin's), the matrices the .bin of that type quantizes are stored in it (ggml's blocks of
// Q4_0, Q4_1, Q5_0, Q5_1 and Q8_0 are rwkv.cpp's, byte for byte), so both files hold the same bytes.
// Tokens come from an rwkv_vocab_v20230424.txt-style file if `vocab_path` is given, else placeholders.
void write_synthetic_gguf(const SyntheticShape& shape, uint64_t seed, const std::string& path,
                          const std::string& vocab_path = "",
                          const std::function<void(double fraction)>& progress = {}, DType model_type = DType::F16);

}  // namespace rwkv
