#include "kernels/vulkan/pipeline.h"

#include <cstring>

#include "core/error.h"
#include "kernels/vulkan/check.h"
#include "kernels/vulkan/shaders_embedded.h"

namespace rwkv::vk {

Pipelines::Pipelines(Device& device) : device_(device) {
  VkPushConstantRange range{VK_SHADER_STAGE_COMPUTE_BIT, 0, kPushConstantBytes};
  auto ci = make<VkPipelineLayoutCreateInfo>(VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO);
  ci.pushConstantRangeCount = 1;
  ci.pPushConstantRanges = &range;
  VK_CHECK("vkCreatePipelineLayout", vk().vkCreatePipelineLayout(device.handle(), &ci, nullptr, &layout_));
}

Pipelines::~Pipelines() {
  VkDevice dev = device_.handle();
  for (auto& [key, p] : pipelines_) vk().vkDestroyPipeline(dev, p, nullptr);
  for (auto& [name, m] : modules_) vk().vkDestroyShaderModule(dev, m, nullptr);
  vk().vkDestroyPipelineLayout(dev, layout_, nullptr);
}

VkPipeline Pipelines::get(const std::string& shader, const std::vector<uint32_t>& spec) {
  auto key = std::make_pair(shader, spec);
  if (auto it = pipelines_.find(key); it != pipelines_.end()) return it->second;

  VkShaderModule module = VK_NULL_HANDLE;
  if (auto it = modules_.find(shader); it != modules_.end()) {
    module = it->second;
  } else {
    const EmbeddedShader* found = nullptr;
    for (size_t i = 0; i < kEmbeddedShaderCount; ++i)
      if (shader == kEmbeddedShaders[i].name) found = &kEmbeddedShaders[i];
    if (!found)
      throw Error(ErrorCode::Device, "shader '" + shader + "' is not in this build (was glslc available when it was built?)");
    auto mci = make<VkShaderModuleCreateInfo>(VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO);
    mci.codeSize = found->word_count * 4;
    mci.pCode = found->words;
    VK_CHECK("vkCreateShaderModule", vk().vkCreateShaderModule(device_.handle(), &mci, nullptr, &module));
    modules_[shader] = module;
  }

  std::vector<VkSpecializationMapEntry> entries(spec.size());
  for (size_t i = 0; i < spec.size(); ++i) entries[i] = {uint32_t(i), uint32_t(i * 4), 4};
  VkSpecializationInfo si{uint32_t(entries.size()), entries.data(), spec.size() * 4, spec.data()};
  auto pci = make<VkComputePipelineCreateInfo>(VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO);
  pci.stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO;
  pci.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
  pci.stage.module = module;
  pci.stage.pName = "main";
  pci.stage.pSpecializationInfo = spec.empty() ? nullptr : &si;
  pci.layout = layout_;
  VkPipeline p = VK_NULL_HANDLE;
  VK_CHECK("vkCreateComputePipelines", vk().vkCreateComputePipelines(device_.handle(), VK_NULL_HANDLE, 1, &pci, nullptr, &p));
  pipelines_[key] = p;
  return p;
}

}  // namespace rwkv::vk
