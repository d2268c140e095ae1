#pragma once
// A KD-tree over the rows of a low-dimensional matrix, for exact neighbour queries
// where brute force would be quadratic: k nearest neighbours (HDBSCAN's core
// distances) and, per Boruvka round, the nearest point of another component under
// mutual reachability.
//
// Distances are exact: each is a sum of squared differences accumulated in double,
// in column order, then rounded to float, and every comparison (ranking, pruning,
// ties) is made on those float values, so results equal a brute-force scan that
// computes distances the same way.
#include <cstdint>
#include <utility>
#include <vector>

#include "host/core/matrix.hpp"

namespace emb {

/// @brief KD-tree over the rows of x: splits on the widest dimension of each node's
///        bounding box at the median, keeps leaves of at most leaf_size points and a
///        permuted copy of the points so a leaf's points lie together in memory.
///        Queries are const and thread-safe; set_components and set_core are not.
class KdTree {
 public:
  /// @brief Builds the tree; x may be freed afterwards. Needs x.rows < 2^31.
  explicit KdTree(ConstMatrixView x, int leaf_size = 16);

  int64_t rows() const { return n_; }
  int64_t cols() const { return d_; }

  /// @brief The k rows of x nearest to query (x.cols values), nearest first, the lower
  ///        index first on equal distances: indices into idx[0..k), squared distances
  ///        into dist2[0..k). A row of x as query finds itself at distance 0.
  ///        Needs 1 <= k <= rows().
  void knn(const float* query, int k, int32_t* idx, float* dist2) const;

  /// @brief Records, for every node, the component all its points share, or -1 when
  ///        they are mixed. component has rows() entries; call once per Boruvka round,
  ///        before nearest_other_component.
  void set_components(const int32_t* component);

  /// @brief Records, for every node, the smallest squared core distance of its
  ///        points. core2 has rows() entries; call before nearest_other_component.
  void set_core(const float* core2);

  /// @brief The row j with component[j] != component[row] that minimises
  ///        w = max(core2[row], core2[j], d2(row, j)), the lowest such j on equal w,
  ///        among those with w < bound2; {-1, +infinity} when there is none.
  ///        core2 and component must be the arrays given to set_core and set_components.
  std::pair<int32_t, float> nearest_other_component(int64_t row, const float* core2, const int32_t* component,
                                                    float bound2) const;

 private:
  struct Node {
    int32_t begin = 0, end = 0;     // the node's points: positions [begin, end) of points_
    int32_t left = -1, right = -1;  // children; -1 for a leaf
  };
  struct KnnState;
  struct OtherState;

  int32_t build(int32_t begin, int32_t end);
  void fit_box(int32_t node);
  std::pair<float, float> box_distances2(int32_t a, int32_t b, const float* q) const;
  void distances2(const int32_t* pos, int count, const float* q, float* out) const;
  void knn_visit(int32_t node, const float* q, KnnState& s) const;
  void other_visit(int32_t node, const float* q, OtherState& s) const;

  int64_t n_ = 0, d_ = 0;
  int leaf_size_ = 16;
  std::vector<float> points_;            // n x d: row order_[p] of x at position p
  std::vector<int32_t> order_;           // position -> row of x
  std::vector<int32_t> position_;        // row of x -> position
  std::vector<Node> nodes_;              // nodes_[0] is the root
  std::vector<float> lo_, hi_;           // nodes x d: each node's bounding box
  std::vector<int32_t> min_row_;         // per node: the lowest row of x among its points
  std::vector<int32_t> node_component_;  // per node: the shared component, or -1
  std::vector<float> node_min_core_;     // per node: the smallest core2 of its points
};

}  // namespace emb
