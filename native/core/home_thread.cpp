#include "core/home_thread.h"

namespace rwkv {

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
    cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stop_, and nothing left to run
    std::function<void()> job = std::move(queue_.front());
    queue_.pop_front();
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
