// Long file jobs with progress: quantizing a model and writing a synthetic one. Progress fractions
// (0..1) reach a JS callback on the main thread; the promise settles when the file is complete.
#include <napi.h>

#include <functional>

#include "addon/async_task.h"
#include "addon/errors.h"
#include "core/dtype.h"
#include "core/error.h"
#include "quantize/quantize_model.h"
#include "synthetic/synthetic_model.h"

namespace rwkv::addon {

namespace {

using Job = std::function<void(const std::function<void(double)>& progress)>;

class FileTask : public Napi::AsyncProgressQueueWorker<double> {
 public:
  FileTask(Napi::Env env, Napi::Function on_progress, Job job)
      : Napi::AsyncProgressQueueWorker<double>(on_progress, "rwkv.file"), deferred_(Napi::Promise::Deferred::New(env)), job_(std::move(job)) {}
  Napi::Promise promise() { return deferred_.Promise(); }

 protected:
  void Execute(const ExecutionProgress& progress) override {
    double last = -1;
    try {
      job_([&](double f) {
        if (f - last >= 0.01 || f >= 1.0) {  // at most ~100 updates
          last = f;
          progress.Send(&f, 1);
        }
      });
    } catch (const rwkv::Error& e) {
      message_ = e.what();
      code_ = e.code_name();
    } catch (const std::exception& e) {
      message_ = e.what();
      code_ = "E_INTERNAL";
    }
  }
  void OnProgress(const double* data, size_t count) override {
    Napi::HandleScope scope(Env());
    if (count && !Callback().IsEmpty()) Callback().Call({Napi::Number::New(Env(), data[count - 1])});
    if (Env().IsExceptionPending()) Env().GetAndClearPendingException();  // a faulty progress callback must not break the job
  }
  void OnOK() override {
    if (!code_.empty()) return deferred_.Reject(make_error(Env(), message_, code_).Value());
    deferred_.Resolve(Env().Undefined());
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  Job job_;
  std::string message_, code_;
};

Napi::Function progress_callback(const Napi::CallbackInfo& info, size_t index) {
  if (info.Length() > index && info[index].IsFunction()) return info[index].As<Napi::Function>();
  return Napi::Function::New(info.Env(), [](const Napi::CallbackInfo& i) { return i.Env().Undefined(); });
}

}  // namespace

// quantize(in, out, type, onProgress?) -> Promise<void>
Napi::Value quantize_file(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsString() || !info[1].IsString() || !info[2].IsString())
    return throw_type_error(env, "quantize(inPath, outPath, type, onProgress?, sync?)");
  const std::string in = info[0].As<Napi::String>(), out = info[1].As<Napi::String>(), name = info[2].As<Napi::String>();
  DType type;
  if (!dtype_from_name(name, &type)) return throw_type_error(env, "unknown type " + name);
  if (info.Length() > 4 && info[4].ToBoolean()) {  // sync: rwkv.cpp's rwkv_quantize_model_file, for cpp_bind
    std::string message, code;
    run_catching([&] { quantize_model_file(in, out, type, nullptr); }, message, code);
    if (!code.empty()) make_error(env, message, code).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto* task = new FileTask(env, progress_callback(info, 3), [in, out, type](const auto& progress) { quantize_model_file(in, out, type, progress); });
  Napi::Promise p = task->promise();
  task->Queue();
  return p;
}

// makeSynthetic(preset, path, type, seed, ggufPath | null, vocabPath | null, onProgress?) -> Promise<void>
Napi::Value make_synthetic(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsString() || !info[1].IsString() || !info[2].IsString() || !info[3].IsNumber())
    return throw_type_error(env, "makeSynthetic(preset, path, type, seed, ggufPath, vocabPath, onProgress)");
  const std::string preset = info[0].As<Napi::String>(), path = info[1].As<Napi::String>(), name = info[2].As<Napi::String>();
  const uint64_t seed = uint64_t(info[3].As<Napi::Number>().Int64Value());
  const std::string gguf = info.Length() > 4 && info[4].IsString() ? std::string(info[4].As<Napi::String>()) : "";
  const std::string vocab = info.Length() > 5 && info[5].IsString() ? std::string(info[5].As<Napi::String>()) : "";
  DType type;
  if (!dtype_from_name(name, &type)) return throw_type_error(env, "unknown type " + name);
  auto* task = new FileTask(env, progress_callback(info, 6), [=](const auto& progress) {
    const SyntheticShape shape = synthetic_shape(preset);
    const bool both = !gguf.empty();
    write_synthetic_model(shape, type, seed, path, [&](double f) { progress(both ? f / 2 : f); });
    if (both) write_synthetic_gguf(shape, seed, gguf, vocab, [&](double f) { progress(0.5 + f / 2); }, type);
  });
  Napi::Promise p = task->promise();
  task->Queue();
  return p;
}

}  // namespace rwkv::addon
