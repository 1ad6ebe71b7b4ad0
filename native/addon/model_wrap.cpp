#include "addon/model_wrap.h"

#include "addon/async_task.h"
#include "addon/errors.h"
#include "core/dtype.h"

namespace rwkv::addon {

Napi::Function ModelWrap::define(Napi::Env env) {
  return DefineClass(env, "NativeModel",
                     {InstanceMethod("info", &ModelWrap::info), InstanceMethod("initState", &ModelWrap::init_state),
                      InstanceMethod("eval", &ModelWrap::eval), InstanceMethod("free", &ModelWrap::free),
                      InstanceMethod("tokensEvaluated", &ModelWrap::tokens_evaluated),
                      InstanceMethod("generate", &ModelWrap::generate)});
}

ModelWrap::ModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelWrap>(info) {
  // Only load() constructs these, passing the model through an External.
  if (info.Length() == 1 && info[0].IsExternal())
    model_ = *info[0].As<Napi::External<std::shared_ptr<Model>>>().Data();
}

std::shared_ptr<Model> require_model(const Napi::CallbackInfo& info, const ModelWrap* wrap) {
  std::shared_ptr<Model> m = wrap->model();
  if (!m) make_error(info.Env(), "the model has been freed; create and set up a new RWKV instance", "E_FREED").ThrowAsJavaScriptException();
  return m;
}

Napi::Value ModelWrap::load(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsObject()) return throw_type_error(env, "loadModel(path, options)");
  const std::string path = info[0].As<Napi::String>();
  Napi::Object opts = info[1].As<Napi::Object>();
  LoadOptions options;
  if (opts.Has("threads") && opts.Get("threads").IsNumber()) options.threads = opts.Get("threads").As<Napi::Number>().Int32Value();
  auto loaded = std::make_shared<std::shared_ptr<Model>>();
  return AsyncTask::start(
      env, "rwkv.load", [path, options, loaded] { *loaded = Model::load(path, options); },
      [loaded](Napi::Env env) -> Napi::Value {
        AddonData* data = env.GetInstanceData<AddonData>();
        auto external = Napi::External<std::shared_ptr<Model>>::New(env, loaded.get());
        return data->model_ctor.New({external});
      });
}

Napi::Value ModelWrap::info(const Napi::CallbackInfo& info) {
  std::shared_ptr<Model> m = require_model(info, this);
  if (!m) return info.Env().Undefined();
  Napi::Env env = info.Env();
  const ModelInfo& i = m->info();
  Napi::Object o = Napi::Object::New(env);
  o.Set("version", Napi::String::New(env, i.version_string()));
  o.Set("versionMajor", i.version_major);
  o.Set("versionMinor", i.version_minor);
  o.Set("nLayer", i.n_layer);
  o.Set("nEmbd", i.n_embd);
  o.Set("nVocab", i.n_vocab);
  o.Set("nHead", i.n_head);
  o.Set("headSize", i.head_size);
  o.Set("ffnSize", i.ffn_size);
  o.Set("stateSize", double(i.state_size()));
  o.Set("dataType", Napi::String::New(env, dtype_name(i.data_type)));
  o.Set("fileBytes", double(i.file_bytes));
  o.Set("params", double(i.params));
  o.Set("decodeBytes", double(i.decode_bytes));
  o.Set("threads", m->threads());
  return o;
}

Napi::Value ModelWrap::init_state(const Napi::CallbackInfo& info) {
  std::shared_ptr<Model> m = require_model(info, this);
  if (!m) return info.Env().Undefined();
  return to_float32_array(info.Env(), m->initial_state());
}

// eval(tokens: Uint32Array, state: Float32Array | null, wantLogits: boolean) -> Promise<{logits, state}>
Napi::Value ModelWrap::eval(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<Model> m = require_model(info, this);
  if (!m) return env.Undefined();
  if (info.Length() < 2 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array)
    return throw_type_error(env, "eval(tokens: Uint32Array, state: Float32Array | null)");
  Napi::Uint32Array tokens_js = info[0].As<Napi::Uint32Array>();
  auto tokens = std::make_shared<std::vector<uint32_t>>(tokens_js.Data(), tokens_js.Data() + tokens_js.ElementLength());
  const size_t state_size = size_t(m->info().state_size());
  auto state = std::make_shared<std::vector<float>>();
  if (info[1].IsTypedArray() && info[1].As<Napi::TypedArray>().TypedArrayType() == napi_float32_array) {
    Napi::Float32Array s = info[1].As<Napi::Float32Array>();
    if (s.ElementLength() != state_size) return throw_type_error(env, "state has the wrong length");
    state->assign(s.Data(), s.Data() + state_size);  // a copy: the caller's state is never changed
  } else if (info[1].IsNull() || info[1].IsUndefined()) {
    *state = m->initial_state();
  } else {
    return throw_type_error(env, "state must be a Float32Array or null");
  }
  const bool want_logits = info.Length() < 3 || info[2].ToBoolean();
  auto logits = std::make_shared<std::vector<float>>(want_logits ? size_t(m->info().n_vocab) : 0);
  return AsyncTask::start(
      env, "rwkv.eval",
      [m, tokens, state, logits] { m->eval(tokens->data(), tokens->size(), state->data(), logits->empty() ? nullptr : logits->data()); },
      [state, logits](Napi::Env env) -> Napi::Value {
        Napi::Object r = Napi::Object::New(env);
        r.Set("logits", logits->empty() ? env.Null() : Napi::Value(to_float32_array(env, std::move(*logits))));
        r.Set("state", to_float32_array(env, std::move(*state)));
        return r;
      });
}

Napi::Value ModelWrap::free(const Napi::CallbackInfo& info) {
  // Work already queued holds its own reference and finishes; the memory goes when it does.
  model_.reset();
  return info.Env().Undefined();
}

Napi::Value ModelWrap::tokens_evaluated(const Napi::CallbackInfo& info) {
  std::shared_ptr<Model> m = require_model(info, this);
  if (!m) return info.Env().Undefined();
  return Napi::Number::New(info.Env(), double(m->tokens_evaluated()));
}

}  // namespace rwkv::addon
