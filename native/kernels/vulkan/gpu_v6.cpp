#include "core/error.h"
#include "kernels/vulkan/gpu_layers.h"

namespace rwkv::vk {
std::unique_ptr<GpuLayers> make_gpu_v6(LayerBuild&) { throw Error(ErrorCode::Version, "GPU offload of RWKV v6 is not implemented yet"); }
}  // namespace rwkv::vk
