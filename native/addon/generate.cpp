// ModelWrap.generate: one completion on the libuv pool, text streamed back as it is made.
//
// generate(tokenizer, prompt: Uint32Array, state: Float32Array | null, logits: Float32Array | null,
//          options, onText(chunk)) -> {promise, abort()}
// The promise resolves to {text, tokens, finishReason, state, logits, promptTokensEvaluated, promptMs, completionMs}.
#include <atomic>

#include "addon/async_task.h"
#include "addon/errors.h"
#include "addon/model_wrap.h"
#include "addon/tokenizer_wrap.h"
#include "generate/generation.h"

namespace rwkv::addon {

namespace {

std::vector<uint32_t> u32_vector(Napi::Value v) {
  if (!v.IsTypedArray()) return {};
  Napi::Uint32Array a = v.As<Napi::Uint32Array>();
  return {a.Data(), a.Data() + a.ElementLength()};
}

float num(Napi::Object o, const char* key, float fallback) {
  Napi::Value v = o.Get(key);
  return v.IsNumber() ? v.As<Napi::Number>().FloatValue() : fallback;
}

// Options arrive validated and normalised by lib/completion.js.
GenerationRequest read_request(Napi::Object o) {
  GenerationRequest r;
  SamplerOptions& s = r.sampling;
  s.temperature = num(o, "temperature", 1.0f);
  s.top_p = num(o, "topP", 1.0f);
  s.top_k = int(num(o, "topK", 0));
  s.min_p = num(o, "minP", 0);
  s.presence_penalty = num(o, "presencePenalty", 0);
  s.frequency_penalty = num(o, "frequencyPenalty", 0);
  s.penalty_decay = num(o, "penaltyDecay", 0.996f);
  if (o.Get("seed").IsNumber()) s.seed = uint64_t(o.Get("seed").As<Napi::Number>().Int64Value());
  s.banned_tokens = u32_vector(o.Get("bannedTokens"));
  Napi::Value bias_ids = o.Get("biasTokens"), bias_values = o.Get("biasValues");
  if (bias_ids.IsTypedArray() && bias_values.IsTypedArray()) {
    Napi::Uint32Array ids = bias_ids.As<Napi::Uint32Array>();
    Napi::Float32Array vals = bias_values.As<Napi::Float32Array>();
    for (size_t i = 0; i < ids.ElementLength() && i < vals.ElementLength(); ++i) s.logit_bias.emplace_back(ids[i], vals[i]);
  }
  r.max_tokens = int(num(o, "maxTokens", 64));
  r.batch_size = size_t(num(o, "batchSize", 64));
  r.stop_tokens = u32_vector(o.Get("stopTokens"));
  Napi::Value stop = o.Get("stop");
  if (stop.IsArray()) {
    Napi::Array a = stop.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); ++i)
      if (a.Get(i).IsString()) r.stop.push_back(a.Get(i).As<Napi::String>());
  }
  if (o.Get("feedLastToken").IsBoolean()) r.feed_last_token = o.Get("feedLastToken").As<Napi::Boolean>();
  return r;
}

class GenerateWorker : public Napi::AsyncProgressQueueWorker<char> {
 public:
  GenerateWorker(Napi::Env env, Napi::Function on_text, std::shared_ptr<Model> model, std::shared_ptr<const Tokenizer> tok,
                 std::vector<float> state, GenerationRequest req, std::shared_ptr<std::atomic<bool>> abort)
      : Napi::AsyncProgressQueueWorker<char>(on_text, "rwkv.generate"),
        deferred_(Napi::Promise::Deferred::New(env)),
        model_(std::move(model)), tokenizer_(std::move(tok)), state_(std::move(state)), req_(std::move(req)), abort_(std::move(abort)) {}

  Napi::Promise promise() { return deferred_.Promise(); }

