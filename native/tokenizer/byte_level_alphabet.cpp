#include "tokenizer/byte_level_alphabet.h"

#include <array>

#include "tokenizer/utf8.h"

namespace rwkv::byte_level {
namespace {

bool stands_for_itself(unsigned b) { return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE; }

const std::array<char32_t, 256>& table() {
  static const std::array<char32_t, 256> chars = [] {
    std::array<char32_t, 256> t{};
    char32_t next_shifted = 0x100;
    for (unsigned b = 0; b < 256; ++b) t[b] = stands_for_itself(b) ? b : next_shifted++;
    return t;
  }();
  return chars;
}

}  // namespace

char32_t char_for_byte(unsigned char byte) { return table()[byte]; }

std::optional<std::string> bytes_of(std::string_view text) {
  // The table maps bytes onto U+0021..U+0143; invert it once.
  static const std::array<int, 0x144> byte_for_char = [] {
    std::array<int, 0x144> inverse;
    inverse.fill(-1);
    for (unsigned b = 0; b < 256; ++b) inverse[table()[b]] = int(b);
    return inverse;
  }();
  std::string out;
  for (size_t i = 0; i < text.size();) {
    const utf8::Step step = utf8::next(text.substr(i));
    if (step.kind != utf8::Step::Char || step.code_point >= byte_for_char.size() || byte_for_char[step.code_point] < 0)
      return std::nullopt;
    out += char(byte_for_char[step.code_point]);
    i += step.length;
  }
  return out;
}

}  // namespace rwkv::byte_level
