#include "core/error.h"

namespace rwkv {

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::Io: return "E_IO";
    case ErrorCode::Format: return "E_FORMAT";
    case ErrorCode::Version: return "E_VERSION";
    case ErrorCode::Shape: return "E_SHAPE";
    case ErrorCode::DType: return "E_DTYPE";
    case ErrorCode::MissingTensor: return "E_MISSING_TENSOR";
    case ErrorCode::Argument: return "E_ARGUMENT";
    case ErrorCode::Device: return "E_DEVICE";
    case ErrorCode::Internal: return "E_INTERNAL";
  }
  return "E_INTERNAL";
}

}  // namespace rwkv
