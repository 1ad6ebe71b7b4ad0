// VK_CHECK: turns a failed VkResult into rwkv::Error(ErrorCode::Device, "vkXxx failed: VK_ERROR_… at
// file:line"), so every Vulkan failure reaches the caller (and JS) as an ordinary error, never an abort.
#pragma once
#include <string>

#include "core/error.h"
#include "kernels/vulkan/vk_loader.h"

namespace rwkv::vk {

const char* result_name(VkResult r);
[[noreturn]] void throw_vk_error(const char* call, VkResult r, const char* file, int line);

}  // namespace rwkv::vk

#define VK_CHECK(call_name, expr)                                                          \
  do {                                                                                     \
    const VkResult rwkv_vk_result_ = (expr);                                               \
    if (rwkv_vk_result_ != VK_SUCCESS)                                                     \
      ::rwkv::vk::throw_vk_error(call_name, rwkv_vk_result_, __FILE__, __LINE__);          \
  } while (0)
