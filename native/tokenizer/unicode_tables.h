// Unicode data the NeoX tokenizer needs, generated into unicode_tables.cpp by
// gen_unicode_tables.py. All tables are sorted so lookups can binary-search them.
#pragma once
#include <cstdint>
#include <span>

namespace rwkv::unicode_tables {

struct CodePointRange { char32_t first, last; };                 // inclusive
struct CombiningClassRange { char32_t first, last; uint8_t combining_class; };
struct Decomposition { char32_t code_point; uint16_t offset, length; };  // into kDecompositionCodePoints
struct Composition { char32_t first, second, composite; };       // sorted by (first, second)

extern const char* const kUnicodeVersion;
extern const std::span<const CodePointRange> kLetters;      // general category L*
extern const std::span<const CodePointRange> kNumbers;      // general category N*
extern const std::span<const CodePointRange> kNfcUnstable;  // may change (or change neighbours) under NFC
extern const std::span<const CombiningClassRange> kCombiningClasses;  // non-zero classes only
extern const std::span<const Decomposition> kDecompositions;  // full canonical decompositions, no Hangul
extern const std::span<const char32_t> kDecompositionCodePoints;
extern const std::span<const Composition> kCompositions;      // primary composites, no Hangul

}  // namespace rwkv::unicode_tables
