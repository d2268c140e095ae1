#include "host/cluster/search_partition.hpp"

#include <omp.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <numeric>
#include <random>

#include "host/cluster/kmeans.hpp"
#include "host/cluster/mst.hpp"
#include "host/core/error.hpp"
#include "host/core/exact_distance.hpp"

namespace emb {

int64_t default_partition_parts(int64_t n) {
  return std::clamp<int64_t>(std::llround(std::sqrt(static_cast<double>(std::max<int64_t>(n, 1)))), 1, 4096);
}

SearchPartition make_search_partition(Backend& backend, ConstMatrixView x, int64_t parts, uint64_t seed) {
  const int64_t n = x.rows, d = x.cols;
  EMB_EXPECTS(n >= 1 && d >= 1, "a search partition needs rows, got ", n, " x ", d);
  parts = std::clamp<int64_t>(parts, 1, n);

  // The sample: distinct rows drawn at random, kept in increasing order.
  const int64_t sample_rows = std::min(n, 64 * parts);
  std::vector<int32_t> pick(static_cast<size_t>(n));
  std::iota(pick.begin(), pick.end(), 0);
  std::mt19937_64 rng(seed);
  for (int64_t i = 0; i < sample_rows && sample_rows < n; ++i) {
    std::uniform_int_distribution<int64_t> u(i, n - 1);
    std::swap(pick[i], pick[u(rng)]);
  }
  pick.resize(static_cast<size_t>(sample_rows));
  std::sort(pick.begin(), pick.end());
  Matrix sample(sample_rows, d);
  for (int64_t i = 0; i < sample_rows; ++i) std::copy_n(x.row(pick[i]), d, sample.row(i));

  KMeansOptions o;
  o.k = static_cast<int>(parts);
  o.max_iter = 8;
  o.n_init = 1;
  o.seed = seed;
  o.init = KMeansInit::Random;
  const KMeansResult km = kmeans(backend, sample.view(), o);
  std::vector<int32_t> label(static_cast<size_t>(n));
  backend.nearest_centroids(x, km.centroids.view(), label.data(), nullptr);

  // Members by part (rows increasing within a part), empty parts dropped.
  std::vector<int64_t> count(static_cast<size_t>(parts), 0);
  for (int32_t l : label) ++count[l];
  std::vector<int32_t> renumber(static_cast<size_t>(parts), -1);
  SearchPartition sp;
  int64_t kept = 0;
  for (int64_t c = 0; c < parts; ++c)
    if (count[c] > 0) renumber[c] = static_cast<int32_t>(kept++);
  sp.centres = Matrix(kept, d);
  sp.start.assign(static_cast<size_t>(kept + 1), 0);
  for (int64_t c = 0; c < parts; ++c) {
    if (renumber[c] < 0) continue;
    std::copy_n(km.centroids.row(c), d, sp.centres.row(renumber[c]));
    sp.start[renumber[c] + 1] = count[c];
  }
  std::partial_sum(sp.start.begin(), sp.start.end(), sp.start.begin());
  sp.members.resize(static_cast<size_t>(n));
  sp.part_of.resize(static_cast<size_t>(n));
  std::vector<int64_t> fill(sp.start.begin(), sp.start.end() - 1);
  for (int64_t i = 0; i < n; ++i) {
    const int32_t p = renumber[label[i]];
    sp.part_of[i] = p;
    sp.members[fill[p]++] = static_cast<int32_t>(i);
  }

  sp.centre_norm2.resize(static_cast<size_t>(kept));
  for (int64_t c = 0; c < kept; ++c) sp.centre_norm2[c] = exact_norm2(sp.centres.row(c), d);
  std::vector<double> member_d2(static_cast<size_t>(n));
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) member_d2[i] = exact_dist2(x.row(i), sp.centres.row(sp.part_of[i]), d);
  sp.radius.assign(static_cast<size_t>(kept), 0.0);
  for (int64_t i = 0; i < n; ++i) sp.radius[sp.part_of[i]] = std::max(sp.radius[sp.part_of[i]], member_d2[i]);
  // Rounded up: the square root and the sum above each round to within a few ulps.
  for (double& r : sp.radius) r = std::sqrt(r) * (1.0 + 1e-12) + 1e-300;
  return sp;
}

