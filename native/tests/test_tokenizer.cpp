// Tokenizers against golden ids (native/tests/data/tokenizer-golden.json, written by
// tools/gen-tokenizer-fixtures.js: NeoX ids from @huggingface/tokenizers, World ids from an
// independent slow reference), plus round trips, streaming and error handling.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "test_support.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

using namespace rwkv;

namespace {

std::string world_vocab_path() { return test::shared_dir() + "/vocab/rwkv_vocab_v20230424.txt"; }
std::string neox_json_path() { return test::shared_dir() + "/vocab/20B_tokenizer.json"; }

// Loaded once: the NeoX JSON takes a noticeable fraction of a second to parse.
const Tokenizer* world_tokenizer() {
  static const std::unique_ptr<Tokenizer> t =
      std::filesystem::exists(world_vocab_path()) ? Tokenizer::world(world_vocab_path()) : nullptr;
  return t.get();
}
const Tokenizer* neox_tokenizer() {
  static const std::unique_ptr<Tokenizer> t =
      std::filesystem::exists(neox_json_path()) ? Tokenizer::neox(neox_json_path()) : nullptr;
  return t.get();
}

#define REQUIRE_TOKENIZER(expr)                                         \
  const Tokenizer* tok = (expr);                                        \
  if (!tok) GTEST_SKIP() << "vocab files not found under " << test::shared_dir()

std::string base64_decode(const std::string& in) {
  static const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t bits = 0;
  int count = 0;
  for (const char c : in) {
    if (c == '=') break;
    bits = bits << 6 | uint32_t(alphabet.find(c));
    if ((count += 6) >= 8) out += char((bits >> (count -= 8)) & 0xFF);
  }
  return out;
}

struct GoldenCase {
  std::string name, bytes;        // bytes: the text as raw bytes
  bool is_text = false;           // valid UTF-8 text with NeoX golden ids
  std::vector<uint32_t> neox, world;
  std::string nfc;                // the NFC form when it differs from the text
};

const std::vector<GoldenCase>& golden_cases() {
  static const std::vector<GoldenCase> cases = [] {
    std::ifstream in(std::string(RWKV_SOURCE_DIR) + "/native/tests/data/tokenizer-golden.json");
    const nlohmann::json root = nlohmann::json::parse(in);
    std::vector<GoldenCase> out;
    for (const auto& c : root.at("cases")) {
      GoldenCase g;
      g.name = c.at("name");
      g.is_text = c.contains("text");
      g.bytes = g.is_text ? c.at("text").get<std::string>() : base64_decode(c.at("bytes_base64"));
      if (g.is_text) g.neox = c.at("neox").get<std::vector<uint32_t>>();
      g.world = c.at("world").get<std::vector<uint32_t>>();
      g.nfc = c.value("nfc", g.bytes);
      out.push_back(std::move(g));
    }
    return out;
  }();
  return cases;
}

std::string erase_all(std::string s, const std::string& what) {
  for (size_t p; (p = s.find(what)) != std::string::npos;) s.erase(p, what.size());
  return s;
}

// Feeds tokens one at a time through Utf8StreamDecoder and checks every chunk is valid UTF-8 and
// the chunks add up to the (sanitized) full decode.
void expect_streams_whole_characters(const Tokenizer& tok, const std::vector<uint32_t>& ids, const std::string& name) {
  Utf8StreamDecoder stream;
  std::string joined;
  for (const uint32_t id : ids) {
    const std::string chunk = stream.push(tok.decode(&id, 1));
    EXPECT_TRUE(utf8::is_valid(chunk)) << name << ": chunk after token " << id;
    joined += chunk;
  }
  const std::string tail = stream.flush();
  EXPECT_TRUE(utf8::is_valid(tail)) << name;
  joined += tail;
  EXPECT_EQ(joined, utf8::sanitize(tok.decode(ids))) << name;
}

std::string write_temp_file(const std::string& name, const std::string& contents) {
  const std::string path = testing::TempDir() + name;
  std::ofstream(path, std::ios::binary) << contents;
  return path;
}

// Expects `f` to throw rwkv::Error with `code` and a message containing each of `parts`.
template <typename F>
void expect_error(F&& f, ErrorCode code, std::initializer_list<std::string> parts) {
  try {
    f();
    ADD_FAILURE() << "no exception";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    for (const auto& part : parts) EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

}  // namespace

TEST(TokenizerGolden, FixtureIsLoaded) {
  ASSERT_GE(golden_cases().size(), 25u);
}

TEST(TokenizerGolden, WorldMatchesReferenceAndRoundTrips) {
  REQUIRE_TOKENIZER(world_tokenizer());
  for (const GoldenCase& c : golden_cases()) {
    const std::vector<uint32_t> ids = tok->encode(c.bytes);
    EXPECT_EQ(ids, c.world) << c.name;
    EXPECT_EQ(tok->decode(ids), c.bytes) << c.name;
    expect_streams_whole_characters(*tok, ids, c.name);
  }
}

TEST(TokenizerGolden, NeoxMatchesHuggingFace) {
  REQUIRE_TOKENIZER(neox_tokenizer());
  for (const GoldenCase& c : golden_cases()) {
    if (!c.is_text) continue;
    const std::vector<uint32_t> ids = tok->encode(c.bytes);
    EXPECT_EQ(ids, c.neox) << c.name;
    // Round trip gives the NFC form back; special tokens decode to nothing.
    const std::string expected = erase_all(erase_all(c.nfc, "<|endoftext|>"), "<|padding|>");
    EXPECT_EQ(tok->decode(ids), expected) << c.name;
    expect_streams_whole_characters(*tok, ids, c.name);
  }
}

TEST(TokenizerGolden, NeoxEncodesTwiceTheSame) {
  // The second pass is served from the per-word cache; it must not change anything.
  REQUIRE_TOKENIZER(neox_tokenizer());
  for (const GoldenCase& c : golden_cases())
    if (c.is_text) EXPECT_EQ(tok->encode(c.bytes), c.neox) << c.name;
}

TEST(TokenizerGolden, NeoxReplacesInvalidUtf8LikeAStringWould) {
  REQUIRE_TOKENIZER(neox_tokenizer());
  for (const GoldenCase& c : golden_cases()) {
    if (c.is_text) continue;
    const std::vector<uint32_t> ids = tok->encode(c.bytes);
    EXPECT_EQ(tok->decode(ids), utf8::sanitize(c.bytes)) << c.name;
  }
}

TEST(TokenizerGolden, BytesRoundTripsEverything) {
  const auto tok = Tokenizer::bytes();
  EXPECT_EQ(tok->vocab_size(), 256u);
  EXPECT_STREQ(tok->kind(), "bytes");
  for (const GoldenCase& c : golden_cases()) {
    const std::vector<uint32_t> ids = tok->encode(c.bytes);
    ASSERT_EQ(ids.size(), c.bytes.size()) << c.name;
    for (size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(ids[i], static_cast<unsigned char>(c.bytes[i]));
    EXPECT_EQ(tok->decode(ids), c.bytes) << c.name;
    expect_streams_whole_characters(*tok, ids, c.name);
  }
  const uint32_t bad = 256;
  expect_error([&] { tok->decode(&bad, 1); }, ErrorCode::Argument, {"256"});
}

TEST(WorldTokenizer, KnownIdsFromTheSpec) {
  REQUIRE_TOKENIZER(world_tokenizer());
  EXPECT_EQ(tok->vocab_size(), 65536u);
  EXPECT_STREQ(tok->kind(), "world");
  EXPECT_EQ(tok->encode("\n"), std::vector<uint32_t>{11});
  EXPECT_EQ(tok->encode(" "), std::vector<uint32_t>{33});
  EXPECT_EQ(tok->encode("\n\n"), std::vector<uint32_t>{261});
  // '\x80' in a str literal is U+0080, two bytes in UTF-8, not the raw byte 0x80.
  EXPECT_EQ(tok->decode({2423}), "\xC2\x80");
  EXPECT_EQ(tok->decode({129}), "\x80");  // b'\x80' is the raw byte
  EXPECT_EQ(tok->decode({0}), "");        // end of text
  EXPECT_EQ(tok->decode({65535}), "");    // unused id
  const uint32_t bad = 65536;
  expect_error([&] { tok->decode(&bad, 1); }, ErrorCode::Argument, {"65536"});
}

TEST(NeoxTokenizer, KnownIdsFromTheSpec) {
  REQUIRE_TOKENIZER(neox_tokenizer());
  EXPECT_EQ(tok->vocab_size(), 50277u);
  EXPECT_STREQ(tok->kind(), "neox");
  EXPECT_EQ(tok->encode("\n"), std::vector<uint32_t>{187});
  EXPECT_EQ(tok->encode("\n\n"), std::vector<uint32_t>{535});
  EXPECT_EQ(tok->encode("<|endoftext|>"), std::vector<uint32_t>{0});
  EXPECT_EQ(tok->decode({50254}), std::string(24, ' '));
  EXPECT_EQ(tok->decode({50276}), "  ");
  const uint32_t bad = 50277;
  expect_error([&] { tok->decode(&bad, 1); }, ErrorCode::Argument, {"50277"});
}

TEST(NeoxTokenizer, LongRepetitiveWordStaysCorrect) {
  // Longer than the cache limit, and many equal-rank merges: checks the merge order by round trip.
  REQUIRE_TOKENIZER(neox_tokenizer());
  const std::string word(5000, 'a');
  EXPECT_EQ(tok->decode(tok->encode(word)), word);
  EXPECT_LT(tok->encode(word).size(), word.size() / 2);
}

TEST(Utf8StreamDecoder, HoldsBackIncompleteCharacters) {
  Utf8StreamDecoder d;
  EXPECT_EQ(d.push("a\xE4\xB8"), "a");
  EXPECT_EQ(d.push("\xAD"), "\xE4\xB8\xAD");
  EXPECT_EQ(d.push("\xF0\x9F"), "");
  EXPECT_EQ(d.push("\x98"), "");
  EXPECT_EQ(d.push("\x80!"), "\xF0\x9F\x98\x80!");
  EXPECT_EQ(d.flush(), "");
}

TEST(Utf8StreamDecoder, ReplacesBytesThatCannotComplete) {
  const std::string fffd = "\xEF\xBF\xBD";
  Utf8StreamDecoder d;
  EXPECT_EQ(d.push("\xFF"), fffd);              // never valid anywhere
  EXPECT_EQ(d.push("\xE4" "A"), fffd + "A");    // the sequence is cut short by an ASCII byte
  EXPECT_EQ(d.push("\xED\xA0"), fffd + fffd);   // would be a surrogate: invalid at the 2nd byte
  EXPECT_EQ(d.push("\xF0\x9F\x98"), "");
  EXPECT_EQ(d.flush(), fffd);                   // an unfinished character at the end is one U+FFFD
  EXPECT_EQ(d.flush(), "");
}

TEST(TokenizerErrors, MissingFilesThrowIo) {
  const std::string missing = testing::TempDir() + "no-such-vocab.txt";
  expect_error([&] { Tokenizer::world(missing); }, ErrorCode::Io, {missing});
  expect_error([&] { Tokenizer::neox(missing); }, ErrorCode::Io, {missing});
}

TEST(TokenizerErrors, CorruptWorldVocabNamesFileAndLine) {
  REQUIRE_TOKENIZER(world_tokenizer());
  // A valid prefix (the 256 byte tokens) followed by one broken line each time.
  std::ifstream in(world_vocab_path());
  std::string prefix, line;
  for (int i = 0; i < 256 && std::getline(in, line); ++i) prefix += line + "\n";
  const struct {
    const char* line;
    const char* message;
  } broken[] = {
      {"257 'ab' 3", "2 bytes but the line says 3"},
      {"257 'ab", "fewer than three fields"},
      {"257 'ab 2", "not a quoted Python literal"},
      {"x 'ab' 2", "token id is not a number"},
      {"257 '\\q' 1", "unsupported escape"},
      {"257 b'\\u00e9' 2", "bytes literal"},
      {"256 'ab' 2", "appears twice"},
      {"70000 'ab' 2", "outside"},
  };
  for (const auto& b : broken) {
    const std::string path = write_temp_file("corrupt-vocab.txt", prefix + b.line + "\n");
    expect_error([&] { Tokenizer::world(path); }, ErrorCode::Format, {path, "line 257", b.message});
  }
  const std::string no_bytes = write_temp_file("no-bytes-vocab.txt", "1 'a' 1\n");
  expect_error([&] { Tokenizer::world(no_bytes); }, ErrorCode::Format, {no_bytes, "single byte"});
}

TEST(TokenizerErrors, CorruptNeoxJsonThrowsFormat) {
  const std::string truncated = write_temp_file("truncated.json", "{\"model\": {\"vocab\": ");
  expect_error([&] { Tokenizer::neox(truncated); }, ErrorCode::Format, {truncated, "invalid tokenizer JSON"});
  const std::string wordpiece = write_temp_file(
      "wordpiece.json",
      R"({"normalizer": null, "pre_tokenizer": {"type": "ByteLevel"}, "decoder": null,
          "model": {"type": "WordPiece", "vocab": {}}})");
  expect_error([&] { Tokenizer::neox(wordpiece); }, ErrorCode::Format, {wordpiece, "not BPE"});
}
