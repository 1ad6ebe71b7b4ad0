// AsyncTask: runs a blocking engine call on the libuv pool and settles a promise.
// The body runs off the main thread and must not touch JS values; it catches rwkv::Error (and any
// std::exception) so no C++ exception ever crosses into N-API. `done` builds the result on the main thread.
#pragma once
#include <napi.h>

#include <functional>
#include <string>

#include "addon/errors.h"
#include "core/error.h"

namespace rwkv::addon {

class AsyncTask : public Napi::AsyncWorker {
 public:
  using Body = std::function<void()>;
  using Done = std::function<Napi::Value(Napi::Env)>;

  static Napi::Promise start(Napi::Env env, const char* name, Body body, Done done) {
    auto* task = new AsyncTask(env, name, std::move(body), std::move(done));
    Napi::Promise promise = task->deferred_.Promise();
    task->Queue();
    return promise;
  }

 protected:
  void Execute() override {
    try {
      body_();
    } catch (const rwkv::Error& e) {
      message_ = e.what();
      code_ = e.code_name();
    } catch (const std::bad_alloc&) {
      message_ = "out of memory";
      code_ = "E_OOM";
    } catch (const std::exception& e) {
      message_ = e.what();
      code_ = "E_INTERNAL";
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    if (!code_.empty()) {
      deferred_.Reject(make_error(env, message_, code_).Value());
      return;
    }
    Napi::Value result = done_ ? done_(env) : env.Undefined();
    if (env.IsExceptionPending()) {
      deferred_.Reject(env.GetAndClearPendingException().Value());
      return;
    }
    deferred_.Resolve(result);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  AsyncTask(Napi::Env env, const char* name, Body body, Done done)
      : Napi::AsyncWorker(env, name), deferred_(Napi::Promise::Deferred::New(env)), body_(std::move(body)), done_(std::move(done)) {}

  Napi::Promise::Deferred deferred_;
  Body body_;
  Done done_;
  std::string message_, code_;
};

// A Float32Array that owns a moved-in vector (no copy of large states and logits). V8 is told about the
// memory, so that a loop making 12 MB states lets the garbage collector run in time.
inline Napi::Float32Array to_float32_array(Napi::Env env, std::vector<float>&& v) {
  auto* owned = new std::vector<float>(std::move(v));
  const int64_t bytes = int64_t(owned->size() * sizeof(float));
  Napi::ArrayBuffer buf = Napi::ArrayBuffer::New(
      env, owned->data(), size_t(bytes),
      [](Napi::Env env, void*, std::vector<float>* p) {
        Napi::MemoryManagement::AdjustExternalMemory(env, -int64_t(p->size() * sizeof(float)));
        delete p;
      },
      owned);
  Napi::MemoryManagement::AdjustExternalMemory(env, bytes);
  return Napi::Float32Array::New(env, owned->size(), buf, 0);
}

}  // namespace rwkv::addon
