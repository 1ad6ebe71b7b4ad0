// Synthetic RWKV-7 models: shapes, dtypes, determinism, agreement between every output type and
// the quantizer, and a GGUF file that holds the same weights (read back with a small GGUF parser).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include "core/error.h"
#include "engine.h"
#include "kernels/cpu/matvec.h"
#include "core/mapped_file.h"
#include "formats/rwkv_bin.h"
#include "quantize/quantize_model.h"
#include "synthetic/synthetic_model.h"
#include "test_support.h"

using namespace rwkv;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    static int n = 0;
    path = fs::temp_directory_path() / ("rwkv-synth-test-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

SyntheticShape small_shape() {
  SyntheticShape s;
  s.name = "test-2x128";
  s.n_layer = 2;
  s.n_embd = 128;
  s.n_vocab = 512;
  s.head_size = 64;
  s.ffn = 512;
  s.lora_w = 32;
  s.lora_a = 32;
  s.lora_v = 16;
  s.lora_g = 64;
  return s;
}

std::string read_all(const std::string& path) {
  MappedFile f(path);
  return std::string(reinterpret_cast<const char*>(f.data()), f.size());
}

const DType kAllTypes[] = {DType::F32, DType::F16, DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0};

// The dtype each kind of tensor must get, written out by hand from spec §8.5.
DType expected_dtype(const std::string& name, DType file) {
  if (file == DType::F32) return DType::F32;
  const bool vector_like = name.find("ln") != std::string::npos || name.find("x_rwkvag") != std::string::npos ||
                           name.find("att.w0") != std::string::npos || name.find("att.a0") != std::string::npos ||
                           name.find("att.v0") != std::string::npos || name.find("k_k") != std::string::npos ||
                           name.find("k_a") != std::string::npos || name.find("r_k") != std::string::npos ||
                           name.find("ffn.x_k") != std::string::npos;
  if (vector_like) return DType::F32;
  const bool lora = name.find("att.w1") != std::string::npos || name.find("att.w2") != std::string::npos ||
                    name.find("att.a1") != std::string::npos || name.find("att.a2") != std::string::npos ||
                    name.find("att.v1") != std::string::npos || name.find("att.v2") != std::string::npos ||
                    name.find("att.g1") != std::string::npos || name.find("att.g2") != std::string::npos;
  if (lora || name == "emb.weight" || name == "head.weight" || file == DType::F16) return DType::F16;
  return file;  // receptance/key/value/output and ffn key/value
}

// ---- a minimal GGUF v3 reader, independent of the writer ----
struct GgufInfo {
  std::map<std::string, uint64_t> u32s;
  std::map<std::string, std::string> strings;
  std::vector<std::string> tokens;
  std::vector<int32_t> token_types;
  struct T { int n_dims; uint64_t ne[4]; uint32_t type; uint64_t offset; };
  std::map<std::string, T> tensors;
  std::vector<std::string> order;
  uint64_t data_start = 0;
  std::string bytes;
  const uint8_t* data(const std::string& name) const {
    return reinterpret_cast<const uint8_t*>(bytes.data()) + data_start + tensors.at(name).offset;
  }
};

GgufInfo read_gguf(const std::string& path) {
  GgufInfo g;
  g.bytes = read_all(path);
  size_t pos = 0;
  auto take = [&](void* dst, size_t n) {
    if (pos + n > g.bytes.size()) throw std::runtime_error("truncated GGUF");
    std::memcpy(dst, g.bytes.data() + pos, n);
    pos += n;
  };
  auto u32 = [&] { uint32_t v; take(&v, 4); return v; };
  auto u64 = [&] { uint64_t v; take(&v, 8); return v; };
  auto str = [&] { std::string s(u64(), '\0'); take(s.data(), s.size()); return s; };
  if (g.bytes.compare(0, 4, "GGUF") != 0) throw std::runtime_error("bad magic");
  pos = 4;
  if (u32() != 3) throw std::runtime_error("not GGUF v3");
  const uint64_t n_tensors = u64(), n_kv = u64();
  for (uint64_t i = 0; i < n_kv; ++i) {
    const std::string key = str();
    const uint32_t type = u32();
    if (type == 4) g.u32s[key] = u32();
    else if (type == 6) { float f; take(&f, 4); g.u32s[key] = uint64_t(f * 1e6f); }
    else if (type == 8) g.strings[key] = str();
    else if (type == 9) {
      const uint32_t et = u32();
      const uint64_t n = u64();
      for (uint64_t k = 0; k < n; ++k) {
        if (et == 8) g.tokens.push_back(str());
        else if (et == 5) g.token_types.push_back(int32_t(u32()));
        else throw std::runtime_error("unexpected array type");
      }
    } else throw std::runtime_error("unexpected kv type " + std::to_string(type) + " for " + key);
  }
  for (uint64_t i = 0; i < n_tensors; ++i) {
    const std::string name = str();
    GgufInfo::T t{};
    t.n_dims = int(u32());
    for (int d = 0; d < 4; ++d) t.ne[d] = 1;
    for (int d = 0; d < t.n_dims; ++d) t.ne[d] = u64();
    t.type = u32();
    t.offset = u64();
    g.tensors[name] = t;
    g.order.push_back(name);
  }
  g.data_start = (pos + 31) / 32 * 32;
  return g;
}

}  // namespace

