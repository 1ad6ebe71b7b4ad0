// rwkv_bandwidth: measures the machine's memory read bandwidth, the ceiling of CPU decoding (a
// decoded token streams every weight but the embedding table once).
//   rwkv_bandwidth [--mb 1024] [--reps 7] [--threads 1,2] [--file path] [--json]
//   rwkv_bandwidth --serve [--mb 1024] [--threads 2] [--file path]
// Sums a buffer (anonymous memory, transparent huge pages requested; or a memory-mapped file, which
// is what the engine reads: --file) with 1, 2, ... threads, each thread pinned to a CPU of its own
// and summing a contiguous slice (run_passes times a pass from inside those threads), and prints
// GB/s (1e9 bytes/s) per thread count: the median and the best of --reps passes.
// --serve (one thread count) prepares the buffer once, prints {"ready":true,...}, then answers each
// stdin line `measure <ms>` with {"gbs":<median pass GB/s>,"passes":n,"ms":elapsed}: whole passes for
// about <ms> (at least one), so a caller can sample the bandwidth of the moment between other work
// without paying for a new process and a fresh 1 GiB buffer each time. EOF or `quit` ends it.
// The hot loop uses AVX-512 loads where the CPU has them (chosen at run time), else a plain loop
// the compiler vectorises; both keep 8 independent accumulators so the loop is bound by loads.
#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace {

using Clock = std::chrono::steady_clock;

uint64_t sum_plain(const uint64_t* p, size_t n) {
  uint64_t a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) a[k] += p[i + k];
  for (; i < n; ++i) a[0] += p[i];
  uint64_t s = 0;
  for (int k = 0; k < 8; ++k) s += a[k];
  return s;
}

#if defined(__x86_64__)
// 8 zmm accumulators, 512 bytes per iteration. `p` is 64-byte aligned, n a multiple of 64 words
// (the caller passes the aligned bulk and sums the tail with sum_plain).
__attribute__((target("avx512f"))) uint64_t sum_avx512(const uint64_t* p, size_t n) {
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
  for (size_t i = 0; i < n; i += 64) {
    a0 = _mm512_add_epi64(a0, _mm512_load_si512((const void*)(p + i)));
    a1 = _mm512_add_epi64(a1, _mm512_load_si512((const void*)(p + i + 8)));
    a2 = _mm512_add_epi64(a2, _mm512_load_si512((const void*)(p + i + 16)));
    a3 = _mm512_add_epi64(a3, _mm512_load_si512((const void*)(p + i + 24)));
    a4 = _mm512_add_epi64(a4, _mm512_load_si512((const void*)(p + i + 32)));
    a5 = _mm512_add_epi64(a5, _mm512_load_si512((const void*)(p + i + 40)));
    a6 = _mm512_add_epi64(a6, _mm512_load_si512((const void*)(p + i + 48)));
    a7 = _mm512_add_epi64(a7, _mm512_load_si512((const void*)(p + i + 56)));
  }
  a0 = _mm512_add_epi64(_mm512_add_epi64(_mm512_add_epi64(a0, a1), _mm512_add_epi64(a2, a3)),
                        _mm512_add_epi64(_mm512_add_epi64(a4, a5), _mm512_add_epi64(a6, a7)));
  alignas(64) uint64_t lanes[8];
  _mm512_store_si512((void*)lanes, a0);
  return sum_plain(lanes, 8);
}
#endif

bool have_avx512() {
#if defined(__x86_64__)
  return __builtin_cpu_supports("avx512f");
#else
  return false;
#endif
}

uint64_t sum_slice(const uint64_t* p, size_t n, bool avx512) {
#if defined(__x86_64__)
  if (avx512) {
    // Align the start to 64 bytes, then whole 512-byte blocks, then the tail.
    size_t head = (64 - (reinterpret_cast<uintptr_t>(p) & 63)) / 8 % 8;
    head = std::min(head, n);
    uint64_t s = sum_plain(p, head);
    const size_t bulk = (n - head) / 64 * 64;
    s += sum_avx512(p + head, bulk);
    s += sum_plain(p + head + bulk, n - head - bulk);
    return s;
  }
#endif
  return sum_plain(p, n);
}

struct Result {
  int threads;
  double median_gbs, best_gbs;
};

// Threads meet between passes at a spinning barrier (sense-reversing), as the engine's pool does
// between parallel regions: a thread that slept would start its next slice late by its wake-up
// (milliseconds at times on a 2-vCPU VM), and the pass would measure that rather than the memory.
class SpinBarrier {
 public:
  explicit SpinBarrier(int n) : n_(n) {}
  void wait() {
    const unsigned gen = gen_.load(std::memory_order_acquire);
    if (count_.fetch_add(1, std::memory_order_acq_rel) + 1 == n_) {
      count_.store(0, std::memory_order_relaxed);
      gen_.store(gen + 1, std::memory_order_release);
      return;
    }
    while (gen_.load(std::memory_order_acquire) == gen) {
#if defined(__x86_64__)
      _mm_pause();
#endif
    }
  }

