// Token sampler: turns one step's logits into a token id.
//
// Order of operations (follows the rwkv pip package's PIPELINE.generate + sample_logits, engine spec §16):
//   1. logit_bias is added, then banned tokens get logit -inf (a ban wins over any bias).
//   2. Penalties: for every token n ever accepted, logit[n] -= presence + occ[n] * frequency.
//   3. temperature == 0: return the argmax of these logits, lowest id on ties (no randomness).
//      (pip turns T = 0 into "top_p = 0, T = 1", which still draws among tied maxima; we want greedy
//      to be reproducible without a seed.)
//   4. p = softmax(logits) in float32.
//   5. top-p: walking p in descending order, cutoff = the first p where the running sum >= top_p;
//      every p >= cutoff survives, so ties at the cutoff are all kept. top_p = 0 keeps only the
//      token(s) equal to the max; top_p = 1 is off. (If rounding keeps the total below top_p, all
//      tokens survive; pip would keep only the max there.)
//   6. top-k: only the k largest survive (exactly k; ties at the k-th value go to the lowest ids).
//   7. min-p: drop p < min_p * p_max. (Beyond pip; the three truncations commute, since each keeps a
//      top slice of the same ordering.)
//   8. temperature: surviving p become p^(1/T). The truncation set is decided at T = 1, as in pip.
//      Computed as exp((logit - logit_max) / T), equal after renormalization and free of underflow.
//   9. Renormalize and draw by inverse CDF over ids in ascending order, with a uniform double from
//      xoshiro256** seeded by `seed`.
// After sampling, the caller passes the chosen token to accept(): every existing occurrence count is
// multiplied by penalty_decay first, then occ[token] += weight (pip's alpha_decay order).
//
// Speed (65536-token vocabularies): nothing is sorted. top-p and top-k cutoffs come from a radix select
// (descending_select.h), exp is an inline polynomial (vector_math.h, ~2e-7 relative error), and the
// softmax stays unnormalized (top-p compares running sums with top_p * sum).
// A Sampler owns all its buffers (sized once from the vocabulary), so sample() never allocates.
// It is not thread-safe; use one per sequence.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

#include "sampler/descending_select.h"
#include "sampler/occurrences.h"
#include "sampler/rng.h"

namespace rwkv {

struct SamplerOptions {
  float temperature = 1.0f;      // 0 = greedy (argmax; ties -> lowest id)
  float top_p = 1.0f;            // 0 = keep only the most probable token(s); 1 = off
  int top_k = 0;                 // 0 = off
  float min_p = 0.0f;            // drop tokens with p < min_p * p_max; 0 = off
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  float penalty_decay = 0.996f;  // RWKV's alpha_decay, applied to all occurrence counts after each token
  std::vector<std::pair<uint32_t, float>> logit_bias;  // added to logits
  std::vector<uint32_t> banned_tokens;                 // logit = -inf
  uint64_t seed = 0;             // same seed + options + logits sequence -> same tokens
};

// Throws rwkv::Error(Argument) naming the first invalid option and its allowed range.
void validate_sampler_options(const SamplerOptions& opts, uint32_t vocab_size);

class Sampler {
 public:
  Sampler(const SamplerOptions& opts, uint32_t vocab_size);  // validates options (throws)

  // Applies bias/bans/penalties to a copy of the logits, then samples. `logits` has vocab_size floats.
  // NaN logits count as -inf. Throws if no token is left with a finite logit.
  uint32_t sample(const float* logits);

  // Records a generated (or prompt, if the caller wants) token for the penalties. weight: RWKV pip uses 0 for
  // tokens that decode to a single char in " \t0123456789", else 1 — the caller decides and passes it.
  void accept(uint32_t token, float weight = 1.0f);

  void reset();  // forget occurrences; RNG continues

  // Sampling from a probability vector directly (used for state mixing: weighted mixture of several
  // distributions). probs need not be normalized; they are read, not modified. The same pipeline runs,
  // with bias and penalties applied as the factor exp(adjustment) that they are in logit space.
  uint32_t sample_probs(float* probs);

  // The processed probability vector the last sample() drew from (after truncation, renormalized) - for tests.
  const std::vector<float>& last_probs() const;

  const SamplerOptions& options() const { return opts_; }
  const Occurrences& occurrences() const { return occ_; }

 private:
  void apply_bias_and_bans(float* logits) const;
  uint32_t finish_greedy(uint32_t token);
  // p: probabilities, possibly unnormalized with sum `total`; p_max: their max.
  void truncate(const float* p, double total, float p_max);
  uint32_t draw();

  SamplerOptions opts_;
  uint32_t vocab_;
  std::vector<std::pair<uint32_t, float>> bias_;  // merged per id, bans removed
  std::vector<std::pair<uint32_t, float>> bias_factor_;  // exp(bias) for sample_probs
  Occurrences occ_;
  Rng rng_;
  DescendingSelect select_;

  std::vector<float> work_;   // adjusted logits (or probabilities in sample_probs)
  std::vector<float> probs_;  // softmax output (unnormalized in sample())
  // The surviving tokens (ids ascending) and their unnormalized weights after temperature.
  std::vector<uint32_t> kept_ids_;
  std::vector<float> kept_w_;
  bool kept_in_probs_ = false;  // every id kept at temperature 1: the weights are probs_ itself, not copied
  const float* kept_weights() const { return kept_in_probs_ ? probs_.data() : kept_w_.data(); }
  std::vector<double> block_sums_;  // draw(): sums of the kept weights per block of kDrawBlock
  size_t kept_n_ = 0;
  bool kept_all_ = false;  // kept_ids_ holds 0..vocab-1 (no filter cut anything)
  double kept_total_ = 0.0;

  // last_probs() is built on demand so the hot path does not write a dense vector per token.
  mutable std::vector<float> last_probs_;
  mutable bool last_probs_valid_ = false;
};

}  // namespace rwkv
