#include "tokenizer/bpe_model.h"

#include <queue>

#include "core/error.h"

namespace rwkv {

BpeModel::BpeModel(const std::unordered_map<std::string, uint32_t>& vocab, const std::vector<Merge>& merges,
                   const std::string& file_name) {
  const auto id_of = [&](const std::string& bytes, const char* what) {
    const auto it = vocab.find(bytes);
    if (it == vocab.end())
      throw Error(ErrorCode::Format, "tokenizer '" + file_name + "': " + what + " is not in the BPE vocabulary");
    return it->second;
  };
  for (unsigned b = 0; b < 256; ++b) {
    // Bytes that never occur in valid UTF-8 may lack a token: the input is sanitized first.
    const bool never_in_utf8 = b == 0xC0 || b == 0xC1 || b >= 0xF5;
    const auto it = vocab.find(std::string(1, char(b)));
    if (it == vocab.end() && !never_in_utf8)
      throw Error(ErrorCode::Format, "tokenizer '" + file_name + "': byte " + std::to_string(b) + " has no token");
    byte_token_[b] = it == vocab.end() ? kNoToken : it->second;
  }
  merges_.reserve(merges.size() * 2);
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const Merge& m = merges[rank];
    const uint32_t left = id_of(m.left, "a merge's left part"), right = id_of(m.right, "a merge's right part");
    const uint32_t merged = id_of(m.left + m.right, "a merge's result");
    merges_.emplace(pair_key(left, right), MergeResult{uint32_t(rank), merged});  // the first rank wins
  }
}

void BpeModel::encode_word(std::string_view word, std::vector<uint32_t>& out) const {
  if (word.size() > kMaxCachedWordBytes) return merge_word(word, out);
  const std::string key(word);
  {
    std::lock_guard lock(cache_mutex_);
    if (const auto it = cache_.find(key); it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  const size_t start = out.size();
  merge_word(word, out);
  std::lock_guard lock(cache_mutex_);
  if (cache_.size() >= kMaxCacheEntries) cache_.clear();  // crude bound on memory; refills quickly
  cache_.emplace(key, std::vector<uint32_t>(out.begin() + start, out.end()));
}

void BpeModel::merge_word(std::string_view word, std::vector<uint32_t>& out) const {
  for (const char c : word)
    if (byte_token_[static_cast<unsigned char>(c)] == kNoToken)
      throw Error(ErrorCode::Internal, "BPE: a byte without a token reached the model (input was not sanitized)");
  if (word.size() == 1) {
    out.push_back(byte_token_[static_cast<unsigned char>(word[0])]);
    return;
  }
  // The word as a linked list of symbols, starting from single bytes. Candidate merges wait in a
  // min-heap ordered by (rank, position), so equal merges apply left to right like HF's. Entries
  // go stale when a neighbour merges; they are recognised because a symbol's id only ever changes
  // to a longer token, so an entry is current iff both ids still match.
  struct Symbol {
    uint32_t id;
    int32_t prev, next;  // -1 at the ends
  };
  struct Candidate {
    uint32_t rank;
    int32_t pos;
    uint32_t left_id, right_id, merged_id;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  const int32_t n = int32_t(word.size());
  std::vector<Symbol> symbols(n);
  for (int32_t i = 0; i < n; ++i) symbols[i] = {byte_token_[static_cast<unsigned char>(word[i])], i - 1, i + 1 < n ? i + 1 : -1};

  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> heap;
  const auto consider = [&](int32_t left) {
    if (left < 0 || symbols[left].next < 0) return;
    const uint32_t a = symbols[left].id, b = symbols[symbols[left].next].id;
    if (const auto it = merges_.find(pair_key(a, b)); it != merges_.end()) heap.push({it->second.rank, left, a, b, it->second.merged_id});
  };
  for (int32_t i = 0; i + 1 < n; ++i) consider(i);

  while (!heap.empty()) {
    const Candidate top = heap.top();
    heap.pop();
    Symbol& left = symbols[top.pos];
    if (left.id != top.left_id || left.next < 0 || symbols[left.next].id != top.right_id) continue;  // stale
    const int32_t removed = left.next;
    left.id = top.merged_id;
    left.next = symbols[removed].next;
    if (left.next >= 0) symbols[left.next].prev = top.pos;
    symbols[removed].id = UINT32_MAX;  // dead
    consider(left.prev);
    consider(top.pos);
  }
  for (int32_t i = 0; i >= 0; i = symbols[i].next) out.push_back(symbols[i].id);
}

}  // namespace rwkv
