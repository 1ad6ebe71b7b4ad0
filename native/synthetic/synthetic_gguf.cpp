// GGUF v3 output of the synthetic RWKV-7 models, in llama.cpp's `rwkv7` layout (engine-spec §12):
// same values as the .bin writer (both call synthetic_row), llama.cpp tensor names and dims,
// the converter's metadata and an rwkv-world tokenizer.
#include <cstring>
#include <fstream>

#include "core/error.h"
#include "formats/rwkv_bin_writer.h"
#include "quantize/quantize_blocks.h"
#include "synthetic/synthetic_model.h"

namespace rwkv {

namespace {

constexpr uint32_t kAlign = 32;  // general.alignment's default; we do not write the key
enum : uint32_t { kU32 = 4, kI32 = 5, kF32 = 6, kString = 8, kArray = 9 };

// ggml's type ids, and its "mostly X" file types, for the types whose blocks ggml and rwkv.cpp share
// byte for byte (fp16 d [and m], then qh and qs in the same order).
uint32_t ggml_type(DType t) {
  switch (t) {
    case DType::F32: return 0;
    case DType::F16: return 1;
    case DType::Q4_0: return 2;
    case DType::Q4_1: return 3;
    case DType::Q5_0: return 6;
    case DType::Q5_1: return 7;
    case DType::Q8_0: return 8;
  }
  return 0;
}
uint32_t ggml_file_type(DType t) {
  switch (t) {
    case DType::Q4_0: return 2;
    case DType::Q4_1: return 3;
    case DType::Q8_0: return 7;
    case DType::Q5_0: return 8;
    case DType::Q5_1: return 9;
    default: return 1;  // mostly FP16
  }
}
enum : int32_t { kTokNormal = 1, kTokControl = 3, kTokUnused = 5 };

// Little-endian metadata, built in memory (it is small next to the tensors) and written at once.
struct Meta {
  std::string buf;
  uint64_t kv_count = 0;
  template <typename T> void raw(T v) { buf.append(reinterpret_cast<const char*>(&v), sizeof v); }
  void str(const std::string& s) { raw<uint64_t>(s.size()); buf += s; }
  void key(const std::string& k, uint32_t type) { str(k); raw(type); ++kv_count; }
  void u32(const std::string& k, uint32_t v) { key(k, kU32); raw(v); }
  void f32(const std::string& k, float v) { key(k, kF32); raw(v); }
  void string(const std::string& k, const std::string& v) { key(k, kString); str(v); }
};

struct GgufTensor {
  std::string name;
  int n_dims = 1;
  int64_t ne[4] = {1, 1, 1, 1};
  uint32_t type = 0;
  DType dtype = DType::F32;  // how the data is encoded (type is its ggml id)
  const SyntheticTensor* src = nullptr;
  uint64_t offset = 0, nbytes = 0;
};

// llama.cpp's name and dims for one .bin tensor; false for the ones handled elsewhere.
void gguf_name(const SyntheticTensor& t, int64_t C, std::string* name, int* n_dims, int64_t* ne) {
  auto set = [&](const std::string& n, std::initializer_list<int64_t> dims) {
    *name = n;
    *n_dims = int(dims.size());
    int i = 0;
    for (int64_t d : dims) ne[i++] = d;
  };
  const std::string& s = t.name;
  const std::initializer_list<int64_t> same2 = {t.ne[0], t.ne[1]};
  if (s == "emb.weight") return set("token_embd.weight", same2);
  if (s == "head.weight") return set("output.weight", same2);
  if (s.rfind("ln_out.", 0) == 0) return set("output_norm." + s.substr(7), {C});
  if (s.rfind("blocks.0.ln0.", 0) == 0) return set("token_embd_norm." + s.substr(13), {C});
  const size_t dot = s.find('.', 7);
  const std::string blk = "blk." + s.substr(7, dot - 7) + ".", rest = s.substr(dot + 1);
  struct Rule { const char* from; const char* to; };
  static const Rule rules[] = {
      {"ln1.weight", "attn_norm.weight"}, {"ln1.bias", "attn_norm.bias"},
      {"ln2.weight", "attn_norm_2.weight"}, {"ln2.bias", "attn_norm_2.bias"},
      {"att.ln_x.weight", "time_mix_ln.weight"}, {"att.ln_x.bias", "time_mix_ln.bias"},
      {"att.receptance.weight", "time_mix_receptance.weight"}, {"att.key.weight", "time_mix_key.weight"},
      {"att.value.weight", "time_mix_value.weight"}, {"att.output.weight", "time_mix_output.weight"},
      {"ffn.key.weight", "channel_mix_key.weight"}, {"ffn.value.weight", "channel_mix_value.weight"},
  };
  for (const Rule& r : rules)
    if (rest == r.from) return set(blk + r.to, t.n_dims == 1 ? std::initializer_list<int64_t>{C} : same2);
  if (rest == "att.x_rwkvag") return set(blk + "time_mix_lerp_fused.weight", {C, 1, 1, 6});
  if (rest == "ffn.x_k") return set(blk + "channel_mix_lerp_k.weight", {C, 1, 1});
  // att.w0/a0/v0, k_k, k_a, r_k (flattened to H·S = C), and the LoRA pairs w1..g2.
  const std::string leaf = rest.substr(4);
  if (t.n_dims == 2 && leaf != "r_k") return set(blk + "time_mix_" + leaf + ".weight", same2);
  return set(blk + "time_mix_" + leaf + ".weight", {C});
}

std::vector<GgufTensor> gguf_tensors(const std::vector<SyntheticTensor>& tensors, int64_t C, DType file_type) {
  std::vector<GgufTensor> out;
  for (const SyntheticTensor& t : tensors) {
    GgufTensor g;
    g.src = &t;
    gguf_name(t, C, &g.name, &g.n_dims, g.ne);
    // As llama.cpp's converter: FP16 for what the .bin FP16 rule makes FP16, except the decay LoRA; a
    // quantized file type quantizes what the .bin of that type quantizes (the decay LoRA stays FP32).
    const bool decay_lora = g.name.ends_with("time_mix_w1.weight") || g.name.ends_with("time_mix_w2.weight");
    g.dtype = t.fp16_values && !decay_lora ? DType::F16 : DType::F32;
    if (dtype_is_quantized(file_type) && !decay_lora && dtype_is_quantized(synthetic_tensor_dtype(t, file_type)))
      g.dtype = file_type;
    g.type = ggml_type(g.dtype);
    out.push_back(g);
    // llama.cpp wants v0/v1/v2 in layer 0 too; its converter writes copies of a0/a1/a2 there.
    if (t.name.rfind("blocks.0.att.a", 0) == 0) {
      GgufTensor v = g;
      v.name.replace(v.name.find("time_mix_a"), 10, "time_mix_v");
      out.push_back(v);
    }
  }
  return out;
}

// Body of Python's repr(bytes) without b'...': how llama.cpp's converter stores rwkv tokens.
std::string bytes_repr_body(const std::string& b) {
  const char quote = (b.find('\'') != std::string::npos && b.find('"') == std::string::npos) ? '"' : '\'';
  std::string out;
  static const char hex[] = "0123456789abcdef";
  for (unsigned char c : b) {
    if (c == '\\' || c == uint8_t(quote)) out += '\\', out += char(c);
    else if (c == '\t') out += "\\t";
    else if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c < 0x20 || c >= 0x7f) out += "\\x", out += hex[c >> 4], out += hex[c & 15];
    else out += char(c);
  }
  return out;
}

void append_utf8(std::string* s, uint32_t cp) {
  if (cp < 0x80) { *s += char(cp); }
  else if (cp < 0x800) { *s += char(0xc0 | cp >> 6); *s += char(0x80 | (cp & 0x3f)); }
  else if (cp < 0x10000) { *s += char(0xe0 | cp >> 12); *s += char(0x80 | (cp >> 6 & 0x3f)); *s += char(0x80 | (cp & 0x3f)); }
  else { *s += char(0xf0 | cp >> 18); *s += char(0x80 | (cp >> 12 & 0x3f)); *s += char(0x80 | (cp >> 6 & 0x3f)); *s += char(0x80 | (cp & 0x3f)); }
}

// One line of rwkv_vocab_v20230424.txt: `<id> <python str or bytes literal> <byte length>`.
bool parse_vocab_line(const std::string& line, uint32_t* id, std::string* bytes) {
  const size_t sp1 = line.find(' '), sp2 = line.rfind(' ');
  if (sp1 == std::string::npos || sp2 <= sp1) return false;
  std::string lit = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const bool is_bytes = !lit.empty() && lit[0] == 'b';
  if (is_bytes) lit.erase(0, 1);
  if (lit.size() < 2 || (lit[0] != '\'' && lit[0] != '"') || lit.back() != lit[0]) return false;
  bytes->clear();
  for (size_t i = 1; i + 1 < lit.size(); ++i) {
    if (lit[i] != '\\') { *bytes += lit[i]; continue; }
    if (++i + 1 > lit.size() - 1) return false;
    const char e = lit[i];
    auto hexval = [&](size_t digits) -> uint32_t {
      if (i + digits >= lit.size()) throw std::invalid_argument("short escape");
      const uint32_t v = uint32_t(std::stoul(lit.substr(i + 1, digits), nullptr, 16));
      i += digits;
      return v;
    };
    try {
      if (e == 'x') { const uint32_t v = hexval(2); if (is_bytes) *bytes += char(v); else append_utf8(bytes, v); }
      else if (e == 'u' && !is_bytes) append_utf8(bytes, hexval(4));
      else if (e == 'U' && !is_bytes) append_utf8(bytes, hexval(8));
      else if (e == 'n') *bytes += '\n';
      else if (e == 't') *bytes += '\t';
      else if (e == 'r') *bytes += '\r';
      else *bytes += e;  // \\ \' \"
    } catch (const std::exception&) {
      return false;
    }
  }
  *id = uint32_t(std::stoul(line.substr(0, sp1)));
  return std::to_string(bytes->size()) == line.substr(sp2 + 1);
}

void add_tokenizer(Meta& meta, int64_t n_vocab, const std::string& vocab_path) {
  std::vector<std::string> tokens(static_cast<size_t>(n_vocab));
  std::vector<int32_t> types(static_cast<size_t>(n_vocab), kTokUnused);
  for (int64_t i = 0; i < n_vocab; ++i) tokens[size_t(i)] = "[PAD" + std::to_string(i) + "]";
  tokens[0] = "<s>";
  types[0] = kTokControl;
  if (!vocab_path.empty()) {
    std::ifstream in(vocab_path, std::ios::binary);
    if (!in) throw Error(ErrorCode::Io, "cannot open vocabulary '" + vocab_path + "'");
    std::string line, bytes;
    for (int n = 1; std::getline(in, line); ++n) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty()) continue;
      uint32_t id;
      if (!parse_vocab_line(line, &id, &bytes))
        throw Error(ErrorCode::Format, "vocabulary '" + vocab_path + "' line " + std::to_string(n) + " is not `id literal length`");
      if (id == 0 || id >= uint64_t(n_vocab)) continue;  // a small synthetic vocab keeps the first ids
      tokens[id] = bytes_repr_body(bytes);
      types[id] = kTokNormal;
    }
  }
  meta.string("tokenizer.ggml.model", "rwkv");
  meta.key("tokenizer.ggml.tokens", kArray);
  meta.raw<uint32_t>(kString);
  meta.raw<uint64_t>(tokens.size());
  for (const auto& t : tokens) meta.str(t);
  meta.key("tokenizer.ggml.token_type", kArray);
  meta.raw<uint32_t>(kI32);
  meta.raw<uint64_t>(types.size());
  for (int32_t t : types) meta.raw(t);
  meta.string("tokenizer.chat_template", "rwkv-world");
  if (n_vocab > 261) meta.u32("tokenizer.ggml.eot_token_id", 261);  // "\n\n"
}

}  // namespace

