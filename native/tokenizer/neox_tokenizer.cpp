// The GPT-NeoX 20B tokenizer (spec 13.2), following HF tokenizers' pipeline:
// split out raw-matched added tokens -> NFC -> split out normalized added tokens ->
// GPT-2 pre-tokenizer -> byte-level BPE per word.
#include <algorithm>

#include "core/error.h"
#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe_model.h"
#include "tokenizer/gpt2_pretokenizer.h"
#include "tokenizer/neox_config.h"
#include "tokenizer/read_file.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"
#include "tokenizer/utf8.h"

namespace rwkv {
namespace {

class NeoxTokenizer final : public Tokenizer {
 public:
  NeoxTokenizer(const NeoxConfig& config, const std::string& file_name)
      : bpe_(config.vocab, config.merges, file_name), nfc_(config.nfc) {
    uint32_t size = 0;
    for (const auto& [bytes, id] : config.vocab) size = std::max(size, id + 1);
    for (const auto& t : config.added_tokens) size = std::max(size, t.id + 1);
    id_bytes_.resize(size);
    for (const auto& [bytes, id] : config.vocab) id_bytes_[id] = bytes;
    for (const auto& t : config.added_tokens) {
      // Python tokenizers' decode() skips special tokens by default, and the engine treats them
      // as control signals, so they decode to nothing; the others decode to their text.
      id_bytes_[t.id] = t.special ? std::string() : t.content;
      if (t.normalized && nfc_) {
        normalized_added_.add(unicode::nfc(t.content), t.id);
      } else if (t.normalized) {
        normalized_added_.add(t.content, t.id);
      } else {
        raw_added_.add(t.content, t.id);
      }
    }
  }

  std::vector<uint32_t> encode(std::string_view text) const override {
    std::vector<uint32_t> ids;
    // HF works on Unicode strings; invalid bytes arrive as U+FFFD there, so do the same.
    std::string sanitized;
    if (!utf8::is_valid(text)) text = sanitized = utf8::sanitize(text);
    split_added(raw_added_, text, ids, [&](std::string_view piece) {
      if (!nfc_) return encode_normalized(piece, ids);
      encode_normalized(unicode::nfc(piece), ids);
    });
    return ids;
  }

  std::string decode(const uint32_t* ids, size_t n) const override {
    std::string out;
    for (size_t i = 0; i < n; ++i) {
      if (ids[i] >= id_bytes_.size())
        throw Error(ErrorCode::Argument, "NeoX tokenizer: token id " + std::to_string(ids[i]) + " is not below " +
                                             std::to_string(id_bytes_.size()));
      out += id_bytes_[ids[i]];
    }
    return out;
  }

  uint32_t vocab_size() const override { return uint32_t(id_bytes_.size()); }
  const char* kind() const override { return "neox"; }

 private:
  // Emits the ids of added tokens found in `text` and hands the text between them to `rest`.
  template <typename Rest>
  static void split_added(const AddedTokenMatcher& matcher, std::string_view text, std::vector<uint32_t>& ids,
                          Rest&& rest) {
    size_t pos = 0;
    while (pos < text.size()) {
      const AddedTokenMatcher::Match m = matcher.empty() ? AddedTokenMatcher::Match{} : matcher.find(text, pos);
      if (!m.found()) {
        rest(text.substr(pos));
        return;
      }
      if (m.start > pos) rest(text.substr(pos, m.start - pos));
      ids.push_back(m.id);
      pos = m.start + m.length;
    }
  }

  void encode_normalized(std::string_view text, std::vector<uint32_t>& ids) const {
    split_added(normalized_added_, text, ids, [&](std::string_view piece) {
      for (const std::string_view word : gpt2_pretokenize(piece)) bpe_.encode_word(word, ids);
    });
  }

  BpeModel bpe_;
  bool nfc_;
  AddedTokenMatcher raw_added_, normalized_added_;
  std::vector<std::string> id_bytes_;
};

}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::neox(const std::string& tokenizer_json) {
  const NeoxConfig config = parse_neox_config(read_whole_file(tokenizer_json, "tokenizer JSON"), tokenizer_json);
  return std::make_unique<NeoxTokenizer>(config, tokenizer_json);
}

}  // namespace rwkv
