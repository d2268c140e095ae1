#pragma once
// The CPU backend: OpenBLAS for the GEMMs, OpenMP for the row loops. It is the
// reference every other backend is tested against, and the fallback for ops a
// GPU backend does not support.
#include <cstdint>
#include <memory>
#include <string>

#include "host/backend/backend.hpp"

namespace emb {

/// @brief Backend on the host CPU; supports every op.
class CpuBackend final : public Backend {
 public:
  /// @brief Uses `threads` OpenMP and OpenBLAS threads; 0 = omp_get_max_threads().
  explicit CpuBackend(int threads = 0);

  /// @brief "cpu (N threads)".
  std::string name() const override;
  bool is_gpu() const override { return false; }
  bool supports(Op) const override { return true; }
  /// @brief The thread count every op runs with.
  int threads() const { return threads_; }

  void normalize_rows(MatrixView x) override;
  /// @brief Bitwise the same result for any thread count, as nearest_centroids:
  ///        rows go in blocks that do not depend on it, one GEMM per block.
  void squared_distances(ConstMatrixView x, ConstMatrixView c, MatrixView out) override;
  void nearest_centroids(ConstMatrixView x, ConstMatrixView c, int32_t* labels, float* dist2) override;
  /// @brief Rows gathered per block, then one GEMM and the selection per row, as
  ///        nearest_centroids does.
  void nearest_centroid_groups(ConstMatrixView x, const int32_t* rows, int64_t n_rows, ConstMatrixView c,
                               const int32_t* group_start, int n_groups, int32_t* labels, float* dist2,
                               float* group_min2) override;
  /// @brief Bitwise the same result for any thread count: threads split the columns,
  ///        and every sum runs over the rows in order.
  void accumulate_centroids(ConstMatrixView x, const int32_t* labels, const float* weights,
                            BasicMatrixView<double> sums, double* counts) override;
  void accumulate_centroids_with_distances(ConstMatrixView x, const int32_t* labels, const float* weights,
                                           ConstMatrixView c, BasicMatrixView<double> sums, double* counts,
                                           double* own2) override;
  /// @brief Blocks of query rows against tiles of x, one GEMM per tile, a bounded
  ///        selection per row; the same result for any thread count
  ///        (host/cpu/cpu_neighbours.cpp).
  void k_nearest(ConstMatrixView q, ConstMatrixView x, int k, int32_t* idx, float* dist2) override;
  /// @brief Rows gathered, then k_nearest's loop with each list starting at its bound.
  void k_nearest_among(ConstMatrixView x, const int32_t* q_rows, int64_t n_q, const int32_t* cand, int64_t n_cand,
                       int k, int32_t* idx, float* dist2, const float* bound) override;
  /// @brief Square tiles of the gathered rows, only those on or above the
  ///        diagonal: one GEMM per tile, its rows offered to the tile's row lists
  ///        and its columns (transposed) to the column rows' lists. Each thread
  ///        keeps lists for all rows (threads x n x 2k entries of 8 bytes: meant
  ///        for a few thousand rows), merged at the end: the same result for any
  ///        thread count.
  void k_nearest_within(ConstMatrixView x, const int32_t* rows, int64_t n, int k, int32_t* idx, float* dist2,
                        const float* bound) override;
  void nearest_other_component(ConstMatrixView x, const int32_t* rows, int64_t n_rows, const float* core2,
                               const int32_t* component, const int32_t* cand, int64_t n_cand, int32_t* nearest,
                               float* weight2) override;
  /// @brief PCA's ops (host/cpu/cpu_pca.cpp): covariance by blocked GEMM (syrk),
  ///        eigen-decomposition by LAPACK's dsyevr.
  void covariance(ConstMatrixView x, double* mean, BasicMatrixView<double> cov) override;
  void symmetric_eigen(BasicMatrixView<const double> a, double* values, BasicMatrixView<double> vectors) override;
  void project(ConstMatrixView x, const float* mean, ConstMatrixView components, MatrixView out) override;
  std::unique_ptr<EncoderOps> make_encoder_ops() override { return make_cpu_encoder_ops(); }

 private:
  void k_nearest_bounded(ConstMatrixView q, ConstMatrixView x, int k, int32_t* idx, float* dist2, const float* bound);

  int threads_;
};

}  // namespace emb
