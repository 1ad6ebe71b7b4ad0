// rwkv_make_synthetic: writes a random-weight RWKV-7 model of a real size, for benchmarks.
//   rwkv_make_synthetic <0.1B|0.4B|1.5B|2.9B|7B> <out.bin> [--type FP16|FP32|Q8_0|Q5_1|Q5_0|Q4_1|Q4_0]
//                       [--seed N] [--gguf out.gguf] [--vocab rwkv_vocab_v20230424.txt]
// The same size and seed always give the same weights, in the .bin and in the GGUF file.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>

#include "core/dtype.h"
#include "core/error.h"
#include "synthetic/synthetic_model.h"

namespace {

int usage() {
  std::fprintf(stderr,
               "usage: rwkv_make_synthetic <0.1B|0.4B|1.5B|2.9B|7B> <out.bin> [--type FP16] [--seed N]\n"
               "                           [--gguf out.gguf] [--vocab rwkv_vocab_v20230424.txt]\n"
               "types: FP32 FP16 Q8_0 Q5_1 Q5_0 Q4_1 Q4_0 (default FP16); seed default 42\n");
  return 2;
}

// "\rwriting x.bin:  42%" on stderr, redrawn only when the percentage changes.
std::function<void(double)> progress_line(const std::string& path) {
  return [path, last = -1](double f) mutable {
    const int pct = int(f * 100);
    if (pct == last) return;
    last = pct;
    std::fprintf(stderr, "\rwriting %s: %3d%%", path.c_str(), pct);
    std::fflush(stderr);
  };
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return usage();
  const std::string size = argv[1], out = argv[2];
  rwkv::DType type = rwkv::DType::F16;
  uint64_t seed = 42;
  std::string gguf, vocab;
  for (int i = 3; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) return usage();
    const std::string v = argv[++i];
    if (a == "--type") {
      if (!rwkv::dtype_from_name(v, &type)) {
        std::fprintf(stderr, "unknown type '%s'\n", v.c_str());
        return usage();
      }
    } else if (a == "--seed") {
      char* end = nullptr;
      seed = std::strtoull(v.c_str(), &end, 0);
      if (!end || *end) return usage();
    } else if (a == "--gguf") {
      gguf = v;
    } else if (a == "--vocab") {
      vocab = v;
    } else {
      return usage();
    }
  }
  try {
    const rwkv::SyntheticShape shape = rwkv::synthetic_shape(size);
    auto t0 = std::chrono::steady_clock::now();
    rwkv::write_synthetic_model(shape, type, seed, out, progress_line(out));
    auto t1 = std::chrono::steady_clock::now();
    std::fprintf(stderr, "\rwrote %s (%s %s, seed %llu) in %.1f s\n", out.c_str(), size.c_str(), rwkv::dtype_name(type),
                 (unsigned long long)seed, std::chrono::duration<double>(t1 - t0).count());
    if (!gguf.empty()) {
      rwkv::write_synthetic_gguf(shape, seed, gguf, vocab, progress_line(gguf), type);
      auto t2 = std::chrono::steady_clock::now();
      std::fprintf(stderr, "\rwrote %s (GGUF rwkv7, %s) in %.1f s\n", gguf.c_str(),
                   rwkv::dtype_name(rwkv::synthetic_gguf_type(type)),
                   std::chrono::duration<double>(t2 - t1).count());
    }
  } catch (const rwkv::Error& e) {
    std::fprintf(stderr, "\nrwkv_make_synthetic: %s (%s)\n", e.what(), e.code_name());
    return 1;
  }
  return 0;
}
