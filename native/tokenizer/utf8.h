// UTF-8 helpers shared by the tokenizers and the streaming decoder.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace rwkv::utf8 {

inline constexpr char32_t kReplacement = 0xFFFD;

// The outcome of reading one character at the start of some bytes.
struct Step {
  enum Kind { Char, Invalid, Truncated } kind;
  char32_t code_point;  // valid for Char
  size_t length;        // bytes consumed: the character, the maximal invalid subpart, or all bytes (Truncated)
};

// Reads one character. Invalid means the first `length` bytes can never start a character
// (they become one U+FFFD, as WHATWG TextDecoder and Python's errors='replace' do);
// Truncated means every byte left is a valid start of a character that is not complete yet.
Step next(std::string_view bytes);

void append(std::string& out, char32_t code_point);

// The bytes with each invalid sequence replaced by U+FFFD (a truncated tail included).
std::string sanitize(std::string_view bytes);

bool is_valid(std::string_view bytes);

}  // namespace rwkv::utf8
