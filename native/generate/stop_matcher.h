// StopMatcher: finds stop strings in generated text across token boundaries, and says how much of
// the text is safe to show. Text that could still turn out to be the start of a stop string is held
// back, so a stop string never leaks into the stream, not even in part.
#pragma once
#include <string>
#include <vector>

namespace rwkv {

class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops);

  // Adds text; returns true if a stop string now occurs. Then text() is cut just before it.
  bool push(const std::string& text);
  // Text so far (without any stop string once matched).
  const std::string& text() const { return text_; }
  // Length of the prefix of text() that can be emitted: no stop string can start inside the rest.
  size_t safe_length() const;

 private:
  std::vector<std::string> stops_;
  size_t longest_ = 0;
  std::string text_;
};

}  // namespace rwkv
