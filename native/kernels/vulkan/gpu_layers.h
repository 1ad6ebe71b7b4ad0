// GpuLayers: the GPU side of one RWKV version (gpu_v4.cpp .. gpu_v7.cpp), the counterpart of
// models/v*.cpp. Built once per model (uploads the offloaded layers' weights, plans its scratch);
// record() writes one layer's work for T tokens into the step being recorded. The math and its order
// follow the CPU files exactly; the comments there explain it.
#pragma once
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "kernels/vulkan/ops.h"
#include "models/model_info.h"
#include "models/weight_binder.h"

namespace rwkv::vk {

struct LayerBuild {
  const WeightBinder& w;
  const ModelInfo& info;
  int n_layers;        // layers [0, n_layers) run on the GPU
  Arena& arena;
  Uploader& up;
  ScratchPlan& plan;
  uint64_t weight_bytes = 0;  // of the matrices uploaded through matrix()

  // A matrix by name and (cols, rows), uploaded in its stored type.
  GpuMatrix matrix(const std::string& name, int64_t cols, int64_t rows) {
    GpuMatrix m = upload_matrix(arena, up, w.mat(name, cols, rows));
    weight_bytes += m.bytes;
    return m;
  }
  // Float vectors, concatenated in order and uploaded as one slice.
  Slice floats(std::initializer_list<std::vector<float>> parts) {
    std::vector<float> all;
    for (const std::vector<float>& p : parts) all.insert(all.end(), p.begin(), p.end());
    return upload_floats(arena, up, all);
  }
};

// wkv5.comp's push constants: the WKV of v5 and v6 (v6 passes a per-token decay in wl).
struct Wkv5PC {
  uint64_t r, k, v, wl, g, params, state, y;
  uint32_t H, T, stride, flags;
  float eps;
};

class GpuLayers {
 public:
  virtual ~GpuLayers() = default;
  // x: the residual stream (T rows of C, stride C), updated in place. state: this layer's slice of the
  // state buffer, in the CPU layout (engine-spec section 7).
  virtual void record(int l, Ops& ops, const Act& x, VkDeviceAddress state) const = 0;
  // RWKV-7: where layer 0 leaves v_first (T rows), which CPU layers after the GPU ones need.
  virtual const Act* v_first() const { return nullptr; }
  // The type of the layers' large matrices (the persistent step's loop is shaped for their rows).
  virtual DType matrix_dtype() const { return DType::F16; }
};

std::unique_ptr<GpuLayers> make_gpu_v4(LayerBuild& b);
std::unique_ptr<GpuLayers> make_gpu_v5(LayerBuild& b);  // 5.1, 5.2
std::unique_ptr<GpuLayers> make_gpu_v6(LayerBuild& b);
std::unique_ptr<GpuLayers> make_gpu_v7(LayerBuild& b);

}  // namespace rwkv::vk
