#include "host/cluster/kmeans_bounds.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "host/core/error.hpp"
#include "host/core/exact_distance.hpp"

namespace emb {
namespace {

// Rows per block of an assignment: about this many bytes of x, so that a block read
// for its bounds and search is still in cache when its sums are added ...
constexpr int64_t kBlockBytes = int64_t{4} << 20;
// ... and never fewer rows than this.
constexpr int64_t kMinBlockRows = 256;

// v rounded down to a float: a lower bound stays one in float storage.
inline float round_down(double v) {
  float f = static_cast<float>(v);
  if (static_cast<double>(f) > v) {  // one step towards -inf, on the bits (v is finite here)
    uint32_t bits;
    std::memcpy(&bits, &f, sizeof bits);
    if (f > 0.0f)
      --bits;
    else if (f == 0.0f)
      bits = 0x80000001u;  // the negative float nearest 0
    else
      ++bits;
    std::memcpy(&f, &bits, sizeof f);
  }
  return f;
}

}  // namespace

AssignmentBounds::AssignmentBounds(ConstMatrixView x, int64_t k)
    : x_(x),
      groups_(static_cast<int>(std::clamp<int64_t>(k / kCentresPerBoundGroup, 1, kMaxBoundGroups))),
      group_start_(static_cast<size_t>(groups_ + 1)),
      lower_(static_cast<size_t>(x.rows * groups_), 0.0f),
      norm2_(static_cast<size_t>(x.rows)),
      own2_(static_cast<size_t>(x.rows), 0.0) {
  // Centres by index: seeding draws them in no spatial order, so each group's
  // farthest move is that of a few centres, not of all.
  for (int g = 0; g <= groups_; ++g) group_start_[g] = static_cast<int32_t>(k * g / groups_);
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
  const int G = groups_;
  EMB_EXPECTS(k == group_start_[G], "AssignmentBounds: ", k, " centres, bounds made for ", group_start_[G]);
  double c_norm2 = 0.0;
  for (int64_t j = 0; j < k; ++j) c_norm2 = std::max(c_norm2, exact_norm2(c.row(j), d));
  const bool bounded = before && !fresh_;
  fresh_ = false;
  // How far each centre moved, and per group the farthest move (with its centre)
  // and the second farthest: a row's bound for a group falls by the farthest move
  // of a centre there other than its own.
  std::vector<double> drift(static_cast<size_t>(bounded ? k : 0));
  std::vector<double> top(static_cast<size_t>(G), 0.0), next(static_cast<size_t>(G), 0.0);
  std::vector<int32_t> top_of(static_cast<size_t>(G), -1);
  if (bounded)
    for (int g = 0; g < G; ++g)
      for (int32_t j = group_start_[g]; j < group_start_[g + 1]; ++j) {
        drift[j] = std::sqrt(exact_dist2(c.row(j), before->row(j), d));
        if (top_of[g] < 0 || drift[j] > top[g]) {
          next[g] = top[g];
          top[g] = drift[j];
          top_of[g] = j;
        } else {
          next[g] = std::max(next[g], drift[j]);
        }
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
        float* lo = lower_.data() + i * G;
        double least = std::numeric_limits<double>::infinity();
        for (int g = 0; g < G; ++g) {
          lo[g] = round_down(static_cast<double>(lo[g]) - (top_of[g] == l ? next[g] : top[g]));
          least = std::min(least, static_cast<double>(lo[g]));
        }
        // own2_ is to the centre before the update: by the triangle inequality the
        // row is at most drift[l] farther from the new one.
        search[i - b] = !(std::sqrt(own2_[i]) + drift[l] < least) &&
                        !(std::sqrt(exact_dist2(x_.row(i), c.row(l), d)) < least);
      }
      for (int64_t i = b; i < e; ++i)
        if (search[i - b]) rows_.push_back(static_cast<int32_t>(i));
    }
    // Every row of the block searched: no list, no gather.
    const bool all = !bounded || static_cast<int64_t>(rows_.size()) == e - b;
    const int64_t m = all ? e - b : static_cast<int64_t>(rows_.size());
    proven += (e - b) - m;
    found_.resize(static_cast<size_t>(m));
    group_min2_.resize(static_cast<size_t>(m * G));
    if (all)
      backend.nearest_centroid_groups(x_.block(b, m), nullptr, m, c.view(), group_start_.data(), G, found_.data(),
                                      nullptr, group_min2_.data());
    else if (m > 0)
      backend.nearest_centroid_groups(x_, rows_.data(), m, c.view(), group_start_.data(), G, found_.data(), nullptr,
                                      group_min2_.data());
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < m; ++t) {
      const int64_t i = all ? b + t : rows_[t];
      labels[i] = found_[t];
      // Every other centre of a group is at least that group's GEMM distance
      // away, and exactly at least that less the rounding.
      for (int g = 0; g < G; ++g) {
        const double s = group_min2_[t * G + g];
        lower_[i * G + g] = std::isinf(s) ? std::numeric_limits<float>::infinity()
                                          : round_down(std::sqrt(std::max(
                                                0.0, s - gemm_distance_slack(d, norm2_[i] + c_norm2, s))));
      }
    }
    backend.accumulate_centroids_with_distances(x_.block(b, e - b), labels.data() + b, weights ? weights + b : nullptr,
                                                c.view(), sums, counts, own2_.data() + b);
  }
  return proven;
}

}  // namespace emb
