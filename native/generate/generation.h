// Generation: the token loop of a completion, in C++ so that sampling, detokenizing and stop
// matching cost microseconds per token, not milliseconds.
//
//   prompt tokens --(chunks of batch_size, abortable between chunks)--> logits
//   repeat: sample -> stop token? -> detokenize -> stop string? -> emit whole UTF-8 text -> eval token
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine.h"
#include "sampler/sampler.h"
#include "tokenizer/tokenizer.h"

namespace rwkv {

struct GenerationRequest {
  std::vector<uint32_t> prompt;   // tokens to feed before generating (may be empty: then `logits` must be given)
  std::vector<float> logits;      // logits of the state, if the prompt is empty (e.g. restored from a cache)
  SamplerOptions sampling;
  int max_tokens = 64;            // 0: only feed the prompt
  std::vector<std::string> stop;
  std::vector<uint32_t> stop_tokens;
  size_t batch_size = 64;         // prompt tokens per sequence pass
  bool feed_last_token = true;    // evaluate the final generated token too, so the state covers all text
};

struct GenerationEvents {
  std::function<void(const std::string& text)> on_text;  // whole UTF-8 characters only
  std::function<bool()> aborted;                          // polled between prompt chunks and tokens
};

struct GenerationResult {
  std::string text;                 // generated text, stop string removed
  std::vector<uint32_t> tokens;     // generated tokens (a stop token is not included)
  std::string finish_reason;        // "stop", "length", "abort"
  std::vector<float> logits;        // logits after the last evaluated token (for caching)
  size_t prompt_tokens_evaluated = 0;
  double prompt_ms = 0, completion_ms = 0;
};

// Runs one completion on `state` (updated in place). Throws rwkv::Error on bad input.
GenerationResult generate(Model& model, const Tokenizer& tokenizer, float* state, GenerationRequest request,
                          const GenerationEvents& events);

}  // namespace rwkv
