#include "kernels/vulkan/vk_loader.h"

#include <dlfcn.h>

#include <cstdlib>

#include <mutex>

namespace rwkv::vk {

Functions& vk() {
  static Functions f;
  return f;
}

bool load_library(std::string* why) {
  static std::once_flag once;
  static bool ok = false;
  static std::string error;
  std::call_once(once, [] {
    // RTLD_LOCAL: keep libvulkan's symbols out of the global namespace of the Node process.
    // RWKV_VULKAN_LOADER names another loader library (or a missing one, to test the CPU fallback).
    const char* override_path = std::getenv("RWKV_VULKAN_LOADER");
    const std::string name = override_path && *override_path ? override_path : "libvulkan.so.1";
    void* lib = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!lib && !(override_path && *override_path)) lib = dlopen("libvulkan.so", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      const char* e = dlerror();
      error = "cannot load " + name + ": " + (e ? e : "not found");
      return;
    }
    Functions& f = vk();
    f.vkGetInstanceProcAddr = reinterpret_cast<PFN_vkGetInstanceProcAddr>(dlsym(lib, "vkGetInstanceProcAddr"));
    if (!f.vkGetInstanceProcAddr) {
      error = "libvulkan.so.1 has no vkGetInstanceProcAddr";
      return;
    }
#define RWKV_VK_LOAD_GLOBAL(name) f.name = reinterpret_cast<PFN_##name>(f.vkGetInstanceProcAddr(nullptr, #name));
    RWKV_VK_GLOBAL_FUNCS(RWKV_VK_LOAD_GLOBAL)
#undef RWKV_VK_LOAD_GLOBAL
    if (!f.vkCreateInstance) {
      error = "libvulkan.so.1 has no vkCreateInstance";
      return;
    }
    ok = true;  // the library stays loaded for the life of the process, as its functions may be in use
  });
  if (!ok && why) *why = error;
  return ok;
}

void load_instance_functions(VkInstance instance) {
  Functions& f = vk();
#define RWKV_VK_LOAD_INSTANCE(name) f.name = reinterpret_cast<PFN_##name>(f.vkGetInstanceProcAddr(instance, #name));
  RWKV_VK_INSTANCE_FUNCS(RWKV_VK_LOAD_INSTANCE)
#undef RWKV_VK_LOAD_INSTANCE
}

void load_device_functions(VkDevice device) {
  Functions& f = vk();
#define RWKV_VK_LOAD_DEVICE(name) f.name = reinterpret_cast<PFN_##name>(f.vkGetDeviceProcAddr(device, #name));
  RWKV_VK_DEVICE_FUNCS(RWKV_VK_LOAD_DEVICE)
#undef RWKV_VK_LOAD_DEVICE
}

}  // namespace rwkv::vk
