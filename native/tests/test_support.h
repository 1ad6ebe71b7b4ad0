// Helpers shared by the C++ tests: where the shared test data lives.
#pragma once
#include <cstdlib>
#include <string>

namespace rwkv::test {

// ../shared beside the repository, or $RWKV_SHARED_DIR.
inline std::string shared_dir() {
  if (const char* env = std::getenv("RWKV_SHARED_DIR"); env && *env) return env;
  return std::string(RWKV_SOURCE_DIR) + "/../shared";
}
inline std::string tiny_model(const std::string& stem) { return shared_dir() + "/models/tiny/" + stem + ".bin"; }

}  // namespace rwkv::test