 private:
  const int n_;
  std::atomic<int> count_{0};
  std::atomic<unsigned> gen_{0};
};

// The CPUs this process may run on, in order.
std::vector<int> allowed_cpus() {
  std::vector<int> cpus;
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0)
    for (int c = 0; c < CPU_SETSIZE; ++c)
      if (CPU_ISSET(c, &set)) cpus.push_back(c);
  return cpus;
}

// Holds the calling thread on one CPU while it lives (none where cpu < 0), then restores its mask:
// two threads that the scheduler put on one vCPU (a new thread starts beside its parent) would spin
// at the barrier against each other and measure one core's bandwidth.
class PinToCpu {
 public:
  explicit PinToCpu(int cpu) {
    if (cpu < 0 || sched_getaffinity(0, sizeof old_, &old_) != 0) return;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    pinned_ = sched_setaffinity(0, sizeof one, &one) == 0;
  }
  ~PinToCpu() {
    if (pinned_) sched_setaffinity(0, sizeof old_, &old_);
  }
  PinToCpu(const PinToCpu&) = delete;
  PinToCpu& operator=(const PinToCpu&) = delete;

 private:
  cpu_set_t old_;
  bool pinned_ = false;
};

// Runs passes of `nt` threads (the calling thread and nt - 1 more) over p[0, n), each thread its
// contiguous slice, while more(passes done, seconds since the first began) says so; returns each
// pass's seconds, from the first thread's start to the last one's end as the threads see it. No
// thread times the others from outside: with nt threads on nt vCPUs, an extra timing thread woken
// after the start would read its clock late (short passes then looked up to 5x faster).
template <class More>
std::vector<double> run_passes(const uint64_t* p, size_t n, int nt, bool avx512, More more) {
  std::vector<double> secs;
  std::atomic<uint64_t> sink{0};
  std::atomic<bool> go{false};
  SpinBarrier meet(nt);
  std::vector<Clock::time_point> began(static_cast<size_t>(nt)), ended(static_cast<size_t>(nt));
  const auto begin = Clock::now();
  const std::vector<int> cpus = allowed_cpus();
  auto body = [&](int t) {
    const PinToCpu pin(cpus.empty() ? -1 : cpus[size_t(t) % cpus.size()]);
    const size_t lo = n * size_t(t) / size_t(nt), hi = n * size_t(t + 1) / size_t(nt);
    for (;;) {
      if (t == 0) go = more(int(secs.size()), std::chrono::duration<double>(Clock::now() - begin).count());
      meet.wait();
      if (!go.load()) return;
      began[size_t(t)] = Clock::now();
      sink += sum_slice(p + lo, hi - lo, avx512);
      ended[size_t(t)] = Clock::now();
      meet.wait();
      if (t == 0) {
        const auto first = *std::min_element(began.begin(), began.end());
        const auto last = *std::max_element(ended.begin(), ended.end());
        secs.push_back(std::chrono::duration<double>(last - first).count());
      }
    }
  };
  std::vector<std::thread> others;
  for (int t = 1; t < nt; ++t) others.emplace_back(body, t);
  body(0);
  for (auto& w : others) w.join();
  if (sink.load() == 42) std::fprintf(stderr, " ");  // keeps the sums alive
  return secs;
}

// Runs `reps` timed passes (after one untimed warm-up pass) with `nt` threads over p[0, n).
Result measure(const uint64_t* p, size_t n, int nt, int reps, bool avx512) {
  std::vector<double> secs = run_passes(p, n, nt, avx512, [&](int passes, double) { return passes < reps + 1; });
  secs.erase(secs.begin());
  std::sort(secs.begin(), secs.end());
  const double bytes = double(n) * 8;
  return {nt, bytes / secs[secs.size() / 2] / 1e9, bytes / secs.front() / 1e9};
}

// --serve: answers `measure <ms>` lines until EOF or `quit`. One JSON line per request, flushed, as
// the caller waits for it. No warm-up pass: the buffer stays resident between requests.
int serve(const uint64_t* p, size_t n, int nt, bool avx512, const std::string& source) {
  std::printf("{\"ready\":true,\"bytes\":%zu,\"threads\":%d,\"avx512\":%s,\"source\":\"%s\"}\n", n * 8, nt,
              avx512 ? "true" : "false", source.c_str());
  std::fflush(stdout);
  char line[256];
  while (std::fgets(line, sizeof line, stdin)) {
    double ms = 0;
    if (std::strncmp(line, "quit", 4) == 0) break;
    if (std::sscanf(line, "measure %lf", &ms) != 1 || !(ms >= 0)) {
      std::printf("{\"error\":\"expected 'measure <ms>' or 'quit'\"}\n");
      std::fflush(stdout);
      continue;
    }
    const auto t0 = Clock::now();
    std::vector<double> secs =
        run_passes(p, n, nt, avx512, [&](int passes, double s) { return passes == 0 || s * 1e3 < ms; });
    const double elapsed_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    std::sort(secs.begin(), secs.end());
    std::printf("{\"gbs\":%.2f,\"passes\":%zu,\"ms\":%.1f}\n", double(n) * 8 / secs[secs.size() / 2] / 1e9,
                secs.size(), elapsed_ms);
    std::fflush(stdout);
  }
  return 0;
}