TEST(SyntheticModel, PresetsHaveThePublishedShapes) {
  const SyntheticShape s = synthetic_shape("1.5B");
  EXPECT_EQ(s.n_layer, 24);
  EXPECT_EQ(s.n_embd, 2048);
  EXPECT_EQ(s.ffn, 8192);
  EXPECT_EQ(s.n_vocab, 65536);
  EXPECT_EQ(s.lora_g, 256);
  EXPECT_EQ(synthetic_shape("7B").lora_g, 480);
  EXPECT_EQ(synthetic_presets().size(), 5u);
  int64_t params = 0;
  for (const auto& t : synthetic_tensors(synthetic_shape("0.4B"))) params += t.ne[0] * t.rows();
  EXPECT_GT(params, 400'000'000);
  EXPECT_LT(params, 500'000'000);
  EXPECT_THROW(synthetic_shape("3B"), Error);
  SyntheticShape bad = small_shape();
  bad.head_size = 48;  // does not divide 128
  try {
    synthetic_tensors(bad);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Argument);
  }
}

TEST(SyntheticModel, EveryTypeLoadsWithTheExpectedTensors) {
  TempDir dir;
  const SyntheticShape s = small_shape();
  const auto spec = synthetic_tensors(s);
  for (DType type : kAllTypes) {
    SCOPED_TRACE(dtype_name(type));
    const std::string path = dir.file(std::string(dtype_name(type)) + ".bin");
    double last = 0;
    write_synthetic_model(s, type, 7, path, [&](double f) { EXPECT_GE(f, last); last = f; });
    EXPECT_EQ(last, 1.0);
    const TensorIndex m = open_rwkv_bin(path);
    EXPECT_EQ(m.header.version, 101u);
    EXPECT_EQ(m.header.data_type, uint32_t(type));
    EXPECT_EQ(m.header.n_vocab, 512u);
    EXPECT_EQ(m.header.n_embed, 128u);
    EXPECT_EQ(m.header.n_layer, 2u);
    ASSERT_EQ(m.tensors.size(), spec.size());
    // emb, head, ln_out pair, ln0 pair, 2 layers of 28 tensors, minus v0/v1/v2 in layer 0.
    EXPECT_EQ(m.tensors.size(), size_t(4 + 2 + 2 * 28 - 3));
    for (const char* name : {"emb.weight", "head.weight", "blocks.0.ln0.weight", "blocks.1.att.v2", "ln_out.bias"})
      EXPECT_TRUE(m.find(name)) << name;
    for (const char* name : {"blocks.0.att.v0", "blocks.0.att.v1", "blocks.0.att.v2", "blocks.1.ln0.weight"})
      EXPECT_FALSE(m.find(name)) << name;
    auto shape_is = [&](const char* name, std::vector<int64_t> ne) {
      const Tensor* t = m.find(name);
      ASSERT_TRUE(t) << name;
      ASSERT_EQ(t->n_dims, int(ne.size())) << name;
      for (size_t i = 0; i < ne.size(); ++i) EXPECT_EQ(t->ne[i], ne[i]) << name;
    };
    shape_is("emb.weight", {128, 512});
    shape_is("head.weight", {128, 512});
    shape_is("blocks.1.att.x_rwkvag", {128, 1, 6});
    shape_is("blocks.1.att.w0", {128, 1, 1});
    shape_is("blocks.1.att.w1", {128, 32});
    shape_is("blocks.1.att.w2", {32, 128});
    shape_is("blocks.1.att.v1", {128, 16});
    shape_is("blocks.1.att.g2", {64, 128});
    shape_is("blocks.1.att.r_k", {64, 2});
    shape_is("blocks.1.att.key.weight", {128, 128});
    shape_is("blocks.1.ffn.key.weight", {128, 512});
    shape_is("blocks.1.ffn.value.weight", {512, 128});
    shape_is("blocks.1.ffn.x_k", {128, 1, 1});
    shape_is("blocks.1.att.ln_x.bias", {128});
    for (const auto& [name, t] : m.tensors) EXPECT_EQ(t.dtype, expected_dtype(name, type)) << name;
  }
}

