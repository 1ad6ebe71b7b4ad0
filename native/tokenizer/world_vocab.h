// Parser for the World tokenizer's vocabulary file (rwkv_vocab_v20230424.txt, spec 13.1).
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace rwkv {

// Token bytes indexed by id; ids without a line (0, and 65530+) are empty.
// `file_name` is only used in error messages. Throws Error(Format) naming the line on bad input.
std::vector<std::string> parse_world_vocab(std::string_view contents, const std::string& file_name);

// Decodes one Python literal as the vocab file writes it: 'str', "str" or b'bytes'.
// str literals become UTF-8; in them \xHH is the code point U+00HH, not a raw byte.
// Returns false (with a reason) when the literal is malformed.
bool parse_python_literal(std::string_view literal, std::string* bytes, std::string* why);

}  // namespace rwkv
