// Byte-level BPE (HF tokenizers "BPE" model) working directly on raw bytes: the vocabulary and
// merges are converted from GPT-2's printable spelling once at load time, so encoding never has
// to map text through the byte table.
#pragma once
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace rwkv {

class BpeModel {
 public:
  struct Merge {
    std::string left, right;  // raw bytes of the two parts, in rank order (first = applied first)
  };
  // vocab: raw bytes -> id. Throws Error(Format) (mentioning `file_name`) if a single byte has
  // no token or a merge names a token that is not in the vocabulary.
  BpeModel(const std::unordered_map<std::string, uint32_t>& vocab, const std::vector<Merge>& merges,
           const std::string& file_name);

  // Appends the ids of one pre-tokenized word.
  void encode_word(std::string_view word, std::vector<uint32_t>& out) const;

 private:
  struct MergeResult {
    uint32_t rank, merged_id;
  };
  static uint64_t pair_key(uint32_t left, uint32_t right) { return uint64_t(left) << 32 | right; }
  void merge_word(std::string_view word, std::vector<uint32_t>& out) const;

  static constexpr uint32_t kNoToken = UINT32_MAX;
  uint32_t byte_token_[256];  // kNoToken for bytes that cannot occur in UTF-8 and have no token
  std::unordered_map<uint64_t, MergeResult> merges_;

  // Words repeat a lot in text, so their ids are remembered. Guarded because encode is const and
  // may run on several threads.
  static constexpr size_t kMaxCachedWordBytes = 64, kMaxCacheEntries = 1 << 16;
  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<uint32_t>> cache_;
};

}  // namespace rwkv