std::vector<double> SearchPartition::centre_distance_bounds(Backend& backend) const {
  const int64_t np = parts(), d = centres.cols();
  Matrix cc(np, np);
  backend.squared_distances(centres.view(), centres.view(), cc.view());
  std::vector<double> out(static_cast<size_t>(np * np));
  for (int64_t a = 0; a < np; ++a)
    for (int64_t b = 0; b < np; ++b) {
      const double g = cc.row(a)[b];
      const double slack = gemm_distance_slack(d, centre_norm2[a] + centre_norm2[b], g);
      out[a * np + b] = a == b ? 0.0 : std::sqrt(std::max(0.0, g - slack)) * (1.0 - 1e-12);
    }
  return out;
}

PartitionSearch::PartitionSearch(const SearchPartition& sp, ConstMatrixView x)
    : sp_(sp), x_(x) {
  norm2_.resize(static_cast<size_t>(x.rows));
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < x.rows; ++i) norm2_[i] = exact_norm2(x.row(i), x.cols);
  for (double v : norm2_) max_norm2_ = std::max(max_norm2_, v);
  bits_.assign(static_cast<size_t>((x.rows + 63) / 64), 0);
}

void PartitionSearch::lower_bounds(Backend& backend, const int32_t* rows, int64_t m, std::vector<double>& out) {
  const int64_t parts = sp_.parts(), d = x_.cols;
  gathered_.resize(static_cast<size_t>(m * d));
  for (int64_t i = 0; i < m; ++i) std::copy_n(x_.row(rows[i]), d, gathered_.data() + i * d);
  d2_.resize(static_cast<size_t>(m * parts));
  backend.squared_distances({gathered_.data(), m, d}, sp_.centres.view(), {d2_.data(), m, parts});
  out.resize(static_cast<size_t>(m * parts));
  // gemm_distance_slack with its per-centre part taken out of the loop, which is
  // then free of branches and runs in vector registers.
  const double unit = std::ldexp(1.0, -24) * static_cast<double>(d + 4), rel = std::ldexp(1.0, -22);
  slack_base_.resize(static_cast<size_t>(parts));
  for (int64_t c = 0; c < parts; ++c) slack_base_[c] = unit * sp_.centre_norm2[c];
  const double* base = slack_base_.data();
  const double* radius = sp_.radius.data();
#pragma omp parallel for schedule(static) if (m * parts >= 4096)
  for (int64_t i = 0; i < m; ++i) {
    const double qs = unit * norm2_[rows[i]];
    const float* g = d2_.data() + i * parts;
    double* o = out.data() + i * parts;
#pragma omp simd
    for (int64_t c = 0; c < parts; ++c) {
      const double gc = g[c];
      const double low = std::sqrt(std::max(0.0, gc - (qs + base[c] + rel * std::abs(gc)))) - radius[c];
      o[c] = low > 0.0 ? low * low * (1.0 - 1e-12) : 0.0;
    }
  }
}

void PartitionSearch::union_rows(const std::vector<char>& take, std::vector<int32_t>& out) {
  out.clear();
  for (int64_t c = 0; c < sp_.parts(); ++c)
    if (take[c])
      for (int64_t t = sp_.start[c]; t < sp_.start[c + 1]; ++t) {
        const int32_t r = sp_.members[t];
        bits_[r >> 6] |= uint64_t{1} << (r & 63);
      }
  // The set, read back in row order; the words are cleared on the way.
  for (size_t w = 0; w < bits_.size(); ++w) {
    uint64_t b = bits_[w];
    if (!b) continue;
    bits_[w] = 0;
    while (b) {
      out.push_back(static_cast<int32_t>(w * 64 + static_cast<size_t>(std::countr_zero(b))));
      b &= b - 1;
    }
  }
}

}  // namespace emb
