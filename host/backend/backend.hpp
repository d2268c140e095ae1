#pragma once
// The Backend interface: the ops that drivers (embedders, k-means, later the
// encoder and HDBSCAN) are written against, once, for every device. Host-memory
// in, host-memory out: a GPU backend moves data itself and may keep it resident.
// No CUDA types here (see cuda/ for the implementation).
#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>

#include "host/backend/encoder_ops.hpp"
#include "host/core/matrix.hpp"

namespace emb {

/// @brief The ops a backend may implement; supports() answers per op.
enum class Op {
  NormalizeRows,
  SquaredDistances,
  NearestCentroids,
  AccumulateCentroids,
  KNearest,
  NearestOtherComponent,
  Covariance,
  SymmetricEigen,
  Project,
};

/// @brief The smallest of v[0], ..., v[k - 1] with its index (the lowest on
///        ties), and into group_min[g] the smallest v[j] over the other indices j
///        of group g, the range group_start[g] <= j < group_start[g + 1] (+inf
///        where a group has none): the selection of nearest_centroid_groups.
///        k >= 1; NaN values are never chosen unless v[0] is one.
struct Nearest {
  int32_t best = 0;
  float first = 0.0f;
};
inline Nearest nearest_and_group_minima(int64_t k, const float* v, const int32_t* group_start, int n_groups,
                                        float* group_min) {
  Nearest r{0, v[0]};
  for (int64_t j = 1; j < k; ++j)
    if (v[j] < r.first) {  // strict: the lowest index wins a tie
      r.first = v[j];
      r.best = static_cast<int32_t>(j);
    }
  constexpr float kInf = std::numeric_limits<float>::infinity();
  for (int g = 0; g < n_groups; ++g) {
    const int64_t j0 = group_start[g], j1 = group_start[g + 1];
    float m = kInf;
    if (r.best < j0 || r.best >= j1) {
      for (int64_t j = j0; j < j1; ++j) m = v[j] < m ? v[j] : m;
    } else {
      for (int64_t j = j0; j < r.best; ++j) m = v[j] < m ? v[j] : m;
      for (int64_t j = r.best + 1; j < j1; ++j) m = v[j] < m ? v[j] : m;
    }
    group_min[g] = m;
  }
  return r;
}

/// @brief Compute backend: CPU (host/cpu, the reference) or CUDA (cuda/).
class Backend {
 public:
  virtual ~Backend() = default;

  /// @brief Human-readable name, e.g. "cpu (2 threads)" or "cuda:0 (NVIDIA H100 80GB HBM3)".
  virtual std::string name() const = 0;
  /// @brief True for a GPU backend.
  virtual bool is_gpu() const = 0;
  /// @brief Whether this backend implements op; drivers route the rest to the CPU.
  virtual bool supports(Op op) const = 0;

  /// @brief Promises that x stays unchanged until release(x). A GPU backend may then
  ///        upload x once and serve later calls on x, or on row blocks of it, from
  ///        its device copy. Holding another matrix replaces the first. No-op on the CPU.
  virtual void hold(ConstMatrixView x) {}
  /// @brief Ends the promise made by hold(x) and frees the device copy.
  virtual void release(ConstMatrixView x) {}

  /// @brief Scales each row of x to unit L2 norm in place; all-zero rows stay zero.
  virtual void normalize_rows(MatrixView x) = 0;

  /// @brief out[i][j] = squared L2 distance between row i of x and row j of c,
  ///        clamped at 0; out is x.rows x c.rows. For a few centres at a time
  ///        (k-means++ candidates); nearest_centroids never stores the whole matrix.
  virtual void squared_distances(ConstMatrixView x, ConstMatrixView c, MatrixView out) = 0;

  /// @brief For each row i of x, the index of the nearest row of c by squared L2
  ///        distance (lowest index on ties) into labels[i], and that distance,
  ///        clamped at 0, into dist2[i] (dist2 may be null). Distances come from
  ///        ||x||^2 - 2 x.c + ||c||^2 with x.c as a GEMM over blocks of rows.
  virtual void nearest_centroids(ConstMatrixView x, ConstMatrixView c, int32_t* labels, float* dist2) = 0;

