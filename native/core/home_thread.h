// HomeThread: one thread that runs the calls handed to it, one at a time, in the order they came.
//
// Why: the addon used to run each JS eval() on whichever libuv pool thread was free, a different one from
// call to call. Decoding token by token from JS then started every token on another thread: cold caches and
// thread-local scratch, and a fresh placement by the scheduler, at times on the core where the model's
// pool worker still spins. Handed to one home thread, the calls run as a C++ loop runs them (0.1B Q8_0,
// 300 tokens decoded through eval() in place: 0.907x the wall time of the same loop on the libuv pool).
// post() hands a call over without waiting, so the addon can go from Node's main thread straight to the
// home thread and back, instead of through a libuv pool thread that only waits (a hand-over each way costs
// ~15 us on a 2-vCPU machine). After a call the thread spins ~100 us before it sleeps: a decode loop's next
// eval() comes within that, and finding the thread awake saves its wake-up (tiny model, eval() through Node:
// 165-180 -> 140-150 us a call; 0.1B Q8_0 decode through eval() unchanged, 142-152 tok/s either way).
#pragma once
#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>

namespace rwkv {

class HomeThread {
 public:
  HomeThread();
  // Runs the calls already posted, then ends the thread. Must not run on the home thread itself (a call
  // must not drop the last reference to what owns this).
  ~HomeThread();
  HomeThread(const HomeThread&) = delete;
  HomeThread& operator=(const HomeThread&) = delete;

  // Runs fn on the home thread and returns when it is done; rethrows what fn threw.
  void run(const std::function<void()>& fn);
  // Queues fn and returns at once. fn must not throw (what it throws is dropped); it reports its own end.
  void post(std::function<void()> fn);

 private:
  void main();

  std::mutex m_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stop_ = false;
  std::atomic<int> queued_{0};  // queue_.size(), readable without the lock (the spin before sleeping)
  std::thread thread_;
};

}  // namespace rwkv
