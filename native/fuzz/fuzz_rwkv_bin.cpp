// libFuzzer target for the .bin loader: any byte string must either load or raise rwkv::Error,
// without crashes, leaks or out-of-bounds reads (built with ASan/UBSan; see .ci/run).
#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "formats/rwkv_bin.h"
#include "models/architecture.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    rwkv::TensorIndex index = rwkv::parse_rwkv_bin(data, size, "fuzz.bin");
    auto arch = rwkv::make_architecture(index, "fuzz.bin");
    (void)arch;
  } catch (const rwkv::Error&) {
  }
  return 0;
}
