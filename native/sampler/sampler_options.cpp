// Option validation: rejects values up front so sample() never meets a NaN threshold or an out-of-range
// id, and users get a message naming the option and the range it accepts.
#include <cmath>
#include <sstream>
#include <string>

#include "core/error.h"
#include "sampler/sampler.h"

namespace rwkv {

namespace {

std::string num(double v) {
  std::ostringstream s;
  s << v;  // "-1", "0.5", "nan", "inf": shortest readable form
  return s.str();
}

[[noreturn]] void fail(const std::string& message) { throw Error(ErrorCode::Argument, message); }

// !(lo <= v && v <= hi) also rejects NaN.
void check_range(const char* name, float v, double lo, double hi, const char* range) {
  if (!(v >= lo && v <= hi)) fail(std::string(name) + " must be " + range + ", got " + num(v));
}

}  // namespace

void validate_sampler_options(const SamplerOptions& o, uint32_t vocab_size) {
  if (vocab_size == 0) fail("vocab_size must be >= 1, got 0");
  // An infinite temperature would make every surviving token equally likely through 0 * inf = NaN.
  if (!(o.temperature >= 0.0f)) fail("temperature must be >= 0, got " + num(o.temperature));
  if (std::isinf(o.temperature)) fail("temperature must be finite, got " + num(o.temperature));
  check_range("top_p", o.top_p, 0.0, 1.0, "in [0, 1]");
  if (o.top_k < 0) fail("top_k must be >= 0 (0 = off), got " + std::to_string(o.top_k));
  check_range("min_p", o.min_p, 0.0, 1.0, "in [0, 1]");
  // Negative penalties are allowed: they reward repetition, which some prompts (lists, code) want.
  if (!std::isfinite(o.presence_penalty)) fail("presence_penalty must be finite, got " + num(o.presence_penalty));
  if (!std::isfinite(o.frequency_penalty)) fail("frequency_penalty must be finite, got " + num(o.frequency_penalty));
  check_range("penalty_decay", o.penalty_decay, 0.0, 1.0, "in [0, 1]");
  for (const auto& [id, bias] : o.logit_bias) {
    if (id >= vocab_size)
      fail("logit_bias token id must be < vocab_size " + std::to_string(vocab_size) + ", got " + std::to_string(id));
    // -inf is a ban; +inf or NaN would turn the softmax into NaN.
    if (std::isnan(bias) || bias == INFINITY)
      fail("logit_bias for token " + std::to_string(id) + " must be finite or -inf, got " + num(bias));
  }
  for (uint32_t id : o.banned_tokens)
    if (id >= vocab_size)
      fail("banned_tokens id must be < vocab_size " + std::to_string(vocab_size) + ", got " + std::to_string(id));
}

}  // namespace rwkv
