#include "cache/state_cache.h"

namespace rwkv {

StateCache::StateCache(size_t max_entries, size_t max_bytes) : max_entries_(max_entries), max_bytes_(max_bytes) {}
StateCache::~StateCache() = default;

StateCache::Hit StateCache::lookup(const uint32_t* tokens, size_t n) {
  std::lock_guard<std::mutex> lock(mutex_);
  Hit hit;
  Node* best = nullptr;
  Node* node = &root_;
  for (size_t i = 0; i < n; ++i) {
    auto it = node->children.find(tokens[i]);
    if (it == node->children.end()) break;
    node = it->second.get();
    if (node->entry) {
      best = node;
      hit.length = i + 1;
    }
  }
  if (!best) {
    ++stats_.misses;
    return {};
  }
  lru_.splice(lru_.begin(), lru_, best->lru);
  hit.entry = best->entry;
  ++stats_.hits;
  stats_.tokens_saved += hit.length;
  return hit;
}

void StateCache::insert(const uint32_t* tokens, size_t n, std::vector<float> state, std::vector<float> logits, bool pin) {
  if (n == 0) return;
  std::lock_guard<std::mutex> lock(mutex_);
  if (max_entries_ == 0) return;
  Node* node = &root_;
  for (size_t i = 0; i < n; ++i) {
    auto& child = node->children[tokens[i]];
    if (!child) {
      child = std::make_unique<Node>();
      child->parent = node;
      child->token = tokens[i];
    }
    node = child.get();
  }
  if (node->entry) {  // replace: same prefix, same state in exact arithmetic; keep the newest
    stats_.bytes -= entry_bytes(*node->entry);
    lru_.erase(node->lru);
    stats_.entries--;
    if (node->pinned) stats_.pinned--;
  }
  node->entry = std::make_shared<Entry>(Entry{std::move(state), std::move(logits)});
  node->pinned = pin || node->pinned;
  if (node->pinned) stats_.pinned++;
  lru_.push_front(node);
  node->lru = lru_.begin();
  stats_.entries++;
  stats_.bytes += entry_bytes(*node->entry);
  evict_locked();
}

void StateCache::drop_entry_locked(Node* node) {
  stats_.bytes -= entry_bytes(*node->entry);
  stats_.entries--;
  if (node->pinned) stats_.pinned--;
  lru_.erase(node->lru);
  node->entry.reset();
  node->pinned = false;
  // Prune the branch up to the first node that still leads somewhere.
  while (node != &root_ && !node->entry && node->children.empty()) {
    Node* parent = node->parent;
    parent->children.erase(node->token);  // destroys node
    node = parent;
  }
}

void StateCache::evict_locked() {
  auto over = [&] { return stats_.entries > max_entries_ || (max_bytes_ > 0 && stats_.bytes > max_bytes_); };
  // Walk from the least recently used end; pinned entries are stepped over.
  auto it = lru_.end();
  while (over() && it != lru_.begin()) {
    --it;
    if ((*it)->pinned) continue;
    Node* victim = *it;
    it = std::next(it);  // stays valid when the victim's list node is erased
    drop_entry_locked(victim);
  }
}

void StateCache::clear() {
  std::lock_guard<std::mutex> lock(mutex_);
  lru_.clear();
  root_.children.clear();
  const Stats old = stats_;
  stats_ = Stats{};
  stats_.hits = old.hits;
  stats_.misses = old.misses;
  stats_.tokens_saved = old.tokens_saved;
}

StateCache::Stats StateCache::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

}  // namespace rwkv