void write_synthetic_gguf(const SyntheticShape& shape, uint64_t seed, const std::string& path, const std::string& vocab_path,
                          const std::function<void(double fraction)>& progress, DType model_type) {
  const DType file_type = synthetic_gguf_type(model_type);
  const std::vector<SyntheticTensor> tensors = synthetic_tensors(shape);
  std::vector<GgufTensor> gts = gguf_tensors(tensors, shape.n_embd, file_type);

  Meta meta;
  const std::string arch = "rwkv7";
  meta.string("general.architecture", arch);
  meta.string("general.name", "synthetic-rwkv7-" + shape.name);
  meta.u32("general.file_type", ggml_file_type(file_type));
  meta.u32(arch + ".context_length", 1048576);
  meta.u32(arch + ".embedding_length", uint32_t(shape.n_embd));
  meta.u32(arch + ".block_count", uint32_t(shape.n_layer));
  meta.u32(arch + ".feed_forward_length", uint32_t(shape.ffn));
  meta.f32(arch + ".attention.layer_norm_epsilon", 1e-5f);
  meta.u32(arch + ".attention.head_count", 0);  // required by llama.cpp, unused
  meta.u32(arch + ".wkv.head_size", uint32_t(shape.head_size));
  meta.u32(arch + ".attention.decay_lora_rank", uint32_t(shape.lora_w));
  meta.u32(arch + ".attention.iclr_lora_rank", uint32_t(shape.lora_a));
  meta.u32(arch + ".attention.value_residual_mix_lora_rank", uint32_t(shape.lora_v));
  meta.u32(arch + ".attention.gate_lora_rank", uint32_t(shape.lora_g));
  add_tokenizer(meta, shape.n_vocab, vocab_path);

  std::string infos;
  uint64_t data_size = 0;
  int64_t total = 0;
  for (GgufTensor& g : gts) {
    g.offset = data_size;
    g.nbytes = uint64_t(g.src->rows()) * dtype_row_bytes(g.dtype, g.src->ne[0]);
    data_size += (g.nbytes + kAlign - 1) / kAlign * kAlign;
    total += g.src->ne[0] * g.src->rows();
    Meta info;  // reuse the little-endian helpers
    info.str(g.name);
    info.raw<uint32_t>(uint32_t(g.n_dims));
    for (int i = 0; i < g.n_dims; ++i) info.raw<uint64_t>(uint64_t(g.ne[i]));
    info.raw<uint32_t>(g.type);
    info.raw<uint64_t>(g.offset);
    infos += info.buf;
  }

  AtomicFileWriter out(path);
  out.write("GGUF", 4);
  const uint32_t version = 3;
  const uint64_t counts[2] = {gts.size(), meta.kv_count};
  out.write(&version, 4);
  out.write(counts, sizeof counts);
  out.write(meta.buf.data(), meta.buf.size());
  out.write(infos.data(), infos.size());
  out.write_zeros((kAlign - out.bytes_written() % kAlign) % kAlign);
  const uint64_t data_start = out.bytes_written();

  std::vector<float> row;
  std::vector<uint8_t> packed;
  int64_t done = 0, reported = 0;
  for (const GgufTensor& g : gts) {
    if (out.bytes_written() != data_start + g.offset) throw Error(ErrorCode::Internal, "GGUF offsets out of step in '" + path + "'");
    const DType dt = g.dtype;
    const int64_t n = g.src->ne[0];
    row.resize(size_t(n));
    packed.resize(dtype_row_bytes(dt, n));
    for (int64_t r = 0; r < g.src->rows(); ++r) {
      synthetic_row(*g.src, seed, r, row.data());
      synthetic_encode_row(dt, row.data(), packed.data(), n);
      out.write(packed.data(), packed.size());
      done += n;
      if (progress && done - reported >= (int64_t(1) << 22)) {
        reported = done;
        progress(double(done) / double(total));
      }
    }
    out.write_zeros((kAlign - g.nbytes % kAlign) % kAlign);
  }
  out.commit();
  if (progress) progress(1.0);
}

}  // namespace rwkv
