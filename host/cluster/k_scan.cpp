#include "host/cluster/k_scan.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <utility>

#include "host/core/error.hpp"

namespace emb {
namespace {

// Rows of the sample whose pairwise distances are held at a time (block x rows floats).
constexpr int64_t kBlockRows = 256;

// min(size, n) distinct row indices, uniformly, sorted; all rows when size >= n.
std::vector<int64_t> sample_rows(int64_t n, int64_t size, uint64_t seed) {
  std::vector<int64_t> idx(static_cast<size_t>(n));
  std::iota(idx.begin(), idx.end(), int64_t{0});
  if (size >= n) return idx;
  std::mt19937_64 rng(seed);
  for (int64_t i = 0; i < size; ++i) {  // partial Fisher-Yates
    std::uniform_int_distribution<int64_t> pick(i, n - 1);
    std::swap(idx[i], idx[pick(rng)]);
  }
  idx.resize(static_cast<size_t>(size));
  std::sort(idx.begin(), idx.end());
  return idx;
}

}  // namespace

double silhouette_score(Backend& backend, ConstMatrixView x, const int32_t* labels, int k) {
  const int64_t n = x.rows;
  std::vector<int64_t> count(static_cast<size_t>(std::max(k, 0)), 0);
  for (int64_t i = 0; i < n; ++i) {
    EMB_EXPECTS(labels[i] >= 0 && labels[i] < k, "silhouette: label ", labels[i], " of row ", i,
                " is outside [0, ", k, ")");
    ++count[labels[i]];
  }
  if (std::count_if(count.begin(), count.end(), [](int64_t c) { return c > 0; }) < 2) return 0.0;

  Matrix d2(std::min(kBlockRows, n), n);
  std::vector<double> sum(static_cast<size_t>(k));
  double total = 0.0;
  for (int64_t begin = 0; begin < n; begin += kBlockRows) {
    const int64_t rows = std::min(kBlockRows, n - begin);
    MatrixView out{d2.data(), rows, n};
    backend.squared_distances(x.block(begin, rows), x, out);
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t i = begin + r;
      const int32_t own = labels[i];
      if (count[own] < 2) continue;  // a singleton scores 0
      std::fill(sum.begin(), sum.end(), 0.0);
      const float* row = out.row(r);
      for (int64_t j = 0; j < n; ++j)
        if (j != i) sum[labels[j]] += std::sqrt(static_cast<double>(row[j]));
      const double a = sum[own] / static_cast<double>(count[own] - 1);
      double b = INFINITY;
      for (int c = 0; c < k; ++c)
        if (c != own && count[c] > 0) b = std::min(b, sum[c] / static_cast<double>(count[c]));
      const double m = std::max(a, b);
      if (m > 0.0) total += (b - a) / m;
    }
  }
  return total / static_cast<double>(n);
}

KScanResult scan_k(Backend& backend, ConstMatrixView x, const KScanOptions& opts) {
  EMB_USAGE(opts.k_min >= 2, "the smallest k of a scan must be at least 2, got k_min = ", opts.k_min);
  EMB_USAGE(opts.k_max >= opts.k_min, "the largest k of a scan (", opts.k_max, ") must not be below the smallest (",
            opts.k_min, ")");
  EMB_USAGE(opts.sample >= 2, "the silhouette sample must have at least 2 rows, got ", opts.sample);
  EMB_EXPECTS(opts.k_max <= x.rows, "cannot scan k up to ", opts.k_max, " with only ", x.rows, " rows");

  // The sample is drawn once, so every k is scored on the same rows.
  const std::vector<int64_t> rows = sample_rows(x.rows, opts.sample, opts.kmeans.seed);
  const auto m = static_cast<int64_t>(rows.size());
  Matrix sample(m, x.cols);
  for (int64_t s = 0; s < m; ++s) std::copy_n(x.row(rows[s]), x.cols, sample.row(s));
  if (opts.kmeans.metric == Metric::Cosine) backend.normalize_rows(sample.view());
  std::vector<int32_t> sample_labels(static_cast<size_t>(m));

  KScanResult r;
  double best_score = -INFINITY;
  KMeansOptions ko = opts.kmeans;
  for (int k = opts.k_min; k <= opts.k_max; ++k) {
    ko.k = k;
    KMeansResult km = kmeans(backend, x, ko);
    for (int64_t s = 0; s < m; ++s) sample_labels[s] = km.labels[rows[s]];
    const double score = silhouette_score(backend, sample.view(), sample_labels.data(), k);
    r.k.push_back(k);
    r.inertia.push_back(km.inertia);
    r.silhouette.push_back(score);
    if (opts.on_k) opts.on_k(k, km.inertia, score);
    if (score > best_score) {  // strictly: ties keep the smaller k
      best_score = score;
      r.best_k = k;
      r.best = std::move(km);
    }
  }
  return r;
}

}  // namespace emb