TEST(SyntheticModel, MatchesTheLayoutOfRwkvCppsTinyV7Model) {
  // The tiny 7v0 model's shape: names, shapes, FP16 dtypes and record order must all agree.
  SyntheticShape s;
  s.name = "tiny-7v0";
  s.n_layer = 12;
  s.n_embd = 64;
  s.n_vocab = 256;
  s.head_size = 64;
  s.ffn = 256;
  s.lora_w = s.lora_a = s.lora_v = s.lora_g = 32;
  TempDir dir;
  write_synthetic_model(s, DType::F16, 1, dir.file("t.bin"));
  const TensorIndex ours = open_rwkv_bin(dir.file("t.bin"));
  const TensorIndex ref = open_rwkv_bin(test::tiny_model("tiny-rwkv-7v0-834K-FP16"));
  ASSERT_EQ(ours.tensors.size(), ref.tensors.size());
  for (const auto& [name, r] : ref.tensors) {
    const Tensor* t = ours.find(name);
    ASSERT_TRUE(t) << name;
    EXPECT_EQ(t->dtype, r.dtype) << name;
    EXPECT_EQ(t->n_dims, r.n_dims) << name;
    for (int i = 0; i < 3; ++i) EXPECT_EQ(t->ne[i], r.ne[i]) << name;
    EXPECT_EQ(t->offset, r.offset) << name;  // same order and sizes give the same offsets
  }
}

TEST(SyntheticModel, AllTypesHoldTheSameWeights) {
  // FP32 is FP16 widened, and each quantized file is quantize_model_file() of the FP16 one.
  TempDir dir;
  const SyntheticShape s = small_shape();
  const std::string f16 = dir.file("f16.bin"), f32 = dir.file("f32.bin");
  write_synthetic_model(s, DType::F16, 11, f16);
  write_synthetic_model(s, DType::F32, 11, f32);
  quantize_model_file(f32, dir.file("f32-to-f16.bin"), DType::F16);
  EXPECT_EQ(read_all(dir.file("f32-to-f16.bin")), read_all(f16));
  for (DType type : {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0}) {
    write_synthetic_model(s, type, 11, dir.file("direct.bin"));
    quantize_model_file(f16, dir.file("via-quantizer.bin"), type);
    EXPECT_EQ(read_all(dir.file("direct.bin")), read_all(dir.file("via-quantizer.bin"))) << dtype_name(type);
  }
  // And the F32 file is synthetic_row() itself.
  const TensorIndex m = open_rwkv_bin(f32);
  std::vector<float> row;
  for (const auto& t : synthetic_tensors(s)) {
    row.resize(size_t(t.ne[0]));
    const Tensor* w = m.find(t.name);
    for (int64_t r = 0; r < t.rows(); ++r) {
      synthetic_row(t, 11, r, row.data());
      ASSERT_EQ(std::memcmp(w->row(r), row.data(), row.size() * 4), 0) << t.name << " row " << r;
    }
  }
}

