#include "addon/model_wrap.h"

#include <algorithm>
#include <cstring>

#include "addon/async_task.h"
#include "addon/errors.h"
#include "core/dtype.h"

namespace rwkv::addon {

Napi::Function ModelWrap::define(Napi::Env env) {
  return DefineClass(env, "NativeModel",
                     {InstanceMethod("info", &ModelWrap::info), InstanceMethod("initState", &ModelWrap::init_state),
                      InstanceMethod("eval", &ModelWrap::eval), InstanceMethod("evalSync", &ModelWrap::eval_sync),
                      InstanceMethod("free", &ModelWrap::free),
                      InstanceMethod("tokensEvaluated", &ModelWrap::tokens_evaluated),
                      InstanceMethod("generate", &ModelWrap::generate),
                      InstanceMethod("cacheStats", &ModelWrap::cache_stats), InstanceMethod("cacheClear", &ModelWrap::cache_clear),
                      InstanceMethod("batchStats", &ModelWrap::batch_stats), InstanceMethod("fingerprint", &ModelWrap::fingerprint)});
}

ModelWrap::ModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelWrap>(info) {
  // Only load() constructs these, passing the model through an External.
  if (info.Length() >= 1 && info[0].IsExternal()) {
    model_ = *info[0].As<Napi::External<std::shared_ptr<Model>>>().Data();
    double entries = 50, bytes = 0;
    if (info.Length() >= 3 && info[1].IsNumber() && info[2].IsNumber()) {
      entries = info[1].As<Napi::Number>().DoubleValue();
      bytes = info[2].As<Napi::Number>().DoubleValue();
    }
    cache_ = std::make_shared<StateCache>(size_t(entries), size_t(bytes));
    batcher_ = std::make_shared<DecodeBatcher>(*model_);
  }
}

std::shared_ptr<Model> require_model(const Napi::CallbackInfo& info, const ModelWrap* wrap) {
  std::shared_ptr<Model> m = wrap->model();
  if (!m) make_error(info.Env(), "the model has been freed; create and set up a new RWKV instance", "E_FREED").ThrowAsJavaScriptException();
  return m;
}

// loadModel(path, options) -> Promise<NativeModel>; with options.sync, the model itself (loaded on the calling
// thread, as rwkv.cpp's rwkv_init_from_file: RWKV-cpp-node's cpp_bind), or a thrown error.
Napi::Value ModelWrap::load(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsObject()) return throw_type_error(env, "loadModel(path, options)");
  const std::string path = info[0].As<Napi::String>();
  Napi::Object opts = info[1].As<Napi::Object>();
  LoadOptions options;
  if (opts.Has("threads") && opts.Get("threads").IsNumber()) options.threads = opts.Get("threads").As<Napi::Number>().Int32Value();
  if (opts.Get("gpuLayers").IsNumber()) options.gpu_layers = opts.Get("gpuLayers").As<Napi::Number>().Int32Value();
  if (opts.Get("gpuDevice").IsNumber()) options.gpu_device = opts.Get("gpuDevice").As<Napi::Number>().Int32Value();
  if (opts.Get("gpuRequired").IsBoolean()) options.gpu_required = opts.Get("gpuRequired").As<Napi::Boolean>();
  const double cache_entries = opts.Get("cacheEntries").IsNumber() ? opts.Get("cacheEntries").As<Napi::Number>().DoubleValue() : 50;
  const double cache_bytes = opts.Get("cacheBytes").IsNumber() ? opts.Get("cacheBytes").As<Napi::Number>().DoubleValue() : 0;
  auto loaded = std::make_shared<std::shared_ptr<Model>>();
  auto wrap = [loaded, cache_entries, cache_bytes](Napi::Env env) -> Napi::Value {
    AddonData* data = env.GetInstanceData<AddonData>();
    auto external = Napi::External<std::shared_ptr<Model>>::New(env, loaded.get());
    return data->model_ctor.New({external, Napi::Number::New(env, cache_entries), Napi::Number::New(env, cache_bytes)});
  };
  if (opts.Get("sync").ToBoolean()) {
    std::string message, code;
    run_catching([&] { *loaded = Model::load(path, options); }, message, code);
    if (!code.empty()) {
      make_error(env, message, code).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    return wrap(env);
  }
  return AsyncTask::start(env, "rwkv.load", [path, options, loaded] { *loaded = Model::load(path, options); }, wrap);
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
  o.Set("promptPassTokens", double(m->prompt_pass_tokens()));
  o.Set("gpuLayers", m->gpu_layers());
  o.Set("gpuDevice", m->gpu_layers() > 0 ? Napi::Value(Napi::String::New(env, m->gpu_device())) : env.Null());
  o.Set("gpuMemory", double(m->gpu_memory()));
  o.Set("gpuDecode", m->gpu_layers() > 0 ? Napi::Value(Napi::String::New(env, m->gpu_decode())) : env.Null());
  return o;
}

Napi::Value ModelWrap::init_state(const Napi::CallbackInfo& info) {
  std::shared_ptr<Model> m = require_model(info, this);
  if (!m) return info.Env().Undefined();
  return to_float32_array(info.Env(), m->initial_state());
}

// eval(tokens: Uint32Array, state: Float32Array | null, wantLogits: boolean, out?: {state?, logits?})
//   -> Promise<{logits, state}>
// Without `out` the results are new arrays. With out.state / out.logits (validated in JS: Float32Arrays
// of the model's lengths) the results are written there and those arrays are returned: a decode loop
// then allocates nothing per token (rwkv.cpp's state_out / logits_out). out.state may be the input state
// (updated in place). The engine writes into them from the worker thread; the JS references below keep
// them alive until the promise settles.
Napi::Value ModelWrap::eval(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<Model> m = require_model(info, this);
  if (!m) return env.Undefined();
  if (info.Length() < 2 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array)
    return throw_type_error(env, "eval(tokens: Uint32Array, state: Float32Array | null)");
  Napi::Uint32Array tokens_js = info[0].As<Napi::Uint32Array>();
  auto tokens = std::make_shared<std::vector<uint32_t>>(tokens_js.Data(), tokens_js.Data() + tokens_js.ElementLength());
  const size_t state_size = size_t(m->info().state_size()), n_vocab = size_t(m->info().n_vocab);
  auto is_f32 = [](const Napi::Value& v) {
    return v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_float32_array;
  };
  Napi::Float32Array in_state;
  if (is_f32(info[1])) {
    in_state = info[1].As<Napi::Float32Array>();
    if (in_state.ElementLength() != state_size) return throw_type_error(env, "state has the wrong length");
  } else if (!info[1].IsNull() && !info[1].IsUndefined()) {
    return throw_type_error(env, "state must be a Float32Array or null");
  }
  const bool want_logits = info.Length() < 3 || info[2].ToBoolean();
  Napi::Float32Array out_state, out_logits;
  if (info.Length() >= 4 && info[3].IsObject()) {
    Napi::Object out = info[3].As<Napi::Object>();
    if (is_f32(out.Get("state"))) out_state = out.Get("state").As<Napi::Float32Array>();
    if (is_f32(out.Get("logits"))) out_logits = out.Get("logits").As<Napi::Float32Array>();
    if (!out_state.IsEmpty() && out_state.ElementLength() != state_size) return throw_type_error(env, "out.state has the wrong length");
    if (!out_logits.IsEmpty() && out_logits.ElementLength() != n_vocab) return throw_type_error(env, "out.logits has the wrong length");
  }
  // Without out arrays the results are new arrays, made here up front: the engine writes into them as
  // into the caller's. (Vectors wrapped as external buffers after the call cost ~50 us more a call on a
  // tiny model, whose state is 198 KB: whole-process, 4000 calls, 0.925x the time with these.)
  if (out_state.IsEmpty()) out_state = Napi::Float32Array::New(env, state_size);
  if (want_logits && out_logits.IsEmpty()) out_logits = Napi::Float32Array::New(env, n_vocab);
  if (env.IsExceptionPending()) return env.Undefined();  // V8 could not allocate them
  float* state_ptr = out_state.Data();
  float* logits_ptr = want_logits ? out_logits.Data() : nullptr;
  if (in_state.IsEmpty()) {
    m->init_state(state_ptr);  // in place: no temporary state (13 MB for a 1.5B model)
  } else if (in_state.Data() != state_ptr) {
    std::memmove(state_ptr, in_state.Data(), state_size * sizeof(float));  // the caller's state is not changed
  }
  // Held by the completion (created and destroyed on the main thread) so the arrays outlive the work.
  auto keep_state = std::make_shared<Napi::Reference<Napi::Float32Array>>(Napi::Persistent(out_state));
  auto keep_logits = std::make_shared<Napi::Reference<Napi::Float32Array>>(
      want_logits ? Napi::Persistent(out_logits) : Napi::Reference<Napi::Float32Array>());
  Model* raw = m.get();  // the task holds m; the body must not (it ends on the home thread)
  return HomeTask::start(
      env, m,
      [raw, tokens, state_ptr, logits_ptr] { raw->eval(tokens->data(), tokens->size(), state_ptr, logits_ptr); },
      [keep_state, keep_logits](Napi::Env env) -> Napi::Value {
        Napi::Object r = Napi::Object::New(env);
        r.Set("logits", keep_logits->IsEmpty() ? env.Null() : keep_logits->Value());
        r.Set("state", keep_state->Value());
        return r;
      });
}

// evalSync(tokens: Uint32Array, stateIn: Float32Array | null, stateOut: Float32Array, logitsOut: Float32Array | null)
// runs the tokens on the model's home thread and waits (rwkv.cpp's rwkv_eval / rwkv_eval_sequence, for
// RWKV-cpp-node's cpp_bind): results in the caller's arrays (stateIn may be stateOut), stateIn null for the
// initial state, logitsOut null to skip the logits. Throws on failure. Blocks Node's main thread meanwhile.
Napi::Value ModelWrap::eval_sync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<Model> m = require_model(info, this);
  if (!m) return env.Undefined();
  auto typed = [&](size_t i, napi_typedarray_type t) {
    return info.Length() > i && info[i].IsTypedArray() && info[i].As<Napi::TypedArray>().TypedArrayType() == t;
  };
  auto absent = [&](size_t i) { return info.Length() <= i || info[i].IsNull() || info[i].IsUndefined(); };
  if (!typed(0, napi_uint32_array) || !(absent(1) || typed(1, napi_float32_array)) || !typed(2, napi_float32_array) ||
      !(absent(3) || typed(3, napi_float32_array)))
    return throw_type_error(env, "evalSync(tokens: Uint32Array, stateIn: Float32Array | null, stateOut: Float32Array, logitsOut: Float32Array | null)");
  const size_t state_size = size_t(m->info().state_size()), n_vocab = size_t(m->info().n_vocab);
  Napi::Uint32Array tokens = info[0].As<Napi::Uint32Array>();
  Napi::Float32Array out_state = info[2].As<Napi::Float32Array>();
  if (out_state.ElementLength() != state_size) return throw_type_error(env, "stateOut must hold " + std::to_string(state_size) + " floats");
  const float* in = nullptr;
  if (!absent(1)) {
    Napi::Float32Array in_state = info[1].As<Napi::Float32Array>();
    if (in_state.ElementLength() != state_size) return throw_type_error(env, "stateIn must hold " + std::to_string(state_size) + " floats");
    in = in_state.Data();
  }
  float* logits = nullptr;
  if (!absent(3)) {
    Napi::Float32Array l = info[3].As<Napi::Float32Array>();
    if (l.ElementLength() != n_vocab) return throw_type_error(env, "logitsOut must hold " + std::to_string(n_vocab) + " floats");
    logits = l.Data();
  }
  // In place in stateOut (a 1.5B state is 13 MB: no copy per token). The caller checks the token ids
  // before (lib/cpp-bind.js), so that a bad one fails before stateOut is written.
  float* state = out_state.Data();
  if (!in) m->init_state(state);
  else if (in != state) std::memmove(state, in, state_size * sizeof(float));
  std::string message, code;
  const uint32_t* ids = tokens.Data();
  const size_t n = tokens.ElementLength();
  run_catching([&] { m->on_home_thread([&] { m->eval(ids, n, state, logits); }); }, message, code);
  if (!code.empty()) make_error(env, message, code).ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Value ModelWrap::free(const Napi::CallbackInfo& info) {
  // Work already queued holds its own references and finishes; the memory goes when it does.
  model_.reset();
  if (cache_) cache_->clear();
  return info.Env().Undefined();
}

Napi::Value ModelWrap::tokens_evaluated(const Napi::CallbackInfo& info) {
  std::shared_ptr<Model> m = require_model(info, this);
  if (!m) return info.Env().Undefined();
  return Napi::Number::New(info.Env(), double(m->tokens_evaluated()));
}

Napi::Value ModelWrap::cache_stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const StateCache::Stats s = cache_ ? cache_->stats() : StateCache::Stats{};
  Napi::Object o = Napi::Object::New(env);
  o.Set("hits", double(s.hits));
  o.Set("misses", double(s.misses));
  o.Set("tokensSaved", double(s.tokens_saved));
  o.Set("entries", double(s.entries));
  o.Set("pinned", double(s.pinned));
  o.Set("bytes", double(s.bytes));
  return o;
}

Napi::Value ModelWrap::cache_clear(const Napi::CallbackInfo& info) {
  if (cache_) cache_->clear();
  return info.Env().Undefined();
}

Napi::Value ModelWrap::batch_stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("passes", double(batcher_ ? batcher_->passes() : 0));
  o.Set("steps", double(batcher_ ? batcher_->steps() : 0));
  o.Set("passMs", batcher_ ? batcher_->pass_seconds() * 1e3 : 0.0);
  return o;
}

Napi::Value ModelWrap::fingerprint(const Napi::CallbackInfo& info) {
  std::shared_ptr<Model> m = require_model(info, this);
  if (!m) return info.Env().Undefined();
  return Napi::String::New(info.Env(), m->fingerprint());
}

}  // namespace rwkv::addon
