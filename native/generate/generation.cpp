#include "generate/generation.h"

#include <chrono>
#include <cmath>

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

// Leaves the decode batcher on every exit path.
struct BatcherMembership {
  DecodeBatcher* b;
  explicit BatcherMembership(DecodeBatcher* batcher) : b(batcher) { if (b) b->join(); }
  ~BatcherMembership() { if (b) b->leave(); }
};

void validate(const Model& model, const GenerationRequest& req) {
  const uint32_t vocab = uint32_t(model.info().n_vocab);
  const size_t state_size = size_t(model.info().state_size());
  if (req.max_tokens < 0) throw Error(ErrorCode::Argument, "max_tokens must be >= 0, got " + std::to_string(req.max_tokens));
  for (uint32_t t : req.stop_tokens)
    if (t >= vocab) throw Error(ErrorCode::Argument, "stop token " + std::to_string(t) + " is outside the vocabulary (" + std::to_string(vocab) + ")");
  for (const auto& s : req.states)
    if (s.size() != state_size) throw Error(ErrorCode::Argument, "a state has " + std::to_string(s.size()) + " floats; this model's has " + std::to_string(state_size));
  if (!req.mix_weights.empty() && req.mix_weights.size() != req.states.size())
    throw Error(ErrorCode::Argument, "mix weights: " + std::to_string(req.mix_weights.size()) + " weights for " + std::to_string(req.states.size()) + " states");
  float total = 0;
  for (float w : req.mix_weights) {
    if (!(w >= 0) || !std::isfinite(w)) throw Error(ErrorCode::Argument, "mix weights must be finite and >= 0");
    total += w;
  }
  if (req.prompt.empty() && req.max_tokens > 0)  // logits are not part of a state: sampling needs a token to feed
    throw Error(ErrorCode::Argument, "a completion needs at least one prompt token");
  if (!req.mix_weights.empty() && total <= 0) throw Error(ErrorCode::Argument, "mix weights must not all be 0");
}

}  // namespace

