#include "quantize/quantize_model.h"

#include <algorithm>
#include <vector>

#include "core/error.h"
#include "formats/rwkv_bin.h"
#include "formats/rwkv_bin_writer.h"
#include "quantize/quantize_blocks.h"

namespace rwkv {

namespace {

bool contains_any(const std::string& name, std::initializer_list<const char*> parts) {
  for (const char* p : parts)
    if (name.find(p) != std::string::npos) return true;
  return false;
}

}  // namespace

bool tensor_is_quantizable(const Tensor& t) {
  if (t.n_dims != 2 || dtype_is_quantized(t.dtype)) return false;
  if (t.name == "emb.weight" || t.name == "head.weight") return false;
  return !contains_any(t.name, {"att.w1", "att.w2", "att.a1", "att.a2", "att.g1", "att.g2", "att.v1", "att.v2", "att.r_k"});
}

bool tensor_gets_fp16(const std::string& name, int n_dims) {
  if (n_dims < 2) return false;
  return !contains_any(name, {".time_", ".k_k", ".k_a", ".r_k", ".x_rwkvag", ".x_k", ".w0", ".a0", ".v0"});
}

void quantize_model_file(const std::string& in, const std::string& out, DType type,
                         const std::function<void(double fraction)>& progress) {
  if (type == DType::F32 || !dtype_is_known(uint32_t(type)))
    throw Error(ErrorCode::DType, std::string("cannot convert '") + in + "' to " + dtype_name(type) +
                                      ": the target must be Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 or FP16");
  const TensorIndex index = open_rwkv_bin(in);
  const DType in_type = DType(index.header.data_type);
  if (dtype_is_quantized(in_type))
    throw Error(ErrorCode::DType, "'" + in + "' is already " + dtype_name(in_type) +
                                      "; only FP32 or FP16 files can be quantized (re-quantizing loses precision twice)");
  // Header says FP32/FP16, but check the records too: quantizing a quantized tensor is never right.
  std::vector<const Tensor*> order;
  for (const auto& [name, t] : index.tensors) {
    if (dtype_is_quantized(t.dtype))
      throw Error(ErrorCode::DType, "'" + in + "': tensor '" + name + "' is " + dtype_name(t.dtype) + "; only FP32/FP16 inputs can be quantized");
    order.push_back(&t);
  }
  // Keep the input's record order, so a round trip changes only what it has to.
  std::sort(order.begin(), order.end(), [](const Tensor* a, const Tensor* b) { return a->offset < b->offset; });

  RwkvBinHeader header = index.header;
  header.version = 101;  // quantized blocks changed layout in ggml May 2023; 101 marks the new ones
  header.data_type = uint32_t(type);
  RwkvBinWriter writer(out, header);

  uint64_t total = 0, done = 0;
  for (const Tensor* t : order) total += t->nbytes;
  std::vector<float> row;
  std::vector<uint8_t> packed;
  for (const Tensor* t : order) {
    DType target = t->dtype;
    if (dtype_is_quantized(type) && tensor_is_quantizable(*t)) target = type;
    if (type == DType::F16 && t->dtype == DType::F32 && tensor_gets_fp16(t->name, t->n_dims)) target = DType::F16;
    if (target == t->dtype) {
      writer.add_tensor(t->name, t->dtype, t->n_dims, t->ne, t->data);
    } else {
      if (dtype_is_quantized(target) && t->cols() % kQuantBlock != 0)
        throw Error(ErrorCode::Shape, "'" + in + "': tensor '" + t->name + "' has rows of " + std::to_string(t->cols()) +
                                          " elements; " + dtype_name(target) + " needs a multiple of 32");
      writer.begin_tensor(t->name, target, t->n_dims, t->ne);
      row.resize(size_t(t->cols()));
      packed.resize(dtype_row_bytes(target, t->cols()));
      for (int64_t r = 0; r < t->rows(); ++r) {
        dequantize_row(t->dtype, t->row(r), row.data(), t->cols());  // FP16 -> FP32 is exact
        quantize_row(target, row.data(), packed.data(), t->cols());
        writer.write_data(packed.data(), packed.size());
      }
    }
    done += t->nbytes;
    if (progress) progress(total ? double(done) / double(total) : 1.0);
  }
  writer.finish();
}

}  // namespace rwkv
