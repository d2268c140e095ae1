#include "host/tokenize/piece_trie.hpp"

#include <algorithm>

namespace emb::tok {

void PieceTrie::build(std::vector<std::pair<std::string_view, int32_t>> pieces) {
  std::erase_if(pieces, [](const auto& p) { return p.first.empty(); });
  std::sort(pieces.begin(), pieces.end());
  // Breadth first: node k covers the pieces [lo, hi) that share its first `depth` bytes;
  // its children are appended together, so they sit side by side in byte order.
  struct Range {
    size_t lo, hi, depth;
  };
  std::vector<Range> ranges{{0, pieces.size(), 0}};
  nodes_.assign(1, Node{});
  label_.assign(1, 0);
  for (size_t k = 0; k < ranges.size(); ++k) {
    auto [lo, hi, depth] = ranges[k];
    if (lo < hi && pieces[lo].first.size() == depth) nodes_[k].value = pieces[lo++].second;
    nodes_[k].first_child = static_cast<int32_t>(ranges.size());
    while (lo < hi) {
      const auto byte = static_cast<uint8_t>(pieces[lo].first[depth]);
      size_t end = lo + 1;
      while (end < hi && static_cast<uint8_t>(pieces[end].first[depth]) == byte) ++end;
      ranges.push_back({lo, end, depth + 1});
      nodes_.push_back(Node{});
      label_.push_back(byte);
      ++nodes_[k].n_children;
      lo = end;
    }
  }
  std::fill(std::begin(root_child_), std::end(root_child_), -1);
  const Node& root = nodes_[0];
  for (int32_t c = root.first_child; c < root.first_child + root.n_children; ++c) root_child_[label_[c]] = c;
}

int32_t PieceTrie::child(int32_t node, uint8_t byte) const {
  if (node == 0) return root_child_[byte];
  const Node& n = nodes_[node];
  const uint8_t* first = label_.data() + n.first_child;
  const uint8_t* last = first + n.n_children;
  const uint8_t* it = n.n_children <= 8 ? std::find(first, last, byte) : std::lower_bound(first, last, byte);
  return it != last && *it == byte ? static_cast<int32_t>(it - label_.data()) : -1;
}

}  // namespace emb::tok
