#pragma once
// HDBSCAN's tree half: from a minimum spanning tree of the mutual-reachability
// graph to the single-linkage tree, the condensed tree, the selected clusters,
// labels, membership probabilities, GLOSH outlier scores, persistence and
// exemplars. Plain host code on small arrays (O(n log n)); it follows the
// hdbscan package (McInnes, Healy and Astels) step by step, so its answers are
// the package's answers on the same tree.
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "io/store.hpp"

namespace emb {

/// @brief An edge of the spanning tree: points a and b, and its weight (a distance).
struct MstEdge {
  int32_t a = 0;
  int32_t b = 0;
  double weight = 0.0;
};

/// @brief How clusters are picked from the condensed tree.
enum class ClusterSelection {
  Eom,   ///< excess of mass: the most stable non-overlapping clusters
  Leaf,  ///< the leaves of the cluster tree
};

/// @brief Options of the tree half.
struct TreeOptions {
  int64_t min_cluster_size = 5;  ///< at least 2
  ClusterSelection selection = ClusterSelection::Eom;
  /// Clusters born below this distance merge up to their first ancestor born above it (0: off).
  double cluster_selection_epsilon = 0.0;
  /// EOM: a cluster born above this distance is never selected (infinity: off).
  double cluster_selection_epsilon_max = std::numeric_limits<double>::infinity();
  bool allow_single_cluster = false;  ///< the root may be the one cluster
  int64_t max_cluster_size = 0;       ///< EOM: larger clusters are split (0: no limit)
};

/// @brief Everything the tree half produces; cluster c of the labels is the
///        condensed-tree node selected[c] (selected is increasing).
struct TreeResult {
  std::vector<int32_t> labels;         ///< n: 0..k-1, -1 for noise
  std::vector<double> probabilities;   ///< n
  std::vector<double> outlier_scores;  ///< n: GLOSH
  std::vector<double> persistence;     ///< k
  std::vector<int64_t> selected;       ///< k
  std::vector<int32_t> exemplars;      ///< per cluster, concatenated
  std::vector<int64_t> exemplar_offsets;  ///< k + 1
  io::CondensedTree condensed;
  std::vector<double> single_linkage;  ///< (n-1) x 4: left, right, distance, size
};

/// @brief Sorts the n-1 edges by weight (stable, so equal weights keep their
///        order) and builds the single-linkage tree: row i merges the clusters
///        `left` and `right` (points < n, merged clusters n + row) at `distance`
///        into a cluster of `size` points.
std::vector<double> single_linkage_tree(std::vector<MstEdge>& edges, int64_t n);

/// @brief The condensed tree: a breadth-first walk of the single-linkage tree in
///        which a split counts only when both sides keep min_cluster_size points;
///        otherwise the points of the small side fall out at lambda = 1 / distance
///        (infinity at distance 0). The root is n, new clusters count up from n + 1.
io::CondensedTree condense_tree(const std::vector<double>& single_linkage, int64_t n, int64_t min_cluster_size);

/// @brief Selects clusters and computes labels, probabilities, outlier scores,
///        persistence and exemplars from a condensed tree over n points.
TreeResult extract_clusters(const io::CondensedTree& tree, int64_t n, const TreeOptions& opts);

/// @brief The whole tree half: edges (n-1 of them, spanning) to a TreeResult.
///        n == 1 gives one noise point and empty trees.
TreeResult hdbscan_tree(std::vector<MstEdge> edges, int64_t n, const TreeOptions& opts);

/// @brief approximate_predict against a fitted tree (the hdbscan package's
///        semantics): a new point's nearest neighbour by mutual reachability
///        among its 2 * min_samples nearest fitted points decides where it
///        joins the condensed tree; its probability is relative to its cluster's
///        largest lambda. When the tree has no cluster below the root, every
///        new point is noise (as in the package), even if the root is selected.
class TreePredictor {
 public:
  /// @param tree the fitted condensed tree; @param selected its clusters, label order
  TreePredictor(const io::CondensedTree& tree, const std::vector<int64_t>& selected, int64_t n);
  /// @brief One new point: neighbours (indices into the fitted points) and their
  ///        distances, nearest first (2 * min_samples of them, fewer when the fit had
  ///        fewer points); core[j] the fitted points' prediction core distances.
  ///        Returns the label (-1: noise) and writes the probability.
  int32_t predict(const int32_t* nbr, const double* dist, int count, int min_samples, const float* core,
                  double* probability) const;

 private:
  int64_t n_ = 0;
  int64_t root_ = 0;
  bool has_cluster_rows_ = false;        // any cluster below the root
  std::vector<int64_t> point_parent_;    // n: the cluster a point leaves
  std::vector<double> point_lambda_;     // n: the lambda at which it leaves
  std::vector<int64_t> cluster_parent_;  // per cluster id - n: its parent (-1 for the root)
  std::vector<double> cluster_lambda_;   // per cluster id - n: its birth lambda
  std::vector<int32_t> label_of_;        // per cluster id - n: label of it or its selected ancestor, -1
  std::vector<double> max_lambda_;       // per cluster id - n: max lambda of that selected cluster's rows
};

}  // namespace emb