 protected:
  void Execute(const ExecutionProgress& progress) override {
    GenerationEvents events;
    events.on_text = [&](const std::string& text) { progress.Send(text.data(), text.size()); };
    events.aborted = [this] { return abort_->load(std::memory_order_relaxed); };
    try {
      result_ = generate(*model_, *tokenizer_, state_.data(), std::move(req_), events);
    } catch (const rwkv::Error& e) {
      message_ = e.what();
      code_ = e.code_name();
    } catch (const std::exception& e) {
      message_ = e.what();
      code_ = "E_INTERNAL";
    }
  }
  void OnProgress(const char* data, size_t count) override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    if (!Callback().IsEmpty()) Callback().Call({Napi::String::New(env, data, count)});
    if (env.IsExceptionPending()) {
      // A throwing stream callback stops the generation; its error rejects the promise.
      callback_error_ = Napi::Persistent(env.GetAndClearPendingException().Value());
      abort_->store(true);
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    if (!callback_error_.IsEmpty()) return deferred_.Reject(callback_error_.Value());
    if (!code_.empty()) return deferred_.Reject(make_error(env, message_, code_).Value());
    Napi::Object r = Napi::Object::New(env);
    r.Set("text", Napi::String::New(env, result_.text));
    Napi::Uint32Array tokens = Napi::Uint32Array::New(env, result_.tokens.size());
    std::copy(result_.tokens.begin(), result_.tokens.end(), tokens.Data());
    r.Set("tokens", tokens);
    r.Set("finishReason", Napi::String::New(env, result_.finish_reason));
    r.Set("state", to_float32_array(env, std::move(state_)));
    r.Set("logits", result_.logits.empty() ? env.Null() : Napi::Value(to_float32_array(env, std::move(result_.logits))));
    r.Set("promptTokensEvaluated", double(result_.prompt_tokens_evaluated));
    r.Set("promptMs", result_.prompt_ms);
    r.Set("completionMs", result_.completion_ms);
    deferred_.Resolve(r);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<Model> model_;
  std::shared_ptr<const Tokenizer> tokenizer_;
  std::vector<float> state_;
  GenerationRequest req_;
  std::shared_ptr<std::atomic<bool>> abort_;
  GenerationResult result_;
  std::string message_, code_;
  Napi::ObjectReference callback_error_;
};

}  // namespace

Napi::Value ModelWrap::generate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<Model> m = require_model(info, this);
  if (!m) return env.Undefined();
  if (info.Length() < 6 || !info[0].IsObject() || !info[4].IsObject() || !info[5].IsFunction())
    return throw_type_error(env, "generate(tokenizer, prompt, state, logits, options, onText)");
  TokenizerWrap* tw = TokenizerWrap::Unwrap(info[0].As<Napi::Object>());
  GenerationRequest req = read_request(info[4].As<Napi::Object>());
  req.prompt = u32_vector(info[1]);
  std::vector<float> state;
  if (info[2].IsTypedArray()) {
    Napi::Float32Array s = info[2].As<Napi::Float32Array>();
    if (s.ElementLength() != size_t(m->info().state_size())) return throw_type_error(env, "state has the wrong length");
    state.assign(s.Data(), s.Data() + s.ElementLength());
  } else {
    state = m->initial_state();
  }
  if (info[3].IsTypedArray()) {
    Napi::Float32Array l = info[3].As<Napi::Float32Array>();
    req.logits.assign(l.Data(), l.Data() + l.ElementLength());
  }
  auto abort = std::make_shared<std::atomic<bool>>(false);
  auto* worker = new GenerateWorker(env, info[5].As<Napi::Function>(), m, tw->tokenizer(), std::move(state), std::move(req), abort);
  Napi::Object job = Napi::Object::New(env);
  job.Set("promise", worker->promise());
  job.Set("abort", Napi::Function::New(env, [abort](const Napi::CallbackInfo& i) {
            abort->store(true);
            return i.Env().Undefined();
          }));
  worker->Queue();
  return job;
}

}  // namespace rwkv::addon
