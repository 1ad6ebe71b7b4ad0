// ThreadPool: `n` threads that live as long as the model (n - 1 workers plus the caller).
// run(tasks, fn) calls fn(i) for i in [0, tasks) across the threads and returns when all are done.
// Workers spin briefly after a job (the next matvec of a token follows within microseconds), then
// sleep on a futex, so an idle model costs no CPU and never competes with Node's main thread.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace rwkv {

class ThreadPool {
 public:
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }
  // fn(task, thread_index). Not reentrant; one caller at a time (callers serialise with a lock).
  void run(int64_t tasks, const std::function<void(int64_t task, int thread)>& fn);
  // Splits [0, n) into contiguous ranges, about `grain` items or more each, one call per range.
  void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t begin, int64_t end, int thread)>& fn);

 private:
  void worker_main(int index);
  void work(int thread);

  int n_threads_;
  std::vector<std::thread> workers_;
  const std::function<void(int64_t, int)>* job_ = nullptr;
  int64_t job_tasks_ = 0;
  std::atomic<int64_t> next_task_{0};
  std::atomic<int> busy_{0};
  std::atomic<uint32_t> generation_{0};
  std::atomic<bool> stop_{false};
};

}  // namespace rwkv
