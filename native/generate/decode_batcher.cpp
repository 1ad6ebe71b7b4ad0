#include "generate/decode_batcher.h"

#include <chrono>

namespace rwkv {

void DecodeBatcher::join() {
  std::lock_guard<std::mutex> lock(mutex_);
  ++decoders_;
}

void DecodeBatcher::leave() {
  std::lock_guard<std::mutex> lock(mutex_);
  --decoders_;
  cv_.notify_all();  // a leader may be waiting for this decoder's step
}

void DecodeBatcher::step(uint32_t token, float* state, float* logits, uint64_t gpu_generation) {
  Pending me;
  me.token = token;
  me.input = SequenceInput{&me.token, 1, state, logits, gpu_generation};
  std::unique_lock<std::mutex> lock(mutex_);
  queue_.push_back(&me);
  cv_.notify_all();
  for (;;) {
    if (me.done) break;
    if (!running_) {
      // Leader: wait until every decoder has queued (they are sampling their next token, which takes
      // microseconds), but never long: a decoder may be busy elsewhere (a prompt chunk, a callback).
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(5);
      cv_.wait_until(lock, deadline, [&] { return int(queue_.size()) >= decoders_ || me.done || running_; });
      if (me.done) break;
      if (running_ || queue_.empty()) continue;  // another leader took over while we waited
      running_ = true;
      std::vector<Pending*> batch;
      batch.swap(queue_);
      lock.unlock();
      std::vector<SequenceInput> inputs;
      for (Pending* p : batch) inputs.push_back(p->input);
      std::exception_ptr error;
      const auto t0 = std::chrono::steady_clock::now();
      try {
        model_.eval_batch(inputs);
      } catch (...) {
        error = std::current_exception();
      }
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      lock.lock();
      pass_seconds_ += seconds;
      for (Pending* p : batch) {
        p->done = true;
        p->error = error;
      }
      ++passes_;
      steps_ += batch.size();
      running_ = false;
      cv_.notify_all();
      continue;
    }
    cv_.wait(lock);
  }
  if (me.error) std::rethrow_exception(me.error);
}

}  // namespace rwkv
