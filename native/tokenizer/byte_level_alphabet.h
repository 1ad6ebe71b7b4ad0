// GPT-2's byte <-> character table (HF "ByteLevel"). Byte-level BPE vocabularies spell every byte
// as a printable character: bytes that are printable Latin-1 stand for themselves, the other 68
// (control characters, space, 0x7F-0xA0, 0xAD) become U+0100.. in byte order, so ' ' is 'Ġ'.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace rwkv::byte_level {

char32_t char_for_byte(unsigned char byte);

// The raw bytes a vocabulary string spells, or nullopt if it has a character outside the table.
std::optional<std::string> bytes_of(std::string_view vocab_utf8);

}  // namespace rwkv::byte_level