TEST(SyntheticModel, DeterministicPerSeed) {
  TempDir dir;
  const SyntheticShape s = small_shape();
  write_synthetic_model(s, DType::Q8_0, 5, dir.file("a.bin"));
  write_synthetic_model(s, DType::Q8_0, 5, dir.file("b.bin"));
  write_synthetic_model(s, DType::Q8_0, 6, dir.file("c.bin"));
  const std::string a = read_all(dir.file("a.bin")), c = read_all(dir.file("c.bin"));
  EXPECT_EQ(a, read_all(dir.file("b.bin")));
  ASSERT_EQ(a.size(), c.size());
  EXPECT_NE(a, c);
  // Every tensor changes with the seed, not just some.
  const TensorIndex ma = open_rwkv_bin(dir.file("a.bin")), mc = open_rwkv_bin(dir.file("c.bin"));
  for (const auto& [name, t] : ma.tensors) EXPECT_NE(std::memcmp(t.data, mc.find(name)->data, t.nbytes), 0) << name;
}

TEST(SyntheticModel, ValuesHavePlausibleMagnitudes) {
  const SyntheticShape s = small_shape();
  std::vector<float> row;
  for (const auto& t : synthetic_tensors(s)) {
    double sum = 0, sq = 0;
    float lo = INFINITY, hi = -INFINITY;
    const int64_t n = t.ne[0] * t.rows();
    row.resize(size_t(t.ne[0]));
    for (int64_t r = 0; r < t.rows(); ++r) {
      synthetic_row(t, 3, r, row.data());
      for (float v : row) {
        ASSERT_TRUE(std::isfinite(v));
        if (t.fp16_values) {
          ASSERT_EQ(fp16_to_fp32(fp32_to_fp16(v)), v) << t.name;
        }
        sum += v;
        sq += double(v) * v;
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      }
    }
    const double mean = sum / double(n), sd = std::sqrt(sq / double(n) - mean * mean);
    const std::string& name = t.name;
    if (name.ends_with("ln1.weight") || name.ends_with("ln_x.weight")) { EXPECT_GE(lo, 0.79f); EXPECT_LE(hi, 1.21f); }
    if (name.ends_with(".bias")) {
      EXPECT_LE(std::max(-lo, hi), 0.051f) << name;
    }
    if (name.ends_with("x_rwkvag") || name.ends_with("ffn.x_k")) { EXPECT_GT(lo, 0.0f); EXPECT_LT(hi, 1.0f); }
    if (name.ends_with("k_k")) { EXPECT_GE(lo, 0.69f); EXPECT_LE(hi, 1.0f); }
    if (name.ends_with("att.key.weight") || name.ends_with("ffn.value.weight") || name == "head.weight") {
      const double want = 1.0 / std::sqrt(double(t.ne[0]));
      EXPECT_NEAR(sd, want, want * 0.05) << name;
      EXPECT_NEAR(mean, 0.0, want * 0.05) << name;
    }
  }
}

