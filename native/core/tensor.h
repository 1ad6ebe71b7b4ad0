// Tensor: a non-owning view of one weight inside a mapped model file.
// Shapes are in ggml order: ne[0] is the contiguous (innermost) dimension, so a matrix with
// ne = {in, out} is `out` rows of `in` elements, used as y = W·x.
#pragma once
#include <cstdint>
#include <string>

#include "core/dtype.h"

namespace rwkv {

struct Tensor {
  std::string name;
  DType dtype = DType::F32;
  int n_dims = 0;
  int64_t ne[3] = {1, 1, 1};
  const uint8_t* data = nullptr;  // points into the mapped file (or an owned buffer)
  uint64_t offset = 0;            // byte offset of data in the file
  uint64_t nbytes = 0;

  int64_t elements() const { return ne[0] * ne[1] * ne[2]; }
  int64_t cols() const { return ne[0]; }
  int64_t rows() const { return ne[1] * ne[2]; }
  size_t row_bytes() const { return dtype_row_bytes(dtype, ne[0]); }
  const uint8_t* row(int64_t r) const { return data + size_t(r) * row_bytes(); }
  std::string shape_string() const;
};

}  // namespace rwkv
