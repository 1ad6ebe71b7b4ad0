// rwkv::Error: the one exception type the engine throws on bad input.
// The addon turns it into a JS Error whose `code` is the code below, so users
// can branch on the kind of failure without parsing messages.
#pragma once
#include <stdexcept>
#include <string>

namespace rwkv {

enum class ErrorCode {
  Io,           // E_IO: cannot open, read, map or write a file
  Format,       // E_FORMAT: the file is not what it claims (magic, header, record layout)
  Version,      // E_VERSION: a file or model version we do not support
  Shape,        // E_SHAPE: a tensor or state has the wrong shape
  DType,        // E_DTYPE: a data type that is unknown or not allowed here
  MissingTensor,// E_MISSING_TENSOR: a tensor the model version needs is absent
  Argument,     // E_ARGUMENT: a caller passed an invalid value (token id, state length, ...)
  Device,       // E_DEVICE: GPU / Vulkan failure
  Internal,     // E_INTERNAL: a bug; please report
};

const char* error_code_name(ErrorCode code);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }
  const char* code_name() const { return error_code_name(code_); }

 private:
  ErrorCode code_;
};

}  // namespace rwkv
