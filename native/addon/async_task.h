// AsyncTask: runs a blocking engine call on the libuv pool and settles a promise (HomeTask below: on a
// model's home thread).
// The body runs off the main thread and must not touch JS values; what it throws becomes the rejection
// (run_catching), so no C++ exception ever crosses into N-API. `done` builds the result on the main thread.
#pragma once
#include <napi.h>

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "addon/errors.h"
#include "core/error.h"
#include "engine.h"

namespace rwkv::addon {

// Runs a task's body off the main thread, turning what it throws into a message and an error code (no C++
// exception may cross into N-API).
inline void run_catching(const std::function<void()>& body, std::string& message, std::string& code) {
  try {
    body();
  } catch (const rwkv::Error& e) {
    message = e.what();
    code = e.code_name();
  } catch (const std::bad_alloc&) {
    message = "out of memory";
    code = "E_OOM";
  } catch (const std::exception& e) {
    message = e.what();
    code = "E_INTERNAL";
  } catch (...) {
    message = "unknown error";
    code = "E_INTERNAL";
  }
}

// On the main thread, after a body ran: rejects with the error it threw (code non-empty), else resolves with
// what `done` builds (rejecting instead if `done` left a JS exception pending).
inline void settle_promise(Napi::Env env, Napi::Promise::Deferred& deferred, const std::string& message,
                           const std::string& code, const std::function<Napi::Value(Napi::Env)>& done) {
  if (!code.empty()) {
    deferred.Reject(make_error(env, message, code).Value());
    return;
  }
  Napi::Value result = done ? done(env) : env.Undefined();
  if (env.IsExceptionPending()) deferred.Reject(env.GetAndClearPendingException().Value());
  else deferred.Resolve(result);
}

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
  void Execute() override { run_catching(body_, message_, code_); }
  void OnOK() override { settle_promise(Env(), deferred_, message_, code_, done_); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  AsyncTask(Napi::Env env, const char* name, Body body, Done done)
      : Napi::AsyncWorker(env, name), deferred_(Napi::Promise::Deferred::New(env)), body_(std::move(body)), done_(std::move(done)) {}

  Napi::Promise::Deferred deferred_;
  Body body_;
  Done done_;
  std::string message_, code_;
};

// Between an env and the home threads finishing its calls. When the env is torn down (a worker thread
// terminated with calls out) its cleanup closes the gate, waits for a call in progress (it writes into the
// env's arrays, which go with the env), and takes the model references of calls already handed to the
// thread-safe function (they will not be settled); calls not yet started are skipped.
struct HomeGate {
  std::mutex m;
  std::condition_variable cv;
  bool open = true;
  int running = 0;
  std::set<std::shared_ptr<rwkv::Model>*> delivered;  // the model references of calls handed back
};

// Drops a model reference on a thread of its own: the model's destructor ends its home thread, which must
// not be the thread dropping it, nor one holding a lock that the home thread waits for.
inline void release_elsewhere(std::shared_ptr<rwkv::Model>&& model) {
  if (model) std::thread([m = std::move(model)]() mutable { m.reset(); }).detach();
}

// HomeTask: runs a call on a model's home thread (engine.h post_to_home_thread) and settles a promise: Node's
// main thread hands the call straight to the home thread, which hands its end back through a thread-safe
// function. AsyncTask would go through a libuv pool thread that only waits for the home thread: two
// thread hand-overs more per call (~30 us on a 2-vCPU machine, measured round trip). As for AsyncTask, the
// body must not touch JS values and never lets an exception out; `done` runs on the main thread.
class HomeTask {
 public:
  using Body = AsyncTask::Body;
  using Done = AsyncTask::Done;

  static Napi::Promise start(Napi::Env env, std::shared_ptr<rwkv::Model> model, Body body, Done done) {
    AddonData* data = env.GetInstanceData<AddonData>();
    if (!data->home_gate) open_gate(env, data);
    auto* task = new HomeTask(env, std::move(model), std::move(body), std::move(done));
    Napi::Promise promise = task->deferred_.Promise();
    if (data->home_pending++ == 0) data->home_done.Ref(env);
    rwkv::Model* m = task->model_.get();
    Napi::ThreadSafeFunction back = data->home_done;
    std::shared_ptr<HomeGate> gate = data->home_gate;
    try {
      m->post_to_home_thread([task, back, gate]() mutable {
        {
          std::lock_guard<std::mutex> lock(gate->m);
          if (!gate->open) return release_elsewhere(std::move(task->model_));  // the env is gone: skip
          ++gate->running;
        }
        task->run_body();
        std::lock_guard<std::mutex> lock(gate->m);
        --gate->running;
        gate->cv.notify_all();
        // The task (and its model reference) is deleted on the main thread when it is settled.
        if (gate->open) {
          gate->delivered.insert(&task->model_);
          if (back.NonBlockingCall(task, [](Napi::Env env, Napi::Function, HomeTask* t) { t->settle(env); }) == napi_ok)
            return;
          gate->delivered.erase(&task->model_);
        }
        release_elsewhere(std::move(task->model_));  // not delivered: its JS handles stay with the dead env
      });
    } catch (const std::exception& e) {  // no home thread could be started, or no memory for the call
      task->message_ = e.what();
      task->code_ = "E_INTERNAL";
      task->settle(env);
    }
    return promise;
  }

 private:
  HomeTask(Napi::Env env, std::shared_ptr<rwkv::Model> model, Body body, Done done)
      : deferred_(Napi::Promise::Deferred::New(env)), model_(std::move(model)), body_(std::move(body)), done_(std::move(done)) {}

  // The env's thread-safe function (referenced only while calls are out) and its gate, closed by a cleanup
  // added after the function's own, so that it runs before it (cleanups run last first).
  static void open_gate(Napi::Env env, AddonData* data) {
    data->home_done = Napi::ThreadSafeFunction::New(env, Napi::Function::New(env, [](const Napi::CallbackInfo&) {}),
                                                    "rwkv.eval", 0, 1);
    data->home_done.Unref(env);
    data->home_gate = std::make_shared<HomeGate>();
    auto close = [](void* arg) {
      auto* holder = static_cast<std::shared_ptr<HomeGate>*>(arg);
      HomeGate& g = **holder;
      std::vector<std::shared_ptr<rwkv::Model>> models;
      {
        std::unique_lock<std::mutex> lock(g.m);
        g.open = false;
        g.cv.wait(lock, [&] { return g.running == 0; });
        for (std::shared_ptr<rwkv::Model>* m : g.delivered) models.push_back(std::move(*m));
        g.delivered.clear();
      }
      for (std::shared_ptr<rwkv::Model>& m : models) release_elsewhere(std::move(m));
      delete holder;
    };
    napi_add_env_cleanup_hook(env, close, new std::shared_ptr<HomeGate>(data->home_gate));
  }

  void run_body() { run_catching(body_, message_, code_); }

  // On the main thread: resolve or reject, then let the event loop go if no call is out.
  void settle(Napi::Env env) {
    AddonData* data = env.GetInstanceData<AddonData>();
    {
      std::lock_guard<std::mutex> lock(data->home_gate->m);
      data->home_gate->delivered.erase(&model_);
    }
    Napi::HandleScope scope(env);
    settle_promise(env, deferred_, message_, code_, done_);
    if (--data->home_pending == 0) data->home_done.Unref(env);
    delete this;
  }

  Napi::Promise::Deferred deferred_;
  std::shared_ptr<rwkv::Model> model_;
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
