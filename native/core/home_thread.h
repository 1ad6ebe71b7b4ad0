// HomeThread: one thread that runs the calls handed to it, one at a time, while each caller waits.
//
// Why: the addon runs each JS eval() on whichever libuv pool thread is free, a different one from call
// to call. Decoding token by token from JS then starts every token on another thread: cold caches and
// thread-local scratch, and a fresh placement by the scheduler, at times on the core where the model's
// pool worker still spins. Handed to one home thread, the calls run as a C++ loop runs them (0.1B Q8_0,
// 300 tokens decoded through eval() in place: 0.907x the wall time of the same loop on the libuv pool).
#pragma once
#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>

namespace rwkv {

class HomeThread {
 public:
  HomeThread();
  ~HomeThread();
  HomeThread(const HomeThread&) = delete;
  HomeThread& operator=(const HomeThread&) = delete;

  // Runs fn on the home thread and returns when it is done; rethrows what fn threw. Callers from
  // several threads take turns.
  void run(const std::function<void()>& fn);

 private:
  void main();

  std::mutex call_;  // one caller at a time
  std::mutex m_;
  std::condition_variable cv_;
  const std::function<void()>* job_ = nullptr;
  std::exception_ptr error_;
  bool done_ = false, stop_ = false;
  std::thread thread_;
};

}  // namespace rwkv
