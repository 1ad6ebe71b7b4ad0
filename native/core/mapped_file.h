// MappedFile: a read-only memory map of a whole file. Weights are used in place, so loading
// costs no copy and the page cache is shared between processes using the same model.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace rwkv {

class MappedFile {
 public:
  explicit MappedFile(const std::string& path);  // throws Error(E_IO)
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // Asks the kernel to read the mapping ahead (sequential use), so the first token is not slow.
  void advise_willneed() const;
  // Copies the n bytes at `at` (a pointer into the mapping) with pread instead of through the mapping, so
  // the pages are never mapped into this process. False (nothing read) when [at, at + n) is not inside the
  // mapping or the read fails; the caller then reads the mapping.
  bool read(const uint8_t* at, void* dst, size_t n) const;

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
  int fd_ = -1;
};

}  // namespace rwkv
