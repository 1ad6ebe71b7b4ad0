// WeightBinder: fetches named tensors from a TensorIndex with the shape a model version expects,
// so a wrong or missing tensor is reported by name with expected vs actual shape.
#pragma once
#include <string>
#include <vector>

#include "formats/rwkv_bin.h"

namespace rwkv {

class WeightBinder {
 public:
  WeightBinder(const TensorIndex& index, std::string label) : index_(index), label_(std::move(label)) {}

  bool has(const std::string& name) const { return index_.find(name) != nullptr; }
  // A vector of exactly n elements (any shape), widened to float.
  std::vector<float> vec(const std::string& name, int64_t n) const;
  // A matrix of `rows` rows of `cols` elements (ne0 == cols, ne1*ne2 == rows), left in its stored type.
  Tensor mat(const std::string& name, int64_t cols, int64_t rows) const;
  const Tensor& get(const std::string& name) const;  // throws E_MISSING_TENSOR

 private:
  const TensorIndex& index_;
  std::string label_;
};

}  // namespace rwkv
