#include "kernels/vulkan/device.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "core/error.h"
#include "kernels/vulkan/check.h"
#include "kernels/vulkan/env_knobs.h"

namespace rwkv::vk {

namespace {

// The one instance of the process: created on first use, never destroyed (drivers keep global
// state; destroying and re-creating instances repeatedly is slow and leaks on some of them).
VkInstance shared_instance(std::string* why) {
  static VkInstance instance = VK_NULL_HANDLE;
  static std::string error;
  static bool tried = false;
  if (tried) {
    if (!instance && why) *why = error;
    return instance;
  }
  tried = true;
  if (!load_library(&error)) {
    if (why) *why = error;
    return VK_NULL_HANDLE;
  }
  uint32_t version = VK_API_VERSION_1_0;
  if (vk().vkEnumerateInstanceVersion) vk().vkEnumerateInstanceVersion(&version);
  if (version < VK_API_VERSION_1_2) {
    error = "the Vulkan loader supports only version " + std::to_string(VK_API_VERSION_MAJOR(version)) + "." +
            std::to_string(VK_API_VERSION_MINOR(version)) + "; rwkv-node needs 1.2";
    if (why) *why = error;
    return VK_NULL_HANDLE;
  }
  auto app = make<VkApplicationInfo>(VK_STRUCTURE_TYPE_APPLICATION_INFO);
  app.pApplicationName = "rwkv-node";
  app.pEngineName = "rwkv-node";
  app.apiVersion = VK_API_VERSION_1_2;
  auto ci = make<VkInstanceCreateInfo>(VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO);
  ci.pApplicationInfo = &app;
  const VkResult r = vk().vkCreateInstance(&ci, nullptr, &instance);
  if (r != VK_SUCCESS) {
    instance = VK_NULL_HANDLE;
    error = std::string("vkCreateInstance failed: ") + result_name(r);
    if (why) *why = error;
    return VK_NULL_HANDLE;
  }
  load_instance_functions(instance);
  return instance;
}

const char* type_name(VkPhysicalDeviceType t) {
  switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "cpu";
    default: return "other";
  }
}

int compute_queue_family(VkPhysicalDevice pd) {
  uint32_t n = 0;
  vk().vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, nullptr);
  std::vector<VkQueueFamilyProperties> q(n);
  vk().vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, q.data());
  // A compute-only family first (often a dedicated async-compute queue), else any with compute.
  for (uint32_t i = 0; i < n; ++i)
    if ((q[i].queueFlags & VK_QUEUE_COMPUTE_BIT) && !(q[i].queueFlags & VK_QUEUE_GRAPHICS_BIT)) return int(i);
  for (uint32_t i = 0; i < n; ++i)
    if (q[i].queueFlags & VK_QUEUE_COMPUTE_BIT) return int(i);
  return -1;
}

bool has_extension(VkPhysicalDevice pd, const char* name) {
  if (!vk().vkEnumerateDeviceExtensionProperties) return false;
  uint32_t n = 0;
  if (vk().vkEnumerateDeviceExtensionProperties(pd, nullptr, &n, nullptr) != VK_SUCCESS) return false;
  std::vector<VkExtensionProperties> ext(n);
  if (vk().vkEnumerateDeviceExtensionProperties(pd, nullptr, &n, ext.data()) != VK_SUCCESS) return false;
  for (uint32_t i = 0; i < n; ++i)
    if (std::strcmp(ext[i].extensionName, name) == 0) return true;
  return false;
}

