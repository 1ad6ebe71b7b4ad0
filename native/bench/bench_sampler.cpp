// Sampler cost per token on a World-sized vocabulary (65536). Two logit shapes: "peaked" (spread 3, like
// a trained model where a few hundred tokens hold the mass) and "flat" (spread 0.3, the worst case for
// top-p: tens of thousands of tokens survive). Items/s = tokens sampled per second.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "sampler/sampler.h"

namespace {

constexpr uint32_t kVocab = 65536;

std::vector<float> random_logits(float spread) {
  std::mt19937 gen(1234);
  std::normal_distribution<float> nd(0.0f, spread);
  std::vector<float> logits(kVocab);
  for (float& v : logits) v = nd(gen);
  return logits;
}

// pip's PIPELINE_ARGS defaults: temperature 1, top_p 0.85, presence/frequency 0.2, decay 0.996.
rwkv::SamplerOptions pip_defaults() {
  rwkv::SamplerOptions o;
  o.top_p = 0.85f;
  o.presence_penalty = 0.2f;
  o.frequency_penalty = 0.2f;
  return o;
}

void run(benchmark::State& state, const rwkv::SamplerOptions& opts, float spread) {
  const std::vector<float> logits = random_logits(spread);
  rwkv::Sampler sampler(opts, kVocab);
  // 200 distinct prior tokens, so penalties and decay do real work.
  for (uint32_t t = 0; t < 200; ++t) sampler.accept(t * 37 % kVocab);
  for (auto _ : state) {
    const uint32_t token = sampler.sample(logits.data());
    sampler.accept(token);
    benchmark::DoNotOptimize(token);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_SamplePipDefaultsPeaked(benchmark::State& state) { run(state, pip_defaults(), 3.0f); }
void BM_SamplePipDefaultsFlat(benchmark::State& state) { run(state, pip_defaults(), 0.3f); }
// The library's defaults (temperature 1, top_p 1, no penalties): every token survives, so this is
// the draw over the whole vocabulary.
void BM_SampleDefaultsFlat(benchmark::State& state) { run(state, rwkv::SamplerOptions{}, 0.3f); }
void BM_SampleTopKTemp(benchmark::State& state) {
  rwkv::SamplerOptions o = pip_defaults();
  o.top_p = 1.0f;
  o.top_k = 40;
  o.temperature = 0.7f;
  run(state, o, 3.0f);
}
void BM_SampleGreedy(benchmark::State& state) {
  rwkv::SamplerOptions o = pip_defaults();
  o.temperature = 0.0f;
  run(state, o, 3.0f);
}

}  // namespace

BENCHMARK(BM_SamplePipDefaultsPeaked)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_SamplePipDefaultsFlat)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_SampleDefaultsFlat)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_SampleTopKTemp)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_SampleGreedy)->Unit(benchmark::kMicrosecond);
