#include "tokenizer/gpt2_pretokenizer.h"

#include "tokenizer/unicode.h"
#include "tokenizer/utf8.h"

namespace rwkv {
namespace {

enum class CharClass { Letter, Number, Space, Other };

CharClass classify(char32_t cp) {
  if (unicode::is_letter(cp)) return CharClass::Letter;
  if (unicode::is_number(cp)) return CharClass::Number;
  if (unicode::is_whitespace(cp)) return CharClass::Space;
  return CharClass::Other;
}

// Walks the text one character at a time, remembering each character's class.
class Cursor {
 public:
  explicit Cursor(std::string_view text) : text_(text) {}
  bool at_end(size_t pos) const { return pos >= text_.size(); }
  // Class and byte length of the character at pos.
  std::pair<CharClass, size_t> at(size_t pos) const {
    const unsigned char lead = static_cast<unsigned char>(text_[pos]);
    if (lead < 0x80) return {classify(lead), 1};
    const utf8::Step step = utf8::next(text_.substr(pos));
    return {classify(step.code_point), step.length};
  }
  // End of the run of characters of class `cls` starting at pos.
  size_t run_end(size_t pos, CharClass cls) const {
    while (!at_end(pos)) {
      const auto [c, len] = at(pos);
      if (c != cls) break;
      pos += len;
    }
    return pos;
  }

 private:
  std::string_view text_;
};

// Length of a contraction ('s 't 're 've 'm 'll 'd) at pos, or 0.
size_t contraction_length(std::string_view rest) {
  if (rest.size() < 2 || rest[0] != '\'') return 0;
  const char a = rest[1];
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  if (rest.size() >= 3) {
    const char b = rest[2];
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
  }
  return 0;
}

}  // namespace

std::vector<std::string_view> gpt2_pretokenize(std::string_view text) {
  std::vector<std::string_view> pieces;
  const Cursor cursor(text);
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end;
    const auto [cls, len] = cursor.at(pos);
    if (const size_t contraction = contraction_length(text.substr(pos))) {
      end = pos + contraction;
    } else if (cls != CharClass::Space) {
      end = cursor.run_end(pos, cls);  // \p{L}+ | \p{N}+ | [^\s\p{L}\p{N}]+
    } else if (text[pos] == ' ' && !cursor.at_end(pos + 1) && cursor.at(pos + 1).first != CharClass::Space) {
      end = cursor.run_end(pos + 1, cursor.at(pos + 1).first);  // the optional leading space
    } else {
      const size_t space_end = cursor.run_end(pos, CharClass::Space);
      end = space_end;
      if (space_end < text.size()) {
        // \s+(?!\S): leave the last space for the word that follows; a lone space matches \s+.
        size_t last_start = space_end - 1;
        while ((static_cast<unsigned char>(text[last_start]) & 0xC0) == 0x80) --last_start;
        if (last_start > pos) end = last_start;
      }
    }
    pieces.push_back(text.substr(pos, end - pos));
    pos = end;
  }
  return pieces;
}

}  // namespace rwkv
