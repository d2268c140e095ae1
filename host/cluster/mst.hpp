#pragma once
// HDBSCAN's graph half, written once against the Backend: the k-nearest-neighbour
// graph (core distances; knn_graph.cpp) and the minimum spanning tree of the
// mutual-reachability graph, by Boruvka (mst.cpp). Distances here are squared
// Euclidean; the caller maps them to its metric at the end (a monotone map keeps
// the same tree).
#include <cstdint>
#include <functional>
#include <vector>

#include "host/backend/backend.hpp"
#include "host/cluster/hdbscan_tree.hpp"
#include "host/core/exact_distance.hpp"  // exact_dist2
#include "host/core/matrix.hpp"

namespace emb {

class KdTree;
class PartitionSearch;

/// @brief The k nearest rows of every row of x, the row itself included (first,
///        unless it has duplicates): n x k indices and squared distances, nearest
///        first (lower index first on equal distances). The distances are exact:
///        recomputed from the rows in double precision.
struct KnnGraph {
  int64_t n = 0;
  int k = 0;
  std::vector<int32_t> idx;
  std::vector<double> dist2;
  const int32_t* row_idx(int64_t i) const { return idx.data() + i * k; }
  const double* row_dist2(int64_t i) const { return dist2.data() + i * k; }
};

/// @brief Builds the graph: with `tree` from its exact queries, else from the
///        backend's k_nearest (candidates ranked by the GEMM distance, a few more
///        than k, then re-ranked by exact distances). 1 <= k <= x.rows.
///        With `parts` (and no tree) the same graph from fewer distances: part by
///        part, first the part and its nearest parts, which bound each query's k-th
///        distance, then only the parts whose lower bound is within it.
/// @param pairs if given: the (query, candidate) distances computed
KnnGraph knn_graph(Backend& backend, ConstMatrixView x, int k, const KdTree* tree,
                   const std::function<void(int64_t done)>& on_rows = {}, PartitionSearch* parts = nullptr,
                   double* pairs = nullptr);

/// @brief As knn_graph, for the rows of q (not necessarily rows of x): row i of
///        the result lists q_i's k nearest rows of x. `tree` indexes x.
KnnGraph knn_query(Backend& backend, ConstMatrixView q, ConstMatrixView x, int k, const KdTree* tree,
                   const std::function<void(int64_t done)>& on_rows = {});

/// @brief How the spanning tree is found.
enum class MstMethod {
  Exact,  ///< Boruvka over the complete mutual-reachability graph
  Knn,    ///< the spanning forest of the k-NN graph, its components joined by exact Boruvka
};

/// @brief What mutual_reachability_mst did.
struct MstStats {
  int rounds = 0;              ///< Boruvka rounds
  int64_t certified = 0;       ///< lightest outgoing edges proven from the k-NN lists alone
  int64_t searched = 0;        ///< rows whose lightest outgoing edge needed a search
  int64_t knn_edges = 0;       ///< Knn: edges taken from the k-NN graph before the repair
  double pairs = 0.0;          ///< (row, candidate) distances the searches computed
  int64_t deferred = 0;        ///< components whose far-reaching search a round left to the contraction
  int contracted = 0;          ///< 1 when the last components were joined by searching pairs of them
  int64_t contract_components = 0;  ///< components left for the contraction
  int64_t contract_pieces = 0;      ///< pieces it split them into at their heaviest edges (0: not split)
  int64_t contract_pairs = 0;       ///< pairs of components or pieces it searched (the rest bounded out)
};

/// @brief The minimum spanning tree of the complete graph on the rows of x with
///        weights max(core2[a], core2[b], ||x_a - x_b||^2), as n - 1 edges whose
///        weight is that squared mutual-reachability distance (computed in double).
///        Edges are compared by (weight, lower end, higher end), so the tree is
///        unique and the same on every backend up to rounding of the distances.
///
///        Exact Boruvka: each round finds every component's lightest outgoing edge.
///        A row's lightest edge is proven from its k-NN list when the best list
///        entry in another component beats every row outside the list
///        (max(core2, last list distance)); otherwise the row is searched against
///        all rows (nearest_other_component, or the k-d tree), lowest lower bound
///        first, and only while its bound is below its component's best so far.
///        When few components are left (at most 256, and searching every pair of
///        them would cost fewer distances than the round's searches), the tree is
///        finished at once by Kruskal over pairs of components, each pair's
///        lightest edge searched only when the pair comes up and only over the
///        rows an exact bound along the axis between their centres leaves
///        (mst_contraction.cpp).
///        With `parts` (and no tree) the searches go part by part and cover only
///        the parts that can hold a lighter edge than the component's best: not
///        parts wholly in the row's component, nor parts whose lower bound
///        max(core2 of the row, least core2 of the part, distance bound) is above it.
///        While few components are left, a component whose search would cover
///        more than a quarter of the rows is not joined that round but left to
///        the contraction (its bounds suit such far edges); a round that would
///        join nothing so is run again without this.
/// @param core2 n squared core distances
std::vector<MstEdge> mutual_reachability_mst(Backend& backend, ConstMatrixView x, const KnnGraph& knn,
                                             const std::vector<double>& core2, MstMethod method, KdTree* tree,
                                             MstStats* stats = nullptr,
                                             const std::function<void(int64_t components)>& on_round = {},
                                             PartitionSearch* parts = nullptr);


}  // namespace emb
