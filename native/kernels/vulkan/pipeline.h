// Pipelines: compute pipelines made from the embedded SPIR-V, created on first use and kept for the
// life of the model. Every pipeline shares one layout: no descriptor sets (shaders get buffer device
// addresses) and a 128-byte push-constant block, the minimum every Vulkan device supports.
// Specialisation constants are numbered from 0 in the order given (id 0 is the workgroup size by
// convention in our shaders).
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "kernels/vulkan/device.h"

namespace rwkv::vk {

constexpr uint32_t kPushConstantBytes = 128;

class Pipelines {
 public:
  explicit Pipelines(Device& device);
  ~Pipelines();
  Pipelines(const Pipelines&) = delete;
  Pipelines& operator=(const Pipelines&) = delete;

  VkPipeline get(const std::string& shader, const std::vector<uint32_t>& spec = {});
  VkPipelineLayout layout() const { return layout_; }
  // One line per compiled executable of every pipeline whose shader name starts with `prefix`: the driver's
  // statistics (register count, spills, ...), where Device::shader_stats(); else "".
  std::string statistics(const std::string& prefix = "") const;

 private:
  Device& device_;
  VkPipelineLayout layout_ = VK_NULL_HANDLE;
  std::map<std::string, VkShaderModule> modules_;
  std::map<std::pair<std::string, std::vector<uint32_t>>, VkPipeline> pipelines_;
};

}  // namespace rwkv::vk
