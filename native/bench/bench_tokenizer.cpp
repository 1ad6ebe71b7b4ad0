// Encode throughput of the World and NeoX tokenizers on a few KB of mixed text
// (English, code, CJK, emoji, whitespace runs). Reported as bytes_per_second.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "tokenizer/tokenizer.h"

namespace {

// $RWKV_SHARED_DIR, else the shared folder beside the repository, found from the working
// directory or from the binary (which normally sits in <repo>/build*/).
std::string vocab_dir() {
  namespace fs = std::filesystem;
  if (const char* env = std::getenv("RWKV_SHARED_DIR"); env && *env) return std::string(env) + "/vocab/";
  std::error_code ec;
  const fs::path exe_dir = fs::read_symlink("/proc/self/exe", ec).parent_path();
  for (const fs::path& candidate : {fs::path("../shared"), fs::path("../../shared"), exe_dir / "../../shared"}) {
    if (fs::exists(candidate / "vocab", ec)) return (candidate / "vocab").string() + "/";
  }
  return "../shared/vocab/";
}

const std::string& mixed_text() {
  static const std::string text = [] {
    const char* parts[] = {
        "The quick brown fox jumps over the lazy dog. It's 3.14159 o'clock, isn't it? We'll see.\n",
        "RWKV is an RNN with transformer-level LLM performance, trained in parallel like a GPT.\n\n",
        "for (int i = 0; i < n; ++i) {\n    sum += a[i] * b[i];\n}\n",
        "def main():\n\tprint(f\"{value:>8.3f}\")\n        return None\n",
        "人工智能正在改变世界。大型语言模型可以生成文本、翻译语言和回答问题。\n",
        "こんにちは、世界！今日はいい天気ですね。\n",
        "Emoji: 👍🏽 👨‍👩‍👧‍👦 🏳️‍🌈 ❤️ — done…\n",
        "Здравствуй, мир! Ελληνικά κείμενα.     Indented text\n",
    };
    std::string t;
    while (t.size() < 8192)
      for (const char* p : parts) t += p;
    return t;
  }();
  return text;
}

void run_encode(benchmark::State& state, std::unique_ptr<rwkv::Tokenizer> (*load)(const std::string&),
                const std::string& file) {
  const std::string path = vocab_dir() + file;
  if (!std::filesystem::exists(path)) {
    state.SkipWithError(("vocab file not found: " + path + " (set RWKV_SHARED_DIR)").c_str());
    for (auto _ : state) {
    }
    return;
  }
  const auto tokenizer = load(path);
  const std::string& text = mixed_text();
  size_t tokens = 0;
  for (auto _ : state) {
    const auto ids = tokenizer->encode(text);
    tokens = ids.size();
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(text.size()));
  state.counters["tokens"] = double(tokens);
}

void BM_WorldEncode(benchmark::State& state) { run_encode(state, rwkv::Tokenizer::world, "rwkv_vocab_v20230424.txt"); }
void BM_NeoxEncode(benchmark::State& state) { run_encode(state, rwkv::Tokenizer::neox, "20B_tokenizer.json"); }

}  // namespace

BENCHMARK(BM_WorldEncode);
BENCHMARK(BM_NeoxEncode);
