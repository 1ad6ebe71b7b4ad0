// The Unicode properties the NeoX tokenizer needs: character classes of the GPT-2 split regex
// and NFC normalization. Data comes from unicode_tables.cpp (generated from Python's unicodedata).
#pragma once
#include <string>
#include <string_view>

namespace rwkv::unicode {

bool is_letter(char32_t cp);      // \p{L}
bool is_number(char32_t cp);      // \p{N}
bool is_whitespace(char32_t cp);  // \s: the White_Space property, as Oniguruma (HF tokenizers) uses it

// NFC of valid UTF-8 (invalid input must be sanitized first). Returns the text unchanged, without
// any decomposition work, when no character in it can be affected by NFC (the common case).
std::string nfc(std::string_view utf8);

}  // namespace rwkv::unicode