GenerationResult generate(const GenerationContext& ctx, GenerationRequest req, const GenerationEvents& events) {
  Model& model = ctx.model;
  validate(model, req);
  const uint32_t vocab = uint32_t(model.info().n_vocab);
  Sampler sampler(req.sampling, vocab);  // validates the sampling options
  auto aborted = [&] { return events.aborted && events.aborted(); };

  GenerationResult res;
  std::vector<std::vector<float>>& states = res.states;
  states = std::move(req.states);
  const bool given_state = !states.empty();
  if (!given_state) states.push_back(model.initial_state());
  const size_t n_states = states.size();
  const bool mixing = n_states > 1;
  // The cache holds states reached from the initial state only; explicit states bypass it (RWKV-cpp-node).
  StateCache* cache = (ctx.cache && ctx.cache->enabled() && req.use_cache && !given_state) ? ctx.cache : nullptr;
  std::vector<std::vector<float>> logits(n_states, std::vector<float>(vocab));
  // With GPU layers, states[0] may stay on the GPU between steps; sync_state() before reading it here.
  const uint64_t gen = mixing ? 0 : model.new_state_generation();
  auto read_state = [&] { if (gen && !states.empty()) model.sync_state(states[0].data()); };
  // On every way out (early return, exception), the CPU copy is made current: the engine must never
  // keep a pointer to a state vector that is about to go away.
  struct SyncOnExit {
    const std::function<void()>& f;
    ~SyncOnExit() { f(); }
  };
  const std::function<void()> sync_fn = read_state;
  SyncOnExit sync_on_exit{sync_fn};

  // ---- prompt ----
  const auto t_prompt = std::chrono::steady_clock::now();
  size_t start = 0;
  if (cache) {
    StateCache::Hit hit = cache->lookup(req.prompt.data(), req.prompt.size());
    if (hit.length > 0) {
      states[0] = hit.entry->state;
      logits[0] = hit.entry->logits;
      start = hit.length;
      res.prompt_tokens_cached = hit.length;
    }
  }
  std::vector<SequenceInput> in;  // reused for every pass: the loop allocates nothing per token
  in.reserve(n_states);
  const size_t pass_tokens = req.batch_size ? req.batch_size : model.prompt_pass_tokens();
  for (size_t at = start; at < req.prompt.size(); at += pass_tokens) {
    const size_t n = std::min(pass_tokens, req.prompt.size() - at);
    in.clear();
    for (size_t s = 0; s < n_states; ++s) in.push_back({req.prompt.data() + at, n, states[s].data(), logits[s].data(), s == 0 ? gen : 0});
    // Asked before each pass, and by the engine between its layers (the states then as before the pass).
    if (aborted() || !model.eval_batch(in, events.aborted)) {
      res.finish_reason = "abort";
      res.prompt_ms = ms_since(t_prompt);
      read_state();
      return res;
    }
    res.prompt_tokens_evaluated += n;
  }
  read_state();
  if (cache && (start < req.prompt.size() || req.pin_prompt))
    cache->insert(req.prompt.data(), req.prompt.size(), states[0], logits[0], req.pin_prompt);
  res.prompt_ms = ms_since(t_prompt);

  // ---- generation ----
  const auto t_gen = std::chrono::steady_clock::now();
  // The state to keep when a stop string ends the text is the one before the stop text. While text is
  // held back (it may be the start of a stop string), remember the last state whose text lies wholly
  // before the held part: a copy only while something is held, and no token is evaluated twice.
  struct Snapshot {
    size_t tokens = 0;
    std::vector<float> state, logits;
  } snapshot;
  bool have_snapshot = false;
  StopMatcher stops(req.stop);
  Utf8StreamDecoder utf8;
  std::vector<size_t> text_end;  // decoded text length after each generated token
  size_t emitted = 0, fed = 0;
  auto emit_safe = [&](bool all) {
    const size_t upto = all ? stops.text().size() : stops.safe_length();
    if (upto > emitted && events.on_text) events.on_text(stops.text().substr(emitted, upto - emitted));
    emitted = std::max(emitted, upto);
  };
  std::vector<float> mixed(mixing ? vocab : 0), probs(mixing ? vocab : 0);
  std::vector<float> weights = req.mix_weights;
  if (mixing && weights.empty()) weights.assign(n_states, 1.0f);
  BatcherMembership membership(ctx.batcher);

  res.finish_reason = "length";
  for (int i = 0; i < req.max_tokens; ++i) {
    if (aborted()) { res.finish_reason = "abort"; break; }
    uint32_t token;
    if (mixing) {
      // p = sum_s w_s softmax(logits_s): the mixture of the states' next-token distributions.
      std::fill(mixed.begin(), mixed.end(), 0.0f);
      for (size_t s = 0; s < n_states; ++s) {
        if (weights[s] == 0) continue;
        const float mx = *std::max_element(logits[s].begin(), logits[s].end());
        double z = 0;
        for (uint32_t v = 0; v < vocab; ++v) z += (probs[v] = std::exp(logits[s][v] - mx));
        const float scale = float(weights[s] / z);
        for (uint32_t v = 0; v < vocab; ++v) mixed[v] += scale * probs[v];
      }
      token = sampler.sample_probs(mixed.data());
    } else {
      token = sampler.sample(logits[0].data());
    }
    bool is_stop_token = false;
    for (uint32_t s : req.stop_tokens) is_stop_token |= s == token;
    if (is_stop_token) { res.finish_reason = "stop"; break; }
    res.tokens.push_back(token);
    const std::string piece = ctx.tokenizer.decode(&token, 1);
    sampler.accept(token, penalty_weight(piece));
    const bool stopped = stops.push(utf8.push(piece));
    text_end.push_back(stops.text().size());
    if (stopped) { res.finish_reason = "stop"; break; }
    emit_safe(false);
    if (!mixing && !req.stop.empty()) {
      const size_t held_from = stops.safe_length();
      if (held_from == stops.text().size()) {
        have_snapshot = false;
      } else {
        const size_t before = res.tokens.size() - 1;  // tokens already fed: the state holds them
        const size_t end_before = before == 0 ? 0 : text_end[before - 1];
        if (end_before <= held_from && (!have_snapshot || snapshot.tokens < before)) {
          read_state();
          snapshot.tokens = before;
          snapshot.state = states[0];
          snapshot.logits = logits[0];
          have_snapshot = true;
        }
      }
    }
    // Feed the token so the state covers all text (also after the last one: the state is then ready
    // for the next turn and for the cache).
    if (mixing || !ctx.batcher) {
      in.clear();
      for (size_t s = 0; s < n_states; ++s) in.push_back({&res.tokens.back(), 1, states[s].data(), logits[s].data()});
      model.eval_batch(in);
    } else {
      ctx.batcher->step(token, states[0].data(), logits[0].data(), gen);
    }
    fed = res.tokens.size();
  }
  read_state();  // the code below reads and may replace states[0]
  if (res.finish_reason != "stop") stops.push(utf8.flush());
  emit_safe(true);
  res.text = stops.text();

  // Tokens whose text reaches into the stop string are not part of the kept state.
  size_t keep = fed;
  while (keep > 0 && text_end[keep - 1] > res.text.size()) --keep;
  bool state_matches = keep == fed;
  if (!state_matches && have_snapshot && snapshot.tokens <= keep) {
    keep = snapshot.tokens;
    states[0] = std::move(snapshot.state);
    logits[0] = std::move(snapshot.logits);
    state_matches = true;
  }
  res.state_tokens = state_matches ? keep : fed;
  res.state_text_length = res.state_tokens == 0 ? 0 : std::min(text_end[res.state_tokens - 1], res.text.size());
  if (cache && keep > 0 && state_matches) {
    std::vector<uint32_t> key = req.prompt;
    key.insert(key.end(), res.tokens.begin(), res.tokens.begin() + long(keep));
    cache->insert(key.data(), key.size(), states[0], logits[0]);
  }
  res.completion_ms = ms_since(t_gen);
  return res;
}

}  // namespace rwkv
