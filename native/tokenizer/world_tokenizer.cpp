// The World tokenizer (spec 13.1): greedy longest match over the UTF-8 bytes.
#include "core/error.h"
#include "tokenizer/byte_trie.h"
#include "tokenizer/read_file.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/world_vocab.h"

namespace rwkv {
namespace {

constexpr uint32_t kWorldVocabSize = 65536;  // the models' embedding size; ids 65530+ are unused

class WorldTokenizer final : public Tokenizer {
 public:
  explicit WorldTokenizer(std::vector<std::string> tokens) : tokens_(std::move(tokens)), trie_(tokens_) {
    tokens_.resize(kWorldVocabSize);
  }

  std::vector<uint32_t> encode(std::string_view text) const override {
    std::vector<uint32_t> ids;
    ids.reserve(text.size() / 3 + 1);
    while (!text.empty()) {
      // Always matches: every single byte is a token (checked when the vocab was parsed).
      const ByteTrie::Match match = trie_.longest_prefix(text);
      ids.push_back(match.token);
      text.remove_prefix(match.length);
    }
    return ids;
  }

  std::string decode(const uint32_t* ids, size_t n) const override {
    std::string out;
    for (size_t i = 0; i < n; ++i) {
      if (ids[i] >= kWorldVocabSize)
        throw Error(ErrorCode::Argument, "World tokenizer: token id " + std::to_string(ids[i]) + " is not below 65536");
      out += tokens_[ids[i]];  // id 0 (end of text) and unused ids are empty
    }
    return out;
  }

  uint32_t vocab_size() const override { return kWorldVocabSize; }
  const char* kind() const override { return "world"; }

 private:
  std::vector<std::string> tokens_;
  ByteTrie trie_;
};

}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::world(const std::string& vocab_path) {
  return std::make_unique<WorldTokenizer>(parse_world_vocab(read_whole_file(vocab_path, "World vocab"), vocab_path));
}

}  // namespace rwkv
