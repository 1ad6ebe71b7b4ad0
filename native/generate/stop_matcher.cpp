#include "generate/stop_matcher.h"

#include <algorithm>

namespace rwkv {

StopMatcher::StopMatcher(std::vector<std::string> stops) {
  for (auto& s : stops)
    if (!s.empty()) stops_.push_back(std::move(s));
  for (const auto& s : stops_) longest_ = std::max(longest_, s.size());
}

bool StopMatcher::push(const std::string& text) {
  // Only the new text and the tail that could complete a stop string need searching.
  const size_t from = text_.size() > longest_ ? text_.size() - longest_ : 0;
  text_ += text;
  size_t best = std::string::npos;
  for (const auto& s : stops_) {
    const size_t at = text_.find(s, from);
    if (at != std::string::npos) best = std::min(best, at);
  }
  if (best == std::string::npos) return false;
  text_.resize(best);
  return true;
}

size_t StopMatcher::safe_length() const {
  size_t hold = 0;
  for (const auto& s : stops_) {
    // The longest suffix of text_ that is a proper prefix of s must wait for more text.
    for (size_t len = std::min(s.size() - 1, text_.size()); len > hold; --len) {
      if (text_.compare(text_.size() - len, len, s, 0, len) == 0) {
        hold = len;
        break;
      }
    }
  }
  return text_.size() - hold;
}

}  // namespace rwkv