DeviceInfo describe(VkPhysicalDevice pd, int index) {
  DeviceInfo d;
  d.index = index;
  VkPhysicalDeviceProperties p{};
  vk().vkGetPhysicalDeviceProperties(pd, &p);
  d.name = p.deviceName;
  d.type = type_name(p.deviceType);
  d.api_version = p.apiVersion;
  VkPhysicalDeviceMemoryProperties mem{};
  vk().vkGetPhysicalDeviceMemoryProperties(pd, &mem);
  for (uint32_t i = 0; i < mem.memoryHeapCount; ++i)
    if (mem.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT)
      d.device_local_bytes = std::max<uint64_t>(d.device_local_bytes, mem.memoryHeaps[i].size);
  if (p.apiVersion < VK_API_VERSION_1_2) {
    d.why_not = "supports Vulkan " + std::to_string(VK_API_VERSION_MAJOR(p.apiVersion)) + "." +
                std::to_string(VK_API_VERSION_MINOR(p.apiVersion)) + ", needs 1.2";
    return d;
  }
  auto sub = make<VkPhysicalDeviceSubgroupProperties>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES);
  auto sm = make<VkPhysicalDeviceShaderSMBuiltinsPropertiesNV>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_SM_BUILTINS_PROPERTIES_NV);
  auto p2 = make<VkPhysicalDeviceProperties2>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2);
  p2.pNext = &sub;
  // The multiprocessor count sizes the persistent decode step (one workgroup per multiprocessor); a
  // properties struct may be chained only when the device offers its extension.
  if (has_extension(pd, VK_NV_SHADER_SM_BUILTINS_EXTENSION_NAME)) sub.pNext = &sm;
  vk().vkGetPhysicalDeviceProperties2(pd, &p2);
  d.subgroup_size = sub.subgroupSize;
  d.multiprocessors = sm.shaderSMCount;
  auto f12 = make<VkPhysicalDeviceVulkan12Features>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES);
  auto f2 = make<VkPhysicalDeviceFeatures2>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2);
  auto clock = make<VkPhysicalDeviceShaderClockFeaturesKHR>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_CLOCK_FEATURES_KHR);
  f2.pNext = &f12;
  if (has_extension(pd, VK_KHR_SHADER_CLOCK_EXTENSION_NAME)) f12.pNext = &clock;
  vk().vkGetPhysicalDeviceFeatures2(pd, &f2);
  d.device_clock = clock.shaderDeviceClock == VK_TRUE;
  const VkSubgroupFeatureFlags need = VK_SUBGROUP_FEATURE_BASIC_BIT | VK_SUBGROUP_FEATURE_ARITHMETIC_BIT;
  if (!f12.bufferDeviceAddress) d.why_not = "no bufferDeviceAddress feature";
  else if (!(sub.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) || (sub.supportedOperations & need) != need)
    d.why_not = "no subgroup arithmetic in compute shaders";
  else if (sub.subgroupSize < 4 || sub.subgroupSize > 128) d.why_not = "unsupported subgroup size " + std::to_string(sub.subgroupSize);
  else if (compute_queue_family(pd) < 0) d.why_not = "no compute queue";
  else d.usable = true;
  return d;
}

std::vector<VkPhysicalDevice> physical_devices(VkInstance instance) {
  uint32_t n = 0;
  VK_CHECK("vkEnumeratePhysicalDevices", vk().vkEnumeratePhysicalDevices(instance, &n, nullptr));
  std::vector<VkPhysicalDevice> v(n);
  if (n) VK_CHECK("vkEnumeratePhysicalDevices", vk().vkEnumeratePhysicalDevices(instance, &n, v.data()));
  v.resize(n);
  return v;
}

// True when the device offers VK_NV_cooperative_matrix with a 16x16x16 FP16 x FP16 + FP32 shape on a
// subgroup, and shaderFloat16 (gemm.comp's shared tiles are float16_t). The glslc of our build
// environment (shaderc 2023.2) has no GL_KHR_cooperative_matrix, so the NV form is what we can compile;
// NVIDIA drivers offer both.
bool coop_matrix_usable(VkPhysicalDevice pd) {
  if (!env_flag("RWKV_VK_COOP", true)) return false;
  if (!vk().vkGetPhysicalDeviceCooperativeMatrixPropertiesNV) return false;
  if (!has_extension(pd, VK_NV_COOPERATIVE_MATRIX_EXTENSION_NAME)) return false;
  auto cm = make<VkPhysicalDeviceCooperativeMatrixFeaturesNV>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_NV);
  auto f12 = make<VkPhysicalDeviceVulkan12Features>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES);
  f12.pNext = &cm;
  auto f2 = make<VkPhysicalDeviceFeatures2>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2);
  f2.pNext = &f12;
  vk().vkGetPhysicalDeviceFeatures2(pd, &f2);
  if (!cm.cooperativeMatrix || !f12.shaderFloat16) return false;
  uint32_t np = 0;
  if (vk().vkGetPhysicalDeviceCooperativeMatrixPropertiesNV(pd, &np, nullptr) != VK_SUCCESS) return false;
  std::vector<VkCooperativeMatrixPropertiesNV> props(np, make<VkCooperativeMatrixPropertiesNV>(VK_STRUCTURE_TYPE_COOPERATIVE_MATRIX_PROPERTIES_NV));
  if (np && vk().vkGetPhysicalDeviceCooperativeMatrixPropertiesNV(pd, &np, props.data()) != VK_SUCCESS) return false;
  for (const auto& p : props)
    if (p.MSize == 16 && p.NSize == 16 && p.KSize == 16 && p.AType == VK_COMPONENT_TYPE_FLOAT16_NV &&
        p.BType == VK_COMPONENT_TYPE_FLOAT16_NV && p.CType == VK_COMPONENT_TYPE_FLOAT32_NV &&
        p.DType == VK_COMPONENT_TYPE_FLOAT32_NV && p.scope == VK_SCOPE_SUBGROUP_NV)
      return true;
  return false;
}

