// Text <-> token ids for the three vocabularies RWKV models use (spec section 13):
// World (rwkv_vocab_v20230424.txt), GPT-NeoX 20B (HF tokenizers JSON) and raw bytes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace rwkv {

// Immutable after construction; encode and decode may be called from several threads at once.
class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  // Text -> ids. World and bytes work on the raw bytes; NeoX replaces invalid UTF-8 by U+FFFD first.
  virtual std::vector<uint32_t> encode(std::string_view utf8) const = 0;
  // Ids -> raw bytes. A token may end inside a UTF-8 character, so the result can be invalid
  // UTF-8 at the edges; streaming callers pass pieces through Utf8StreamDecoder.
  // Throws Error(Argument) for ids >= vocab_size(). Control ids (end of text, padding) and
  // unused ids decode to nothing.
  virtual std::string decode(const uint32_t* ids, size_t n) const = 0;
  std::string decode(const std::vector<uint32_t>& ids) const { return decode(ids.data(), ids.size()); }
  virtual uint32_t vocab_size() const = 0;  // ids are < vocab_size
  virtual const char* kind() const = 0;     // "world", "neox", "bytes"

  static std::unique_ptr<Tokenizer> world(const std::string& vocab_path);     // rwkv_vocab_v20230424.txt
  static std::unique_ptr<Tokenizer> neox(const std::string& tokenizer_json);  // 20B_tokenizer.json
  static std::unique_ptr<Tokenizer> bytes();                                  // id = byte, vocab 256
};

// Holds back an incomplete UTF-8 sequence at the end so streamed text only ever contains whole
// characters: push(bytes) returns the longest complete valid prefix; invalid bytes become U+FFFD
// once it is certain they cannot complete; flush() returns whatever is left (invalid as U+FFFD).
class Utf8StreamDecoder {
 public:
  std::string push(std::string_view bytes);
  std::string flush();

 private:
  std::string pending_;  // at most 3 bytes: the start of a character not complete yet
};

}  // namespace rwkv
