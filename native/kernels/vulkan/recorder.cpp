#include "kernels/vulkan/recorder.h"

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "kernels/vulkan/check.h"

namespace rwkv::vk {

void Recorder::begin() {
  auto bi = make<VkCommandBufferBeginInfo>(VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO);
  // Simultaneous use: a benchmark submits one step several times in one batch.
  bi.flags = VK_COMMAND_BUFFER_USAGE_SIMULTANEOUS_USE_BIT;
  VK_CHECK("vkBeginCommandBuffer", vk().vkBeginCommandBuffer(cb_, &bi));
  bound_ = VK_NULL_HANDLE;
}

void Recorder::end() { VK_CHECK("vkEndCommandBuffer", vk().vkEndCommandBuffer(cb_)); }

void Recorder::profile_into(VkQueryPool pool, uint32_t capacity, std::vector<std::string>* labels) {
  queries_ = pool;
  query_capacity_ = capacity;
  labels_ = labels;
  vk().vkCmdResetQueryPool(cb_, pool, 0, capacity);
  vk().vkCmdWriteTimestamp(cb_, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, pool, 0);
}

void Recorder::dispatch_raw(VkPipeline pipeline, const void* pc, uint32_t bytes, uint32_t groups, const char* label) {
  if (groups == 0) return;
  if (pipeline != bound_) {
    vk().vkCmdBindPipeline(cb_, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline);
    bound_ = pipeline;
  }
  // Push constants are padded to the full block so no shader ever reads bytes left from an earlier dispatch.
  uint8_t block[kPushConstantBytes] = {};
  std::memcpy(block, pc, bytes);
  vk().vkCmdPushConstants(cb_, pipelines_.layout(), VK_SHADER_STAGE_COMPUTE_BIT, 0, kPushConstantBytes, block);
  const uint32_t max_x = std::min<uint32_t>(device_.properties().limits.maxComputeWorkGroupCount[0], 65535);
  const uint32_t gx = std::min(groups, max_x);
  const uint32_t gy = (groups + gx - 1) / gx;
  vk().vkCmdDispatch(cb_, gx, gy, 1);
  ++dispatches_;
  if (queries_ && labels_->size() + 1 < query_capacity_) {
    labels_->push_back(label);
    vk().vkCmdWriteTimestamp(cb_, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, queries_, uint32_t(labels_->size()));
  }
}

void Recorder::barrier() {
  auto mb = make<VkMemoryBarrier>(VK_STRUCTURE_TYPE_MEMORY_BARRIER);
  mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
  mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT |
                     VK_ACCESS_TRANSFER_WRITE_BIT;
  const VkPipelineStageFlags stages = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
  vk().vkCmdPipelineBarrier(cb_, stages, stages, 0, 1, &mb, 0, nullptr, 0, nullptr);
}

void Recorder::compute_barrier() {
  static const int mode = [] {
    const char* e = std::getenv("RWKV_VK_BARRIER");
    return !e ? 1 : std::string(e) == "full" ? 0 : std::string(e) == "none" ? 2 : 1;
  }();
  if (mode == 0) return barrier();
  if (mode == 2) return;  // timing experiments only: results are wrong
  auto mb = make<VkMemoryBarrier>(VK_STRUCTURE_TYPE_MEMORY_BARRIER);
  mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT;
  mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT;
  vk().vkCmdPipelineBarrier(cb_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &mb, 0,
                            nullptr, 0, nullptr);
}

void Recorder::copy(const Slice& src, const Slice& dst, uint64_t bytes) {
  if (bytes == 0) return;
  VkBufferCopy c{src.offset, dst.offset, bytes};
  vk().vkCmdCopyBuffer(cb_, src.buffer, dst.buffer, 1, &c);
}

void Recorder::copy_rows(const Slice& src, uint64_t src_stride, const Slice& dst, uint64_t dst_stride, uint32_t rows,
                         uint64_t row_bytes) {
  std::vector<VkBufferCopy> regions(rows);
  for (uint32_t r = 0; r < rows; ++r) regions[r] = {src.offset + r * src_stride, dst.offset + r * dst_stride, row_bytes};
  if (rows) vk().vkCmdCopyBuffer(cb_, src.buffer, dst.buffer, rows, regions.data());
}

void Recorder::fill_zero(const Slice& dst) {
  vk().vkCmdFillBuffer(cb_, dst.buffer, dst.offset, dst.size & ~uint64_t(3), 0);
}

}  // namespace rwkv::vk
