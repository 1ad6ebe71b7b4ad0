// DecodeBatcher: lets concurrent generations on one Model decode together. Each generation thread
// calls step() for its next token; the steps that arrive together run as one eval_batch pass, so N
// streams read the weights once per step instead of N times (decoding is memory-bound: this is where
// concurrency pays). A sequence joins or leaves at any step.
//
// Group commit: the first caller to find no pass running becomes the leader. It waits (briefly) until
// every registered decoder has queued its step, runs the pass for all queued steps, and wakes them.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <vector>

#include "engine.h"

namespace rwkv {

class DecodeBatcher {
 public:
  explicit DecodeBatcher(Model& model) : model_(model) {}

  // A generation announces that it will call step() repeatedly (join) and that it is done (leave).
  void join();
  void leave();
  // Evaluates one token for one sequence, batched with whatever other decoders step at the same time.
  void step(uint32_t token, float* state, float* logits, uint64_t gpu_generation = 0);

  uint64_t passes() const { return passes_; }
  uint64_t steps() const { return steps_; }
  // Time spent inside the passes (eval_batch), all passes together: the rest of a decode phase's wall
  // time is what happens between steps (sampling, waking the decoders, stop checks).
  double pass_seconds() const { return pass_seconds_; }

 private:
  struct Pending {
    SequenceInput input;
    uint32_t token;
    bool done = false;
    std::exception_ptr error;
  };

  Model& model_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<Pending*> queue_;
  int decoders_ = 0;
  bool running_ = false;
  uint64_t passes_ = 0, steps_ = 0;
  double pass_seconds_ = 0;
};

}  // namespace rwkv