int usage() {
  std::fprintf(stderr,
               "usage: rwkv_bandwidth [--mb 1024] [--reps 7] [--threads 1,2] [--file path] [--json]\n"
               "       rwkv_bandwidth --serve [--mb 1024] [--threads 2] [--file path]\n"
               "  sums a buffer (or a memory-mapped file) with each thread count and prints read GB/s;\n"
               "  --serve answers stdin lines 'measure <ms>' with one JSON line each, until EOF or 'quit'\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  size_t mb = 1024;
  int reps = 7;
  std::vector<int> thread_counts = {1, 2};
  std::string file;
  bool json = false, serve_mode = false, threads_given = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    if (a == "--json") {
      json = true;
    } else if (a == "--serve") {
      serve_mode = true;
    } else if (a == "--mb") {
      const char* v = next();
      if (!v || (mb = std::strtoull(v, nullptr, 10)) == 0) return usage();
    } else if (a == "--reps") {
      const char* v = next();
      if (!v || (reps = std::atoi(v)) <= 0) return usage();
    } else if (a == "--threads") {
      const char* v = next();
      if (!v) return usage();
      thread_counts.clear();
      threads_given = true;
      for (const char* s = v; *s;) {
        char* end = nullptr;
        const long t = std::strtol(s, &end, 10);
        if (end == s || t <= 0 || t > 1024) return usage();
        thread_counts.push_back(int(t));
        s = *end == ',' ? end + 1 : end;
      }
    } else if (a == "--file") {
      const char* v = next();
      if (!v) return usage();
      file = v;
    } else {
      return usage();
    }
  }
  if (serve_mode && !threads_given) thread_counts = {2};
  if (serve_mode && thread_counts.size() != 1) return usage();

  const uint64_t* data = nullptr;
  size_t bytes = 0;
  if (!file.empty()) {
    const int fd = open(file.c_str(), O_RDONLY);
    struct stat st {};
    if (fd < 0 || fstat(fd, &st) != 0 || st.st_size < 4096) {
      std::fprintf(stderr, "rwkv_bandwidth: cannot open %s\n", file.c_str());
      return 1;
    }
    bytes = size_t(st.st_size) / 64 * 64;
    void* m = mmap(nullptr, size_t(st.st_size), PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED) {
      std::fprintf(stderr, "rwkv_bandwidth: cannot map %s\n", file.c_str());
      return 1;
    }
    data = static_cast<const uint64_t*>(m);
  } else {
    bytes = mb << 20;
    void* m = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
      std::fprintf(stderr, "rwkv_bandwidth: cannot allocate %zu MB\n", mb);
      return 1;
    }
    madvise(m, bytes, MADV_HUGEPAGE);
    // Non-zero contents, so no page is the shared zero page.
    uint64_t* w = static_cast<uint64_t*>(m);
    for (size_t i = 0; i < bytes / 8; ++i) w[i] = i * 0x9E3779B97F4A7C15ull;
    data = w;
  }

  const bool avx512 = have_avx512();
  if (serve_mode) return serve(data, bytes / 8, thread_counts[0], avx512, file.empty() ? "anonymous" : "file");
  std::vector<Result> results;
  for (int nt : thread_counts) results.push_back(measure(data, bytes / 8, nt, reps, avx512));

  if (json) {
    std::printf("{\"bytes\":%zu,\"reps\":%d,\"avx512\":%s,\"source\":\"%s\",\"results\":[", bytes, reps,
                avx512 ? "true" : "false", file.empty() ? "anonymous" : "file");
    for (size_t i = 0; i < results.size(); ++i)
      std::printf("%s{\"threads\":%d,\"medianGBs\":%.2f,\"bestGBs\":%.2f}", i ? "," : "", results[i].threads,
                  results[i].median_gbs, results[i].best_gbs);
    std::printf("]}\n");
  } else {
    std::printf("read bandwidth, %.0f MB %s, %s loads, %d passes\n", double(bytes) / 1e6,
                file.empty() ? "anonymous buffer" : file.c_str(), avx512 ? "AVX-512" : "scalar", reps);
    for (const Result& r : results)
      std::printf("  %2d thread%s: %6.1f GB/s median, %6.1f GB/s best\n", r.threads, r.threads == 1 ? " " : "s",
                  r.median_gbs, r.best_gbs);
  }
  return 0;
}
