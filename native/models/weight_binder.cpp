#include "models/weight_binder.h"

#include "core/error.h"

namespace rwkv {

const Tensor& WeightBinder::get(const std::string& name) const {
  const Tensor* t = index_.find(name);
  if (!t) throw Error(ErrorCode::MissingTensor, label_ + ": tensor '" + name + "' is missing");
  return *t;
}

std::vector<float> WeightBinder::vec(const std::string& name, int64_t n) const {
  const Tensor& t = get(name);
  if (t.elements() != n)
    throw Error(ErrorCode::Shape, label_ + ": tensor '" + name + "' has shape " + t.shape_string() + " (" +
                                      std::to_string(t.elements()) + " elements), expected " + std::to_string(n));
  if (dtype_is_quantized(t.dtype) && t.ne[0] % kQuantBlock != 0)
    throw Error(ErrorCode::Shape, label_ + ": tensor '" + name + "' cannot be quantized with this shape");
  std::vector<float> out(static_cast<size_t>(n));
  for (int64_t r = 0; r < t.rows(); ++r) dequantize_row(t.dtype, t.row(r), out.data() + r * t.cols(), t.cols());
  return out;
}

Tensor WeightBinder::mat(const std::string& name, int64_t cols, int64_t rows) const {
  const Tensor& t = get(name);
  if (t.cols() != cols || t.rows() != rows)
    throw Error(ErrorCode::Shape, label_ + ": tensor '" + name + "' has shape " + t.shape_string() + ", expected (" +
                                      std::to_string(cols) + ", " + std::to_string(rows) + ")");
  return t;
}

}  // namespace rwkv
