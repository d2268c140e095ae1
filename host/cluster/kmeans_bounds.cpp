#include "host/cluster/kmeans_bounds.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>

#include "host/core/exact_distance.hpp"

namespace emb {

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

int64_t AssignmentBounds::assign(Backend& backend, const Matrix& c, const Matrix* before, std::vector<int32_t>& labels) {
  const int64_t n = x_.rows, d = x_.cols, k = c.rows();
  double c_norm2 = 0.0;
  for (int64_t j = 0; j < k; ++j) c_norm2 = std::max(c_norm2, exact_norm2(c.row(j), d));
  std::vector<char> search(static_cast<size_t>(n), 1);
  if (before && !fresh_) {
    // How far each centre moved; a row's bound falls by the most any centre but
    // its own moved.
    std::vector<double> drift(static_cast<size_t>(k));
    int64_t far = 0;
    for (int64_t j = 0; j < k; ++j) {
      drift[j] = std::sqrt(exact_dist2(c.row(j), before->row(j), d));
      if (drift[j] > drift[far]) far = j;
    }
    double next = 0.0;
    for (int64_t j = 0; j < k; ++j)
      if (j != far) next = std::max(next, drift[j]);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      const int32_t l = labels[i];
      lower_[i] -= l == far ? next : drift[far];
      // own2_ is to the centre before the update: by the triangle inequality the
      // row is at most drift[l] farther from the new one.
      if (std::sqrt(own2_[i]) + drift[l] < lower_[i]) {
        search[i] = 0;
        continue;
      }
      search[i] = !(std::sqrt(exact_dist2(x_.row(i), c.row(l), d)) < lower_[i]);
    }
  }
  fresh_ = false;
  rows_.clear();
  for (int64_t i = 0; i < n; ++i)
    if (search[i]) rows_.push_back(static_cast<int32_t>(i));
  const int64_t m = static_cast<int64_t>(rows_.size());
  found_.resize(rows_.size());
  second_.resize(rows_.size());
  backend.nearest_two_centroids(x_, rows_.data(), m, c.view(), found_.data(), nullptr, second_.data());
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < m; ++t) {
    const int32_t i = rows_[t];
    labels[i] = found_[t];
    // Every other centre's GEMM distance is at least second, and its exact one at
    // least that less the rounding.
    const double s = second_[t];
    lower_[i] = std::isinf(s) ? s : std::sqrt(std::max(0.0, s - gemm_distance_slack(d, norm2_[i] + c_norm2, s)));
  }
  return n - m;
}

}  // namespace emb
