// Finds HF "added tokens" (whole strings with a fixed id, e.g. <|endoftext|> or runs of spaces)
// in text. HF splits them out before BPE, taking the leftmost match and, among matches starting
// there, the longest.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rwkv {

class AddedTokenMatcher {
 public:
  struct Match {
    size_t start = std::string_view::npos, length = 0;
    uint32_t id = 0;
    bool found() const { return start != std::string_view::npos; }
  };

  void add(std::string content, uint32_t id);
  bool empty() const { return count_ == 0; }
  Match find(std::string_view text, size_t from) const;

 private:
  struct Entry {
    std::string content;
    uint32_t id;
  };
  std::vector<Entry> by_first_byte_[256];  // candidates longest first
  bool first_byte_used_[256] = {};
  size_t count_ = 0;
};

}  // namespace rwkv
