#include "core/large_buffer.h"

#include <sys/mman.h>

#include <new>

namespace rwkv {

namespace {
constexpr size_t kHugePage = size_t(2) << 20;
}

LargeBuffer::~LargeBuffer() { release(); }

void LargeBuffer::release() {
  if (map_) ::munmap(map_, size_ + kHugePage);
  map_ = nullptr;
  data_ = nullptr;
  size_ = 0;
}

void LargeBuffer::reserve(size_t bytes) {
  if (bytes <= size_) return;
  release();
  // Whole huge pages, plus one to align the start: the kernel only uses a huge page for an aligned 2 MB
  // range inside the mapping.
  const size_t size = (bytes + kHugePage - 1) / kHugePage * kHugePage;
  void* m = ::mmap(nullptr, size + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) throw std::bad_alloc();
  map_ = m;
  const uintptr_t start = (reinterpret_cast<uintptr_t>(m) + kHugePage - 1) / kHugePage * kHugePage;
  data_ = reinterpret_cast<uint8_t*>(start);
  size_ = size;
#ifdef MADV_HUGEPAGE
  ::madvise(data_, size_, MADV_HUGEPAGE);  // advice only: without huge pages it is 4 KB pages as before
#endif
}

}  // namespace rwkv
