// Device: one Vulkan instance + logical device with a compute queue, the memory types this backend
// uses, a command pool and a fence. Non-copyable; everything it creates is destroyed with it.
//
// Requirements (checked, reported by name when missing): Vulkan 1.2, bufferDeviceAddress (shaders
// take buffer addresses in push constants and job tables, so no descriptor sets are needed),
// subgroup basic + arithmetic operations in compute shaders, a queue with compute.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/vulkan/vk_loader.h"

namespace rwkv::vk {

struct DeviceInfo {
  int index = -1;                 // position in vkEnumeratePhysicalDevices
  std::string name;
  std::string type;               // "discrete", "integrated", "virtual", "cpu", "other"
  uint32_t api_version = 0;
  uint64_t device_local_bytes = 0;  // size of the largest device-local heap
  uint32_t subgroup_size = 0;
  bool usable = false;            // meets the requirements above
  bool coop_matrix = false;       // set by Device::create: the cooperative-matrix GEMM path is on
  uint32_t multiprocessors = 0;   // VK_NV_shader_sm_builtins where offered, else 0 (unknown)
  bool device_clock = false;      // VK_KHR_shader_clock's device clock (Device::create turns it on: step profiles)
  bool int_dot = false;           // set by Device::create: quantized matvecs use the device's 4 x 8-bit dot products
  std::string why_not;            // when !usable
};

// Lists every physical device (for `info --gpu`). Returns an empty list, with `why` set, when
// libvulkan or an instance is unavailable. Never throws.
std::vector<DeviceInfo> list_devices(std::string* why = nullptr);

class Device {
 public:
  // index >= 0: that device (any type). index < 0: the first usable discrete GPU, then integrated,
  // then virtual. CPU implementations (llvmpipe/lavapipe) are slower than the engine's own CPU path,
  // so they are chosen automatically only when RWKV_VULKAN_ALLOW_CPU=1 (tests on CI set it).
  // int_dot: the device's integer dot products (int_dot() below): -1 as RWKV_VK_INT_DOT says (unset: where
  // accelerated), 0 never, 1 wherever the device has them.
  // Throws Error(ErrorCode::Device) saying what is missing.
  static std::unique_ptr<Device> create(int index, int int_dot = -1);
  ~Device();
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  VkDevice handle() const { return device_; }
  VkPhysicalDevice physical() const { return physical_; }
  VkQueue queue() const { return queue_; }
  VkCommandPool command_pool() const { return pool_; }
  const DeviceInfo& info() const { return info_; }
  const VkPhysicalDeviceProperties& properties() const { return props_; }
  uint32_t subgroup_size() const { return info_.subgroup_size; }
  // Cooperative matrices (VK_NV_cooperative_matrix, 16x16x16 FP16 x FP16 -> FP32 on a subgroup): the
  // extension and shaderFloat16 are enabled at creation when the device has them; gemm.comp needs them.
  // RWKV_VK_COOP=0 leaves them off (the matvec path then runs every token count).
  bool coop_matrix() const { return coop_; }
  // Integer dot products (SPV_KHR_integer_dot_product: 4 x 8-bit packed, signed and mixed signedness; core
  // in Vulkan 1.3): enabled at creation where the driver calls them accelerated, and Pipelines then builds
  // the quantized matvecs from their *_idot variants (the same integers: the same bits). create()'s int_dot
  // (or RWKV_VK_INT_DOT) = 1 takes them wherever the device has the feature (lavapipe: the tests), 0 never.
  bool int_dot() const { return int_dot_; }
  // RWKV_VK_SHADER_STATS=1 where the device has VK_KHR_pipeline_executable_properties: pipelines keep the
  // driver's statistics of their compiled code (registers, spills: Pipelines::statistics).
  bool shader_stats() const { return shader_stats_; }

  // Memory type index for buffers: device-local (weights, state, scratch) or host-visible (staging).
  uint32_t device_local_type(uint32_t allowed_bits) const;
  uint32_t host_visible_type(uint32_t allowed_bits) const;

  // Submits the command buffers in order as one batch and waits for them to finish. With `estimate_us`
  // (how long the same submission took before; 0 at first; updated here), the wait sleeps until shortly
  // before the expected end and polls the fence from there: a sleeping wait wakes ~0.1 ms after the GPU
  // finishes on an H100 machine, a tenth of a 0.4B decode step (BENCHMARKS.md). RWKV_VK_SPIN_US: how long
  // before the expected end the polling starts (default 300; 0: always sleep). Not on CPU devices, where a
  // polling thread would take a core from the driver's own threads.
  void submit_and_wait(const VkCommandBuffer* cbs, uint32_t count, double* estimate_us = nullptr);

  VkCommandBuffer allocate_command_buffer();
  void free_command_buffer(VkCommandBuffer cb);

 private:
  Device() = default;
  VkInstance instance_ = VK_NULL_HANDLE;
  VkPhysicalDevice physical_ = VK_NULL_HANDLE;
  VkDevice device_ = VK_NULL_HANDLE;
  VkQueue queue_ = VK_NULL_HANDLE;
  uint32_t queue_family_ = 0;
  VkCommandPool pool_ = VK_NULL_HANDLE;
  VkFence fence_ = VK_NULL_HANDLE;
  VkPhysicalDeviceProperties props_{};
  VkPhysicalDeviceMemoryProperties mem_{};
  DeviceInfo info_;
  bool coop_ = false;
  bool int_dot_ = false;
  bool shader_stats_ = false;
  uint32_t poll_margin_us_ = 0;  // submit_and_wait: polling starts this long before the expected end (0: none)
};

}  // namespace rwkv::vk
