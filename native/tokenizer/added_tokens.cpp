#include "tokenizer/added_tokens.h"

#include <algorithm>

namespace rwkv {

void AddedTokenMatcher::add(std::string content, uint32_t id) {
  if (content.empty()) return;
  const unsigned char first = static_cast<unsigned char>(content[0]);
  auto& bucket = by_first_byte_[first];
  bucket.push_back({std::move(content), id});
  std::stable_sort(bucket.begin(), bucket.end(),
                   [](const Entry& a, const Entry& b) { return a.content.size() > b.content.size(); });
  first_byte_used_[first] = true;
  ++count_;
}

AddedTokenMatcher::Match AddedTokenMatcher::find(std::string_view text, size_t from) const {
  for (size_t pos = from; pos < text.size(); ++pos) {
    const unsigned char first = static_cast<unsigned char>(text[pos]);
    if (!first_byte_used_[first]) continue;
    for (const Entry& e : by_first_byte_[first]) {
      if (text.compare(pos, e.content.size(), e.content) == 0) return {pos, e.content.size(), e.id};
    }
  }
  return {};
}

}  // namespace rwkv
