// GpuLayers: the GPU side of one RWKV version (gpu_v4.cpp .. gpu_v7.cpp), the counterpart of
// models/v*.cpp. Built once per model (uploads the offloaded layers' weights, plans its scratch);
// record() writes one layer's work for T tokens into the step being recorded. The math and its order
// follow the CPU files exactly; the comments there explain it.
#pragma once
#include <memory>

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
};

class GpuLayers {
 public:
  virtual ~GpuLayers() = default;
  // x: the residual stream (T rows of C, stride C), updated in place. state: this layer's slice of the
  // state buffer, in the CPU layout (engine-spec section 7).
  virtual void record(int l, Ops& ops, const Act& x, VkDeviceAddress state) const = 0;
  uint64_t weight_bytes() const { return weight_bytes_; }
  // RWKV-7: where layer 0 leaves v_first (T rows), which CPU layers after the GPU ones need.
  virtual const Act* v_first() const { return nullptr; }

 protected:
  uint64_t weight_bytes_ = 0;
};

std::unique_ptr<GpuLayers> make_gpu_v4(LayerBuild& b);
std::unique_ptr<GpuLayers> make_gpu_v5(LayerBuild& b);  // 5.1, 5.2
std::unique_ptr<GpuLayers> make_gpu_v6(LayerBuild& b);
std::unique_ptr<GpuLayers> make_gpu_v7(LayerBuild& b);

}  // namespace rwkv::vk
