// Shapes, values and the .bin writer of the synthetic RWKV-7 models (GGUF: synthetic_gguf.cpp).
#include "synthetic/synthetic_model.h"

#include <cmath>
#include <cstring>

#include "core/error.h"
#include "formats/rwkv_bin_writer.h"
#include "quantize/quantize_blocks.h"
#include "quantize/quantize_model.h"

namespace rwkv {

namespace {

SyntheticShape preset(const char* name, int n_layer, int n_embd, int w, int a, int v, int g) {
  SyntheticShape s;
  s.name = name;
  s.n_layer = n_layer;
  s.n_embd = n_embd;
  s.ffn = 4 * n_embd;
  s.lora_w = w;
  s.lora_a = a;
  s.lora_v = v;
  s.lora_g = g;
  return s;
}

// LoRA ranks of the published RWKV-7 G1 checkpoints.
const SyntheticShape kPresets[] = {
    preset("0.1B", 12, 768, 64, 64, 32, 128),   preset("0.4B", 24, 1024, 64, 64, 32, 128),
    preset("1.5B", 24, 2048, 96, 96, 64, 256),  preset("2.9B", 32, 2560, 96, 96, 64, 320),
    preset("7B", 32, 4096, 128, 128, 96, 480),
};

void validate(const SyntheticShape& s) {
  auto bad = [&](const std::string& why) {
    return Error(ErrorCode::Argument, "synthetic shape '" + s.name + "': " + why);
  };
  if (s.n_layer < 1 || s.n_layer > 4096) throw bad("n_layer must be 1..4096");
  if (s.n_embd < 32 || s.n_embd % 32 != 0 || s.n_embd > 65536) throw bad("n_embd must be a multiple of 32 up to 65536");
  if (s.ffn < 32 || s.ffn % 32 != 0) throw bad("ffn must be a positive multiple of 32 (quantized rows)");
  if (s.n_vocab < 1 || s.n_vocab > (1 << 24)) throw bad("n_vocab must be 1..2^24");
  if (s.head_size < 1 || s.n_embd % s.head_size != 0) throw bad("head_size must divide n_embd");
  if (s.lora_w < 1 || s.lora_a < 1 || s.lora_v < 1 || s.lora_g < 1) throw bad("every LoRA rank must be at least 1");
}

// splitmix64's finalizer: a strong 64-bit mixer, so consecutive counters give independent values.
uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Rounds to the nearest FP16 value (ties to even) inside float: for results in FP16's normal range,
// clearing the 13 low mantissa bits after adding half an FP16 ulp is exactly the RNE rounding, and
// far cheaper than a round trip through fp32_to_fp16/fp16_to_fp32 (which stays the fallback).
float round_to_fp16(float x) {
  uint32_t b;
  std::memcpy(&b, &x, 4);
  const uint32_t abs = b & 0x7fffffff;
  if (abs < 0x38800000u || abs >= 0x477fe000u) return fp16_to_fp32(fp32_to_fp16(x));  // subnormal, overflow
  b = (b + 0xfff + ((b >> 13) & 1)) & ~0x1fffu;
  std::memcpy(&x, &b, 4);
  return x;
}

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

}  // namespace

std::vector<std::string> synthetic_presets() {
  std::vector<std::string> names;
  for (const auto& p : kPresets) names.push_back(p.name);
  return names;
}

SyntheticShape synthetic_shape(const std::string& name) {
  for (const auto& p : kPresets)
    if (p.name == name) return p;
  std::string known;
  for (const auto& p : kPresets) known += (known.empty() ? "" : ", ") + p.name;
  throw Error(ErrorCode::Argument, "unknown synthetic model size '" + name + "' (known: " + known + ")");
}

std::vector<SyntheticTensor> synthetic_tensors(const SyntheticShape& s) {
  validate(s);
  const int64_t C = s.n_embd, V = s.n_vocab, F = s.ffn, S = s.head_size, H = C / S;
  std::vector<SyntheticTensor> out;
  auto add = [&](const std::string& name, std::initializer_list<int64_t> ne, SyntheticTensor::Dist dist, float a, float b) {
    SyntheticTensor t;
    t.name = name;
    t.n_dims = int(ne.size());
    int i = 0;
    for (int64_t d : ne) t.ne[i++] = d;
    t.dist = dist;
    t.a = a;
    t.b = b;
    t.fp16_values = tensor_gets_fp16(name, t.n_dims);
    out.push_back(t);
  };
  auto uniform = [&](const std::string& name, std::initializer_list<int64_t> ne, float lo, float hi) {
    add(name, ne, SyntheticTensor::Dist::Uniform, lo, hi);
  };
  // y = W·x with x of `in` elements: standard deviation 1/sqrt(in) keeps |y| about |x|.
  auto matrix = [&](const std::string& name, int64_t in, int64_t rows) {
    add(name, {in, rows}, SyntheticTensor::Dist::Centered, 1.0f / std::sqrt(float(in)), 0);
  };
  auto norm = [&](const std::string& prefix) {
    uniform(prefix + ".weight", {C}, 0.8f, 1.2f);
    uniform(prefix + ".bias", {C}, -0.05f, 0.05f);
  };
  // The embedding feeds ln0, so its scale does not matter; 0.5 is near trained models.
  add("emb.weight", {C, V}, SyntheticTensor::Dist::Centered, 0.5f, 0);
  for (int i = 0; i < s.n_layer; ++i) {
    const std::string p = "blocks." + std::to_string(i) + ".";
    norm(p + "ln1");
    norm(p + "ln2");
    if (i == 0) norm(p + "ln0");
    uniform(p + "att.x_rwkvag", {C, 1, 6}, 0.05f, 0.95f);  // token-shift mixes r,w,k,v,a,g in (0,1)
    matrix(p + "att.w1", C, s.lora_w);
    matrix(p + "att.w2", s.lora_w, C);
    uniform(p + "att.w0", {C, 1, 1}, -0.5f, 0.5f);
    matrix(p + "att.a1", C, s.lora_a);
    matrix(p + "att.a2", s.lora_a, C);
    uniform(p + "att.a0", {C, 1, 1}, -0.5f, 0.5f);
    if (i > 0) {  // layer 0 has no value-residual mix
      matrix(p + "att.v1", C, s.lora_v);
      matrix(p + "att.v2", s.lora_v, C);
      uniform(p + "att.v0", {C, 1, 1}, -0.5f, 0.5f);
    }
    matrix(p + "att.g1", C, s.lora_g);
    matrix(p + "att.g2", s.lora_g, C);
    uniform(p + "att.k_k", {C, 1, 1}, 0.7f, 1.0f);
    uniform(p + "att.k_a", {C, 1, 1}, 0.9f, 1.1f);
    uniform(p + "att.r_k", {S, H}, -0.1f, 0.1f);
    for (const char* m : {"receptance", "key", "value", "output"}) matrix(p + "att." + m + ".weight", C, C);
    norm(p + "att.ln_x");
    uniform(p + "ffn.x_k", {C, 1, 1}, 0.05f, 0.95f);
    matrix(p + "ffn.key.weight", C, F);
    matrix(p + "ffn.value.weight", F, C);
  }
  norm("ln_out");
  matrix("head.weight", C, V);
  return out;
}

void synthetic_row(const SyntheticTensor& t, uint64_t seed, int64_t r, float* out) {
  // Counter-based: the stream of row r depends only on (seed, name, r), so rows can be made in any
  // order, by any writer, and regenerated by tests.
  uint64_t state = mix64(mix64(seed ^ 0x5eed5eed5eed5eedull) ^ fnv1a(t.name)) + uint64_t(r) * 0xd1b54a32d192ed03ull;
  state = mix64(state);
  const int64_t n = t.ne[0];
  const float k24 = 1.0f / 16777216.0f;
  if (t.dist == SyntheticTensor::Dist::Uniform) {
    const float span = t.b - t.a;
    for (int64_t i = 0; i < n; ++i) {
      const uint64_t z = mix64(state += 0x9e3779b97f4a7c15ull);
      out[i] = t.a + span * (float(z >> 40) * k24);
    }
  } else {
    // Sum of two uniforms: a triangular bell on (-1, 1) with variance 1/6; one 64-bit draw per value.
    const float scale = t.a * std::sqrt(6.0f);
    for (int64_t i = 0; i < n; ++i) {
      const uint64_t z = mix64(state += 0x9e3779b97f4a7c15ull);
      const float u = float(z >> 40) * k24 + float((z >> 16) & 0xffffff) * k24 - 1.0f;
      out[i] = u * scale;
    }
  }
  if (t.fp16_values)
    for (int64_t i = 0; i < n; ++i) out[i] = round_to_fp16(out[i]);
}

void synthetic_encode_row(DType t, const float* src, void* dst, int64_t n) {
  if (t != DType::F16) return quantize_row(t, src, dst, n);
  uint16_t* h = static_cast<uint16_t*>(dst);
  for (int64_t i = 0; i < n; ++i) {
    uint32_t b;
    std::memcpy(&b, &src[i], 4);
    const uint32_t abs = b & 0x7fffffff;
    // Exact for FP16-representable normals (the low 13 bits are zero); anything else takes the full path.
    if (abs >= 0x38800000u && abs < 0x47800000u && (b & 0x1fff) == 0)
      h[i] = uint16_t((b >> 16 & 0x8000) | ((abs >> 13) - (112u << 10)));
    else
      h[i] = fp32_to_fp16(src[i]);
  }
}

DType synthetic_tensor_dtype(const SyntheticTensor& t, DType file_type) {
  if (file_type == DType::F32) return DType::F32;
  Tensor probe;  // what tensor_is_quantizable sees when it reads the FP16 file
  probe.name = t.name;
  probe.n_dims = t.n_dims;
  probe.dtype = t.fp16_values ? DType::F16 : DType::F32;
  if (dtype_is_quantized(file_type) && tensor_is_quantizable(probe)) return file_type;
  return probe.dtype;
}

void write_synthetic_model(const SyntheticShape& shape, DType type, uint64_t seed, const std::string& path,
                           const std::function<void(double fraction)>& progress) {
  if (!dtype_is_known(uint32_t(type))) throw Error(ErrorCode::DType, "synthetic model '" + path + "': unknown data type");
  const std::vector<SyntheticTensor> tensors = synthetic_tensors(shape);
  int64_t total = 0;
  for (const auto& t : tensors) total += t.ne[0] * t.rows();

  RwkvBinHeader header;
  header.version = 101;
  header.n_vocab = uint32_t(shape.n_vocab);
  header.n_embed = uint32_t(shape.n_embd);
  header.n_layer = uint32_t(shape.n_layer);
  header.data_type = uint32_t(type);
  RwkvBinWriter writer(path, header);

  std::vector<float> row;
  std::vector<uint8_t> packed;
  int64_t done = 0, reported = 0;
  for (const auto& t : tensors) {
    const DType dt = synthetic_tensor_dtype(t, type);
    writer.begin_tensor(t.name, dt, t.n_dims, t.ne);
    row.resize(size_t(t.ne[0]));
    packed.resize(dtype_row_bytes(dt, t.ne[0]));
    for (int64_t r = 0; r < t.rows(); ++r) {
      synthetic_row(t, seed, r, row.data());
      synthetic_encode_row(dt, row.data(), packed.data(), t.ne[0]);
      writer.write_data(packed.data(), packed.size());
      done += t.ne[0];
      if (progress && done - reported >= (int64_t(1) << 22)) {
        reported = done;
        progress(double(done) / double(total));
      }
    }
  }
  writer.finish();
  if (progress) progress(1.0);
}

}  // namespace rwkv
