// Occurrence counts for the presence/frequency penalties, kept the way the rwkv pip PIPELINE keeps its
// `occurrence` dict: every accepted token gets an entry that decays geometrically but is never removed,
// so an entry whose count decayed (or started) at 0 still pays the presence penalty.
// Stored as a dense array plus the list of touched ids: lookups are O(1) and decay/penalties cost
// O(distinct tokens seen), not O(vocabulary).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace rwkv {

class Occurrences {
 public:
  explicit Occurrences(uint32_t vocab_size);

  // pip order: decay every existing entry first, then add the new token's weight.
  void add(uint32_t token, float weight, float decay);
  void clear();

  // logit[n] -= presence + count[n] * frequency for every touched n.
  void penalize_logits(float* logits, float presence, float frequency) const;
  // The same adjustment for a probability vector: p[n] *= exp(-(presence + count[n] * frequency)),
  // which is what the logit shift does to the softmax.
  void penalize_probs(float* probs, float presence, float frequency) const;

  bool seen(uint32_t token) const { return seen_[token] != 0; }
  double count(uint32_t token) const { return count_[token]; }
  size_t distinct() const { return touched_.size(); }

 private:
  std::vector<double> count_;  // double like pip's Python floats, so long decays do not drift
  std::vector<uint8_t> seen_;
  std::vector<uint32_t> touched_;  // reserved to the vocabulary size, so add() never allocates
};

}  // namespace rwkv
