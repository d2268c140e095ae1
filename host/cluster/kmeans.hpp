#pragma once
// k-means (greedy k-means++ seeding, Lloyd iterations, best of n_init runs),
// written once against the Backend: it runs wherever squared_distances,
// nearest_centroids and accumulate_centroids run.
#include <cstdint>
#include <functional>
#include <vector>

#include "host/backend/backend.hpp"
#include "host/core/matrix.hpp"

namespace emb {

/// @brief What kmeans() is asked to do.
struct KMeansOptions {
  int k = 0;            ///< number of clusters, 1..rows
  int max_iter = 300;   ///< Lloyd iterations per run, at least 1
  double tol = 1e-4;    ///< stop when the inertia falls by no more than tol relative to the last
  int n_init = 3;       ///< runs from different seedings; the lowest inertia wins
  uint64_t seed = 0;    ///< same seed, same data, same backend: same result
  /// Optional progress callback after every assignment: init counts from 0,
  /// iter is 0 for the seeding and then the number of Lloyd updates so far.
  std::function<void(int init, int iter, double inertia)> on_iteration;
};

/// @brief The kept run; labels and inertia belong to the returned centroids.
struct KMeansResult {
  std::vector<int32_t> labels;      ///< cluster of each row, 0..k-1
  Matrix centroids;                 ///< k x d
  double inertia = 0.0;             ///< sum of squared distances to the assigned centroids
  int iterations = 0;               ///< Lloyd updates in the kept run
  int best_init = 0;                ///< which run was kept (counting from 0)
  std::vector<double> init_inertia; ///< final inertia of every run, in order
  int64_t reseeded_empty = 0;       ///< empty clusters moved onto far points in the kept run
};

/// @brief Clusters the rows of x into opts.k clusters by squared L2 distance.
/// @throws emb::UsageError for k < 1, max_iter < 1, n_init < 1 or tol < 0.
/// @throws emb::InputError for no rows, no columns, k > rows, or a value that is
///         not finite (the message names its row and column, counting from 0).
KMeansResult kmeans(Backend& backend, ConstMatrixView x, const KMeansOptions& opts);

/// @brief Lloyd iterations from the given k x d starting centroids (one run;
///        opts.n_init and opts.seed are not used; opts.k must equal init.rows).
/// @throws as kmeans(), and emb::InputError when init has the wrong shape or a
///         value that is not finite.
KMeansResult kmeans_from(Backend& backend, ConstMatrixView x, ConstMatrixView init, const KMeansOptions& opts);

/// @brief Greedy k-means++ seeding: k rows of x, each the best (by potential) of
///        2 + floor(ln k) candidates drawn with probability proportional to the
///        squared distance to the nearest centre so far. When every point already
///        sits on a centre, the remaining centres are the lowest unused rows.
/// @throws as kmeans() for k, the row count and non-finite values.
Matrix kmeans_plusplus(Backend& backend, ConstMatrixView x, int k, uint64_t seed);

}  // namespace emb
