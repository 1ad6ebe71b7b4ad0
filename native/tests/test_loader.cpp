// The .bin loader on damaged input: truncated, bit-flipped, wrong type, wrong shapes. Every case must
// end in an rwkv::Error that says what is wrong; none may crash or read out of bounds (the fuzz
// target native/fuzz/fuzz_rwkv_bin.cpp explores the rest under AddressSanitizer).
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "core/mapped_file.h"
#include "engine.h"
#include "formats/rwkv_bin.h"
#include "models/architecture.h"
#include "test_support.h"

using namespace rwkv;

namespace {

std::vector<uint8_t> read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

// Parses and binds an in-memory image the way Model::load does; returns the error message or "".
std::string load_error(const std::vector<uint8_t>& bytes) {
  try {
    TensorIndex index = parse_rwkv_bin(bytes.data(), bytes.size(), "model.bin");
    make_architecture(index, "model.bin");
    return "";
  } catch (const Error& e) {
    return e.what();
  }
}

void put_u32(std::vector<uint8_t>& b, size_t at, uint32_t v) { std::memcpy(b.data() + at, &v, 4); }

const std::string kModel = "tiny-rwkv-5v2-730K-FP32";

TEST(Loader, AcceptsTheIntactFile) {
  EXPECT_EQ(load_error(read_all(test::tiny_model(kModel))), "");
}

TEST(Loader, RejectsTruncatedFilesAtEveryCut) {
  const std::vector<uint8_t> full = read_all(test::tiny_model(kModel));
  ASSERT_GT(full.size(), 1000u);
  // Cuts in the header, in record headers and in tensor data.
  for (size_t cut : {size_t(0), size_t(10), size_t(24), size_t(30), size_t(40), size_t(100), full.size() / 3, full.size() / 2, full.size() - 1}) {
    std::vector<uint8_t> part(full.begin(), full.begin() + long(cut));
    const std::string err = load_error(part);
    EXPECT_NE(err, "") << "cut at " << cut;
    EXPECT_NE(err.find("model.bin"), std::string::npos) << err;
  }
}

TEST(Loader, NamesTheProblem) {
  std::vector<uint8_t> b = read_all(test::tiny_model(kModel));
  std::vector<uint8_t> bad = b;
  put_u32(bad, 0, 0x12345678);
  EXPECT_NE(load_error(bad).find("bad magic"), std::string::npos);
  bad = b;
  put_u32(bad, 4, 99);
  EXPECT_NE(load_error(bad).find("file version 99"), std::string::npos);
  bad = b;
  put_u32(bad, 20, 5);  // Q4_2: removed from ggml
  EXPECT_NE(load_error(bad).find("data type 5"), std::string::npos);
  bad = b;
  put_u32(bad, 24 + 8, 6);  // the first record's type: Q4_3
  EXPECT_NE(load_error(bad).find("is not supported"), std::string::npos);
  bad = b;
  put_u32(bad, 12, 96);  // header n_embed no longer matches the tensors
  EXPECT_NE(load_error(bad).find("has shape"), std::string::npos) << load_error(bad);
}

TEST(Loader, ReportsMissingTensorsByName) {
  // Rename one tensor: the model then lacks it.
  std::vector<uint8_t> b = read_all(test::tiny_model(kModel));
  const std::string name = "blocks.3.att.gate.weight";
  auto it = std::search(b.begin(), b.end(), name.begin(), name.end());
  ASSERT_NE(it, b.end());
  *(it + 7) = 'X';  // blocks.X...
  const std::string err = load_error(b);
  EXPECT_NE(err.find("'blocks.3.att.gate.weight' is missing"), std::string::npos) << err;
}

TEST(Loader, SurvivesRandomBitFlipsInTheStructure) {
  const std::vector<uint8_t> full = read_all(test::tiny_model(kModel));
  // The bytes that describe the file: the header and every record header (dims, name length, type,
  // shape, name). A flip in weight data changes a value, not what the loader reads.
  std::vector<std::pair<size_t, size_t>> regions{{0, 24}};
  const TensorIndex index = parse_rwkv_bin(full.data(), full.size(), "model.bin");
  for (const auto& [name, t] : index.tensors) {
    const size_t header = 12 + 4 * size_t(t.n_dims) + name.size();
    regions.emplace_back(size_t(t.offset) - header, size_t(t.offset));
  }
  std::mt19937 rng(1234);
  int rejected = 0;
  const int trials = 400;
  for (int trial = 0; trial < trials; ++trial) {
    std::vector<uint8_t> b = full;
    const auto& [lo, hi] = regions[rng() % regions.size()];
    b[lo + rng() % (hi - lo)] ^= uint8_t(1u << (rng() % 8));
    if (!load_error(b).empty()) ++rejected;
  }
  // Nearly every flip is caught; the rest (a flipped letter in a name of an unused tensor, say) load a
  // model that is still consistent. None may crash.
  EXPECT_GT(rejected, trials * 8 / 10);
}

// Embedding rows come from the file through pread (never mapped): inside the mapping only, and the same
// bits as a model parsed from memory, which reads them through its buffer.
TEST(Loader, FileReadsStayInsideTheMapping) {
  const MappedFile file(test::tiny_model(kModel));
  ASSERT_GT(file.size(), 200u);
  std::vector<uint8_t> got(64);
  ASSERT_TRUE(file.read(file.data() + 100, got.data(), got.size()));
  EXPECT_EQ(0, std::memcmp(got.data(), file.data() + 100, got.size()));
  EXPECT_TRUE(file.read(file.data() + file.size() - 8, got.data(), 8));
  EXPECT_FALSE(file.read(file.data() + file.size() - 8, got.data(), 9));
  EXPECT_FALSE(file.read(file.data() + file.size() + 1, got.data(), 1));
  EXPECT_FALSE(file.read(got.data(), got.data() + 1, 1));
}

TEST(Loader, EmbeddingsReadFromTheFileMatchMemory) {
  for (const std::string name : {kModel, std::string("tiny-rwkv-7v0-834K-FP16"), std::string("tiny-rwkv-6v0-3m-Q5_1")}) {
    const std::string path = test::tiny_model(name);
    const TensorIndex from_file = open_rwkv_bin(path);
    const std::vector<uint8_t> bytes = read_all(path);
    const TensorIndex from_memory = parse_rwkv_bin(bytes.data(), bytes.size(), name);
    const auto a = make_architecture(from_file, name), b = make_architecture(from_memory, name);
    const int64_t C = a->info().n_embd;
    std::vector<float> x(static_cast<size_t>(C)), y(static_cast<size_t>(C));
    for (uint32_t token : {0u, 1u, 7u, uint32_t(a->info().n_vocab - 1)}) {
      a->embed(token, x.data());
      b->embed(token, y.data());
      EXPECT_EQ(0, std::memcmp(x.data(), y.data(), x.size() * sizeof(float))) << name << " token " << token;
    }
  }
}

TEST(Loader, MissingFileIsAnIoError) {
  try {
    Model::load("/nonexistent/model.bin");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Io);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/model.bin"), std::string::npos);
  }
}

}  // namespace
