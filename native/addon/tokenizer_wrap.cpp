#include "addon/tokenizer_wrap.h"

#include "addon/errors.h"
#include "core/error.h"

namespace rwkv::addon {

Napi::Function TokenizerWrap::define(Napi::Env env) {
  return DefineClass(env, "NativeTokenizer",
                     {InstanceMethod("encode", &TokenizerWrap::encode), InstanceMethod("decode", &TokenizerWrap::decode),
                      InstanceMethod("vocabSize", &TokenizerWrap::vocab_size), InstanceMethod("kind", &TokenizerWrap::kind)});
}

TokenizerWrap::TokenizerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TokenizerWrap>(info) {
  if (info.Length() == 1 && info[0].IsExternal())
    tokenizer_ = *info[0].As<Napi::External<std::shared_ptr<const Tokenizer>>>().Data();
}

Napi::Value TokenizerWrap::load(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) return throw_type_error(env, "loadTokenizer(kind, path)");
  const std::string kind = info[0].As<Napi::String>();
  const std::string path = info.Length() > 1 && info[1].IsString() ? std::string(info[1].As<Napi::String>()) : "";
  std::shared_ptr<const Tokenizer> tok;
  try {
    if (kind == "world") tok = Tokenizer::world(path);
    else if (kind == "neox") tok = Tokenizer::neox(path);
    else if (kind == "bytes") tok = Tokenizer::bytes();
    else return throw_type_error(env, "unknown tokenizer kind '" + kind + "' (world, neox, bytes)");
  } catch (const rwkv::Error& e) {
    make_error(env, e.what(), e.code_name()).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  AddonData* data = env.GetInstanceData<AddonData>();
  return data->tokenizer_ctor.New({Napi::External<std::shared_ptr<const Tokenizer>>::New(env, &tok)});
}

Napi::Value TokenizerWrap::encode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) return throw_type_error(env, "encode(text: string)");
  const std::string text = info[0].As<Napi::String>();
  std::vector<uint32_t> ids = tokenizer_->encode(text);
  Napi::Uint32Array out = Napi::Uint32Array::New(env, ids.size());
  std::copy(ids.begin(), ids.end(), out.Data());
  return out;
}

// decode(ids: Uint32Array) -> Buffer of raw bytes (may end inside a UTF-8 character).
Napi::Value TokenizerWrap::decode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array)
    return throw_type_error(env, "decode(ids: Uint32Array)");
  Napi::Uint32Array ids = info[0].As<Napi::Uint32Array>();
  try {
    const std::string bytes = tokenizer_->decode(ids.Data(), ids.ElementLength());
    return Napi::Buffer<char>::Copy(env, bytes.data(), bytes.size());
  } catch (const rwkv::Error& e) {
    make_error(env, e.what(), e.code_name()).ThrowAsJavaScriptException();
    return env.Undefined();
  }
}

Napi::Value TokenizerWrap::vocab_size(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), tokenizer_->vocab_size());
}

Napi::Value TokenizerWrap::kind(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), tokenizer_->kind()); }

}  // namespace rwkv::addon
