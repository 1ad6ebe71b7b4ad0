// The byte tokenizer of rwkv.cpp's tiny test models: token id = byte value.
#include "core/error.h"
#include "tokenizer/tokenizer.h"

namespace rwkv {
namespace {

class ByteTokenizer final : public Tokenizer {
 public:
  std::vector<uint32_t> encode(std::string_view text) const override {
    std::vector<uint32_t> ids(text.size());
    for (size_t i = 0; i < text.size(); ++i) ids[i] = static_cast<unsigned char>(text[i]);
    return ids;
  }

  std::string decode(const uint32_t* ids, size_t n) const override {
    std::string out(n, '\0');
    for (size_t i = 0; i < n; ++i) {
      if (ids[i] >= 256)
        throw Error(ErrorCode::Argument, "bytes tokenizer: token id " + std::to_string(ids[i]) + " is not below 256");
      out[i] = char(ids[i]);
    }
    return out;
  }

  uint32_t vocab_size() const override { return 256; }
  const char* kind() const override { return "bytes"; }
};

}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::bytes() { return std::make_unique<ByteTokenizer>(); }

}  // namespace rwkv
