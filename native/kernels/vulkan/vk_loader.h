// vk_loader: loads libvulkan at run time (dlopen "libvulkan.so.1"), so a machine without Vulkan still
// runs the CPU path. Only the functions this backend uses are loaded, into one table (`vk()`).
// VK_NO_PROTOTYPES keeps the Vulkan headers from declaring the real symbols, so nothing links to them.
#pragma once
#ifndef VK_NO_PROTOTYPES
#define VK_NO_PROTOTYPES
#endif
#include <vulkan/vulkan.h>

#include <string>

namespace rwkv::vk {

// Global and instance-level entry points, then device-level ones (loaded through vkGetDeviceProcAddr,
// which skips the loader's dispatch trampoline on every call).
#define RWKV_VK_GLOBAL_FUNCS(X) \
  X(vkCreateInstance)           \
  X(vkEnumerateInstanceVersion)

#define RWKV_VK_INSTANCE_FUNCS(X)             \
  X(vkDestroyInstance)                        \
  X(vkEnumeratePhysicalDevices)               \
  X(vkGetPhysicalDeviceProperties)            \
  X(vkGetPhysicalDeviceProperties2)           \
  X(vkGetPhysicalDeviceFeatures2)             \
  X(vkGetPhysicalDeviceMemoryProperties)      \
  X(vkGetPhysicalDeviceQueueFamilyProperties) \
  X(vkCreateDevice)                           \
  X(vkGetDeviceProcAddr)                      \
  X(vkEnumerateDeviceExtensionProperties)     \
  X(vkGetPhysicalDeviceCooperativeMatrixPropertiesNV)  // optional: null without VK_NV_cooperative_matrix

#define RWKV_VK_DEVICE_FUNCS(X)         \
  X(vkDestroyDevice)                    \
  X(vkGetDeviceQueue)                   \
  X(vkDeviceWaitIdle)                   \
  X(vkQueueSubmit)                      \
  X(vkCreateBuffer)                     \
  X(vkDestroyBuffer)                    \
  X(vkGetBufferMemoryRequirements)      \
  X(vkAllocateMemory)                   \
  X(vkFreeMemory)                       \
  X(vkBindBufferMemory)                 \
  X(vkMapMemory)                        \
  X(vkUnmapMemory)                      \
  X(vkGetBufferDeviceAddress)           \
  X(vkCreateShaderModule)               \
  X(vkDestroyShaderModule)              \
  X(vkCreatePipelineLayout)             \
  X(vkDestroyPipelineLayout)            \
  X(vkCreateComputePipelines)           \
  X(vkDestroyPipeline)                  \
  X(vkCreateCommandPool)                \
  X(vkDestroyCommandPool)               \
  X(vkAllocateCommandBuffers)           \
  X(vkFreeCommandBuffers)               \
  X(vkBeginCommandBuffer)               \
  X(vkEndCommandBuffer)                 \
  X(vkCmdBindPipeline)                  \
  X(vkCmdPushConstants)                 \
  X(vkCmdDispatch)                      \
  X(vkCmdPipelineBarrier)               \
  X(vkCmdCopyBuffer)                    \
  X(vkCmdFillBuffer)                    \
  X(vkCreateFence)                      \
  X(vkDestroyFence)                     \
  X(vkWaitForFences)                    \
  X(vkGetFenceStatus)                   \
  X(vkResetFences)                      \
  X(vkCreateQueryPool)                  \
  X(vkDestroyQueryPool)                 \
  X(vkCmdResetQueryPool)                \
  X(vkCmdWriteTimestamp)                \
  X(vkGetQueryPoolResults)              \
  X(vkGetPipelineExecutablePropertiesKHR)  /* optional: VK_KHR_pipeline_executable_properties */ \
  X(vkGetPipelineExecutableStatisticsKHR)

struct Functions {
  PFN_vkGetInstanceProcAddr vkGetInstanceProcAddr = nullptr;
#define RWKV_VK_DECLARE(name) PFN_##name name = nullptr;
  RWKV_VK_GLOBAL_FUNCS(RWKV_VK_DECLARE)
  RWKV_VK_INSTANCE_FUNCS(RWKV_VK_DECLARE)
  RWKV_VK_DEVICE_FUNCS(RWKV_VK_DECLARE)
#undef RWKV_VK_DECLARE
};

// The process-wide table. Global functions are valid after load_library(); instance and device
// functions after load_instance_functions() / load_device_functions().
// One Vulkan instance per process is assumed for the instance-level table (Device keeps it shared).
Functions& vk();

// A Vulkan struct with its sType set and every other field zero (the `T x{sType}` form trips
// -Wmissing-field-initializers).
template <class T>
T make(VkStructureType type) {
  T v{};
  v.sType = type;
  return v;
}

// dlopens libvulkan once. Returns false (and `why`) if it is not there; never throws.
bool load_library(std::string* why);
void load_instance_functions(VkInstance instance);
void load_device_functions(VkDevice device);

}  // namespace rwkv::vk
