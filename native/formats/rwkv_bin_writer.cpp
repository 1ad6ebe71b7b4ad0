#include "formats/rwkv_bin_writer.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "core/error.h"

namespace rwkv {

namespace {
constexpr size_t kBufferBytes = size_t(4) << 20;
}

AtomicFileWriter::AtomicFileWriter(const std::string& path) : path_(path), temp_(path + ".tmp") {
  file_ = std::fopen(temp_.c_str(), "wb");
  if (!file_) {
    const int err = errno;
    throw Error(ErrorCode::Io, "cannot create '" + temp_ + "' (writing '" + path_ + "'): " + std::strerror(err));
  }
  buffer_.resize(kBufferBytes);
  std::setvbuf(file_, buffer_.data(), _IOFBF, buffer_.size());
}

AtomicFileWriter::~AtomicFileWriter() {
  if (!committed_) discard();
}

void AtomicFileWriter::discard() {
  if (file_) {
    std::fclose(file_);
    file_ = nullptr;
  }
  std::error_code ignored;
  std::filesystem::remove(temp_, ignored);
}

void AtomicFileWriter::fail(const std::string& what, int err) {
  discard();
  committed_ = true;  // nothing left to clean up in the destructor
  throw Error(ErrorCode::Io, what + " '" + path_ + "' after " + std::to_string(written_) + " bytes: " +
                                 (err ? std::strerror(err) : "unknown error") + "; the partial file was removed");
}

void AtomicFileWriter::write(const void* data, size_t n) {
  if (!file_) throw Error(ErrorCode::Internal, "write to '" + path_ + "' after it was committed or failed");
  if (n == 0) return;
  errno = 0;
  if (std::fwrite(data, 1, n, file_) != n) fail("cannot write", errno);
  written_ += n;
}

void AtomicFileWriter::write_zeros(size_t n) {
  static const char zeros[256] = {};
  while (n > 0) {
    const size_t k = n < sizeof zeros ? n : sizeof zeros;
    write(zeros, k);
    n -= k;
  }
}

void AtomicFileWriter::commit() {
  if (!file_) throw Error(ErrorCode::Internal, "commit of '" + path_ + "' twice or after a failure");
  errno = 0;
  if (std::fflush(file_) != 0) fail("cannot write", errno);
  std::FILE* f = file_;
  file_ = nullptr;
  errno = 0;
  if (std::fclose(f) != 0) fail("cannot close", errno);
  std::error_code ec;
  std::filesystem::rename(temp_, path_, ec);  // replaces an existing file, also on Windows
  if (ec) fail("cannot rename '" + temp_ + "' to", ec.value());
  committed_ = true;
}

RwkvBinWriter::RwkvBinWriter(const std::string& path, const RwkvBinHeader& header) : out_(path) {
  const uint32_t h[6] = {kRwkvBinMagic, header.version, header.n_vocab, header.n_embed, header.n_layer, header.data_type};
  out_.write(h, sizeof h);  // the format is little-endian, like every host we build for
}

void RwkvBinWriter::check_tensor_complete() const {
  if (remaining_ != 0)
    throw Error(ErrorCode::Internal, "'" + out_.path() + "': tensor '" + current_ + "' is missing " +
                                         std::to_string(remaining_) + " bytes of data");
}

void RwkvBinWriter::begin_tensor(const std::string& name, DType dtype, int n_dims, const int64_t* ne) {
  check_tensor_complete();
  const std::string where = "'" + out_.path() + "': tensor '" + name + "'";
  if (n_dims < 1 || n_dims > 3) throw Error(ErrorCode::Shape, where + " has " + std::to_string(n_dims) + " dimensions (1 to 3 allowed)");
  if (name.empty() || name.size() > 1024) throw Error(ErrorCode::Argument, where + ": name must be 1 to 1024 bytes");
  if (!dtype_is_known(uint32_t(dtype))) throw Error(ErrorCode::DType, where + ": unknown data type");
  int32_t rec[3 + 3];
  rec[0] = n_dims;
  rec[1] = int32_t(name.size());
  rec[2] = int32_t(dtype);
  uint64_t rows = 1;
  for (int i = 0; i < n_dims; ++i) {
    // The record stores int32 dimensions; the byte count below is 64-bit.
    if (ne[i] < 1 || ne[i] > INT32_MAX) throw Error(ErrorCode::Shape, where + ": dimension " + std::to_string(i) + " is " + std::to_string(ne[i]));
    rec[3 + i] = int32_t(ne[i]);
    if (i > 0) rows *= uint64_t(ne[i]);
  }
  if (dtype_is_quantized(dtype) && ne[0] % kQuantBlock != 0)
    throw Error(ErrorCode::Shape, where + ": " + dtype_name(dtype) + " rows need a multiple of 32 elements, got " + std::to_string(ne[0]));
  out_.write(rec, size_t(3 + n_dims) * 4);
  out_.write(name.data(), name.size());
  current_ = name;
  remaining_ = rows * dtype_row_bytes(dtype, ne[0]);
}

void RwkvBinWriter::write_data(const void* data, size_t n) {
  if (n > remaining_)
    throw Error(ErrorCode::Internal, "'" + out_.path() + "': " + std::to_string(n) + " bytes written to tensor '" + current_ +
                                         "', which only has room for " + std::to_string(remaining_));
  out_.write(data, n);
  remaining_ -= n;
}

void RwkvBinWriter::add_tensor(const std::string& name, DType dtype, int n_dims, const int64_t* ne, const void* data) {
  begin_tensor(name, dtype, n_dims, ne);
  write_data(data, size_t(remaining_));
}

void RwkvBinWriter::finish() {
  check_tensor_complete();
  out_.commit();
}

}  // namespace rwkv
