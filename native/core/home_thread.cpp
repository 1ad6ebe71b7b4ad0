#include "core/home_thread.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define RWKV_HOME_PAUSE() _mm_pause()
#else
#define RWKV_HOME_PAUSE() ((void)0)
#endif

namespace rwkv {

namespace {
// Polls before sleeping after a call: ~100 us, as the thread pool's workers (a pause is ~24 ns on Zen 5).
constexpr int kSpinIterations = 4000;
}  // namespace

HomeThread::HomeThread() : thread_([this] { main(); }) {}

HomeThread::~HomeThread() {
  {
    std::lock_guard<std::mutex> lock(m_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void HomeThread::post(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(m_);
    queue_.push_back(std::move(fn));
    queued_.fetch_add(1, std::memory_order_release);
  }
  cv_.notify_all();
}

void HomeThread::run(const std::function<void()>& fn) {
  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  std::exception_ptr error;
  post([&] {
    try {
      fn();
    } catch (...) {
      error = std::current_exception();
    }
    std::lock_guard<std::mutex> lock(m);
    done = true;
    cv.notify_all();
  });
  std::unique_lock<std::mutex> lock(m);
  cv.wait(lock, [&] { return done; });
  if (error) std::rethrow_exception(error);
}

void HomeThread::main() {
  std::unique_lock<std::mutex> lock(m_);
  for (;;) {
    if (queue_.empty() && !stop_) {
      lock.unlock();
      for (int i = 0; i < kSpinIterations && queued_.load(std::memory_order_acquire) == 0; ++i) RWKV_HOME_PAUSE();
      lock.lock();
    }
    cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stop_, and nothing left to run
    std::function<void()> job = std::move(queue_.front());
    queue_.pop_front();
    queued_.fetch_sub(1, std::memory_order_relaxed);
    lock.unlock();
    try {
      job();
    } catch (...) {
    }
    job = nullptr;  // what it held goes here, not under the lock
    lock.lock();
  }
}

}  // namespace rwkv
