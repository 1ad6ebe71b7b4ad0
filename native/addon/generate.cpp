// ModelWrap.generate: one completion on its own thread, text streamed back as it is made.
//
// generate(tokenizer, prompt: Uint32Array, states: Float32Array[] | null, options, onText(chunk))
//   -> {promise, abort()}
// The promise resolves to {text, tokens, finishReason, states, promptTokensCached,
// promptTokensEvaluated, promptMs, completionMs}.
//
// Why a thread per generation and not libuv's pool: concurrent completions wait on each other inside
// the decode batcher, and libuv's pool has only 4 threads (shared with fs and dns); parking
// generations there would starve it. Results come back through a thread-safe function.
#include <atomic>
#include <thread>

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

// Options arrive validated and normalised by lib/completion-options.js.
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
  r.batch_size = size_t(num(o, "batchSize", 0));  // 0: the model's own pass length
  r.stop_tokens = u32_vector(o.Get("stopTokens"));
  Napi::Value stop = o.Get("stop");
  if (stop.IsArray()) {
    Napi::Array a = stop.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); ++i)
      if (a.Get(i).IsString()) r.stop.push_back(a.Get(i).As<Napi::String>());
  }
  Napi::Value weights = o.Get("mixWeights");
  if (weights.IsTypedArray()) {
    Napi::Float32Array w = weights.As<Napi::Float32Array>();
    r.mix_weights.assign(w.Data(), w.Data() + w.ElementLength());
  }
  if (o.Get("useCache").IsBoolean()) r.use_cache = o.Get("useCache").As<Napi::Boolean>();
  if (o.Get("pinPrompt").IsBoolean()) r.pin_prompt = o.Get("pinPrompt").As<Napi::Boolean>();
  return r;
}

struct Job {
  std::shared_ptr<Model> model;
  std::shared_ptr<const Tokenizer> tokenizer;
  std::shared_ptr<StateCache> cache;
  std::shared_ptr<DecodeBatcher> batcher;
  GenerationRequest request;
  std::atomic<bool> abort{false};
  Napi::ThreadSafeFunction tsfn;            // wraps the JS onText callback (a no-op when not streaming)
  bool streaming = true;                    // false: no per-token text calls into JS
  Napi::Promise::Deferred deferred;
  Napi::ObjectReference callback_error;     // main thread only
  GenerationResult result;
  std::string message, code;
  explicit Job(Napi::Env env) : deferred(Napi::Promise::Deferred::New(env)) {}
};

void settle(Napi::Env env, Job& job) {
  if (!job.callback_error.IsEmpty()) return job.deferred.Reject(job.callback_error.Value());
  if (!job.code.empty()) return job.deferred.Reject(make_error(env, job.message, job.code).Value());
  GenerationResult& r = job.result;
  Napi::Object o = Napi::Object::New(env);
  o.Set("text", Napi::String::New(env, r.text));
  Napi::Uint32Array tokens = Napi::Uint32Array::New(env, r.tokens.size());
  std::copy(r.tokens.begin(), r.tokens.end(), tokens.Data());
  o.Set("tokens", tokens);
  o.Set("finishReason", Napi::String::New(env, r.finish_reason));
  Napi::Array states = Napi::Array::New(env, r.states.size());
  for (uint32_t i = 0; i < r.states.size(); ++i) states.Set(i, to_float32_array(env, std::move(r.states[i])));
  o.Set("states", states);
  o.Set("promptTokensCached", double(r.prompt_tokens_cached));
  o.Set("stateTokens", double(r.state_tokens));
  o.Set("stateTextLength", double(r.state_text_length));
  o.Set("promptTokensEvaluated", double(r.prompt_tokens_evaluated));
  o.Set("promptMs", r.prompt_ms);
  o.Set("completionMs", r.completion_ms);
  job.deferred.Resolve(o);
}

void run_job(std::shared_ptr<Job> job) {
  GenerationEvents events;
  if (job->streaming) events.on_text = [&job](const std::string& text) {
    auto* chunk = new std::string(text);
    // Non-blocking: the generation goes on while JS handles the chunk (the queue is unbounded and keeps
    // order), so a busy main thread never holds up the decode batch of every other stream.
    job->tsfn.NonBlockingCall(chunk, [job](Napi::Env env, Napi::Function callback, std::string* s) {
      std::unique_ptr<std::string> owned(s);
      if (!job->callback_error.IsEmpty()) return;  // already failed: drop later chunks
      callback.Call({Napi::String::New(env, *owned)});
      if (env.IsExceptionPending()) {
        // A throwing stream callback stops the generation; its error rejects the promise.
        job->callback_error = Napi::Persistent(env.GetAndClearPendingException().Value());
        job->abort.store(true);
      }
    });
  };
  events.aborted = [&job] { return job->abort.load(std::memory_order_relaxed); };
  try {
    GenerationContext ctx{*job->model, *job->tokenizer, job->cache.get(), job->batcher.get()};
    job->result = generate(ctx, std::move(job->request), events);
  } catch (const rwkv::Error& e) {
    job->message = e.what();
    job->code = e.code_name();
  } catch (const std::bad_alloc&) {
    job->message = "out of memory";
    job->code = "E_OOM";
  } catch (const std::exception& e) {
    job->message = e.what();
    job->code = "E_INTERNAL";
  }
  job->tsfn.BlockingCall([job](Napi::Env env, Napi::Function) { settle(env, *job); });
  job->tsfn.Release();
}

}  // namespace

Napi::Value ModelWrap::generate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<Model> m = require_model(info, this);
  if (!m) return env.Undefined();
  if (info.Length() < 5 || !info[0].IsObject() || !info[3].IsObject() || !(info[4].IsFunction() || info[4].IsNull()))
    return throw_type_error(env, "generate(tokenizer, prompt, states, options, onText | null)");
  auto job = std::make_shared<Job>(env);
  job->model = m;
  job->tokenizer = TokenizerWrap::Unwrap(info[0].As<Napi::Object>())->tokenizer();
  job->cache = cache_;
  job->batcher = batcher_;
  job->request = read_request(info[3].As<Napi::Object>());
  job->request.prompt = u32_vector(info[1]);
  if (info[2].IsArray()) {
    Napi::Array states = info[2].As<Napi::Array>();
    for (uint32_t i = 0; i < states.Length(); ++i) {
      Napi::Value v = states.Get(i);
      if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
        return throw_type_error(env, "states must be Float32Arrays");
      Napi::Float32Array s = v.As<Napi::Float32Array>();
      job->request.states.emplace_back(s.Data(), s.Data() + s.ElementLength());  // copies: the caller's arrays never change
    }
  }
  // Without a text callback nothing crosses to JS per token (the result carries the text): with many
  // concurrent streams, waking the main thread for every token takes CPU time from the decode passes.
  job->streaming = info[4].IsFunction();
  Napi::Function on_text = job->streaming ? info[4].As<Napi::Function>()
                                          : Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return i.Env().Undefined(); });
  job->tsfn = Napi::ThreadSafeFunction::New(env, on_text, "rwkv.generate", 0, 1);
  Napi::Object handle = Napi::Object::New(env);
  handle.Set("promise", job->deferred.Promise());
  handle.Set("abort", Napi::Function::New(env, [job](const Napi::CallbackInfo& i) {
               job->abort.store(true);
               return i.Env().Undefined();
             }));
  std::thread(run_job, job).detach();
  return handle;
}

}  // namespace rwkv::addon
