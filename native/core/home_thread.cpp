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

void HomeThread::run(const std::function<void()>& fn) {
  std::lock_guard<std::mutex> turn(call_);
  std::unique_lock<std::mutex> lock(m_);
  job_ = &fn;
  done_ = false;
  error_ = nullptr;
  cv_.notify_all();
  cv_.wait(lock, [this] { return done_; });
  job_ = nullptr;
  if (error_) std::rethrow_exception(error_);
}

void HomeThread::main() {
  std::unique_lock<std::mutex> lock(m_);
  for (;;) {
    cv_.wait(lock, [this] { return stop_ || (job_ && !done_); });
    if (stop_) return;
    const std::function<void()>* job = job_;
    lock.unlock();
    std::exception_ptr error;
    try {
      (*job)();
    } catch (...) {
      error = std::current_exception();
    }
    lock.lock();
    error_ = error;
    done_ = true;
    cv_.notify_all();
  }
}

}  // namespace rwkv
