// LargeBuffer: memory for a pass's big scratch buffers (activations, packed prompt inputs), mapped so
// that the kernel may back it with 2 MB pages. Touching a fresh 4 KB page costs a fault; on the VMs
// this was measured on, 11-14 us each (64 MB: ~200 ms), so the first long prompt paid more for its
// scratch than for its arithmetic. With transparent huge pages allowed (`madvise` or `always` mode) the
// same 64 MB took 4.4 ms. Where they are not, this is a plain anonymous mapping.
#pragma once
#include <cstddef>
#include <cstdint>

namespace rwkv {

class LargeBuffer {
 public:
  LargeBuffer() = default;
  ~LargeBuffer();
  LargeBuffer(const LargeBuffer&) = delete;
  LargeBuffer& operator=(const LargeBuffer&) = delete;

  // At least `bytes`, 2 MB aligned. Growing maps new memory (zeros) and drops the old contents.
  // Throws std::bad_alloc when the mapping fails.
  void reserve(size_t bytes);
  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  void release();
  void* map_ = nullptr;  // the whole mapping: size_ and one huge page more (data_ lies inside it, aligned)
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace rwkv
