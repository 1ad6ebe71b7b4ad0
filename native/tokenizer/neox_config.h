// What the NeoX tokenizer needs from an HF tokenizers JSON file (20B_tokenizer.json), with the
// byte-level spelling already turned back into raw bytes.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/bpe_model.h"

namespace rwkv {

struct NeoxConfig {
  struct AddedToken {
    std::string content;  // raw UTF-8 text
    uint32_t id;
    bool special;     // control tokens like <|endoftext|>: decode to nothing
    bool normalized;  // matched after NFC (true) or in the raw text (false)
  };
  std::unordered_map<std::string, uint32_t> vocab;  // raw bytes -> id
  std::vector<BpeModel::Merge> merges;             // in rank order
  std::vector<AddedToken> added_tokens;
  bool nfc = false;  // normalizer is NFC (else none)
};

// Throws Error(Format) naming `file_name` when the JSON is malformed or uses a feature this
// engine does not implement (another model, normalizer or pre-tokenizer).
NeoxConfig parse_neox_config(std::string_view json_text, const std::string& file_name);

}  // namespace rwkv