  /// @brief As nearest_centroids for the rows rows[0..n_rows) of x (every row
  ///        when rows is null; then n_rows == x.rows), result t for rows[t], and
  ///        also, for the centres in n_groups consecutive ranges (group g: rows
  ///        group_start[g] .. group_start[g + 1] - 1 of c; group_start[0] = 0,
  ///        group_start[n_groups] = c.rows), group_min2[t * n_groups + g]: the
  ///        squared distance to the nearest row of group g other than the row's
  ///        own nearest (+inf when there is none), from the same GEMM formula.
  ///        With one group that is the second-nearest distance. What a driver
  ///        needs for bounds that let it skip rows in the next assignment. This
  ///        default runs squared_distances over blocks of gathered rows and
  ///        selects on the host.
  virtual void nearest_centroid_groups(ConstMatrixView x, const int32_t* rows, int64_t n_rows, ConstMatrixView c,
                                       const int32_t* group_start, int n_groups, int32_t* labels, float* dist2,
                                       float* group_min2);

  /// @brief sums[l] += w_i * x_i and counts[l] += w_i for every row i with label
  ///        l = labels[i] >= 0; weights may be null (all 1). sums is k x d and is
  ///        accumulated into, not cleared. Sums accumulate in double precision.
  virtual void accumulate_centroids(ConstMatrixView x, const int32_t* labels, const float* weights,
                                    BasicMatrixView<double> sums, double* counts) = 0;

  /// @brief accumulate_centroids, and also own2[i] = exact_dist2(x_i, c[labels[i]])
  ///        (exact_distance.hpp: double sums in its fixed order) for every row with
  ///        labels[i] >= 0; own2 of the other rows is left as it was. c holds the
  ///        centres the labels were assigned to. What the CPU's k-means bounds keep
  ///        as a row's distance to its own centre, read in the same pass over x as
  ///        the sums. This default makes the two passes on the host.
  virtual void accumulate_centroids_with_distances(ConstMatrixView x, const int32_t* labels, const float* weights,
                                                   ConstMatrixView c, BasicMatrixView<double> sums, double* counts,
                                                   double* own2);

  /// @brief For each row i of q, the k rows of x nearest to it by squared L2
  ///        distance, nearest first (lower index first on equal distances):
  ///        their indices into idx[i*k + t] and their squared distances, from
  ///        ||q||^2 - 2 q.x + ||x||^2 clamped at 0, into dist2[i*k + t].
  ///        1 <= k <= x.rows. Works in tiles of rows: never holds a q.rows x
  ///        x.rows matrix. The distances rank candidates; a caller that needs
  ///        them to full precision recomputes them from the rows.
  virtual void k_nearest(ConstMatrixView q, ConstMatrixView x, int k, int32_t* idx, float* dist2) = 0;

  /// @brief k_nearest for the n_q rows q_rows of x as queries against only the
  ///        candidate rows cand[0..n_cand) of x (strictly increasing, so the lower
  ///        row still comes first on equal distances): idx holds rows of x.
  ///        1 <= k <= n_cand. With `bound` (n_q values, may be null), a query's
  ///        candidates at distance bound[i] or more may be left out: its list then
  ///        ends early with -1 (a search that only needs rows nearer than what it
  ///        already has skips their selection). This default gathers the rows on
  ///        the host and calls k_nearest (ignoring the bounds); the CPU backend
  ///        uses them, and a GPU backend gathers from its held copy of x.
  virtual void k_nearest_among(ConstMatrixView x, const int32_t* q_rows, int64_t n_q, const int32_t* cand,
                               int64_t n_cand, int k, int32_t* idx, float* dist2, const float* bound);

  /// @brief k_nearest_among with the rows as their own candidates: for each
  ///        t < n, the k of rows[0..n) (strictly increasing rows of x) nearest to
  ///        x_{rows[t]}, itself included; idx holds rows of x. 1 <= k <= n; the
  ///        bounds as in k_nearest_among. Each pair is one distance for both its
  ///        rows, so a backend can compute half the pairs. This default calls
  ///        k_nearest_among(x, rows, n, rows, n, ...); the CPU backend computes
  ///        each pair once.
  virtual void k_nearest_within(ConstMatrixView x, const int32_t* rows, int64_t n, int k, int32_t* idx,
                                float* dist2, const float* bound);

  /// @brief One Boruvka step under mutual reachability. For each t < n_rows, with
  ///        r = rows[t]: the row j of x with component[j] != component[r] that
  ///        minimises w = max(core2[r], core2[j], ||x_r - x_j||^2) (the squared
  ///        distance as in k_nearest), the lowest such j on equal w, into
  ///        nearest[t], and w into weight2[t]. When every row of x is in r's
  ///        component: nearest[t] = -1 and weight2[t] = +infinity. core2 and
  ///        component have x.rows entries. Works in tiles, as k_nearest.
  ///        With cand (n_cand strictly increasing rows of x), j ranges over those
  ///        rows only; null cand: over all rows.
  virtual void nearest_other_component(ConstMatrixView x, const int32_t* rows, int64_t n_rows, const float* core2,
                                       const int32_t* component, const int32_t* cand, int64_t n_cand,
                                       int32_t* nearest, float* weight2) = 0;

