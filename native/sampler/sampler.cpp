#include "sampler/sampler.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <string>

#include "core/error.h"
#include "sampler/vector_math.h"

namespace rwkv {

namespace {
constexpr float kInf = std::numeric_limits<float>::infinity();
// draw() sums the weights per block of this many, eight blocks at a time: one sequential chain of
// double adds over 65536 weights (4 cycles each) took longer than everything else sampling does.
constexpr size_t kDrawBlock = 256;
}

Sampler::Sampler(const SamplerOptions& opts, uint32_t vocab_size)
    : opts_((validate_sampler_options(opts, vocab_size), opts)),  // validate before allocating anything
      vocab_(vocab_size),
      occ_(vocab_size),
      rng_(opts.seed),
      select_(vocab_size),
      work_(vocab_size),
      probs_(vocab_size),
      kept_ids_(vocab_size),
      kept_w_(vocab_size),
      block_sums_(vocab_size / kDrawBlock + 1),
      last_probs_(vocab_size) {
  // Merge repeated ids (biases add up) and drop banned ones: the ban is applied after and wins anyway.
  std::map<uint32_t, float> merged;
  for (const auto& [id, bias] : opts_.logit_bias) merged[id] += bias;
  for (uint32_t id : opts_.banned_tokens) merged.erase(id);
  for (const auto& [id, bias] : merged) {
    bias_.emplace_back(id, bias);
    bias_factor_.emplace_back(id, float(std::min(std::exp(double(bias)), double(FLT_MAX))));
  }
}

void Sampler::apply_bias_and_bans(float* logits) const {
  for (const auto& [id, bias] : bias_) logits[id] += bias;
  for (uint32_t id : opts_.banned_tokens) logits[id] = -kInf;
}

uint32_t Sampler::sample(const float* logits) {
  if (!logits) throw Error(ErrorCode::Argument, "sample: logits must not be null");
  float* x = work_.data();
  // NaN -> -inf: one bad logit from the model must not poison the max and the whole softmax.
  copy_nan_as_neg_inf(logits, x, vocab_);
  apply_bias_and_bans(x);
  occ_.penalize_logits(x, opts_.presence_penalty, opts_.frequency_penalty);

  const float x_max = max_value(x, vocab_);
  if (x_max == -kInf) throw Error(ErrorCode::Argument, "sample: no token is left (all banned or -inf)");
  if (opts_.temperature == 0.0f) return finish_greedy(uint32_t(argmax(x, vocab_)));

  // The softmax is left unnormalized (e = exp(x - x_max), so e_max = 1): truncation compares against
  // top_p * sum instead, and the draw normalizes the survivors anyway. This skips a pass over the vocabulary;
  // the order, and so the kept set, is that of the normalized probabilities.
  float* e = probs_.data();
  double sum;
  const bool finite = x_max != kInf;
  if (finite) {
    sum = exp_shifted(x, x_max, 1.0f, e, vocab_);
  } else {
    // +inf logits (e.g. a huge bias on top of a large logit) share all the mass equally.
    sum = 0.0;
    for (uint32_t i = 0; i < vocab_; ++i) {
      e[i] = x[i] == kInf ? 1.0f : 0.0f;
      sum += e[i];
    }
  }
  truncate(e, sum, 1.0f);

  kept_in_probs_ = false;
  if (opts_.temperature == 1.0f || !finite) {
    if (kept_all_) kept_in_probs_ = true;  // every id kept: the weights are e itself, no copy
    else for (size_t k = 0; k < kept_n_; ++k) kept_w_[k] = e[kept_ids_[k]];
  } else {
    // p^(1/T) up to a constant factor = exp((x - x_max) / T). Capped so a tiny T gives 0 * big = 0, not NaN.
    const float inv_t = float(std::min(1.0 / double(opts_.temperature), double(FLT_MAX)));
    for (size_t k = 0; k < kept_n_; ++k) kept_w_[k] = exp_nonpositive((x[kept_ids_[k]] - x_max) * inv_t);
  }
  return draw();
}

uint32_t Sampler::sample_probs(float* probs) {
  if (!probs) throw Error(ErrorCode::Argument, "sample_probs: probs must not be null");
  float* q = work_.data();
  bool bad = false;
  for (uint32_t i = 0; i < vocab_; ++i) {
    q[i] = probs[i];
    bad |= !(probs[i] >= 0.0f && probs[i] <= FLT_MAX);
  }
  if (bad) {
    for (uint32_t i = 0; i < vocab_; ++i)
      if (!(probs[i] >= 0.0f && probs[i] <= FLT_MAX))
        throw Error(ErrorCode::Argument, "sample_probs: probs[" + std::to_string(i) +
                                             "] must be finite and >= 0, got " + std::to_string(probs[i]));
  }
  for (const auto& [id, factor] : bias_factor_) q[id] = std::min(q[id] * factor, FLT_MAX);
  for (uint32_t id : opts_.banned_tokens) q[id] = 0.0f;
  occ_.penalize_probs(q, opts_.presence_penalty, opts_.frequency_penalty);

  const double sum = sum_values(q, vocab_);
  if (!(sum > 0.0)) throw Error(ErrorCode::Argument, "sample_probs: no token is left (all probabilities zero)");
  if (opts_.temperature == 0.0f) return finish_greedy(uint32_t(argmax(q, vocab_)));

  float* p = probs_.data();
  const float inv = float(1.0 / sum);
  for (uint32_t i = 0; i < vocab_; ++i) p[i] = q[i] * inv;
  const float p_max = max_value(p, vocab_);
  truncate(p, 1.0, p_max);

  kept_in_probs_ = false;
  if (opts_.temperature == 1.0f) {
    if (kept_all_) kept_in_probs_ = true;  // every id kept: the weights are p itself, no copy
    else for (size_t k = 0; k < kept_n_; ++k) kept_w_[k] = p[kept_ids_[k]];
  } else {
    const double inv_t = 1.0 / double(opts_.temperature);
    for (size_t k = 0; k < kept_n_; ++k)
      kept_w_[k] = float(std::pow(double(p[kept_ids_[k]]) / p_max, inv_t));
  }
  return draw();
}

uint32_t Sampler::finish_greedy(uint32_t token) {
  kept_all_ = false;
  kept_ids_[0] = token;
  kept_w_[0] = 1.0f;
  kept_in_probs_ = false;
  kept_n_ = 1;
  kept_total_ = 1.0;
  last_probs_valid_ = false;
  return token;
}

void Sampler::truncate(const float* p, double total, float p_max) {
  // Survivors are p >= tau (and p > 0, so banned tokens never survive). The three filters each keep a
  // top slice of the same descending order, so their intersection is the top slice at the largest tau.
  float tau = 0.0f;
  if (opts_.top_p < 1.0f) {
    const double target = double(opts_.top_p) * total;
    // Values below `floor` hold at most vocab * floor = half the mass top-p drops, so the walk almost
    // always ends above it and only the candidates above it need a histogram. If rounding says
    // otherwise, walk the whole vector.
    const float floor = float(0.5 * (total - target) / vocab_);
    Cutoff c = select_.by_mass(p, vocab_, target, floor);
    if (!c.found && floor > 0.0f) c = select_.by_mass(p, vocab_, target);
    if (c.found) tau = c.value;
  }
  if (opts_.min_p > 0.0f) tau = std::max(tau, opts_.min_p * p_max);
  uint32_t ties_left = UINT32_MAX;  // how many tokens equal to tau may survive
  if (opts_.top_k > 0 && uint32_t(opts_.top_k) < vocab_) {
    // Only candidates >= tau matter: if fewer than k of them exist, top-k removes nothing more.
    // First try the candidates >= p_max / 4096, which with model logits usually number far more than k
    // yet far fewer than the vocabulary; fall back to all of them when that guess is too high.
    const uint32_t k = uint32_t(opts_.top_k);
    const float guess = p_max * 0x1.0p-12f;
    Cutoff c;
    if (guess > tau) c = select_.by_count(p, vocab_, k, guess);
    if (!c.found) c = select_.by_count(p, vocab_, k, tau);
    if (c.found) {
      tau = c.value;
      ties_left = k - c.count_above;
    }
  }
  // No filter cut anything (the defaults: top_p 1, no top_k or min_p): keep every id, in order. Zero
  // weights never get drawn, so this equals keeping p > 0, without writing 65536 ids per token.
  if (tau == 0.0f && ties_left == UINT32_MAX) {
    if (!kept_all_) std::iota(kept_ids_.begin(), kept_ids_.end(), 0u);
    kept_all_ = true;
    kept_n_ = vocab_;
    return;
  }
  kept_all_ = false;
  const float floor = std::max(tau, std::numeric_limits<float>::denorm_min());
  size_t n = 0;
  if (ties_left == UINT32_MAX) {
    n = collect_at_least(p, vocab_, floor, kept_ids_.data());
  } else {
    for (uint32_t i = 0; i < vocab_; ++i) {
      if (p[i] > floor || (p[i] == floor && ties_left > 0)) {
        if (p[i] == floor) --ties_left;
        kept_ids_[n++] = i;
      }
    }
  }
  kept_n_ = n;
}

uint32_t Sampler::draw() {
  // Inverse CDF over ascending ids, in two levels: the block sums (each a sequential sum in double),
  // then the block that holds r, scanned from the sum of the blocks before it. The total is the sum
  // of the block sums in order, so the block walk ends at `total` > r; the fallbacks only cover r
  // rounding past a block's or the total's end.
  const float* w = kept_weights();
  const size_t nb = (kept_n_ + kDrawBlock - 1) / kDrawBlock;
  for (size_t b0 = 0; b0 < nb; b0 += 8) {
    double s[8] = {};
    const size_t m = std::min<size_t>(8, nb - b0);
    const size_t full = (b0 + m) * kDrawBlock <= kept_n_ ? m : m - 1;  // blocks with all kDrawBlock weights
    for (size_t i = 0; i < kDrawBlock; ++i)
      for (size_t j = 0; j < full; ++j) s[j] += w[(b0 + j) * kDrawBlock + i];
    for (size_t j = full; j < m; ++j)
      for (size_t k = (b0 + j) * kDrawBlock; k < kept_n_; ++k) s[j] += w[k];
    for (size_t j = 0; j < m; ++j) block_sums_[b0 + j] = s[j];
  }
  double total = 0.0;
  for (size_t b = 0; b < nb; ++b) total += block_sums_[b];
  kept_total_ = total;
  last_probs_valid_ = false;
  const double r = rng_.uniform() * total;
  double acc = 0.0;
  size_t last_block = 0;
  for (size_t b = 0; b < nb; ++b) {
    if (block_sums_[b] <= 0.0) continue;
    last_block = b;
    if (r < acc + block_sums_[b]) break;
    acc += block_sums_[b];
  }
  const size_t begin = last_block * kDrawBlock, end = std::min(kept_n_, begin + kDrawBlock);
  size_t last_positive = begin;
  for (size_t k = begin; k < end; ++k) {
    if (w[k] <= 0.0f) continue;
    acc += w[k];
    last_positive = k;
    if (r < acc) return kept_ids_[k];
  }
  return kept_ids_[last_positive];
}

void Sampler::accept(uint32_t token, float weight) {
  if (token >= vocab_)
    throw Error(ErrorCode::Argument,
                "accept: token must be < vocab_size " + std::to_string(vocab_) + ", got " + std::to_string(token));
  if (!(weight >= 0.0f && weight <= FLT_MAX))
    throw Error(ErrorCode::Argument, "accept: weight must be finite and >= 0, got " + std::to_string(weight));
  occ_.add(token, weight, opts_.penalty_decay);
}

void Sampler::reset() { occ_.clear(); }

const std::vector<float>& Sampler::last_probs() const {
  if (!last_probs_valid_) {
    std::fill(last_probs_.begin(), last_probs_.end(), 0.0f);
    for (size_t k = 0; k < kept_n_; ++k) last_probs_[kept_ids_[k]] = float(kept_weights()[k] / kept_total_);
    last_probs_valid_ = true;
  }
  return last_probs_;
}

}  // namespace rwkv
