#include "tokenizer/utf8.h"

namespace rwkv::utf8 {

Step next(std::string_view bytes) {
  const auto* s = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  const unsigned char lead = s[0];
  if (lead < 0x80) return {Step::Char, lead, 1};
  size_t need;
  char32_t cp;
  // Allowed range of the second byte, from the Unicode well-formed byte sequence table; it rules
  // out overlong forms, surrogates and code points past U+10FFFF already at the second byte.
  unsigned char lo = 0x80, hi = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    need = 1, cp = lead & 0x1F;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    need = 2, cp = lead & 0x0F;
    if (lead == 0xE0) lo = 0xA0;
    if (lead == 0xED) hi = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    need = 3, cp = lead & 0x07;
    if (lead == 0xF0) lo = 0x90;
    if (lead == 0xF4) hi = 0x8F;
  } else {
    return {Step::Invalid, 0, 1};
  }
  for (size_t i = 1; i <= need; ++i) {
    if (i >= n) return {Step::Truncated, 0, n};
    const unsigned char c = s[i];
    if (c < lo || c > hi) return {Step::Invalid, 0, i};
    lo = 0x80, hi = 0xBF;
    cp = (cp << 6) | (c & 0x3F);
  }
  return {Step::Char, cp, need + 1};
}

void append(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

std::string sanitize(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  size_t i = 0;
  while (i < bytes.size()) {
    const Step step = next(bytes.substr(i));
    if (step.kind == Step::Char) {
      out.append(bytes.substr(i, step.length));
    } else {
      append(out, kReplacement);
    }
    i += step.length;
  }
  return out;
}

bool is_valid(std::string_view bytes) {
  for (size_t i = 0; i < bytes.size();) {
    const Step step = next(bytes.substr(i));
    if (step.kind != Step::Char) return false;
    i += step.length;
  }
  return true;
}

}  // namespace rwkv::utf8
