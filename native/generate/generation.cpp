#include "generate/generation.h"

#include <chrono>

#include "generate/stop_matcher.h"

namespace rwkv {

namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// RWKV's pip package does not count whitespace and digits as repetitions (penalty weight 0).
float penalty_weight(const std::string& piece) {
  return piece.size() == 1 && std::string(" \t0123456789").find(piece[0]) != std::string::npos ? 0.0f : 1.0f;
}

}  // namespace

GenerationResult generate(Model& model, const Tokenizer& tokenizer, float* state, GenerationRequest req,
                          const GenerationEvents& events) {
  const ModelInfo& info = model.info();
  const uint32_t vocab = uint32_t(info.n_vocab);
  if (req.max_tokens < 0) throw Error(ErrorCode::Argument, "max_tokens must be >= 0, got " + std::to_string(req.max_tokens));
  if (req.batch_size == 0) throw Error(ErrorCode::Argument, "batchSize must be >= 1");
  for (uint32_t t : req.stop_tokens)
    if (t >= vocab) throw Error(ErrorCode::Argument, "stop token " + std::to_string(t) + " is outside the vocabulary (" + std::to_string(vocab) + ")");
  Sampler sampler(req.sampling, vocab);  // validates the sampling options
  auto aborted = [&] { return events.aborted && events.aborted(); };

  GenerationResult res;
  res.logits = std::move(req.logits);
  const auto t_prompt = std::chrono::steady_clock::now();
  if (!req.prompt.empty()) {
    res.logits.resize(vocab);
    for (size_t at = 0; at < req.prompt.size(); at += req.batch_size) {
      if (aborted()) {
        res.finish_reason = "abort";
        res.prompt_ms = ms_since(t_prompt);
        return res;
      }
      const size_t n = std::min(req.batch_size, req.prompt.size() - at);
      model.eval(req.prompt.data() + at, n, state, res.logits.data(), req.batch_size);
      res.prompt_tokens_evaluated += n;
    }
  } else if (req.max_tokens > 0 && res.logits.size() != vocab) {
    throw Error(ErrorCode::Argument, "an empty prompt needs the logits of the state it continues from");
  }
  res.prompt_ms = ms_since(t_prompt);

  const auto t_gen = std::chrono::steady_clock::now();
  StopMatcher stops(req.stop);
  Utf8StreamDecoder utf8;
  size_t emitted = 0;
  auto emit_safe = [&](bool all) {
    const size_t upto = all ? stops.text().size() : stops.safe_length();
    if (upto > emitted && events.on_text) events.on_text(stops.text().substr(emitted, upto - emitted));
    emitted = std::max(emitted, upto);
  };
  res.finish_reason = "length";
  for (int i = 0; i < req.max_tokens; ++i) {
    if (aborted()) { res.finish_reason = "abort"; break; }
    const uint32_t token = sampler.sample(res.logits.data());
    bool is_stop_token = false;
    for (uint32_t s : req.stop_tokens) is_stop_token |= s == token;
    if (is_stop_token) { res.finish_reason = "stop"; break; }
    res.tokens.push_back(token);
    const std::string piece = tokenizer.decode(&token, 1);
    sampler.accept(token, penalty_weight(piece));
    if (stops.push(utf8.push(piece))) { res.finish_reason = "stop"; break; }
    emit_safe(false);
    const bool last = i + 1 == req.max_tokens;
    if (!last || req.feed_last_token) model.eval(&token, 1, state, res.logits.data());
  }
  if (res.finish_reason != "stop") stops.push(utf8.flush());
  emit_safe(true);
  res.text = stops.text();
  res.completion_ms = ms_since(t_gen);
  return res;
}

}  // namespace rwkv
