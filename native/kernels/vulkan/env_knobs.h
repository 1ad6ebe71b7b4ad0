// Environment knobs of the Vulkan backend (RWKV_VK_*): switches and numbers used to measure variants
// on a real GPU. Read once by their callers (function-local statics); defaults are what measured best.
#pragma once
#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace rwkv::vk {

// Unset or empty: dflt; "0": off; anything else: on.
inline bool env_flag(const char* name, bool dflt) {
  const char* e = std::getenv(name);
  return e && *e ? std::strcmp(e, "0") != 0 : dflt;
}

// A number in [lo, hi]; unset, unparsable or out of range: dflt.
inline uint32_t env_uint(const char* name, uint32_t dflt, uint32_t lo, uint32_t hi) {
  const char* e = std::getenv(name);
  if (!e || !*e) return dflt;
  char* end = nullptr;
  const long v = std::strtol(e, &end, 10);
  return *end == '\0' && v >= long(lo) && v <= long(hi) ? uint32_t(v) : dflt;
}

}  // namespace rwkv::vk
