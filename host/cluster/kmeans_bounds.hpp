#pragma once
// Hamerly's bounds for the k-means driver's Lloyd iterations on the CPU
// (kmeans.cpp): which rows' assignments can be kept without a search.
#include <cstdint>
#include <vector>

#include "host/backend/backend.hpp"
#include "host/core/matrix.hpp"

namespace emb {

/// @brief Fewest centres for which the CPU's Lloyd keeps bounds: below, a row's
///        search is cheap against the exact distance to its own centre that the
///        bounds need.
inline constexpr int64_t kBoundsMinK = 16;

/// @brief Hamerly's bounds (2010), kept exact against float GEMMs: for each row,
///        its exact distance to its own centre (taken in the pass that adds up
///        the next centres: own2()) and a lower bound on its distance
///        to every other centre. After an update the own distance grows by at most
///        how far its centre moved, and the lower bound falls by the farthest any
///        other centre moved; a row whose own centre is still strictly nearer than
///        that bound keeps it without reading the row. Where that upper bound is
///        too loose, the row's exact distance to its own centre is taken and tried
///        against the bound. The rest are searched (nearest_two_centroids), and
///        their second-nearest GEMM distance, loosened by its rounding, is the new
///        bound.
class AssignmentBounds {
 public:
  explicit AssignmentBounds(ConstMatrixView x);

  /// @brief The next assignment searches every row: labels were changed from
  ///        outside (an empty cluster re-seeded), and a row's lower bound covers
  ///        only the centres other than the one it was assigned to.
  void reset() { fresh_ = true; }

  /// @brief The assignment of every row to centres c, and its sums: sums[l] and
  ///        counts[l] are added to as accumulate_centroids would (weights may be
  ///        null), and own2() gets each row's exact squared distance to its new
  ///        centre, in the same pass over x. before: the previous centres (null
  ///        for the first assignment, where every row is searched). labels hold
  ///        the previous assignment on entry. Returns the rows proven without a
  ///        search.
  int64_t assign(Backend& backend, const Matrix& c, const Matrix* before, std::vector<int32_t>& labels,
                 const float* weights, BasicMatrixView<double> sums, double* counts);

  /// @brief Each row's exact squared distance to the centre it was last assigned
  ///        to (n values).
  const std::vector<double>& own2() const { return own2_; }

  /// @brief dist2[i] = own2()[i], rounded to float.
  void own_distances(std::vector<float>& dist2) const;

 private:
  ConstMatrixView x_;
  std::vector<double> lower_;
  std::vector<double> norm2_;
  std::vector<double> own2_;
  bool fresh_ = true;
  std::vector<int32_t> rows_, found_;
  std::vector<float> second_;
};

}  // namespace emb
