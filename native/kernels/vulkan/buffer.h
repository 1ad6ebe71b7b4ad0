// GPU memory: Buffer (one VkBuffer with its own memory and device address), Slice (a range inside a
// buffer, what shaders and copies address), Arena (packs many weight tensors into a few big buffers,
// so a large model needs tens of allocations, not thousands), and Uploader (copies host data into
// device-local slices through one reused staging buffer).
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "kernels/vulkan/device.h"

namespace rwkv::vk {

class Buffer {
 public:
  enum class Kind {
    Device,  // device-local: weights, states, scratch
    Host,    // host-visible, coherent, mapped: staging and results read back by the CPU
  };
  Buffer(Device& device, uint64_t bytes, Kind kind);
  ~Buffer();
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  VkBuffer handle() const { return buffer_; }
  VkDeviceAddress address() const { return address_; }
  uint64_t size() const { return size_; }
  void* mapped() const { return mapped_; }  // Host buffers only

 private:
  Device& device_;
  VkBuffer buffer_ = VK_NULL_HANDLE;
  VkDeviceMemory memory_ = VK_NULL_HANDLE;
  VkDeviceAddress address_ = 0;
  uint64_t size_ = 0;
  void* mapped_ = nullptr;
};

struct Slice {
  VkBuffer buffer = VK_NULL_HANDLE;
  uint64_t offset = 0;
  uint64_t size = 0;
  VkDeviceAddress address = 0;  // of byte `offset`
};

inline Slice whole(const Buffer& b) { return Slice{b.handle(), 0, b.size(), b.address()}; }
inline Slice sub(const Slice& s, uint64_t offset, uint64_t size) {
  return Slice{s.buffer, s.offset + offset, size, s.address + offset};
}

// Bump allocator over device-local blocks of at least `block_bytes`. Nothing is freed before the arena.
class Arena {
 public:
  Arena(Device& device, uint64_t block_bytes) : device_(device), block_bytes_(block_bytes) {}
  // 256-byte alignment: more than any load in the shaders needs (uvec4 = 16 bytes).
  Slice allocate(uint64_t bytes);
  uint64_t bytes_allocated() const { return total_; }

 private:
  Device& device_;
  uint64_t block_bytes_;
  std::vector<std::unique_ptr<Buffer>> blocks_;
  uint64_t used_ = 0;  // in the last block
  uint64_t total_ = 0;
};

class Uploader {
 public:
  explicit Uploader(Device& device, uint64_t staging_bytes = 64ull << 20);
  ~Uploader();
  // Queues a copy of `bytes` host bytes to dst (+offset); may flush. The host data may be reused
  // after the call returns.
  void upload(const Slice& dst, uint64_t offset, const void* data, uint64_t bytes);
  void flush();  // runs the queued copies and waits

 private:
  Device& device_;
  Buffer staging_;
  VkCommandBuffer cb_ = VK_NULL_HANDLE;
  uint64_t used_ = 0;
  bool recording_ = false;
};

}  // namespace rwkv::vk
