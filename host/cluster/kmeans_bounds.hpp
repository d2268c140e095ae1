#pragma once
// Bounds for the k-means driver's Lloyd iterations on the CPU (kmeans.cpp): which
// rows' assignments can be kept without a search.
#include <cstdint>
#include <vector>

#include "host/backend/backend.hpp"
#include "host/core/matrix.hpp"

namespace emb {

/// @brief Fewest centres for which the CPU's Lloyd keeps bounds: below, a row's
///        search is cheap against the exact distance to its own centre that the
///        bounds need.
inline constexpr int64_t kBoundsMinK = 16;

/// @brief Most groups of centres the bounds keep a lower bound for, per row ...
inline constexpr int kMaxBoundGroups = 32;
/// @brief ... and about this many centres per group below that.
inline constexpr int64_t kCentresPerBoundGroup = 10;

/// @brief Hamerly's bounds (2010) with the centres in groups, as Yinyang k-means
///        (Ding et al., 2015) keeps them, exact against float GEMMs. For each row:
///        its exact distance to its own centre (taken in the pass that adds up
///        the next centres), and per group of centres a lower bound on its
///        distance to every centre of the group but its own. After an update the
///        own distance grows by at most how far its centre moved, and a group's
///        bound falls by the farthest any of its centres (but the row's own)
///        moved: a few centres that move far lower the bounds of their groups
///        only. A row whose upper bound is below all its group bounds keeps its
///        centre without being read. Where that is too loose, the row's exact
///        distance to its own centre is tried against them. The rest are searched
///        (nearest_centroid_groups: one GEMM against every centre), and their
///        GEMM distance to each group, loosened by its rounding, is the new bound.
///        Bounds are stored as floats rounded down.
class AssignmentBounds {
 public:
  /// @brief Bounds for the rows of x against k centres.
  AssignmentBounds(ConstMatrixView x, int64_t k);

  /// @brief The next assignment searches every row: labels were changed from
  ///        outside (an empty cluster re-seeded), and a row's lower bounds cover
  ///        only the centres other than the one it was assigned to.
  void reset() { fresh_ = true; }

  /// @brief The assignment of every row to centres c (k rows), and its sums:
  ///        sums[l] and counts[l] are added to as accumulate_centroids would
  ///        (weights may be null), and each row's exact squared distance to its
  ///        new centre is taken, in the same pass over x. before: the previous
  ///        centres (null for the first assignment, where every row is searched).
  ///        labels hold the previous assignment on entry. Returns the rows proven
  ///        without a search.
  int64_t assign(Backend& backend, const Matrix& c, const Matrix* before, std::vector<int32_t>& labels,
                 const float* weights, BasicMatrixView<double> sums, double* counts);

  /// @brief dist2[i] = each row's exact squared distance to its centre, rounded
  ///        to float.
  void own_distances(std::vector<float>& dist2) const;

 private:
  ConstMatrixView x_;
  int groups_;
  std::vector<int32_t> group_start_;  // group g: centres group_start_[g] .. group_start_[g + 1] - 1
  std::vector<float> lower_;         // n x groups_
  std::vector<double> norm2_;
  std::vector<double> own2_;
  bool fresh_ = true;
  std::vector<int32_t> rows_, found_;
  std::vector<float> group_min2_;
};

}  // namespace emb
