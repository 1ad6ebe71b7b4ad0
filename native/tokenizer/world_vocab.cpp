#include "tokenizer/world_vocab.h"

#include <charconv>

#include "core/error.h"
#include "tokenizer/utf8.h"

namespace rwkv {
namespace {

constexpr size_t kMaxWorldVocab = 65536;  // the models' embedding size

bool parse_hex(std::string_view digits, char32_t* value) {
  uint32_t v = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v, 16);
  if (ec != std::errc() || end != digits.data() + digits.size()) return false;
  *value = v;
  return true;
}

bool parse_decimal(std::string_view text, size_t* value) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *value);
  return ec == std::errc() && end == text.data() + text.size() && !text.empty();
}

}  // namespace

bool parse_python_literal(std::string_view literal, std::string* out, std::string* why) {
  const bool is_bytes = literal.starts_with('b');
  if (is_bytes) literal.remove_prefix(1);
  if (literal.size() < 2 || (literal.front() != '\'' && literal.front() != '"') || literal.back() != literal.front()) {
    *why = "not a quoted Python literal";
    return false;
  }
  const std::string_view body = literal.substr(1, literal.size() - 2);
  out->clear();
  for (size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    if (c != '\\') {
      if (is_bytes && static_cast<unsigned char>(c) >= 0x80) {
        *why = "non-ASCII character inside a bytes literal";
        return false;
      }
      *out += c;
      continue;
    }
    if (++i == body.size()) {
      *why = "literal ends with a lone backslash";
      return false;
    }
    const char escape = body[i];
    switch (escape) {
      case '\\': *out += '\\'; break;
      case '\'': *out += '\''; break;
      case '"': *out += '"'; break;
      case 'n': *out += '\n'; break;
      case 't': *out += '\t'; break;
      case 'r': *out += '\r'; break;
      case 'a': *out += '\a'; break;
      case 'b': *out += '\b'; break;
      case 'f': *out += '\f'; break;
      case 'v': *out += '\v'; break;
      case 'x': case 'u': case 'U': {
        const size_t digits = escape == 'x' ? 2 : escape == 'u' ? 4 : 8;
        char32_t value;
        if (is_bytes && escape != 'x') {
          *why = std::string("\\") + escape + " escape inside a bytes literal";
          return false;
        }
        if (i + digits >= body.size() || !parse_hex(body.substr(i + 1, digits), &value)) {
          *why = std::string("bad \\") + escape + " escape";
          return false;
        }
        i += digits;
        if (is_bytes) {
          *out += char(value);  // b'\xHH' is the raw byte
        } else if (value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) {
          *why = "escape names a surrogate or a code point past U+10FFFF";
          return false;
        } else {
          utf8::append(*out, value);  // '\xHH' is the code point U+00HH (spec 13.1 gotcha)
        }
        break;
      }
      default:
        *why = std::string("unsupported escape \\") + escape;
        return false;
    }
  }
  return true;
}

std::vector<std::string> parse_world_vocab(std::string_view contents, const std::string& file_name) {
  std::vector<std::string> tokens;
  size_t line_number = 0, token_count = 0;
  std::string why;
  while (!contents.empty()) {
    ++line_number;
    const size_t newline = contents.find('\n');
    std::string_view line = contents.substr(0, newline);
    contents.remove_prefix(newline == std::string_view::npos ? contents.size() : newline + 1);
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (line.empty()) continue;

    const auto fail = [&](const std::string& what) {
      return Error(ErrorCode::Format, "World vocab '" + file_name + "' line " + std::to_string(line_number) + ": " +
                                          what + " (expected '<id> <python literal> <byte length>')");
    };
    // The literal itself may contain spaces, so split at the first and the last space only.
    const size_t first_space = line.find(' '), last_space = line.rfind(' ');
    if (first_space == std::string_view::npos || first_space == last_space) throw fail("fewer than three fields");
    size_t id, byte_length;
    if (!parse_decimal(line.substr(0, first_space), &id)) throw fail("token id is not a number");
    if (!parse_decimal(line.substr(last_space + 1), &byte_length)) throw fail("byte length is not a number");
    if (id == 0 || id >= kMaxWorldVocab) throw fail("token id " + std::to_string(id) + " is outside 1..65535");
    std::string bytes;
    if (!parse_python_literal(line.substr(first_space + 1, last_space - first_space - 1), &bytes, &why)) throw fail(why);
    if (bytes.size() != byte_length)
      throw fail("literal has " + std::to_string(bytes.size()) + " bytes but the line says " + std::to_string(byte_length));
    if (bytes.empty()) throw fail("empty token");
    if (id >= tokens.size()) tokens.resize(id + 1);
    if (!tokens[id].empty()) throw fail("token id " + std::to_string(id) + " appears twice");
    tokens[id] = std::move(bytes);
    ++token_count;
  }
  if (token_count == 0) throw Error(ErrorCode::Format, "World vocab '" + file_name + "' has no tokens");
  // Greedy encoding relies on every single byte being a token (spec: ids 1..256).
  for (size_t byte = 0; byte < 256; ++byte) {
    if (tokens.size() <= byte + 1 || tokens[byte + 1] != std::string(1, char(byte)))
      throw Error(ErrorCode::Format, "World vocab '" + file_name + "': token " + std::to_string(byte + 1) +
                                         " must be the single byte " + std::to_string(byte));
  }
  return tokens;
}

}  // namespace rwkv
