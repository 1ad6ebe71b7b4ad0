// quantize_model_file on the tiny models: bit-exact against quantize_row and against the quantized
// files rwkv.cpp ships; error paths (bad input, bad target, unwritable or full destination).
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <filesystem>
#include <vector>

#include "core/error.h"
#include "formats/rwkv_bin.h"
#include "formats/rwkv_bin_writer.h"
#include "quantize/quantize_blocks.h"
#include "quantize/quantize_model.h"
#include "test_support.h"

using namespace rwkv;
namespace fs = std::filesystem;

namespace {

const DType kQuantTypes[] = {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0};

// A fresh directory under the system temp dir, removed with everything in it.
struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("rwkv-quant-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  static int& counter() {
    static int n = 0;
    return n;
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

std::vector<std::string> tiny_float_models() {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(test::shared_dir() + "/models/tiny")) {
    const std::string name = e.path().filename().string();
    if (name.rfind("tiny-rwkv-", 0) == 0 && (name.ends_with("-FP32.bin") || name.ends_with("-FP16.bin"))) out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.nbytes == b.nbytes && std::memcmp(a.data, b.data, a.nbytes) == 0;
}

std::vector<uint8_t> file_bytes(const std::string& path) {
  std::vector<uint8_t> v(fs::file_size(path));
  std::FILE* f = std::fopen(path.c_str(), "rb");
  EXPECT_TRUE(f);
  if (f) {
    EXPECT_EQ(std::fread(v.data(), 1, v.size(), f), v.size());
    std::fclose(f);
  }
  return v;
}

}  // namespace

TEST(QuantizeModel, EveryTinyModelToEveryTypeIsBitExact) {
  const auto models = tiny_float_models();
  ASSERT_GE(models.size(), 10u);
  TempDir dir;
  for (const std::string& in : models) {
    const TensorIndex src = open_rwkv_bin(in);
    for (DType type : kQuantTypes) {
      SCOPED_TRACE(in + " -> " + dtype_name(type));
      const std::string out = dir.file("out.bin");
      std::vector<double> fractions;
      quantize_model_file(in, out, type, [&](double f) { fractions.push_back(f); });
      ASSERT_FALSE(fractions.empty());
      EXPECT_TRUE(std::is_sorted(fractions.begin(), fractions.end()));
      EXPECT_DOUBLE_EQ(fractions.back(), 1.0);
      EXPECT_FALSE(fs::exists(out + ".tmp"));

      const TensorIndex q = open_rwkv_bin(out);
      EXPECT_EQ(q.header.version, 101u);
      EXPECT_EQ(q.header.data_type, uint32_t(type));
      EXPECT_EQ(q.header.n_vocab, src.header.n_vocab);
      EXPECT_EQ(q.header.n_embed, src.header.n_embed);
      EXPECT_EQ(q.header.n_layer, src.header.n_layer);
      ASSERT_EQ(q.tensors.size(), src.tensors.size());
      int quantized = 0;
      for (const auto& [name, s] : src.tensors) {
        const Tensor* t = q.find(name);
        ASSERT_TRUE(t) << name;
        ASSERT_EQ(t->n_dims, s.n_dims) << name;
        for (int i = 0; i < 3; ++i) ASSERT_EQ(t->ne[i], s.ne[i]) << name;
        if (!tensor_is_quantizable(s)) {
          EXPECT_EQ(t->dtype, s.dtype) << name;
          EXPECT_TRUE(same_bytes(*t, s)) << name;
          continue;
        }
        ++quantized;
        ASSERT_EQ(t->dtype, type) << name;
        std::vector<float> row(size_t(s.cols()));
        std::vector<uint8_t> expect(dtype_row_bytes(type, s.cols()));
        for (int64_t r = 0; r < s.rows(); ++r) {
          dequantize_row(s.dtype, s.row(r), row.data(), s.cols());
          quantize_row(type, row.data(), expect.data(), s.cols());
          ASSERT_EQ(std::memcmp(t->row(r), expect.data(), expect.size()), 0) << name << " row " << r;
        }
      }
      EXPECT_GT(quantized, 0);
    }
  }
}

// Counts the Q5_0 codes in `theirs` that differ from `ours` by exactly one step down at an input
// that lies exactly half-way between two codes. Fails on any other difference.
int64_t q5_0_tie_differences(const Tensor& src, const Tensor& ours, const Tensor& theirs) {
  int64_t ties = 0;
  std::vector<float> x(32), a(32), b(32);
  for (int64_t blk = 0; blk < src.elements() / 32; ++blk) {
    const auto* ob = reinterpret_cast<const BlockQ5_0*>(ours.data) + blk;
    const auto* tb = reinterpret_cast<const BlockQ5_0*>(theirs.data) + blk;
    if (std::memcmp(ob, tb, sizeof *ob) == 0) continue;
    // Blocks in a file may sit at odd addresses: compare the scales' bytes.
    EXPECT_EQ(0, std::memcmp(reinterpret_cast<const uint8_t*>(ob) + offsetof(BlockQ5_0, d),
                             reinterpret_cast<const uint8_t*>(tb) + offsetof(BlockQ5_0, d), sizeof(uint16_t)))
        << src.name << " block " << blk;
    dequantize_row(src.dtype, src.data + blk * 32 * (src.dtype == DType::F32 ? 4 : 2), x.data(), 32);
    dequantize_row(DType::Q5_0, ob, a.data(), 32);
    dequantize_row(DType::Q5_0, tb, b.data(), 32);
    const float d = fp16_to_fp32(ob->d);
    for (int j = 0; j < 32; ++j) {
      if (a[size_t(j)] == b[size_t(j)]) continue;
      const float half_way = (a[size_t(j)] + b[size_t(j)]) / 2;
      EXPECT_EQ(x[size_t(j)], half_way) << src.name << " block " << blk << " element " << j;
      EXPECT_EQ(a[size_t(j)] - b[size_t(j)], d) << "theirs should be one code lower";
      ++ties;
    }
  }
  return ties;
}

TEST(QuantizeModel, ReproducesRwkvCppQuantizedFilesByteForByte) {
  // rwkv.cpp ships Q5_0/Q5_1 files quantized from the FP32 ones; ours must be the same bytes.
  // One exception: tiny-rwkv-6v0-1m-Q5_0 disagrees at ~125 of its ~2100 inputs that sit exactly
  // half-way between two codes, and only there (theirs one code lower). The 7v0 file has 844
  // such negative ties and matches our (ggml's) truncation rule everywhere, so the 6v0 file was
  // evidently quantized from slightly different source values than the FP32 file shipped with it.
  TempDir dir;
  int compared = 0;
  for (const std::string& in : tiny_float_models()) {
    if (!in.ends_with("-FP32.bin")) continue;
    for (const char* q : {"Q5_0", "Q5_1"}) {
      const std::string theirs = in.substr(0, in.size() - 8) + q + ".bin";
      if (!fs::exists(theirs)) continue;
      SCOPED_TRACE(theirs);
      DType type;
      ASSERT_TRUE(dtype_from_name(q, &type));
      const std::string out = dir.file(std::string(q) + ".bin");
      quantize_model_file(in, out, type);
      ++compared;
      if (!theirs.ends_with("6v0-1m-Q5_0.bin")) {
        EXPECT_TRUE(file_bytes(out) == file_bytes(theirs));
        continue;
      }
      const TensorIndex src = open_rwkv_bin(in), a = open_rwkv_bin(out), b = open_rwkv_bin(theirs);
      int64_t ties = 0;
      for (const auto& [name, t] : a.tensors) {
        const Tensor* u = b.find(name);
        ASSERT_TRUE(u && u->dtype == t.dtype && u->nbytes == t.nbytes) << name;
        if (t.dtype == DType::Q5_0) ties += q5_0_tie_differences(*src.find(name), t, *u);
        else EXPECT_TRUE(same_bytes(t, *u)) << name;
      }
      EXPECT_GT(ties, 0);
      EXPECT_LT(ties, 200);
    }
  }
  EXPECT_GE(compared, 8);
}

TEST(QuantizeModel, Fp16TargetMatchesTheConvertersFp16Files) {
  TempDir dir;
  for (const std::string& in : tiny_float_models()) {
    if (!in.ends_with("-FP32.bin")) continue;
    const std::string theirs = in.substr(0, in.size() - 8) + "FP16.bin";
    if (!fs::exists(theirs)) continue;
    SCOPED_TRACE(in);
    const std::string out = dir.file("f16.bin");
    quantize_model_file(in, out, DType::F16);
    const TensorIndex ours = open_rwkv_bin(out), ref = open_rwkv_bin(theirs);
    EXPECT_EQ(ours.header.data_type, 1u);
    ASSERT_EQ(ours.tensors.size(), ref.tensors.size());
    for (const auto& [name, r] : ref.tensors) {
      const Tensor* t = ours.find(name);
      ASSERT_TRUE(t) << name;
      EXPECT_EQ(t->dtype, r.dtype) << name;
      EXPECT_TRUE(same_bytes(*t, r)) << name;
    }
  }
}

TEST(QuantizeModel, RejectsQuantizedInputAndBadTargets) {
  TempDir dir;
  const std::string out = dir.file("x.bin");
  try {
    quantize_model_file(test::tiny_model("tiny-rwkv-7v0-834K-Q5_0"), out, DType::Q8_0);
    FAIL() << "quantized input accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::DType);
    EXPECT_NE(std::string(e.what()).find("Q5_0"), std::string::npos) << e.what();
  }
  for (DType bad : {DType::F32, DType(5)}) {
    try {
      quantize_model_file(test::tiny_model("tiny-rwkv-7v0-834K-FP32"), out, bad);
      FAIL() << "target accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::DType);
    }
  }
  EXPECT_TRUE(fs::is_empty(dir.path));
}

TEST(QuantizeModel, MissingDirectoryThrowsIoAndLeavesNothing) {
  TempDir dir;
  const std::string out = dir.file("no/such/dir/x.bin");
  try {
    quantize_model_file(test::tiny_model("tiny-rwkv-7v0-834K-FP32"), out, DType::Q8_0);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Io);
    EXPECT_NE(std::string(e.what()).find("x.bin"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(out));
  EXPECT_FALSE(fs::exists(out + ".tmp"));
  EXPECT_TRUE(fs::is_empty(dir.path));
}

TEST(QuantizeModel, FullDiskThrowsIoAndRemovesTheTempFile) {
  // /dev/full fails every write with ENOSPC; pointing the temp name at it simulates a full disk
  // without root or a real mount.
  if (!fs::exists("/dev/full")) GTEST_SKIP() << "no /dev/full on this system";
  TempDir dir;
  const std::string out = dir.file("x.bin");
  fs::create_symlink("/dev/full", out + ".tmp");
  try {
    quantize_model_file(test::tiny_model("tiny-rwkv-7v0-834K-FP32"), out, DType::Q8_0);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Io);
    EXPECT_NE(std::string(e.what()).find(std::strerror(ENOSPC)), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(out));
  EXPECT_FALSE(fs::exists(fs::symlink_status(out + ".tmp")));
}

TEST(QuantizeModel, FullTmpfsThrowsIoAndLeavesNothing) {
  TempDir dir;
  const std::string mnt = dir.file("small");
  fs::create_directories(mnt);
  if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=64k") != 0)
    GTEST_SKIP() << "cannot mount a 64 KiB tmpfs here (" << std::strerror(errno) << "); FullDisk test covers ENOSPC";
  const std::string out = mnt + "/x.bin";
  ErrorCode code = ErrorCode::Internal;
  try {
    quantize_model_file(test::tiny_model("tiny-rwkv-7v0-834K-FP32"), out, DType::F16);  // ~1.6 MB
  } catch (const Error& e) {
    code = e.code();
  }
  const bool empty = fs::is_empty(mnt);
  ::umount2(mnt.c_str(), MNT_DETACH);
  EXPECT_EQ(code, ErrorCode::Io);
  EXPECT_TRUE(empty);
}

TEST(RwkvBinWriter, RejectsIncompleteTensors) {
  TempDir dir;
  const std::string out = dir.file("w.bin");
  {
    RwkvBinWriter w(out, RwkvBinHeader{kRwkvBinMagic, 101, 4, 32, 1, 0});
    const int64_t ne[3] = {32, 2, 1};
    w.begin_tensor("a", DType::F32, 2, ne);
    std::vector<float> half(32);
    w.write_data(half.data(), half.size() * 4);
    EXPECT_THROW(w.finish(), Error);
    EXPECT_THROW(w.write_data(std::vector<float>(64).data(), 256), Error);  // more than is left
  }
  EXPECT_TRUE(fs::is_empty(dir.path));  // abandoned writers leave nothing
}
