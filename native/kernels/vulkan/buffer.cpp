#include "kernels/vulkan/buffer.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "kernels/vulkan/check.h"

namespace rwkv::vk {

Buffer::Buffer(Device& device, uint64_t bytes, Kind kind) : device_(device), size_(std::max<uint64_t>(bytes, 16)) {
  VkDevice dev = device.handle();
  auto bci = make<VkBufferCreateInfo>(VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO);
  bci.size = size_;
  bci.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT |
              VK_BUFFER_USAGE_SHADER_DEVICE_ADDRESS_BIT;
  bci.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  VK_CHECK("vkCreateBuffer", vk().vkCreateBuffer(dev, &bci, nullptr, &buffer_));
  try {
    VkMemoryRequirements req{};
    vk().vkGetBufferMemoryRequirements(dev, buffer_, &req);
    auto flags = make<VkMemoryAllocateFlagsInfo>(VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_FLAGS_INFO);
    flags.flags = VK_MEMORY_ALLOCATE_DEVICE_ADDRESS_BIT;
    auto ai = make<VkMemoryAllocateInfo>(VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO);
    ai.pNext = &flags;
    ai.allocationSize = req.size;
    ai.memoryTypeIndex = kind == Kind::Device ? device.device_local_type(req.memoryTypeBits)
                                              : device.host_visible_type(req.memoryTypeBits);
    const VkResult r = vk().vkAllocateMemory(dev, &ai, nullptr, &memory_);
    if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY)
      throw Error(ErrorCode::Device, "vkAllocateMemory failed: " + std::string(result_name(r)) + " allocating " +
                                         std::to_string(req.size >> 20) + " MiB of " +
                                         (kind == Kind::Device ? "GPU" : "host-visible") + " memory (offload fewer layers)");
    VK_CHECK("vkAllocateMemory", r);
    VK_CHECK("vkBindBufferMemory", vk().vkBindBufferMemory(dev, buffer_, memory_, 0));
    if (kind == Kind::Host) VK_CHECK("vkMapMemory", vk().vkMapMemory(dev, memory_, 0, VK_WHOLE_SIZE, 0, &mapped_));
    auto dai = make<VkBufferDeviceAddressInfo>(VK_STRUCTURE_TYPE_BUFFER_DEVICE_ADDRESS_INFO);
    dai.buffer = buffer_;
    address_ = vk().vkGetBufferDeviceAddress(dev, &dai);
  } catch (...) {
    if (memory_) vk().vkFreeMemory(dev, memory_, nullptr);
    vk().vkDestroyBuffer(dev, buffer_, nullptr);
    throw;
  }
}

Buffer::~Buffer() {
  VkDevice dev = device_.handle();
  if (mapped_) vk().vkUnmapMemory(dev, memory_);
  vk().vkDestroyBuffer(dev, buffer_, nullptr);
  vk().vkFreeMemory(dev, memory_, nullptr);
}

Slice Arena::allocate(uint64_t bytes) {
  bytes = std::max<uint64_t>(bytes, 16);
  const uint64_t aligned = (used_ + 255) & ~uint64_t(255);
  if (blocks_.empty() || aligned + bytes > blocks_.back()->size()) {
    blocks_.push_back(std::make_unique<Buffer>(device_, std::max(bytes, block_bytes_), Buffer::Kind::Device));
    used_ = 0;
  } else {
    used_ = aligned;
  }
  const Buffer& b = *blocks_.back();
  Slice s{b.handle(), used_, bytes, b.address() + used_};
  used_ += bytes;
  total_ += bytes;
  return s;
}

Uploader::Uploader(Device& device, uint64_t staging_bytes)
    : device_(device), staging_(device, staging_bytes, Buffer::Kind::Host) {
  cb_ = device.allocate_command_buffer();
}

Uploader::~Uploader() { device_.free_command_buffer(cb_); }

void Uploader::upload(const Slice& dst, uint64_t offset, const void* data, uint64_t bytes) {
  const uint8_t* src = static_cast<const uint8_t*>(data);
  while (bytes > 0) {
    if (used_ == staging_.size()) flush();
    if (!recording_) {
      auto bi = make<VkCommandBufferBeginInfo>(VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO);
      bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
      VK_CHECK("vkBeginCommandBuffer", vk().vkBeginCommandBuffer(cb_, &bi));
      recording_ = true;
    }
    const uint64_t n = std::min(bytes, staging_.size() - used_);
    std::memcpy(static_cast<uint8_t*>(staging_.mapped()) + used_, src, n);
    VkBufferCopy c{used_, dst.offset + offset, n};
    vk().vkCmdCopyBuffer(cb_, staging_.handle(), dst.buffer, 1, &c);
    used_ = (used_ + n + 15) & ~uint64_t(15);
    used_ = std::min(used_, staging_.size());
    src += n, offset += n, bytes -= n;
  }
}

void Uploader::flush() {
  if (!recording_) return;
  VK_CHECK("vkEndCommandBuffer", vk().vkEndCommandBuffer(cb_));
  device_.submit_and_wait(&cb_, 1);
  recording_ = false;
  used_ = 0;
}

}  // namespace rwkv::vk
