// TokenizerWrap: JS handle of a C++ tokenizer (World, NeoX 20B, bytes).
#pragma once
#include <napi.h>

#include <memory>

#include "tokenizer/tokenizer.h"

namespace rwkv::addon {

class TokenizerWrap : public Napi::ObjectWrap<TokenizerWrap> {
 public:
  static Napi::Function define(Napi::Env env);
  // loadTokenizer(kind: 'world' | 'neox' | 'bytes', path?: string) -> TokenizerWrap (sync: loads in ms)
  static Napi::Value load(const Napi::CallbackInfo& info);
  explicit TokenizerWrap(const Napi::CallbackInfo& info);
  std::shared_ptr<const Tokenizer> tokenizer() const { return tokenizer_; }

 private:
  Napi::Value encode(const Napi::CallbackInfo& info);
  Napi::Value decode(const Napi::CallbackInfo& info);
  Napi::Value vocab_size(const Napi::CallbackInfo& info);
  Napi::Value kind(const Napi::CallbackInfo& info);

  std::shared_ptr<const Tokenizer> tokenizer_;
};

}  // namespace rwkv::addon
