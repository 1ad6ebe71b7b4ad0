// Utf8StreamDecoder (declared in tokenizer.h): streamed text made of whole characters only.
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace rwkv {

std::string Utf8StreamDecoder::push(std::string_view bytes) {
  pending_.append(bytes);
  std::string out;
  size_t i = 0;
  while (i < pending_.size()) {
    const std::string_view rest = std::string_view(pending_).substr(i);
    const utf8::Step step = utf8::next(rest);
    if (step.kind == utf8::Step::Truncated) break;  // may still complete with the next push
    if (step.kind == utf8::Step::Char) {
      out.append(rest.substr(0, step.length));
    } else {
      utf8::append(out, utf8::kReplacement);
    }
    i += step.length;
  }
  pending_.erase(0, i);
  return out;
}

std::string Utf8StreamDecoder::flush() {
  std::string out = utf8::sanitize(pending_);
  pending_.clear();
  return out;
}

}  // namespace rwkv
