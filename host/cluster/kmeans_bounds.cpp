#include "host/cluster/kmeans_bounds.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>

#include "host/core/exact_distance.hpp"

namespace emb {
namespace {

// Rows per block of an assignment: about this many bytes of x, so that a block read
// for its bounds and search is still in cache when its sums are added ...
constexpr int64_t kBlockBytes = int64_t{4} << 20;
// ... and never fewer rows than this.
constexpr int64_t kMinBlockRows = 256;

}  // namespace

AssignmentBounds::AssignmentBounds(ConstMatrixView x)
    : x_(x),
      lower_(static_cast<size_t>(x.rows), 0.0),
      norm2_(static_cast<size_t>(x.rows)),
      own2_(static_cast<size_t>(x.rows), 0.0) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < x.rows; ++i) norm2_[i] = exact_norm2(x.row(i), x.cols);
}

void AssignmentBounds::own_distances(std::vector<float>& dist2) const {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < x_.rows; ++i) dist2[i] = static_cast<float>(own2_[i]);
}

int64_t AssignmentBounds::assign(Backend& backend, const Matrix& c, const Matrix* before, std::vector<int32_t>& labels,
                                 const float* weights, BasicMatrixView<double> sums, double* counts) {
  const int64_t n = x_.rows, d = x_.cols, k = c.rows();
  double c_norm2 = 0.0;
  for (int64_t j = 0; j < k; ++j) c_norm2 = std::max(c_norm2, exact_norm2(c.row(j), d));
  const bool bounded = before && !fresh_;
  fresh_ = false;
  // How far each centre moved; a row's lower bound falls by the most any centre but
  // its own moved.
  std::vector<double> drift(static_cast<size_t>(bounded ? k : 0));
  int64_t far = 0;
  double next = 0.0;
  if (bounded) {
    for (int64_t j = 0; j < k; ++j) {
      drift[j] = std::sqrt(exact_dist2(c.row(j), before->row(j), d));
      if (drift[j] > drift[far]) far = j;
    }
    for (int64_t j = 0; j < k; ++j)
      if (j != far) next = std::max(next, drift[j]);
  }
  // Blocks of rows in order, each taken whole while it is in cache: the bounds, the
  // search of the rows they leave, then the block's sums and exact distances. The
  // sums come out as one accumulate over all rows would add them (a cluster's rows
  // in row order), and x is read from memory once per assignment.
  const int64_t block = std::max<int64_t>(kMinBlockRows, kBlockBytes / (d * static_cast<int64_t>(sizeof(float))));
  std::vector<char> search(static_cast<size_t>(std::min(n, block)));
  int64_t proven = 0;
  for (int64_t b = 0; b < n; b += block) {
    const int64_t e = std::min(n, b + block);
    rows_.clear();
    if (bounded) {
#pragma omp parallel for schedule(static)
      for (int64_t i = b; i < e; ++i) {
        const int32_t l = labels[i];
        lower_[i] -= l == far ? next : drift[far];
        // own2_ is to the centre before the update: by the triangle inequality the
        // row is at most drift[l] farther from the new one.
        search[i - b] = !(std::sqrt(own2_[i]) + drift[l] < lower_[i]) &&
                        !(std::sqrt(exact_dist2(x_.row(i), c.row(l), d)) < lower_[i]);
      }
      for (int64_t i = b; i < e; ++i)
        if (search[i - b]) rows_.push_back(static_cast<int32_t>(i));
    }
    // Every row of the block searched: no list, no gather.
    const bool all = !bounded || static_cast<int64_t>(rows_.size()) == e - b;
    const int64_t m = all ? e - b : static_cast<int64_t>(rows_.size());
    proven += (e - b) - m;
    found_.resize(static_cast<size_t>(m));
    second_.resize(static_cast<size_t>(m));
    if (all)
      backend.nearest_two_centroids(x_.block(b, m), nullptr, m, c.view(), found_.data(), nullptr, second_.data());
    else if (m > 0)
      backend.nearest_two_centroids(x_, rows_.data(), m, c.view(), found_.data(), nullptr, second_.data());
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < m; ++t) {
      const int64_t i = all ? b + t : rows_[t];
      labels[i] = found_[t];
      // Every other centre's GEMM distance is at least second, and its exact one at
      // least that less the rounding.
      const double s = second_[t];
      lower_[i] = std::isinf(s) ? s : std::sqrt(std::max(0.0, s - gemm_distance_slack(d, norm2_[i] + c_norm2, s)));
    }
    backend.accumulate_centroids_with_distances(x_.block(b, e - b), labels.data() + b, weights ? weights + b : nullptr,
                                                c.view(), sums, counts, own2_.data() + b);
  }
  return proven;
}

}  // namespace emb