TEST(SyntheticModel, GgufHoldsTheSameWeightsInLlamaCppLayout) {
  TempDir dir;
  const SyntheticShape s = small_shape();
  write_synthetic_model(s, DType::F16, 9, dir.file("m.bin"));
  write_synthetic_model(s, DType::F32, 9, dir.file("m32.bin"));
  write_synthetic_gguf(s, 9, dir.file("m.gguf"));
  const GgufInfo g = read_gguf(dir.file("m.gguf"));
  const TensorIndex bin = open_rwkv_bin(dir.file("m.bin")), bin32 = open_rwkv_bin(dir.file("m32.bin"));

  EXPECT_EQ(g.strings.at("general.architecture"), "rwkv7");
  EXPECT_EQ(g.strings.at("tokenizer.ggml.model"), "rwkv");
  EXPECT_EQ(g.strings.at("tokenizer.chat_template"), "rwkv-world");
  EXPECT_EQ(g.u32s.at("rwkv7.embedding_length"), 128u);
  EXPECT_EQ(g.u32s.at("rwkv7.block_count"), 2u);
  EXPECT_EQ(g.u32s.at("rwkv7.feed_forward_length"), 512u);
  EXPECT_EQ(g.u32s.at("rwkv7.wkv.head_size"), 64u);
  EXPECT_EQ(g.u32s.at("rwkv7.attention.head_count"), 0u);
  EXPECT_EQ(g.u32s.at("rwkv7.attention.decay_lora_rank"), 32u);
  EXPECT_EQ(g.u32s.at("rwkv7.attention.iclr_lora_rank"), 32u);
  EXPECT_EQ(g.u32s.at("rwkv7.attention.value_residual_mix_lora_rank"), 16u);
  EXPECT_EQ(g.u32s.at("rwkv7.attention.gate_lora_rank"), 64u);
  EXPECT_EQ(g.u32s.at("rwkv7.attention.layer_norm_epsilon"), 10u);  // 1e-5 * 1e6
  EXPECT_EQ(g.u32s.at("tokenizer.ggml.eot_token_id"), 261u);
  ASSERT_EQ(g.tokens.size(), 512u);
  ASSERT_EQ(g.token_types.size(), 512u);
  EXPECT_EQ(g.tokens[0], "<s>");
  EXPECT_EQ(g.token_types[0], 3);
  EXPECT_EQ(g.tokens[5], "[PAD5]");

  // Same tensors as the .bin plus llama.cpp's dummy v0/v1/v2 in layer 0.
  EXPECT_EQ(g.tensors.size(), bin.tensors.size() + 3);
  uint64_t end = 0;
  for (const auto& [name, t] : g.tensors) {
    EXPECT_EQ(t.offset % 32, 0u) << name;
    uint64_t n = 1;
    for (int d = 0; d < t.n_dims; ++d) n *= t.ne[d];
    end = std::max(end, t.offset + n * (t.type == 1 ? 2 : 4));
  }
  EXPECT_LE(g.data_start + end, g.bytes.size());
  EXPECT_GT(g.data_start + end + 32, g.bytes.size());

  struct Pair { const char* gguf; const char* bin; std::vector<uint64_t> ne; uint32_t type; };
  const Pair pairs[] = {
      {"token_embd.weight", "emb.weight", {128, 512}, 1},
      {"output.weight", "head.weight", {128, 512}, 1},
      {"token_embd_norm.weight", "blocks.0.ln0.weight", {128}, 0},
      {"output_norm.bias", "ln_out.bias", {128}, 0},
      {"blk.1.attn_norm.weight", "blocks.1.ln1.weight", {128}, 0},
      {"blk.1.attn_norm_2.bias", "blocks.1.ln2.bias", {128}, 0},
      {"blk.1.time_mix_key.weight", "blocks.1.att.key.weight", {128, 128}, 1},
      {"blk.0.time_mix_output.weight", "blocks.0.att.output.weight", {128, 128}, 1},
      {"blk.1.time_mix_lerp_fused.weight", "blocks.1.att.x_rwkvag", {128, 1, 1, 6}, 0},
      {"blk.1.time_mix_w0.weight", "blocks.1.att.w0", {128}, 0},
      {"blk.1.time_mix_v0.weight", "blocks.1.att.v0", {128}, 0},
      {"blk.0.time_mix_v0.weight", "blocks.0.att.a0", {128}, 0},  // dummy copy
      {"blk.0.time_mix_v1.weight", "blocks.0.att.a1", {128, 32}, 1},
      {"blk.1.time_mix_v1.weight", "blocks.1.att.v1", {128, 16}, 1},
      {"blk.1.time_mix_a2.weight", "blocks.1.att.a2", {32, 128}, 1},
      {"blk.1.time_mix_g1.weight", "blocks.1.att.g1", {128, 64}, 1},
      {"blk.1.time_mix_w1.weight", "blocks.1.att.w1", {128, 32}, 0},  // FP32, as llama.cpp's converter
      {"blk.1.time_mix_w2.weight", "blocks.1.att.w2", {32, 128}, 0},
      {"blk.1.time_mix_k_k.weight", "blocks.1.att.k_k", {128}, 0},
      {"blk.1.time_mix_k_a.weight", "blocks.1.att.k_a", {128}, 0},
      {"blk.1.time_mix_r_k.weight", "blocks.1.att.r_k", {128}, 0},
      {"blk.1.time_mix_ln.weight", "blocks.1.att.ln_x.weight", {128}, 0},
      {"blk.1.channel_mix_lerp_k.weight", "blocks.1.ffn.x_k", {128, 1, 1}, 0},
      {"blk.1.channel_mix_key.weight", "blocks.1.ffn.key.weight", {128, 512}, 1},
      {"blk.1.channel_mix_value.weight", "blocks.1.ffn.value.weight", {512, 128}, 1},
  };
  for (const Pair& p : pairs) {
    SCOPED_TRACE(p.gguf);
    ASSERT_TRUE(g.tensors.count(p.gguf));
    const auto& t = g.tensors.at(p.gguf);
    ASSERT_EQ(t.n_dims, int(p.ne.size()));
    for (size_t d = 0; d < p.ne.size(); ++d) EXPECT_EQ(t.ne[d], p.ne[d]);
    EXPECT_EQ(t.type, p.type);
    // F16 GGUF tensors equal the FP16 .bin bytes; F32 ones equal the FP32 .bin bytes.
    const Tensor* b = (p.type == 1 ? bin : bin32).find(p.bin);
    ASSERT_TRUE(b);
    EXPECT_EQ(std::memcmp(g.data(p.gguf), b->data, b->nbytes), 0);
  }
}

