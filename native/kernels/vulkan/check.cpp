#include "kernels/vulkan/check.h"

#include <cstring>

namespace rwkv::vk {

const char* result_name(VkResult r) {
  switch (r) {
#define RWKV_VK_CASE(x) case x: return #x;
    RWKV_VK_CASE(VK_SUCCESS)
    RWKV_VK_CASE(VK_NOT_READY)
    RWKV_VK_CASE(VK_TIMEOUT)
    RWKV_VK_CASE(VK_INCOMPLETE)
    RWKV_VK_CASE(VK_ERROR_OUT_OF_HOST_MEMORY)
    RWKV_VK_CASE(VK_ERROR_OUT_OF_DEVICE_MEMORY)
    RWKV_VK_CASE(VK_ERROR_INITIALIZATION_FAILED)
    RWKV_VK_CASE(VK_ERROR_DEVICE_LOST)
    RWKV_VK_CASE(VK_ERROR_MEMORY_MAP_FAILED)
    RWKV_VK_CASE(VK_ERROR_LAYER_NOT_PRESENT)
    RWKV_VK_CASE(VK_ERROR_EXTENSION_NOT_PRESENT)
    RWKV_VK_CASE(VK_ERROR_FEATURE_NOT_PRESENT)
    RWKV_VK_CASE(VK_ERROR_INCOMPATIBLE_DRIVER)
    RWKV_VK_CASE(VK_ERROR_TOO_MANY_OBJECTS)
    RWKV_VK_CASE(VK_ERROR_FORMAT_NOT_SUPPORTED)
    RWKV_VK_CASE(VK_ERROR_FRAGMENTED_POOL)
    RWKV_VK_CASE(VK_ERROR_UNKNOWN)
    RWKV_VK_CASE(VK_ERROR_OUT_OF_POOL_MEMORY)
    RWKV_VK_CASE(VK_ERROR_INVALID_EXTERNAL_HANDLE)
    RWKV_VK_CASE(VK_ERROR_FRAGMENTATION)
    RWKV_VK_CASE(VK_ERROR_INVALID_OPAQUE_CAPTURE_ADDRESS)
#undef RWKV_VK_CASE
    default: return "VK_ERROR_(unknown code)";
  }
}

void throw_vk_error(const char* call, VkResult r, const char* file, int line) {
  // Only the file's base name: the build directory is noise in a user-facing message.
  const char* base = std::strrchr(file, '/');
  throw Error(ErrorCode::Device, std::string(call) + " failed: " + result_name(r) + " (" + std::to_string(int(r)) +
                                     ") at " + (base ? base + 1 : file) + ":" + std::to_string(line));
}

}  // namespace rwkv::vk
