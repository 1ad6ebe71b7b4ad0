#include "tokenizer/byte_trie.h"

#include <string>

#include "core/error.h"

namespace rwkv {
namespace {

inline uint32_t edge_hash(uint32_t key) { return (key * 2654435761u) ^ (key >> 15); }

}  // namespace

ByteTrie::ByteTrie(const std::vector<std::string>& tokens)
    : root_children_(256, kNoNode), node_token_(1, kNoToken), edges_(1024, Edge{kEmpty, 0}) {
  for (size_t id = 0; id < tokens.size(); ++id) {
    const std::string& token = tokens[id];
    if (token.empty()) continue;
    uint32_t node = 0;
    for (const char c : token) {
      const uint32_t next = child(node, static_cast<unsigned char>(c));
      node = next != kNoNode ? next : add_child(node, static_cast<unsigned char>(c));
    }
    node_token_[node] = uint32_t(id);
  }
}

uint32_t ByteTrie::child(uint32_t node, unsigned char byte) const {
  if (node == 0) return root_children_[byte];
  const uint32_t key = node << 8 | byte;
  const size_t mask = edges_.size() - 1;
  for (size_t slot = edge_hash(key) & mask;; slot = (slot + 1) & mask) {
    const Edge& e = edges_[slot];
    if (e.key == key) return e.child;
    if (e.key == kEmpty) return kNoNode;
  }
}

uint32_t ByteTrie::add_child(uint32_t node, unsigned char byte) {
  const uint32_t created = uint32_t(node_token_.size());
  if (created >= (1u << 24) - 1) throw Error(ErrorCode::Argument, "tokenizer trie: too many nodes");
  node_token_.push_back(kNoToken);
  if (node == 0) {
    root_children_[byte] = created;
    return created;
  }
  if (2 * (edge_count_ + 1) > edges_.size()) grow();
  const uint32_t key = node << 8 | byte;
  const size_t mask = edges_.size() - 1;
  size_t slot = edge_hash(key) & mask;
  while (edges_[slot].key != kEmpty) slot = (slot + 1) & mask;
  edges_[slot] = {key, created};
  ++edge_count_;
  return created;
}

void ByteTrie::grow() {
  std::vector<Edge> old(edges_.size() * 2, Edge{kEmpty, 0});
  old.swap(edges_);
  const size_t mask = edges_.size() - 1;
  for (const Edge& e : old) {
    if (e.key == kEmpty) continue;
    size_t slot = edge_hash(e.key) & mask;
    while (edges_[slot].key != kEmpty) slot = (slot + 1) & mask;
    edges_[slot] = e;
  }
}

ByteTrie::Match ByteTrie::longest_prefix(std::string_view text) const {
  Match best{kNoToken, 0};
  uint32_t node = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    node = child(node, static_cast<unsigned char>(text[i]));
    if (node == kNoNode) break;
    if (node_token_[node] != kNoToken) best = {node_token_[node], i + 1};
  }
  return best;
}

}  // namespace rwkv
