#include "sampler/occurrences.h"

#include <algorithm>
#include <cfloat>
#include <cmath>

namespace rwkv {

Occurrences::Occurrences(uint32_t vocab_size) : count_(vocab_size, 0.0), seen_(vocab_size, 0) {
  touched_.reserve(vocab_size);
}

void Occurrences::add(uint32_t token, float weight, float decay) {
  for (uint32_t id : touched_) count_[id] *= decay;
  if (!seen_[token]) {
    seen_[token] = 1;
    touched_.push_back(token);
  }
  count_[token] += weight;
}

void Occurrences::clear() {
  for (uint32_t id : touched_) {
    count_[id] = 0.0;
    seen_[id] = 0;
  }
  touched_.clear();
}

void Occurrences::penalize_logits(float* logits, float presence, float frequency) const {
  if (presence == 0.0f && frequency == 0.0f) return;
  // Computed in double and applied as one float32 subtraction, as pip does (Python float -> tensor).
  for (uint32_t id : touched_) logits[id] -= float(double(presence) + count_[id] * double(frequency));
}

void Occurrences::penalize_probs(float* probs, float presence, float frequency) const {
  if (presence == 0.0f && frequency == 0.0f) return;
  for (uint32_t id : touched_) {
    // In double and capped, so a strongly negative penalty (a reward) cannot overflow to inf.
    const double factor = std::exp(-(double(presence) + count_[id] * double(frequency)));
    probs[id] = float(std::min(double(probs[id]) * factor, double(FLT_MAX)));
  }
}

}  // namespace rwkv
