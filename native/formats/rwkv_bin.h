// Reader for rwkv.cpp's `.bin` model files (file versions 100 and 101).
// Knows the container only (header + tensor records); what the tensors mean is models/' job.
//
// Layout: 24-byte header of little-endian uint32 {magic 0x67676d66, version, n_vocab, n_embed,
// n_layer, data_type}, then records until EOF: int32 n_dims, int32 key_len, int32 dtype,
// int32 ne[n_dims], key bytes, data bytes (no padding).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "core/mapped_file.h"
#include "core/tensor.h"

namespace rwkv {

constexpr uint32_t kRwkvBinMagic = 0x67676d66;

struct RwkvBinHeader {
  uint32_t magic = kRwkvBinMagic;
  uint32_t version = 101;
  uint32_t n_vocab = 0;
  uint32_t n_embed = 0;
  uint32_t n_layer = 0;
  uint32_t data_type = 0;
};

struct TensorIndex {
  RwkvBinHeader header;
  std::map<std::string, Tensor> tensors;
  std::shared_ptr<MappedFile> file;  // keeps tensor data alive; null when parsed from a buffer

  const Tensor* find(const std::string& name) const {
    auto it = tensors.find(name);
    return it == tensors.end() ? nullptr : &it->second;
  }
};

// Parses and validates a whole file image. `label` names the file in error messages.
// Every check is made before any data is used: header fields, record layout, dtype, shape, and
// that each record's bytes lie inside [0, size). Throws rwkv::Error; never reads out of bounds.
TensorIndex parse_rwkv_bin(const uint8_t* data, uint64_t size, const std::string& label);

// Maps `path` and parses it.
TensorIndex open_rwkv_bin(const std::string& path);

}  // namespace rwkv
