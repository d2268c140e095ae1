#pragma once
// Exact neighbour searches over fewer rows. The points are cut into parts by a
// short k-means; each part keeps its centre and radius (its farthest member's
// distance from the centre). By the triangle inequality no member of part c is
// nearer to a point q than ||q - centre_c|| - radius_c, so a search skips every
// part whose bound is above what it must beat. The bounds are true lower bounds
// of the exact distances: the GEMM distance to a centre is loosened by its
// rounding and the radius is rounded up. Nothing is approximate: a skipped part
// provably holds no answer. Written against the Backend.
#include <cstdint>
#include <vector>

#include "host/backend/backend.hpp"
#include "host/core/matrix.hpp"

namespace emb {

/// @brief The parts: centres, radii and members (rows of x by part).
struct SearchPartition {
  Matrix centres;                   ///< parts x d
  std::vector<double> centre_norm2; ///< ||centre||^2, per part
  std::vector<double> radius;       ///< farthest member's exact distance, rounded up
  std::vector<int64_t> start;       ///< parts + 1 offsets into members
  std::vector<int32_t> members;     ///< rows of x, by part, increasing within a part
  std::vector<int32_t> part_of;     ///< the part of each row

  int64_t parts() const { return centres.rows(); }
  int64_t size(int64_t p) const { return start[p + 1] - start[p]; }
  const int32_t* rows(int64_t p) const { return members.data() + start[p]; }

  /// @brief Lower bounds on the exact distance between part centres, np x np:
  ///        the GEMM distance loosened by its rounding.
  std::vector<double> centre_distance_bounds(Backend& backend) const;
};

/// @brief The part count used when none is asked for: about sqrt(n), so that a
///        part and the number of parts are of the same size.
int64_t default_partition_parts(int64_t n);

/// @brief Cuts the rows of x into at most `parts` parts (k-means from random rows,
///        8 Lloyd iterations on a sample of 64 rows per part, then every row to its
///        nearest centre; parts left empty are dropped). Deterministic for a seed.
SearchPartition make_search_partition(Backend& backend, ConstMatrixView x, int64_t parts, uint64_t seed);

/// @brief Lower bounds on squared distances from rows to parts, and the sorted
///        union of parts' rows, with scratch reused between calls.
class PartitionSearch {
 public:
  PartitionSearch(const SearchPartition& sp, ConstMatrixView x);

  /// @brief out[i * parts + c] <= the exact squared distance from row rows[i] to
  ///        every member of part c (0 where the bound says nothing).
  void lower_bounds(Backend& backend, const int32_t* rows, int64_t m, std::vector<double>& out);

  /// @brief The members of the parts with take[c] != 0, as one increasing list.
  void union_rows(const std::vector<char>& take, std::vector<int32_t>& out);

  const SearchPartition& partition() const { return sp_; }
  /// @brief The exact squared norm of row i, and the largest of them.
  double norm2(int64_t i) const { return norm2_[i]; }
  double max_norm2() const { return max_norm2_; }

 private:
  const SearchPartition& sp_;
  ConstMatrixView x_;
  std::vector<double> norm2_;      // exact squared norms of the rows
  double max_norm2_ = 0.0;
  std::vector<float> gathered_;    // rows gathered for squared_distances
  std::vector<float> d2_;          // their GEMM distances to the centres
  std::vector<double> slack_base_; // the centres' part of the GEMM distances' slack
  std::vector<uint64_t> bits_;     // union_rows' row set
};

}  // namespace emb
