// Splits text into the "words" BPE works on, exactly as the GPT-2 regex of HF's ByteLevel
// pre-tokenizer does (spec 13.2):
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// Hand-written rather than a regex engine: std::regex has no \p{..} classes and is slow.
#pragma once
#include <string_view>
#include <vector>

namespace rwkv {

// `text` must be valid UTF-8. The pieces point into `text` and cover it completely, in order.
std::vector<std::string_view> gpt2_pretokenize(std::string_view text);

}  // namespace rwkv