// A quantized GGUF holds, for every matrix the .bin of that type quantizes, the .bin's blocks byte for byte
// under ggml's id of the type; the decay LoRA stays FP32 and the rest as in the FP16 GGUF.
TEST(SyntheticModel, QuantizedGgufHoldsTheBinsBlocks) {
  TempDir dir;
  const SyntheticShape s = small_shape();
  struct Case { DType type; uint32_t ggml; uint32_t file_type; };
  for (const Case c : {Case{DType::Q8_0, 8, 7}, Case{DType::Q5_1, 7, 9}, Case{DType::Q4_0, 2, 2}}) {
    SCOPED_TRACE(dtype_name(c.type));
    write_synthetic_model(s, c.type, 9, dir.file("q.bin"));
    write_synthetic_model(s, DType::F32, 9, dir.file("q32.bin"));
    write_synthetic_gguf(s, 9, dir.file("q.gguf"), "", {}, c.type);
    const GgufInfo g = read_gguf(dir.file("q.gguf"));
    const TensorIndex bin = open_rwkv_bin(dir.file("q.bin")), bin32 = open_rwkv_bin(dir.file("q32.bin"));
    EXPECT_EQ(g.u32s.at("general.file_type"), c.file_type);
    const std::pair<const char*, const char*> quantized[] = {
        {"blk.1.time_mix_key.weight", "blocks.1.att.key.weight"},
        {"blk.1.channel_mix_value.weight", "blocks.1.ffn.value.weight"},
    };
    for (const auto& [gname, bname] : quantized) {
      SCOPED_TRACE(gname);
      const Tensor* b = bin.find(bname);
      ASSERT_TRUE(b);
      ASSERT_EQ(b->dtype, c.type);
      EXPECT_EQ(g.tensors.at(gname).type, c.ggml);
      EXPECT_EQ(std::memcmp(g.data(gname), b->data, b->nbytes), 0);
    }
    EXPECT_EQ(g.tensors.at("blk.1.time_mix_w1.weight").type, 0u);
    EXPECT_EQ(std::memcmp(g.data("blk.1.time_mix_w1.weight"), bin32.find("blocks.1.att.w1")->data,
                          bin32.find("blocks.1.att.w1")->nbytes), 0);
    EXPECT_EQ(g.tensors.at("blk.1.attn_norm.weight").type, 0u);
  }
}