// True when the quantized matvecs should use the device's integer dot products: it offers
// VK_KHR_shader_integer_dot_product (drivers of Vulkan 1.3, where it is core, list it too; the extension
// keeps this within the 1.2 instance) with its feature, and its driver calls the 4 x 8-bit packed forms
// accelerated, or `want` (Device::create's int_dot, else RWKV_VK_INT_DOT) = 1 asks for them anyway (0: never).
bool int_dot_usable(VkPhysicalDevice pd, int want) {
  if (want < 0) {
    const char* e = std::getenv("RWKV_VK_INT_DOT");
    want = e && *e ? (std::strcmp(e, "0") == 0 ? 0 : 1) : -1;  // -1: where accelerated
  }
  if (want == 0 || !has_extension(pd, VK_KHR_SHADER_INTEGER_DOT_PRODUCT_EXTENSION_NAME)) return false;
  auto f = make<VkPhysicalDeviceShaderIntegerDotProductFeatures>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_FEATURES);
  auto f2 = make<VkPhysicalDeviceFeatures2>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2);
  f2.pNext = &f;
  vk().vkGetPhysicalDeviceFeatures2(pd, &f2);
  if (!f.shaderIntegerDotProduct) return false;
  if (want == 1) return true;
  auto p = make<VkPhysicalDeviceShaderIntegerDotProductProperties>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_PROPERTIES);
  auto p2 = make<VkPhysicalDeviceProperties2>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2);
  p2.pNext = &p;
  vk().vkGetPhysicalDeviceProperties2(pd, &p2);
  return p.integerDotProduct4x8BitPackedSignedAccelerated && p.integerDotProduct4x8BitPackedMixedSignednessAccelerated;
}

bool allow_cpu_devices() { return env_flag("RWKV_VULKAN_ALLOW_CPU", false); }

}  // namespace

std::vector<DeviceInfo> list_devices(std::string* why) {
  std::vector<DeviceInfo> out;
  try {
    VkInstance instance = shared_instance(why);
    if (!instance) return out;
    const auto pds = physical_devices(instance);
    for (size_t i = 0; i < pds.size(); ++i) out.push_back(describe(pds[i], int(i)));
  } catch (const Error& e) {
    if (why) *why = e.what();
  }
  return out;
}

