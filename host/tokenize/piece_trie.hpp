#pragma once
// Byte trie of vocabulary pieces for prefix searches (WordPiece longest match, Unigram lattice).
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

namespace emb::tok {

/// @brief Byte trie whose nodes keep their children side by side, sorted by byte.
class PieceTrie {
 public:
  /// @brief Builds from (piece, id) pairs; pieces must be distinct; empty ones are skipped.
  void build(std::vector<std::pair<std::string_view, int32_t>> pieces);

  /// @brief Calls f(length, id) for every piece that prefixes `s`, shortest first.
  template <class F>
  void for_each_prefix(std::string_view s, F&& f) const {
    int32_t node = 0;
    for (size_t i = 0; i < s.size(); ++i) {
      node = child(node, static_cast<uint8_t>(s[i]));
      if (node < 0) return;
      if (nodes_[node].value >= 0) f(i + 1, nodes_[node].value);
    }
  }

  /// @brief The longest piece that prefixes `s`: (length, id), or (0, -1).
  std::pair<size_t, int32_t> longest_prefix(std::string_view s) const {
    std::pair<size_t, int32_t> best{0, -1};
    for_each_prefix(s, [&](size_t len, int32_t id) { best = {len, id}; });
    return best;
  }

 private:
  struct Node {
    int32_t first_child = 0, value = -1;
    uint16_t n_children = 0;
  };

  int32_t child(int32_t node, uint8_t byte) const;

  std::vector<Node> nodes_;
  std::vector<uint8_t> label_;  // label_[k]: the byte leading to node k
  int32_t root_child_[256] = {};
};

}  // namespace emb::tok