TEST(SyntheticModel, GgufTokensComeFromTheWorldVocab) {
  TempDir dir;
  SyntheticShape s = small_shape();
  s.n_layer = 1;
  s.n_embd = 64;
  s.ffn = 128;
  s.n_vocab = 65536;
  write_synthetic_gguf(s, 1, dir.file("v.gguf"), test::shared_dir() + "/vocab/rwkv_vocab_v20230424.txt");
  const GgufInfo g = read_gguf(dir.file("v.gguf"));
  ASSERT_EQ(g.tokens.size(), 65536u);
  EXPECT_EQ(g.tokens[0], "<s>");
  EXPECT_EQ(g.tokens[1], "\\x00");
  EXPECT_EQ(g.tokens[40], "'");        // repr(b"'") is b"'": no escape inside double quotes
  EXPECT_EQ(g.tokens[93], "\\\\");     // a backslash
  EXPECT_EQ(g.tokens[261], "\\n\\n");
  EXPECT_EQ(g.tokens[274], " '");
  EXPECT_EQ(g.tokens[9804], "\\xe2\\x80\\x82");  // '\u2002' as UTF-8 bytes
  EXPECT_EQ(g.tokens[65529], std::string(128, ' '));
  EXPECT_EQ(g.tokens[65530], "[PAD65530]");
  EXPECT_EQ(g.token_types[1], 1);
  EXPECT_EQ(g.token_types[65530], 5);
}

TEST(SyntheticModel, UnwritablePathThrowsIo) {
  TempDir dir;
  try {
    write_synthetic_model(small_shape(), DType::F16, 1, dir.file("missing/x.bin"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Io);
  }
  EXPECT_THROW(write_synthetic_gguf(small_shape(), 1, dir.file("missing/x.gguf")), Error);
  EXPECT_TRUE(fs::is_empty(dir.path));
}

// Sequence mode keeps the bits of token-by-token mode on a model with several heads (the tiny v7 model has
// one): the prompt GEMMs and the gathered WKV-7 of a prompt (each head's inputs copied out before its
// token loop) run the same arithmetic per element. Only where the AVX-512 kernels run; elsewhere float
// products of a prompt go to sgemm (test_engine.cpp's ChunkedSequence bounds that case).
TEST(SyntheticModel, PromptPassesKeepTheBitsOfOneTokenAtATimeWithSeveralHeads) {
  if (&cpu::best_kernels() == &cpu::reference_kernels()) GTEST_SKIP() << "no AVX-512 kernels on this CPU";
  SyntheticShape s = small_shape();
  s.n_embd = 256;  // 4 heads
  s.ffn = 1024;
  TempDir dir;
  for (DType type : {DType::F16, DType::Q8_0, DType::Q5_1}) {
    SCOPED_TRACE(dtype_name(type));
    const std::string path = dir.file(std::string("m-") + dtype_name(type) + ".bin");
    write_synthetic_model(s, type, 5, path);
    auto model = Model::load(path, {.threads = 2});
    std::vector<uint32_t> tokens(70);
    for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = uint32_t((i * 37 + 11) % size_t(s.n_vocab));
    std::vector<float> one = model->initial_state(), seq = one, l_one(size_t(s.n_vocab)), l_seq(l_one.size());
    for (uint32_t t : tokens) model->eval(&t, 1, one.data(), l_one.data());
    model->eval(tokens.data(), tokens.size(), seq.data(), l_seq.data(), 64);  // a pass of 64, then one of 6
    EXPECT_EQ(seq, one);
    EXPECT_EQ(l_seq, l_one);
  }
}
