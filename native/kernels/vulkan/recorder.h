// Recorder: writes compute work into one command buffer. A model records a whole token step
// (every offloaded layer, the head, the copies in and out) once per token count and replays it.
// Consecutive dispatches are separated by barrier() where one reads what another wrote.
#pragma once
#include <cstring>
#include <string>
#include <vector>

#include "kernels/vulkan/buffer.h"
#include "kernels/vulkan/pipeline.h"

namespace rwkv::vk {

class Recorder {
 public:
  Recorder(Device& device, Pipelines& pipelines, VkCommandBuffer cb) : device_(device), pipelines_(pipelines), cb_(cb) {}

  void begin();  // for repeated submission (no ONE_TIME flag)
  void end();

  // Push constants `pc` (at most 128 bytes) and `groups` workgroups; counts above the device's x limit
  // are spread over y, and shaders that allow that rebuild the flat index (see common.glsl).
  template <class PC>
  void dispatch(VkPipeline pipeline, const PC& pc, uint32_t groups, const char* label = "") {
    static_assert(sizeof(PC) <= kPushConstantBytes, "push constants larger than 128 bytes");
    dispatch_raw(pipeline, &pc, sizeof(PC), groups, label);
  }
  void dispatch_raw(VkPipeline pipeline, const void* pc, uint32_t bytes, uint32_t groups, const char* label);
  // Profiling (benchmarks only): a timestamp before the first dispatch and after each one, labelled.
  void profile_into(VkQueryPool pool, uint32_t capacity, std::vector<std::string>* labels);
  // Every earlier shader write and transfer is visible to every later shader read and transfer.
  void barrier();
  // Compute writes visible to later compute reads and writes only (between the dispatches of a step).
  // RWKV_VK_BARRIER=full: barrier() instead; =none: nothing (timing experiments only, results wrong).
  void compute_barrier();
  void copy(const Slice& src, const Slice& dst, uint64_t bytes);
  // `rows` rows of `row_bytes`, strided differently at the source and destination; one command.
  void copy_rows(const Slice& src, uint64_t src_stride, const Slice& dst, uint64_t dst_stride, uint32_t rows,
                 uint64_t row_bytes);
  void fill_zero(const Slice& dst);
  VkCommandBuffer handle() const { return cb_; }
  uint32_t dispatches() const { return dispatches_; }

 private:
  Device& device_;
  Pipelines& pipelines_;
  VkCommandBuffer cb_;
  VkPipeline bound_ = VK_NULL_HANDLE;
  uint32_t dispatches_ = 0;
  VkQueryPool queries_ = VK_NULL_HANDLE;
  uint32_t query_capacity_ = 0;
  std::vector<std::string>* labels_ = nullptr;
};

}  // namespace rwkv::vk