std::unique_ptr<Device> Device::create(int index, int int_dot) {
  std::string why;
  VkInstance instance = shared_instance(&why);
  if (!instance) throw Error(ErrorCode::Device, "Vulkan is not available: " + why);
  const auto pds = physical_devices(instance);
  if (pds.empty()) throw Error(ErrorCode::Device, "Vulkan found no devices");

  int chosen = -1;
  DeviceInfo info;
  if (index >= 0) {
    if (size_t(index) >= pds.size())
      throw Error(ErrorCode::Device, "gpuDevice " + std::to_string(index) + " does not exist: Vulkan lists " +
                                         std::to_string(pds.size()) + " device(s)");
    info = describe(pds[size_t(index)], index);
    if (!info.usable) throw Error(ErrorCode::Device, "Vulkan device " + std::to_string(index) + " (" + info.name + ") is not usable: " + info.why_not);
    chosen = index;
  } else {
    const char* order[] = {"discrete", "integrated", "virtual", "cpu"};
    std::string rejected;
    for (const char* want : order) {
      if (std::strcmp(want, "cpu") == 0 && !allow_cpu_devices()) break;
      for (size_t i = 0; i < pds.size() && chosen < 0; ++i) {
        DeviceInfo d = describe(pds[i], int(i));
        if (d.type != want) continue;
        if (d.usable) chosen = int(i), info = d;
        else rejected += " " + d.name + " (" + d.why_not + ");";
      }
      if (chosen >= 0) break;
    }
    if (chosen < 0)
      throw Error(ErrorCode::Device, "no usable Vulkan GPU" + (rejected.empty() ? std::string() : ":" + rejected) +
                                         " (software rasterizers are skipped unless RWKV_VULKAN_ALLOW_CPU=1)");
  }

  std::unique_ptr<Device> d(new Device());
  d->instance_ = instance;
  d->physical_ = pds[size_t(chosen)];
  d->info_ = info;
  // A CPU device's polling thread would take a core from the driver's own threads.
  d->poll_margin_us_ = info.type == "cpu" ? 0 : env_uint("RWKV_VK_SPIN_US", 300, 0, 1000000);
  vk().vkGetPhysicalDeviceProperties(d->physical_, &d->props_);
  vk().vkGetPhysicalDeviceMemoryProperties(d->physical_, &d->mem_);
  d->queue_family_ = uint32_t(compute_queue_family(d->physical_));

  const float priority = 1.0f;
  auto qci = make<VkDeviceQueueCreateInfo>(VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO);
  qci.queueFamilyIndex = d->queue_family_;
  qci.queueCount = 1;
  qci.pQueuePriorities = &priority;
  auto f12 = make<VkPhysicalDeviceVulkan12Features>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES);
  f12.bufferDeviceAddress = VK_TRUE;
  auto cm = make<VkPhysicalDeviceCooperativeMatrixFeaturesNV>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_NV);
  const char* coop_ext = VK_NV_COOPERATIVE_MATRIX_EXTENSION_NAME;
  d->coop_ = info.subgroup_size == 32 && coop_matrix_usable(d->physical_);  // gemm.comp: 16 subgroups of 32
  d->info_.coop_matrix = d->coop_;
  auto dci = make<VkDeviceCreateInfo>(VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO);
  std::vector<const char*> exts;
  void** chain = &f12.pNext;
  if (d->coop_) {
    f12.shaderFloat16 = VK_TRUE;
    cm.cooperativeMatrix = VK_TRUE;
    *chain = &cm;
    chain = &cm.pNext;
    exts.push_back(coop_ext);
  }
  // The device clock timestamps ops inside the persistent decode step (GpuModel::profile_decode only).
  auto clock = make<VkPhysicalDeviceShaderClockFeaturesKHR>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_CLOCK_FEATURES_KHR);
  if (info.device_clock) {
    clock.shaderDeviceClock = VK_TRUE;
    *chain = &clock;
    chain = &clock.pNext;
    exts.push_back(VK_KHR_SHADER_CLOCK_EXTENSION_NAME);
  }
  auto idot = make<VkPhysicalDeviceShaderIntegerDotProductFeatures>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_FEATURES);
  if (int_dot_usable(d->physical_, int_dot)) {
    idot.shaderIntegerDotProduct = VK_TRUE;
    *chain = &idot;
    chain = &idot.pNext;
    exts.push_back(VK_KHR_SHADER_INTEGER_DOT_PRODUCT_EXTENSION_NAME);
    d->int_dot_ = d->info_.int_dot = true;
  }
  // Statistics of compiled pipelines, for shader work only (they cost compile time and memory).
  auto pexec = make<VkPhysicalDevicePipelineExecutablePropertiesFeaturesKHR>(
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PIPELINE_EXECUTABLE_PROPERTIES_FEATURES_KHR);
  if (env_flag("RWKV_VK_SHADER_STATS", false) && has_extension(d->physical_, VK_KHR_PIPELINE_EXECUTABLE_PROPERTIES_EXTENSION_NAME)) {
    pexec.pipelineExecutableInfo = VK_TRUE;
    *chain = &pexec;
    chain = &pexec.pNext;
    exts.push_back(VK_KHR_PIPELINE_EXECUTABLE_PROPERTIES_EXTENSION_NAME);
    d->shader_stats_ = true;
  }
  dci.enabledExtensionCount = uint32_t(exts.size());
  dci.ppEnabledExtensionNames = exts.empty() ? nullptr : exts.data();
  dci.pNext = &f12;
  dci.queueCreateInfoCount = 1;
  dci.pQueueCreateInfos = &qci;
  VK_CHECK("vkCreateDevice", vk().vkCreateDevice(d->physical_, &dci, nullptr, &d->device_));
  load_device_functions(d->device_);
  vk().vkGetDeviceQueue(d->device_, d->queue_family_, 0, &d->queue_);

  auto pci = make<VkCommandPoolCreateInfo>(VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO);
  pci.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
  pci.queueFamilyIndex = d->queue_family_;
  VK_CHECK("vkCreateCommandPool", vk().vkCreateCommandPool(d->device_, &pci, nullptr, &d->pool_));
  auto fci = make<VkFenceCreateInfo>(VK_STRUCTURE_TYPE_FENCE_CREATE_INFO);
  VK_CHECK("vkCreateFence", vk().vkCreateFence(d->device_, &fci, nullptr, &d->fence_));
  return d;
}

