// Generation: the token loop of a completion, in C++ so that sampling, detokenizing and stop
// matching cost microseconds per token, not milliseconds.
//
//   cache lookup (longest cached prefix of the prompt) -> the rest of the prompt in chunks of
//   batch_size (abortable between chunks) -> cache the prompt's state -> repeat: sample -> stop token?
//   -> detokenize -> stop string? -> emit whole UTF-8 text -> eval token (batched with other
//   generations through the DecodeBatcher) -> cache the state after prompt + completion.
//
// State mixing: with several initial states, each advances on the same tokens and the next token is
// drawn from the weighted mixture of their probability distributions.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "cache/state_cache.h"
#include "engine.h"
#include "generate/decode_batcher.h"
#include "sampler/sampler.h"
#include "tokenizer/tokenizer.h"

namespace rwkv {

struct GenerationRequest {
  std::vector<uint32_t> prompt;        // tokens to feed before generating
  std::vector<std::vector<float>> states;  // initial state(s); empty = the model's initial state
  std::vector<float> mix_weights;      // one per state when mixing (empty: equal weights)
  SamplerOptions sampling;
  int max_tokens = 64;                 // 0: only feed the prompt
  std::vector<std::string> stop;
  std::vector<uint32_t> stop_tokens;
  size_t batch_size = 0;               // prompt tokens per sequence pass (0: the model's prompt_pass_tokens())
  bool use_cache = true;               // look up and store states (ignored when there is no cache or when mixing)
  bool pin_prompt = false;             // cache the prompt's state as a pinned entry (preloadPrompt)
};

struct GenerationEvents {
  std::function<void(const std::string& text)> on_text;  // whole UTF-8 characters only
  std::function<bool()> aborted;                          // polled between tokens, prompt passes and a pass's layers
};

struct GenerationResult {
  std::string text;                     // generated text, stop string removed
  std::vector<uint32_t> tokens;         // generated tokens (a stop token is not included)
  std::string finish_reason;            // "stop", "length", "abort"
  std::vector<std::vector<float>> states;  // final state(s): after the prompt and the text kept
  size_t state_tokens = 0;              // generated tokens the final state includes (all unless a stop string cut)
  size_t state_text_length = 0;         // bytes of `text` the final state includes
  size_t prompt_tokens_cached = 0;      // prompt tokens taken from the cache
  size_t prompt_tokens_evaluated = 0;
  double prompt_ms = 0, completion_ms = 0;
};

struct GenerationContext {
  Model& model;
  const Tokenizer& tokenizer;
  StateCache* cache = nullptr;     // optional
  DecodeBatcher* batcher = nullptr;  // optional: batch decode steps with concurrent generations
};

// Runs one completion. Throws rwkv::Error on bad input (before any work).
GenerationResult generate(const GenerationContext& ctx, GenerationRequest request, const GenerationEvents& events);

}  // namespace rwkv
