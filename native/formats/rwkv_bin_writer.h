// Streaming writers for model files.
//
// AtomicFileWriter: bytes go to `path + ".tmp"`, which is renamed over `path` only by commit(), so
// a crash, a full disk or an exception never leaves a half-written model under the real name.
// RwkvBinWriter: rwkv.cpp's `.bin` container on top of it (layout in formats/rwkv_bin.h), written
// one tensor at a time and, within a tensor, in any number of pieces, so a converter never needs
// a whole model (or even a whole tensor) in memory.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "formats/rwkv_bin.h"

namespace rwkv {

class AtomicFileWriter {
 public:
  explicit AtomicFileWriter(const std::string& path);  // creates path.tmp; throws Error(Io)
  ~AtomicFileWriter();                                  // removes path.tmp unless committed
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  // Each throws Error(Io) naming the file and the OS reason (e.g. "No space left on device"),
  // after removing the temporary file.
  void write(const void* data, size_t n);
  void write_zeros(size_t n);
  void commit();  // flush, close, rename path.tmp -> path

  uint64_t bytes_written() const { return written_; }
  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_; }

 private:
  [[noreturn]] void fail(const std::string& what, int err);
  void discard();

  std::string path_, temp_;
  std::FILE* file_ = nullptr;
  std::vector<char> buffer_;  // our own stdio buffer: large writes, few syscalls
  uint64_t written_ = 0;
  bool committed_ = false;
};

class RwkvBinWriter {
 public:
  // Starts `path` (through path.tmp) with `header`; magic is always kRwkvBinMagic.
  RwkvBinWriter(const std::string& path, const RwkvBinHeader& header);

  // Starts a tensor record: n_dims 1..3, ne in ggml order (ne[0] contiguous). Its data must then
  // be supplied through write_data(), exactly dtype_row_bytes(dtype, ne0) * ne1 * ne2 bytes.
  void begin_tensor(const std::string& name, DType dtype, int n_dims, const int64_t* ne);
  void write_data(const void* data, size_t n);
  // begin_tensor + write_data of the whole payload.
  void add_tensor(const std::string& name, DType dtype, int n_dims, const int64_t* ne, const void* data);
  // Checks the last tensor is complete, then commits the file. Without finish() nothing is kept.
  void finish();

  uint64_t bytes_written() const { return out_.bytes_written(); }

 private:
  void check_tensor_complete() const;

  AtomicFileWriter out_;
  std::string current_;       // name of the open tensor, for messages
  uint64_t remaining_ = 0;    // data bytes the open tensor still needs
};

}  // namespace rwkv
