// Building JS errors from engine errors: every error that reaches JS is an instance of the
// RwkvError class handed over by lib/ at init, with `code` set to the engine's code (E_FORMAT, ...).
#pragma once
#include <napi.h>

#include <memory>
#include <string>

namespace rwkv::addon {

struct AddonData {
  Napi::FunctionReference rwkv_error;  // lib/errors.js RwkvError(message, code)
  Napi::FunctionReference model_ctor;
  Napi::FunctionReference tokenizer_ctor;
  // HomeTask (async_task.h): how a model's home thread hands finished calls back to this env's main thread,
  // created on first use; referenced (keeping the event loop alive) only while calls are out. The gate
  // closes when the env is torn down (a worker thread terminated with calls out), before the thread-safe
  // function goes away: a home thread finishing a call after that must not touch it.
  Napi::ThreadSafeFunction home_done;
  std::shared_ptr<struct HomeGate> home_gate;
  int home_pending = 0;
};

Napi::Error make_error(Napi::Env env, const std::string& message, const std::string& code);
// Throws a TypeError in JS and returns an empty value, for argument checks in the glue.
Napi::Value throw_type_error(Napi::Env env, const std::string& message);

}  // namespace rwkv::addon
