#include "tokenizer/unicode.h"

#include <algorithm>
#include <vector>

#include "tokenizer/unicode_tables.h"
#include "tokenizer/utf8.h"

namespace rwkv::unicode {
namespace {

using namespace unicode_tables;

bool in_ranges(std::span<const CodePointRange> ranges, char32_t cp) {
  // First range whose end is >= cp; cp is inside it if the range also starts at or before cp.
  const auto it = std::lower_bound(ranges.begin(), ranges.end(), cp,
                                   [](const CodePointRange& r, char32_t c) { return r.last < c; });
  return it != ranges.end() && it->first <= cp;
}

uint8_t combining_class(char32_t cp) {
  if (cp < 0x300) return 0;
  const auto it = std::lower_bound(kCombiningClasses.begin(), kCombiningClasses.end(), cp,
                                   [](const CombiningClassRange& r, char32_t c) { return r.last < c; });
  return it != kCombiningClasses.end() && it->first <= cp ? it->combining_class : 0;
}

// Hangul syllables decompose and compose by arithmetic (Unicode chapter 3.12), not by table.
constexpr char32_t kHangulBase = 0xAC00, kLeadBase = 0x1100, kVowelBase = 0x1161, kTrailBase = 0x11A7;
constexpr char32_t kVowelCount = 21, kTrailCount = 28, kSyllableCount = 19 * 21 * 28;

void append_decomposed(std::vector<char32_t>& out, char32_t cp) {
  if (cp >= kHangulBase && cp < kHangulBase + kSyllableCount) {
    const char32_t index = cp - kHangulBase;
    out.push_back(kLeadBase + index / (kVowelCount * kTrailCount));
    out.push_back(kVowelBase + (index % (kVowelCount * kTrailCount)) / kTrailCount);
    if (index % kTrailCount) out.push_back(kTrailBase + index % kTrailCount);
    return;
  }
  const auto it = std::lower_bound(kDecompositions.begin(), kDecompositions.end(), cp,
                                   [](const Decomposition& d, char32_t c) { return d.code_point < c; });
  if (it == kDecompositions.end() || it->code_point != cp) {
    out.push_back(cp);
    return;
  }
  const auto parts = kDecompositionCodePoints.subspan(it->offset, it->length);
  out.insert(out.end(), parts.begin(), parts.end());
}

// The primary composite of a pair, or 0 when the pair does not compose.
char32_t compose(char32_t first, char32_t second) {
  if (first >= kLeadBase && first < kLeadBase + 19 && second >= kVowelBase && second < kVowelBase + kVowelCount)
    return kHangulBase + ((first - kLeadBase) * kVowelCount + (second - kVowelBase)) * kTrailCount;
  if (first >= kHangulBase && first < kHangulBase + kSyllableCount && (first - kHangulBase) % kTrailCount == 0 &&
      second > kTrailBase && second < kTrailBase + kTrailCount)
    return first + (second - kTrailBase);
  const auto it = std::lower_bound(kCompositions.begin(), kCompositions.end(), std::pair(first, second),
                                   [](const Composition& c, std::pair<char32_t, char32_t> key) {
                                     return std::pair(c.first, c.second) < key;
                                   });
  return it != kCompositions.end() && it->first == first && it->second == second ? it->composite : 0;
}

bool may_change_under_nfc(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    const unsigned char lead = static_cast<unsigned char>(text[i]);
    if (lead < 0xCC) {  // everything below U+0300 is NFC-stable; skip it byte-wise
      i += lead < 0x80 ? 1 : 2;
      continue;
    }
    const utf8::Step step = utf8::next(text.substr(i));
    if (in_ranges(kNfcUnstable, step.code_point)) return true;
    i += step.length;
  }
  return false;
}

}  // namespace

bool is_letter(char32_t cp) {
  if (cp < 0x80) return (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z';
  return in_ranges(kLetters, cp);
}

bool is_number(char32_t cp) {
  if (cp < 0x80) return cp >= '0' && cp <= '9';
  return in_ranges(kNumbers, cp);
}

bool is_whitespace(char32_t cp) {
  // Python's unicodedata has no White_Space property, so the (short, stable) list is written out.
  if (cp <= 0x20) return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D);
  switch (cp) {
    case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

std::string nfc(std::string_view text) {
  if (!may_change_under_nfc(text)) return std::string(text);

  // 1. Full canonical decomposition.
  std::vector<char32_t> chars;
  chars.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const utf8::Step step = utf8::next(text.substr(i));
    append_decomposed(chars, step.kind == utf8::Step::Char ? step.code_point : utf8::kReplacement);
    i += step.length;
  }
  // 2. Canonical ordering: stable-sort each run of non-starters by combining class.
  for (size_t i = 0; i < chars.size();) {
    if (combining_class(chars[i]) == 0) {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < chars.size() && combining_class(chars[end]) != 0) ++end;
    std::stable_sort(chars.begin() + i, chars.begin() + end,
                     [](char32_t a, char32_t b) { return combining_class(a) < combining_class(b); });
    i = end;
  }
  // 3. Canonical composition: a character joins the last starter unless a character in between
  //    has the same or a higher combining class (it would be "blocked").
  size_t kept = 0, starter = SIZE_MAX;
  int last_class = -1;  // class of the last kept character; -1 = none kept since the starter
  for (const char32_t c : chars) {
    const int c_class = combining_class(c);
    if (starter != SIZE_MAX && (last_class < c_class || last_class == -1)) {
      if (const char32_t composite = compose(chars[starter], c)) {
        chars[starter] = composite;
        continue;
      }
    }
    if (c_class == 0) {
      starter = kept;
      last_class = -1;
    } else {
      last_class = c_class;
    }
    chars[kept++] = c;
  }
  chars.resize(kept);

  std::string out;
  out.reserve(text.size() + 8);
  for (const char32_t c : chars) utf8::append(out, c);
  return out;
}

}  // namespace rwkv::unicode