Device::~Device() {
  if (!device_) return;
  vk().vkDeviceWaitIdle(device_);
  if (fence_) vk().vkDestroyFence(device_, fence_, nullptr);
  if (pool_) vk().vkDestroyCommandPool(device_, pool_, nullptr);
  vk().vkDestroyDevice(device_, nullptr);
}

uint32_t Device::device_local_type(uint32_t allowed) const {
  for (uint32_t i = 0; i < mem_.memoryTypeCount; ++i)
    if ((allowed & (1u << i)) && (mem_.memoryTypes[i].propertyFlags & VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT)) return i;
  for (uint32_t i = 0; i < mem_.memoryTypeCount; ++i)
    if (allowed & (1u << i)) return i;
  throw Error(ErrorCode::Device, "no memory type for a device buffer");
}

uint32_t Device::host_visible_type(uint32_t allowed) const {
  const VkMemoryPropertyFlags need = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
  // Cached first: the host reads logits, x and state back, and uncached reads are very slow.
  for (uint32_t i = 0; i < mem_.memoryTypeCount; ++i) {
    const auto f = mem_.memoryTypes[i].propertyFlags;
    if ((allowed & (1u << i)) && (f & need) == need && (f & VK_MEMORY_PROPERTY_HOST_CACHED_BIT)) return i;
  }
  for (uint32_t i = 0; i < mem_.memoryTypeCount; ++i)
    if ((allowed & (1u << i)) && (mem_.memoryTypes[i].propertyFlags & need) == need) return i;
  throw Error(ErrorCode::Device, "no host-visible coherent memory type");
}

void Device::submit_and_wait(const VkCommandBuffer* cbs, uint32_t count, double* estimate_us) {
  auto si = make<VkSubmitInfo>(VK_STRUCTURE_TYPE_SUBMIT_INFO);
  si.commandBufferCount = count;
  si.pCommandBuffers = cbs;
  using Clock = std::chrono::steady_clock;
  const Clock::time_point t0 = Clock::now();
  VK_CHECK("vkQueueSubmit", vk().vkQueueSubmit(queue_, 1, &si, fence_));
  VkResult r = VK_NOT_READY;
  if (estimate_us && *estimate_us > 0 && poll_margin_us_) {
    const double sleep_us = *estimate_us - poll_margin_us_;
    if (sleep_us > 20) r = vk().vkWaitForFences(device_, 1, &fence_, VK_TRUE, uint64_t(sleep_us * 1e3));
    // Poll until the fence signals, for at most twice the margin past the expected end (then sleep).
    const Clock::time_point until = t0 + std::chrono::microseconds(uint64_t(*estimate_us) + 2ull * poll_margin_us_);
    if (r == VK_TIMEOUT || r == VK_NOT_READY)
      while ((r = vk().vkGetFenceStatus(device_, fence_)) == VK_NOT_READY && Clock::now() < until) {
      }
  }
  // Wait in slices so a lost device still returns an error instead of hanging forever.
  while (r == VK_NOT_READY || r == VK_TIMEOUT) r = vk().vkWaitForFences(device_, 1, &fence_, VK_TRUE, 1000000000ull);
  VK_CHECK("vkWaitForFences", r);
  VK_CHECK("vkResetFences", vk().vkResetFences(device_, 1, &fence_));
  if (estimate_us) {
    const double took = std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
    *estimate_us = *estimate_us > 0 ? 0.75 * *estimate_us + 0.25 * took : took;
  }
}

VkCommandBuffer Device::allocate_command_buffer() {
  auto ai = make<VkCommandBufferAllocateInfo>(VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO);
  ai.commandPool = pool_;
  ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  ai.commandBufferCount = 1;
  VkCommandBuffer cb = VK_NULL_HANDLE;
  VK_CHECK("vkAllocateCommandBuffers", vk().vkAllocateCommandBuffers(device_, &ai, &cb));
  return cb;
}

void Device::free_command_buffer(VkCommandBuffer cb) {
  if (cb) vk().vkFreeCommandBuffers(device_, pool_, 1, &cb);
}

}  // namespace rwkv::vk
