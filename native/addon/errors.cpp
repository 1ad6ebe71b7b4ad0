#include "addon/errors.h"

namespace rwkv::addon {

Napi::Error make_error(Napi::Env env, const std::string& message, const std::string& code) {
  AddonData* data = env.GetInstanceData<AddonData>();
  if (data && !data->rwkv_error.IsEmpty()) {
    Napi::Value err = data->rwkv_error.New({Napi::String::New(env, message), Napi::String::New(env, code)});
    return Napi::Error(env, err);
  }
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("code", Napi::String::New(env, code));
  return e;
}

Napi::Value throw_type_error(Napi::Env env, const std::string& message) {
  Napi::TypeError::New(env, message).ThrowAsJavaScriptException();
  return env.Undefined();
}

}  // namespace rwkv::addon
