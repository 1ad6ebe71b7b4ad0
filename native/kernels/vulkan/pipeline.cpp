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
    // Where the device has integer dot products, a shader's *_idot build (the same results) replaces it.
    if (device_.int_dot())
      for (size_t i = 0; i < kEmbeddedShaderCount; ++i)
        if (shader + "_idot" == kEmbeddedShaders[i].name) found = &kEmbeddedShaders[i];
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
  if (device_.shader_stats()) pci.flags |= VK_PIPELINE_CREATE_CAPTURE_STATISTICS_BIT_KHR;
  VkPipeline p = VK_NULL_HANDLE;
  VK_CHECK("vkCreateComputePipelines", vk().vkCreateComputePipelines(device_.handle(), VK_NULL_HANDLE, 1, &pci, nullptr, &p));
  pipelines_[key] = p;
  return p;
}

std::string Pipelines::statistics(const std::string& prefix) const {
  // The device-level function table is process-wide: another device created since may have left these null.
  if (!device_.shader_stats() || !vk().vkGetPipelineExecutablePropertiesKHR || !vk().vkGetPipelineExecutableStatisticsKHR)
    return "";
  std::string out;
  for (const auto& [key, p] : pipelines_) {
    if (key.first.compare(0, prefix.size(), prefix) != 0) continue;
    auto info = make<VkPipelineInfoKHR>(VK_STRUCTURE_TYPE_PIPELINE_INFO_KHR);
    info.pipeline = p;
    uint32_t n = 0;
    if (vk().vkGetPipelineExecutablePropertiesKHR(device_.handle(), &info, &n, nullptr) != VK_SUCCESS) continue;
    std::vector<VkPipelineExecutablePropertiesKHR> props(
        n, make<VkPipelineExecutablePropertiesKHR>(VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_PROPERTIES_KHR));
    if (vk().vkGetPipelineExecutablePropertiesKHR(device_.handle(), &info, &n, props.data()) != VK_SUCCESS) continue;
    std::string spec;
    for (size_t i = 0; i < key.second.size(); ++i) spec.append(i ? "," : "").append(std::to_string(key.second[i]));
    for (uint32_t e = 0; e < n; ++e) {
      out.append(key.first).append(" [").append(spec).append("] ").append(props[e].name).append(":");
      auto ei = make<VkPipelineExecutableInfoKHR>(VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_INFO_KHR);
      ei.pipeline = p;
      ei.executableIndex = e;
      uint32_t ns = 0;
      if (vk().vkGetPipelineExecutableStatisticsKHR(device_.handle(), &ei, &ns, nullptr) != VK_SUCCESS) ns = 0;
      std::vector<VkPipelineExecutableStatisticKHR> st(
          ns, make<VkPipelineExecutableStatisticKHR>(VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_STATISTIC_KHR));
      if (ns && vk().vkGetPipelineExecutableStatisticsKHR(device_.handle(), &ei, &ns, st.data()) != VK_SUCCESS) st.clear();
      for (const auto& s : st) {
        std::string v;
        switch (s.format) {
          case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_BOOL32_KHR: v = s.value.b32 ? "yes" : "no"; break;
          case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_INT64_KHR: v = std::to_string(s.value.i64); break;
          case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_UINT64_KHR: v = std::to_string(s.value.u64); break;
          default: v = std::to_string(s.value.f64); break;
        }
        out.append(" ").append(s.name).append("=").append(v);
      }
      out.append("\n");
    }
  }
  return out;
}

}  // namespace rwkv::vk
