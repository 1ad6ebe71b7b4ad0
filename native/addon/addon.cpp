// Module entry: registers the native classes and functions that lib/ wraps.
// Per-environment data (AddonData) keeps the addon safe to load in worker threads.
#include <napi.h>

#include "addon/async_task.h"
#include "addon/errors.h"
#include "addon/model_wrap.h"
#include "addon/tokenizer_wrap.h"
#include "core/blas.h"
#include "core/dtype.h"
#include "kernels/cpu/matvec.h"
#include "kernels/vulkan/device.h"

namespace rwkv::addon {

Napi::Value quantize_file(const Napi::CallbackInfo& info);   // file_tasks.cpp
Napi::Value make_synthetic(const Napi::CallbackInfo& info);  // file_tasks.cpp

namespace {

// initialize(RwkvError): lib/errors.js hands over the error class native errors are built from.
Napi::Value initialize(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsFunction()) return throw_type_error(info.Env(), "initialize(RwkvError)");
  info.Env().GetInstanceData<AddonData>()->rwkv_error = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

// gpuDevices() -> [{index, name, type, memory, usable, whyNot}]; [] when Vulkan is missing.
Napi::Value gpu_devices(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<vk::DeviceInfo> devices;
  std::string why;
  try {
    devices = vk::list_devices(&why);
  } catch (const rwkv::Error& e) {
    why = e.what();
  }
  Napi::Array out = Napi::Array::New(env, devices.size());
  for (uint32_t i = 0; i < devices.size(); ++i) {
    const vk::DeviceInfo& d = devices[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("index", d.index);
    o.Set("name", d.name);
    o.Set("type", d.type);
    o.Set("memory", double(d.device_local_bytes));
    o.Set("usable", d.usable);
    o.Set("whyNot", d.why_not);
    out.Set(i, o);
  }
  out.Set("reason", Napi::String::New(env, why));
  return out;
}

Napi::Value system_info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("kernels", Napi::String::New(env, cpu::best_kernels().name));
  const Blas* blas = Blas::get();
  o.Set("blas", blas ? Napi::Value(Napi::String::New(env, blas->library)) : env.Null());
  o.Set("openblasCoretype", blas ? Napi::Value(Napi::String::New(env, blas->coretype)) : env.Null());
  return o;
}

}  // namespace

Napi::Object init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  env.SetInstanceData<AddonData>(data);
  Napi::Function model = ModelWrap::define(env);
  data->model_ctor = Napi::Persistent(model);
  Napi::Function tokenizer = TokenizerWrap::define(env);
  data->tokenizer_ctor = Napi::Persistent(tokenizer);
  exports.Set("initialize", Napi::Function::New(env, initialize));
  exports.Set("loadModel", Napi::Function::New(env, ModelWrap::load));
  exports.Set("loadTokenizer", Napi::Function::New(env, TokenizerWrap::load));
  exports.Set("quantize", Napi::Function::New(env, quantize_file));
  exports.Set("makeSynthetic", Napi::Function::New(env, make_synthetic));
  exports.Set("systemInfo", Napi::Function::New(env, system_info));
  exports.Set("gpuDevices", Napi::Function::New(env, gpu_devices));
  return exports;
}

}  // namespace rwkv::addon

static Napi::Object InitRwkvNode(Napi::Env env, Napi::Object exports) { return rwkv::addon::init(env, exports); }
NODE_API_MODULE(rwkv_node, InitRwkvNode)
