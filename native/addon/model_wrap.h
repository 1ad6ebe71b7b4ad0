// ModelWrap: the JS-visible handle of one loaded rwkv::Model. lib/rwkv.js owns the public API and
// validates arguments; this layer checks types cheaply, copies inputs and queues the work.
#pragma once
#include <napi.h>

#include <memory>

#include "cache/state_cache.h"
#include "engine.h"
#include "generate/decode_batcher.h"

namespace rwkv::addon {

class ModelWrap : public Napi::ObjectWrap<ModelWrap> {
 public:
  static Napi::Function define(Napi::Env env);
  static Napi::Value load(const Napi::CallbackInfo& info);  // loadModel(path, options) -> Promise<ModelWrap> (or the model, with options.sync)
  explicit ModelWrap(const Napi::CallbackInfo& info);

  // Null once freed; callers throw "model is freed".
  std::shared_ptr<Model> model() const { return model_; }

 private:
  Napi::Value info(const Napi::CallbackInfo& info);
  Napi::Value init_state(const Napi::CallbackInfo& info);
  Napi::Value eval(const Napi::CallbackInfo& info);
  Napi::Value eval_sync(const Napi::CallbackInfo& info);  // RWKV-cpp-node's cpp_bind: rwkv_eval on the calling thread's time
  Napi::Value free(const Napi::CallbackInfo& info);
  Napi::Value tokens_evaluated(const Napi::CallbackInfo& info);
  Napi::Value generate(const Napi::CallbackInfo& info);  // addon/generate.cpp
  Napi::Value cache_stats(const Napi::CallbackInfo& info);
  Napi::Value cache_clear(const Napi::CallbackInfo& info);
  Napi::Value batch_stats(const Napi::CallbackInfo& info);
  Napi::Value fingerprint(const Napi::CallbackInfo& info);

  std::shared_ptr<Model> model_;
  std::shared_ptr<StateCache> cache_;        // prompt-prefix states, shared by this model's completions
  std::shared_ptr<DecodeBatcher> batcher_;   // batches decode steps of concurrent completions
};

// Throws a JS error and returns null if the model was freed.
std::shared_ptr<Model> require_model(const Napi::CallbackInfo& info, const ModelWrap* wrap);

}  // namespace rwkv::addon
