// A byte trie answering "which is the longest token that starts here?" for greedy tokenizers.
// Edges live in one open-addressing hash table keyed by (node, byte), so the trie of 65k tokens
// costs a few MB instead of the ~100 MB that 256-wide child arrays would take, and each step of
// the walk is one probe into a small, cache-friendly table.
#pragma once
#include <cstdint>
#include <string_view>
#include <vector>

namespace rwkv {

class ByteTrie {
 public:
  static constexpr uint32_t kNoToken = UINT32_MAX;

  struct Match {
    uint32_t token;  // kNoToken when no token is a prefix of the text
    size_t length;
  };

  // Builds the trie; tokens[i] is the byte string of id i (empty strings are skipped).
  explicit ByteTrie(const std::vector<std::string>& tokens);

  Match longest_prefix(std::string_view text) const;

 private:
  uint32_t child(uint32_t node, unsigned char byte) const;
  uint32_t add_child(uint32_t node, unsigned char byte);
  void grow();

  struct Edge {
    uint32_t key;    // node << 8 | byte, or kEmpty
    uint32_t child;
  };
  static constexpr uint32_t kEmpty = UINT32_MAX;
  static constexpr uint32_t kNoNode = UINT32_MAX;

  std::vector<uint32_t> root_children_;  // 256 entries: the first step is a plain array lookup
  std::vector<uint32_t> node_token_;     // token that ends at each node, or kNoToken
  std::vector<Edge> edges_;              // power-of-two size, at most half full
  uint32_t edge_count_ = 0;
};

}  // namespace rwkv
