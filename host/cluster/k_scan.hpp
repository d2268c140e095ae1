#pragma once
// Choosing k for k-means: cluster once per k in a range, score each clustering by
// its inertia and a sampled silhouette, and keep the k with the best silhouette.
// Written against the Backend like kmeans(); silhouette distances come from
// squared_distances.
#include <cstdint>
#include <functional>
#include <vector>

#include "host/backend/backend.hpp"
#include "host/cluster/kmeans.hpp"
#include "host/core/matrix.hpp"

namespace emb {

/// @brief What scan_k() is asked to do.
struct KScanOptions {
  int k_min = 2;         ///< smallest k tried, at least 2 (a silhouette needs two clusters)
  int k_max = 20;        ///< largest k tried, k_min..rows
  int sample = 2000;     ///< rows the silhouette is computed on (all rows when there are fewer), at least 2
  KMeansOptions kmeans;  ///< every k-means run; k is set per scan step, seed also seeds the sample
  /// Optional callback after each k with that k's inertia and silhouette.
  std::function<void(int k, double inertia, double silhouette)> on_k;
};

/// @brief One entry per k tried, in increasing k, and the chosen clustering.
struct KScanResult {
  std::vector<int> k;
  std::vector<double> inertia;     ///< KMeansResult::inertia of each k
  std::vector<double> silhouette;  ///< mean silhouette of the sample under each k
  int best_k = 0;                  ///< the k of the highest silhouette; ties go to the smaller k
  KMeansResult best;               ///< the clustering of best_k
};

/// @brief Runs kmeans() for every k in [k_min, k_max] and picks the k of the
///        highest mean silhouette (the smaller k on ties). The silhouette uses
///        Euclidean distances (between unit vectors for Metric::Cosine) on one
///        fixed random sample of min(sample, rows) rows, seeded by kmeans.seed.
/// @throws emb::UsageError for k_min < 2, k_max < k_min or sample < 2;
///         emb::InputError for k_max > rows, and as kmeans().
KScanResult scan_k(Backend& backend, ConstMatrixView x, const KScanOptions& opts);

/// @brief Mean silhouette of the rows of x under labels (0..k-1, one per row):
///        the mean over rows of (b - a) / max(a, b), where a is the mean Euclidean
///        distance to the other rows of the row's own cluster and b the smallest
///        mean distance to the rows of another cluster. Rows alone in their cluster
///        score 0, as in scikit-learn. 0 when fewer than two clusters are present.
/// @throws emb::InputError when a label is outside [0, k).
double silhouette_score(Backend& backend, ConstMatrixView x, const int32_t* labels, int k);

}  // namespace emb
