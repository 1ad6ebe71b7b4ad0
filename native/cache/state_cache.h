// StateCache: an LRU of recurrent states keyed by token prefix, in a trie over token ids.
//
// RWKV's state is a fixed-size vector whatever the context length, so caching the state after a
// prompt makes any later prompt that starts with it free up to that point: a chat turn pays only
// for its new tokens. A lookup finds the longest cached prefix of the given tokens. Entries are
// evicted least-recently-used first, within an entry budget and a byte budget; pinned entries
// (preloaded prompts) are never evicted. Thread-safe.
#pragma once
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace rwkv {

class StateCache {
 public:
  struct Entry {
    std::vector<float> state;
    std::vector<float> logits;  // after the last token of the prefix (needed to sample from it)
  };
  struct Hit {
    size_t length = 0;                    // tokens covered (0: no hit)
    std::shared_ptr<const Entry> entry;  // null when length == 0
  };
  struct Stats {
    uint64_t hits = 0, misses = 0, tokens_saved = 0;
    size_t entries = 0, bytes = 0, pinned = 0;
  };

  // max_entries 0 disables the cache (lookups miss, inserts are dropped); max_bytes 0 = no byte budget.
  StateCache(size_t max_entries, size_t max_bytes);
  ~StateCache();

  Hit lookup(const uint32_t* tokens, size_t n);
  void insert(const uint32_t* tokens, size_t n, std::vector<float> state, std::vector<float> logits, bool pin = false);
  void clear();
  Stats stats() const;
  bool enabled() const { return max_entries_ > 0; }

 private:
  struct Node {
    Node* parent = nullptr;
    uint32_t token = 0;
    std::unordered_map<uint32_t, std::unique_ptr<Node>> children;
    std::shared_ptr<Entry> entry;
    bool pinned = false;
    std::list<Node*>::iterator lru;  // valid while entry is set
  };

  void evict_locked();
  void drop_entry_locked(Node* node);
  static size_t entry_bytes(const Entry& e) { return (e.state.size() + e.logits.size()) * sizeof(float); }

  mutable std::mutex mutex_;
  size_t max_entries_, max_bytes_;
  Node root_;
  std::list<Node*> lru_;  // front = most recently used
  Stats stats_;
};

}  // namespace rwkv
