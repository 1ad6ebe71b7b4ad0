#include "formats/rwkv_bin.h"

#include <cstring>

#include "core/error.h"

namespace rwkv {

std::string Tensor::shape_string() const {
  std::string s = "(";
  for (int i = 0; i < n_dims; ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
  return s + ")";
}

namespace {

constexpr uint32_t kMaxKeyLength = 1024;
constexpr int64_t kMaxDim = int64_t(1) << 32;

uint32_t read_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

}  // namespace

TensorIndex parse_rwkv_bin(const uint8_t* data, uint64_t size, const std::string& label) {
  auto fail = [&](ErrorCode code, const std::string& what) -> Error {
    return Error(code, label + ": " + what);
  };
  TensorIndex index;
  if (size < 24) throw fail(ErrorCode::Format, "file is " + std::to_string(size) + " bytes, too short for the 24-byte header");
  RwkvBinHeader& h = index.header;
  h.magic = read_u32(data);
  h.version = read_u32(data + 4);
  h.n_vocab = read_u32(data + 8);
  h.n_embed = read_u32(data + 12);
  h.n_layer = read_u32(data + 16);
  h.data_type = read_u32(data + 20);
  if (h.magic != kRwkvBinMagic) {
    char buf[128];
    std::snprintf(buf, sizeof buf, "bad magic 0x%08x (expected 0x%08x, an rwkv.cpp .bin file)", h.magic, kRwkvBinMagic);
    throw fail(ErrorCode::Format, buf);
  }
  if (h.version != 100 && h.version != 101)
    throw fail(ErrorCode::Version, "file version " + std::to_string(h.version) + " is not supported (100 or 101)");
  if (!dtype_is_known(h.data_type))
    throw fail(ErrorCode::DType, "header data type " + std::to_string(h.data_type) +
                                     " is not supported (FP32, FP16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0)");
  if (h.n_vocab == 0 || h.n_embed == 0 || h.n_layer == 0 || h.n_vocab > (1u << 24) || h.n_embed > (1u << 16) ||
      h.n_layer > 4096)
    throw fail(ErrorCode::Format, "implausible header dimensions: n_vocab " + std::to_string(h.n_vocab) + ", n_embed " +
                                      std::to_string(h.n_embed) + ", n_layer " + std::to_string(h.n_layer));

  uint64_t pos = 24;
  while (pos < size) {
    const uint64_t record_start = pos;
    const std::string where = " in the tensor record at byte " + std::to_string(record_start);
    if (size - pos < 12) throw fail(ErrorCode::Format, "truncated record header" + where);
    const int32_t n_dims = int32_t(read_u32(data + pos));
    const int32_t key_len = int32_t(read_u32(data + pos + 4));
    const uint32_t raw_type = read_u32(data + pos + 8);
    pos += 12;
    if (n_dims < 1 || n_dims > 3) throw fail(ErrorCode::Format, "dimension count " + std::to_string(n_dims) + " (expected 1 to 3)" + where);
    if (key_len <= 0 || uint32_t(key_len) > kMaxKeyLength)
      throw fail(ErrorCode::Format, "name length " + std::to_string(key_len) + " (expected 1 to 1024)" + where);
    if (size - pos < uint64_t(n_dims) * 4) throw fail(ErrorCode::Format, "truncated shape" + where);
    Tensor t;
    t.n_dims = n_dims;
    for (int i = 0; i < n_dims; ++i) {
      const int32_t d = int32_t(read_u32(data + pos));
      pos += 4;
      if (d <= 0 || d > kMaxDim) throw fail(ErrorCode::Shape, "dimension " + std::to_string(i) + " is " + std::to_string(d) + where);
      t.ne[i] = d;
    }
    if (size - pos < uint64_t(key_len)) throw fail(ErrorCode::Format, "truncated tensor name" + where);
    t.name.assign(reinterpret_cast<const char*>(data + pos), size_t(key_len));
    pos += uint64_t(key_len);
    const std::string named = " in tensor '" + t.name + "' (record at byte " + std::to_string(record_start) + ")";
    if (!dtype_is_known(raw_type))
      throw fail(ErrorCode::DType, "data type " + std::to_string(raw_type) + " is not supported" + named);
    t.dtype = DType(raw_type);
    if (dtype_is_quantized(t.dtype) && t.ne[0] % kQuantBlock != 0)
      throw fail(ErrorCode::Shape, "quantized rows must be a multiple of 32 elements, got " + std::to_string(t.ne[0]) + named);
    // Overflow-safe byte count: each dimension is < 2^32 and the product is checked against the file size.
    const long double elements = (long double)t.ne[0] * t.ne[1] * t.ne[2];
    if (elements > (long double)size * 2) throw fail(ErrorCode::Format, "shape " + t.shape_string() + " is larger than the file" + named);
    t.nbytes = uint64_t(t.ne[1] * t.ne[2]) * dtype_row_bytes(t.dtype, t.ne[0]);
    if (t.nbytes > size - pos)
      throw fail(ErrorCode::Format, "data needs " + std::to_string(t.nbytes) + " bytes but only " + std::to_string(size - pos) +
                                        " remain (truncated file?)" + named);
    t.offset = pos;
    t.data = data + pos;
    pos += t.nbytes;
    if (!index.tensors.emplace(t.name, t).second) throw fail(ErrorCode::Format, "duplicate tensor" + named);
  }
  if (index.tensors.empty()) throw fail(ErrorCode::Format, "the file holds no tensors");
  return index;
}

TensorIndex open_rwkv_bin(const std::string& path) {
  auto file = std::make_shared<MappedFile>(path);
  TensorIndex index = parse_rwkv_bin(file->data(), file->size(), path);
  index.file = std::move(file);
  return index;
}

}  // namespace rwkv
