// rwkv_eval_timing: times rwkv::Model::eval from C++ alone, as the baseline of the Node benchmark
// (tools/bench.js): the difference is what the addon and JS add per call.
//   rwkv_eval_timing <model.bin> [--threads 2] [--decode 32] [--prefill 512] [--chunk N] [--runs 3] [--gpu LAYERS] [--json]
// Loads the model (timed), then per run: decodes --decode tokens one eval call each from a state that
// has seen a short prompt, and evaluates --prefill tokens from the initial state in one eval call
// (the engine chunks it into --chunk-token sequence passes; by default the model's prompt_pass_tokens()).
// Prints the median of --runs runs. --gpu: the first LAYERS layers on the GPU (Model::eval copies the
// state to the GPU and back on every call, as an application that passes no generation does).
// Token ids are a fixed pseudo-random sequence, the same as the Node benchmark's.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/error.h"
#include "engine.h"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// Same generator as tools/bench.js tokens(): a 32-bit LCG, ids below n_vocab.
std::vector<uint32_t> tokens(size_t n, uint32_t n_vocab, uint32_t seed) {
  std::vector<uint32_t> t(n);
  uint32_t x = seed;
  for (auto& id : t) {
    x = x * 1664525u + 1013904223u;
    id = (x >> 8) % n_vocab;
  }
  return t;
}

int usage() {
  std::fprintf(stderr,
               "usage: rwkv_eval_timing <model.bin> [--threads 2] [--decode 32] [--prefill 512] [--chunk N]\n"
               "                        [--runs 3] [--gpu LAYERS] [--json]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  const std::string path = argv[1];
  int threads = 2, decode = 32, prefill = 512, chunk = 0, runs = 3;  // chunk 0: the model's pass length
  int gpu_layers = 0;
  bool json = false;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--json") {
      json = true;
      continue;
    }
    if (i + 1 >= argc) return usage();
    const int v = std::atoi(argv[++i]);
    if (v < 0) return usage();
    if (a == "--threads") threads = v;
    else if (a == "--decode") decode = v;
    else if (a == "--prefill") prefill = v;
    else if (a == "--chunk") chunk = v;
    else if (a == "--runs") runs = std::max(v, 1);
    else if (a == "--gpu") gpu_layers = v;
    else return usage();
  }
  try {
    const auto t_load = Clock::now();
    auto model = rwkv::Model::load(path, {.threads = threads, .gpu_layers = gpu_layers, .gpu_required = gpu_layers > 0});
    const double load_s = seconds_since(t_load);
    const rwkv::ModelInfo& info = model->info();
    std::vector<float> logits(size_t(info.n_vocab));
    const std::vector<float> init = model->initial_state();
    const int pass = chunk > 0 ? chunk : int(model->prompt_pass_tokens());

    // Warm-up: a short prompt, which also gives decoding a non-trivial state to start from.
    std::vector<float> primed = init;
    const std::vector<uint32_t> prompt = tokens(16, uint32_t(info.n_vocab), 1);
    model->eval(prompt.data(), prompt.size(), primed.data(), logits.data(), size_t(chunk));

    std::vector<double> decode_tps, call_us, prefill_tps;
    const std::vector<uint32_t> dec = tokens(size_t(decode), uint32_t(info.n_vocab), 2);
    const std::vector<uint32_t> pre = tokens(size_t(prefill), uint32_t(info.n_vocab), 3);
    for (int r = 0; r < runs; ++r) {
      if (decode > 0) {
        std::vector<float> state = primed;
        std::vector<double> per_call;
        const auto t0 = Clock::now();
        for (int i = 0; i < decode; ++i) {
          const auto c0 = Clock::now();
          model->eval(&dec[size_t(i)], 1, state.data(), logits.data());
          per_call.push_back(seconds_since(c0) * 1e6);
        }
        decode_tps.push_back(decode / seconds_since(t0));
        call_us.push_back(median(per_call));
      }
      if (prefill > 0) {
        std::vector<float> state = init;
        const auto t0 = Clock::now();
        model->eval(pre.data(), pre.size(), state.data(), logits.data(), size_t(chunk));
        prefill_tps.push_back(prefill / seconds_since(t0));
      }
    }
    if (json) {
      std::printf(
          "{\"loadS\":%.4f,\"threads\":%d,\"decodeTokens\":%d,\"decodeTps\":%.3f,\"decodeCallUs\":%.2f,"
          "\"prefillTokens\":%d,\"chunk\":%d,\"prefillTps\":%.3f,\"decodeBytes\":%llu,\"stateSize\":%lld}\n",
          load_s, model->threads(), decode, median(decode_tps), median(call_us), prefill, pass, median(prefill_tps),
          (unsigned long long)info.decode_bytes, (long long)info.state_size());
    } else {
      std::printf("%s: load %.3f s, %d threads\n", path.c_str(), load_s, model->threads());
      if (decode > 0)
        std::printf("  decode  %d tokens: %.2f tok/s (median of %d), %.1f us per eval call\n", decode,
                    median(decode_tps), runs, median(call_us));
      if (prefill > 0)
        std::printf("  prefill %d tokens (chunks of %d): %.2f tok/s\n", prefill, pass, median(prefill_tps));
    }
  } catch (const rwkv::Error& e) {
    std::fprintf(stderr, "rwkv_eval_timing: %s (%s)\n", e.what(), e.code_name());
    return 1;
  }
  return 0;
}
