// Whole forward passes on a synthetic RWKV-7 0.1B model (random weights of the real shape, written
// once to $TMPDIR): one decode step, and prompt passes of several chunk sizes (which is how the default
// batchSize was chosen). Compare with bench_tokenizer / bench_sampler: the per-token cost of tokenizing
// and sampling against one forward pass.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <map>
#include <string>
#include <memory>
#include <vector>

#include "engine.h"
#include "synthetic/synthetic_model.h"

namespace {

std::shared_ptr<rwkv::Model> synthetic_model(const char* type_name) {
  static std::map<std::string, std::shared_ptr<rwkv::Model>> models;
  auto& m = models[type_name];
  if (m) return m;
  rwkv::DType type;
  rwkv::dtype_from_name(type_name, &type);
  const auto path = std::filesystem::temp_directory_path() / (std::string("rwkv-bench-0.1B-") + type_name + ".bin");
  if (!std::filesystem::exists(path)) rwkv::write_synthetic_model(rwkv::synthetic_shape("0.1B"), type, 42, path.string());
  m = rwkv::Model::load(path.string(), {.threads = 2});
  return m;
}

void BM_Decode(benchmark::State& st, const char* type) {
  auto model = synthetic_model(type);
  std::vector<float> state = model->initial_state(), logits(size_t(model->info().n_vocab));
  uint32_t token = 1000;
  for (auto _ : st) {
    model->eval(&token, 1, state.data(), logits.data());
    token = (token * 31 + 7) % 65000;
  }
  st.counters["tok/s"] = benchmark::Counter(double(st.iterations()), benchmark::Counter::kIsRate);
  st.counters["GB/s"] = benchmark::Counter(double(st.iterations()) * double(model->info().decode_bytes) / 1e9, benchmark::Counter::kIsRate);
}

// 512 prompt tokens fed in chunks of st.range(0): one sequence pass per chunk.
void BM_Prefill512(benchmark::State& st, const char* type) {
  auto model = synthetic_model(type);
  std::vector<uint32_t> tokens(512);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = uint32_t((i * 7919) % 65000 + 1);
  std::vector<float> logits(size_t(model->info().n_vocab));
  for (auto _ : st) {
    std::vector<float> state = model->initial_state();
    model->eval(tokens.data(), tokens.size(), state.data(), logits.data(), size_t(st.range(0)));
  }
  st.counters["tok/s"] = benchmark::Counter(double(st.iterations()) * 512, benchmark::Counter::kIsRate);
}

}  // namespace

BENCHMARK_CAPTURE(BM_Decode, Q8_0, "Q8_0")->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK_CAPTURE(BM_Decode, FP16, "FP16")->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK_CAPTURE(BM_Prefill512, Q8_0, "Q8_0")->Arg(16)->Arg(32)->Arg(64)->Arg(128)->Arg(256)->Unit(benchmark::kMillisecond)->Iterations(2);
BENCHMARK_CAPTURE(BM_Prefill512, FP16, "FP16")->Arg(16)->Arg(32)->Arg(64)->Arg(128)->Arg(256)->Unit(benchmark::kMillisecond)->Iterations(2);

namespace {
// B sequences decoding together: one eval_batch pass per step, one token each. Aggregate tokens/s
// against BM_Decode is what batching buys (the weights are read once per pass).
void BM_DecodeBatch(benchmark::State& st, const char* type) {
  auto model = synthetic_model(type);
  const size_t B = size_t(st.range(0)), V = size_t(model->info().n_vocab);
  std::vector<std::vector<float>> states(B, model->initial_state()), logits(B, std::vector<float>(V));
  std::vector<uint32_t> tokens(B);
  std::vector<rwkv::SequenceInput> in(B);
  for (auto _ : st) {
    for (size_t b = 0; b < B; ++b) {
      tokens[b] = uint32_t((b * 7919 + st.iterations() * 31) % 65000 + 1);
      in[b] = rwkv::SequenceInput{&tokens[b], 1, states[b].data(), logits[b].data()};
    }
    model->eval_batch(in);
  }
  st.counters["tok/s"] = benchmark::Counter(double(st.iterations() * B), benchmark::Counter::kIsRate);
}
}  // namespace

BENCHMARK_CAPTURE(BM_DecodeBatch, Q8_0, "Q8_0")->Arg(1)->Arg(4)->Arg(8)->Arg(16)->Unit(benchmark::kMillisecond)->MinTime(1.0);
BENCHMARK_CAPTURE(BM_DecodeBatch, FP16, "FP16")->Arg(1)->Arg(8)->Unit(benchmark::kMillisecond)->MinTime(1.0);
