#pragma once
// HDBSCAN (Campello, Moulavi and Sander), with the hdbscan package's conventions
// and outputs, written once against the Backend: core distances from the k-NN
// graph, the minimum spanning tree of the mutual-reachability graph (mst.hpp),
// then the tree half (hdbscan_tree.hpp). Also approximate_predict for new points.
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "host/backend/backend.hpp"
#include "host/cluster/hdbscan_tree.hpp"
#include "host/cluster/metric.hpp"
#include "host/cluster/mst.hpp"
#include "host/core/matrix.hpp"

namespace emb {

/// @brief Which spanning tree hdbscan() builds.
enum class MstChoice {
  Auto,   ///< Exact up to exact_mst_max_rows rows, Knn above
  Exact,  ///< MstMethod::Exact
  Knn,    ///< MstMethod::Knn
};

/// @brief What hdbscan() is asked to do.
struct HdbscanOptions {
  int64_t min_cluster_size = 5;  ///< at least 2
  /// Neighbours that make a point a core point, the point itself NOT counted (the
  /// hdbscan package's convention; scikit-learn's min_samples counts the point, so
  /// it is this plus one). 0: min_cluster_size. Capped at rows - 1.
  int64_t min_samples = 0;
  /// L2: Euclidean distance. Cosine: 1 - cos, on unit-length copies of the rows
  /// (the caller's rows need not be normalised; a zero row is an error).
  Metric metric = Metric::L2;
  ClusterSelection selection = ClusterSelection::Eom;
  double cluster_selection_epsilon = 0.0;
  double cluster_selection_epsilon_max = std::numeric_limits<double>::infinity();
  bool allow_single_cluster = false;
  int64_t max_cluster_size = 0;  ///< 0: no limit
  MstChoice mst = MstChoice::Auto;
  int64_t exact_mst_max_rows = 200000;
  /// Neighbours kept per point in the k-NN graph, the point included; at least
  /// min_samples + 1. Longer lists prove more Boruvka edges (a list of exactly
  /// min_samples + 1 proves none). 0: max(24, min_samples + 8).
  int knn = 0;
  /// Exact k-d tree queries instead of backend GEMMs when the backend is the CPU
  /// and the rows have at most this many columns (0: never).
  int kd_tree_max_dim = 16;
  /// Parts of the search partition that lets the k-NN graph and the spanning tree
  /// skip rows that provably cannot be answers (search_partition.hpp): -1, about
  /// sqrt(rows) parts from 4096 rows up (262144 on a GPU) when no k-d tree is
  /// used; 0: no partition,
  /// every search covers all rows. The result is the same either way.
  int64_t search_parts = -1;
  uint64_t seed = 0;  ///< the partition's k-means
  /// Progress: stage ("k-NN graph", "spanning tree") and how far (0..1).
  std::function<void(const std::string& stage, double fraction)> on_progress;
};

/// @brief Seconds per stage and what the stages did.
struct HdbscanStats {
  double knn_seconds = 0.0;
  double mst_seconds = 0.0;
  double tree_seconds = 0.0;
  int64_t min_samples = 0;  ///< after defaulting and capping
  int knn = 0;              ///< neighbours kept per point
  bool kd_tree = false;
  int64_t search_parts = 0;  ///< parts of the search partition (0: none)
  double knn_pairs = 0.0;    ///< (query, candidate) distances the k-NN graph computed
  MstMethod mst = MstMethod::Exact;
  MstStats mst_stats;
};

/// @brief The fit: the tree half's result plus the graph half's.
struct HdbscanResult {
  TreeResult tree;
  std::vector<double> core_distances;        ///< n, in the metric
  std::vector<double> mst;                   ///< (n-1) x 3: from, to, distance; increasing distance
  std::vector<double> prediction_core_distances;  ///< n: what approximate_predict compares with
  HdbscanStats stats;
  double mst_weight() const;                 ///< sum of the spanning tree's distances
};

/// @brief Clusters the rows of x.
/// @throws emb::UsageError for min_cluster_size < 2, min_samples < 0, knn < 0,
///         a negative epsilon or max_cluster_size, epsilon_max < epsilon.
/// @throws emb::InputError for no rows, no columns, a value that is not finite
///         (naming its row and column), or, for Metric::Cosine, a zero row.
HdbscanResult hdbscan(Backend& backend, ConstMatrixView x, const HdbscanOptions& opts);

/// @brief approximate_predict: labels and probabilities of new points against a
///        fit on `fitted` (the same rows, metric and min_samples as the fit).
struct HdbscanPrediction {
  std::vector<int32_t> labels;
  std::vector<double> probabilities;
};
HdbscanPrediction hdbscan_predict(Backend& backend, ConstMatrixView fitted, ConstMatrixView points,
                                  const io::CondensedTree& tree, const std::vector<int64_t>& selected,
                                  const std::vector<float>& prediction_core_distances, int64_t min_samples,
                                  Metric metric);

/// @brief The tree half's share of the options.
TreeOptions tree_options(const HdbscanOptions& opts);

/// @brief The mapping from squared Euclidean distance (of unit rows for Cosine) to
///        the metric's distance: sqrt for L2, d2 / 2 = 1 - cos for Cosine.
double metric_distance(Metric metric, double d2);

}  // namespace emb
