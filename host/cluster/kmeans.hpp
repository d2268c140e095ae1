#pragma once
// k-means (greedy k-means++ or random seeding, Lloyd iterations, best of n_init
// runs; optional sample weights and a spherical variant), written once against the
// Backend: it runs wherever squared_distances, nearest_centroids,
// accumulate_centroids and normalize_rows run.
#include <cstdint>
#include <functional>
#include <vector>

#include "host/backend/backend.hpp"
#include "host/cluster/metric.hpp"
#include "host/core/matrix.hpp"

namespace emb {

/// @brief How kmeans() picks the starting centres of a run.
enum class KMeansInit {
  PlusPlus,  ///< greedy k-means++ (kmeans_plusplus)
  Random,    ///< k distinct rows, uniformly (kmeans_random)
  Parallel,  ///< k-means|| (kmeans_parallel): a few passes over the points, for large n
};

/// @brief What kmeans() is asked to do.
struct KMeansOptions {
  int k = 0;            ///< number of clusters, 1..rows
  int max_iter = 300;   ///< Lloyd iterations per run, at least 1
  double tol = 1e-4;    ///< stop when the inertia falls by no more than tol relative to the last
  /// Also stop when max_j ||c_j - c_j'||^2 <= tol_shift * mean_j ||c_j||^2 for the
  /// centres before (c') and after (c) an update; 0 turns this test off.
  double tol_shift = 0.0;
  int n_init = 3;       ///< runs from different seedings; the lowest inertia wins
  uint64_t seed = 0;    ///< same seed, same data, same backend: same result
  KMeansInit init = KMeansInit::PlusPlus;  ///< seeding of each run
  /// Cosine: every row must be non-zero; the driver clusters unit-length copies of
  /// the rows (the caller's data is never changed) and keeps the centres at unit
  /// length, so inertia is the (weighted) sum of 2 - 2 cos(x_i, c_l(i)).
  Metric metric = Metric::L2;
  /// Optional weight of each row (x.rows values, finite, >= 0, not all 0): seeding
  /// draws by weight, centres are weighted means and inertia is a weighted sum.
  /// Rows of weight 0 still get labels. nullptr: every weight is 1.
  const float* weights = nullptr;
  /// On the CPU (from 16 centres), keep Hamerly's bounds so that rows whose
  /// centre provably stays nearest skip the search; the same assignments (every
  /// kept one is proven), fewer distances once the centres settle. false: search
  /// every row in every iteration.
  bool bounds = true;
  /// Optional progress callback after every assignment: init counts from 0,
  /// iter is 0 for the seeding and then the number of Lloyd updates so far.
  std::function<void(int init, int iter, double inertia)> on_iteration;
};

/// @brief The kept run; labels and inertia belong to the returned centroids.
struct KMeansResult {
  std::vector<int32_t> labels;      ///< cluster of each row, 0..k-1
  Matrix centroids;                 ///< k x d (unit rows for Metric::Cosine)
  double inertia = 0.0;             ///< (weighted) sum of squared distances to the assigned centroids
  int iterations = 0;               ///< Lloyd updates in the kept run
  int best_init = 0;                ///< which run was kept (counting from 0)
  std::vector<double> init_inertia; ///< final inertia of every run, in order
  int64_t reseeded_empty = 0;       ///< empty clusters moved onto far points in the kept run
  int64_t proven = 0;               ///< row assignments in the kept run proven by bounds, without a search
};

/// @brief Clusters the rows of x into opts.k clusters by squared L2 distance (of
///        unit vectors for Metric::Cosine).
/// @throws emb::UsageError for k < 1, max_iter < 1, n_init < 1, tol < 0 or tol_shift < 0.
/// @throws emb::InputError for no rows, no columns, k > rows, a value that is not
///         finite (the message names its row and column, counting from 0), a weight
///         that is negative or not finite (naming its row), weights that sum to 0,
///         fewer rows of positive weight than k, or, for Metric::Cosine, a zero row.
KMeansResult kmeans(Backend& backend, ConstMatrixView x, const KMeansOptions& opts);

/// @brief Lloyd iterations from the given k x d starting centroids (one run;
///        opts.n_init, opts.init and opts.seed are not used; opts.k must equal
///        init.rows). For Metric::Cosine the centroids are scaled to unit length first.
/// @throws as kmeans() (except for the count of rows of positive weight), and
///         emb::InputError when init has the wrong shape, a value that is not
///         finite, or, for Metric::Cosine, a zero row.
KMeansResult kmeans_from(Backend& backend, ConstMatrixView x, ConstMatrixView init, const KMeansOptions& opts);

/// @brief Greedy k-means++ seeding: k rows of x, each the best (by potential) of
///        2 + floor(ln k) candidates drawn with probability proportional to the
///        squared distance to the nearest centre so far. When every point already
///        sits on a centre, the remaining centres are the lowest unused rows.
///        With weights: the first centre is drawn with probability proportional to
///        its weight, the others to weight x squared distance, the potential is the
///        weighted sum, and only rows of positive weight are chosen.
/// @throws as kmeans() for k, the row count, non-finite values and the weights.
Matrix kmeans_plusplus(Backend& backend, ConstMatrixView x, int k, uint64_t seed, const float* weights = nullptr);

/// @brief k-means|| seeding (Bahmani et al.): 5 rounds, each drawing about 2k points
///        at once with probability proportional to weight x squared distance to the
///        nearest candidate; the candidates, weighted by the mass of the points nearest
///        to them, are reduced to k centres by weighted k-means++ and up to 20 Lloyd
///        iterations. A few passes over x instead of k: the seeding for large n.
/// @throws as kmeans_plusplus().
Matrix kmeans_parallel(Backend& backend, ConstMatrixView x, int k, uint64_t seed, const float* weights = nullptr);

/// @brief Random seeding: k distinct rows of x, every k-subset of the rows equally
///        likely (of the rows of positive weight, when weights are given).
/// @throws as kmeans_plusplus().
Matrix kmeans_random(ConstMatrixView x, int k, uint64_t seed, const float* weights = nullptr);

}  // namespace emb
