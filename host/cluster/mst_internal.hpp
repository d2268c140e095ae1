#pragma once
// Pieces the spanning tree's files share (mst.cpp, mst_contraction.cpp); not part
// of the public interface.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <numeric>
#include <vector>

#include "host/backend/backend.hpp"
#include "host/cluster/mst.hpp"
#include "host/core/matrix.hpp"

namespace emb::mst_detail {

inline constexpr double kInf = std::numeric_limits<double>::infinity();

/// @brief Disjoint sets with path halving and union by rank.
class UnionFind {
 public:
  explicit UnionFind(int64_t n) : parent_(static_cast<size_t>(n)), rank_(static_cast<size_t>(n), 0) {
    std::iota(parent_.begin(), parent_.end(), 0);
  }
  int32_t find(int32_t x) {
    while (parent_[x] != x) {
      parent_[x] = parent_[parent_[x]];
      x = parent_[x];
    }
    return x;
  }
  bool unite(int32_t a, int32_t b) {
    a = find(a);
    b = find(b);
    if (a == b) return false;
    if (rank_[a] < rank_[b]) std::swap(a, b);
    parent_[b] = a;
    if (rank_[a] == rank_[b]) ++rank_[a];
    return true;
  }

 private:
  std::vector<int32_t> parent_;
  std::vector<uint8_t> rank_;
};

/// @brief An edge candidate, ordered by (weight, lower end, higher end).
struct Cand {
  double w2 = kInf;
  int32_t a = -1;
  int32_t b = -1;
  bool better_than(const Cand& o) const {
    if (w2 != o.w2) return w2 < o.w2;
    return std::minmax(a, b) < std::minmax(o.a, o.b);
  }
};

/// @brief What the contraction reads: the points, their squared core distances
///        (double, and float for the backend), their squared norms, and the rows
///        per backend search.
struct ContractionInputs {
  Backend& backend;
  ConstMatrixView x;
  const std::vector<double>& core2;
  const std::vector<float>& core2f;
  const std::vector<double>& norm2;
  int64_t search_block;
};

/// @brief Finishes the spanning tree from the components `comp` (each row's
///        representative) when there are at most `max_components` of them and
///        searching pairs of components costs fewer distances than searching the
///        `open` rows of this Boruvka round (`forest`: the tree's edges so far).
///        Returns false, changing nothing,
///        otherwise; else `joins` holds the lightest edges between components that
///        complete the tree, in Kruskal order.
bool contract_components(const ContractionInputs& in, const std::vector<int32_t>& comp,
                         const std::vector<int32_t>& open, const std::vector<MstEdge>& forest,
                         int64_t max_components, std::vector<Cand>& joins, MstStats& st);

}  // namespace emb::mst_detail
