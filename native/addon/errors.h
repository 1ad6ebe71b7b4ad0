// Building JS errors from engine errors: every error that reaches JS is an instance of the
// RwkvError class handed over by lib/ at init, with `code` set to the engine's code (E_FORMAT, ...).
#pragma once
#include <napi.h>

#include <string>

namespace rwkv::addon {

struct AddonData {
  Napi::FunctionReference rwkv_error;  // lib/errors.js RwkvError(message, code)
  Napi::FunctionReference model_ctor;
  Napi::FunctionReference tokenizer_ctor;
};

Napi::Error make_error(Napi::Env env, const std::string& message, const std::string& code);
// Throws a TypeError in JS and returns an empty value, for argument checks in the glue.
Napi::Value throw_type_error(Napi::Env env, const std::string& message);

}  // namespace rwkv::addon