  /// @brief out[t] = ||x_a[t] - x_b[t]||^2 summed in double precision, for the n
  ///        pairs of rows a[t], b[t] of x: the exact distances candidates are ranked
  ///        by. This default runs on the host (OpenMP); a GPU reads its held copy.
  virtual void pair_distances(ConstMatrixView x, const int32_t* a, const int32_t* b, int64_t n, double* out);

  /// @brief Lets nearest_other_component compute its distances with a faster,
  ///        less precise GEMM (TF32 on a GPU's tensor cores) until called again
  ///        with false. Returns the most that mode moves a squared distance
  ///        ||q - x||^2, as a multiple of ||q||^2 + ||x||^2, beyond the float
  ///        GEMM's own rounding; 0 when the backend has no such mode (nothing
  ///        changes). A caller re-checks whatever that much could reorder.
  virtual double fast_distances(bool on) { return 0.0; }

  /// @brief The mean of the rows of x into mean (x.cols values) and their
  ///        covariance sum_i (x_i - mean)(x_i - mean)^T / (rows - 1) (divided by 1
  ///        when rows == 1) into cov, x.cols x x.cols, accumulated in double.
  virtual void covariance(ConstMatrixView x, double* mean, BasicMatrixView<double> cov) = 0;

  /// @brief Eigenvalues of the symmetric matrix a (n x n, double; only its lower
  ///        triangle is read) in decreasing order into values (n entries), and the
  ///        unit eigenvector of values[i] into row i of vectors (n x n). Each
  ///        vector's sign is fixed so that its entry of largest magnitude is positive.
  virtual void symmetric_eigen(BasicMatrixView<const double> a, double* values, BasicMatrixView<double> vectors) = 0;

  /// @brief out[i][c] = (x_i - mean) . components[c]: x (n x d) projected on the
  ///        rows of components (m x d) after subtracting mean (d values); out is n x m.
  virtual void project(ConstMatrixView x, const float* mean, ConstMatrixView components, MatrixView out) = 0;

  /// @brief The transformer encoder's ops on this backend, or null when it has
  ///        none (the encoder then runs on the CPU's).
  virtual std::unique_ptr<EncoderOps> make_encoder_ops() { return nullptr; }
};

/// @brief hold() for a scope: the matrix is released when the guard goes.
class HeldMatrix {
 public:
  HeldMatrix(Backend& b, ConstMatrixView x) : b_(b), x_(x) { b_.hold(x_); }
  ~HeldMatrix() { b_.release(x_); }
  HeldMatrix(const HeldMatrix&) = delete;
  HeldMatrix& operator=(const HeldMatrix&) = delete;

 private:
  Backend& b_;
  ConstMatrixView x_;
};

/// @brief Which device the user asked for.
enum class Device { Auto, Cpu, Cuda };

/// @brief Parses "auto", "cpu" or "cuda".
/// @throws emb::UsageError for anything else.
Device parse_device(const std::string& s);

/// @brief Options for make_backend.
/// @brief The operands of a GPU encoder's GEMMs (accumulation is float32 in both);
///        the CPU encoder always computes in float32.
enum class EncoderPrecision { Fp16, Fp32 };

/// @brief "fp16" or "fp32".
/// @throws emb::UsageError for anything else, naming --precision.
EncoderPrecision parse_precision(const std::string& s);

struct BackendOptions {
  Device device = Device::Auto;
  int threads = 0;  ///< CPU threads (OpenMP and OpenBLAS); 0 = all cores
  /// Fp16 is the fast mode; Fp32 is the checking mode (deterministic, batch-invariant
  /// bit for bit).
  EncoderPrecision precision = EncoderPrecision::Fp16;
};

/// @brief Creates the backend the options ask for. Auto takes the first CUDA device
///        when one is present, else the CPU. Ops the chosen backend does not
///        support run on the CPU backend. `notice` receives one line saying which
///        backend was taken (and why, for a fallback).
/// @throws emb::RuntimeError for Device::Cuda when no CUDA device is usable.
std::unique_ptr<Backend> make_backend(const BackendOptions& opts, std::string* notice = nullptr);

/// @brief Creates the CPU backend directly.
std::unique_ptr<Backend> make_cpu_backend(int threads = 0);

}  // namespace emb
