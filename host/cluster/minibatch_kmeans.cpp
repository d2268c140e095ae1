#include "host/cluster/minibatch_kmeans.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include <vector>

#include "host/core/error.hpp"

namespace emb {
namespace {

// Gathers the rows idx of x (and their weights) into contiguous buffers; unit
// length for the cosine metric.
void gather(Backend& backend, ConstMatrixView x, const float* w, const std::vector<int64_t>& idx, Metric metric,
            Matrix& out, std::vector<float>& out_w) {
  out = Matrix(static_cast<int64_t>(idx.size()), x.cols);
  out_w.resize(idx.size());
  for (size_t t = 0; t < idx.size(); ++t) {
    std::memcpy(out.row(static_cast<int64_t>(t)), x.row(idx[t]), sizeof(float) * static_cast<size_t>(x.cols));
    out_w[t] = w ? w[idx[t]] : 1.0f;
  }
  if (metric == Metric::Cosine) backend.normalize_rows(out.view());
}

// k distinct row indices out of n, uniformly (a partial Fisher-Yates shuffle).
std::vector<int64_t> draw(int64_t n, int64_t count, std::mt19937_64& rng, std::vector<int64_t>& pool) {
  if (static_cast<int64_t>(pool.size()) != n) {
    pool.resize(static_cast<size_t>(n));
    std::iota(pool.begin(), pool.end(), int64_t{0});
  }
  count = std::min(count, n);
  for (int64_t i = 0; i < count; ++i) {
    const int64_t j = i + static_cast<int64_t>(rng() % static_cast<uint64_t>(n - i));
    std::swap(pool[i], pool[j]);
  }
  std::vector<int64_t> out(pool.begin(), pool.begin() + count);
  std::sort(out.begin(), out.end());  // row order: cache-friendly gathering, same result
  return out;
}

}  // namespace

KMeansResult minibatch_kmeans(Backend& backend, ConstMatrixView x, const KMeansOptions& opts, int64_t batch_size) {
  EMB_USAGE(batch_size >= 1, "--batch-size must be at least 1, got ", batch_size);
  EMB_USAGE(opts.k >= 1, "k must be at least 1, got ", opts.k);
  EMB_USAGE(opts.max_iter >= 1, "max_iter must be at least 1, got ", opts.max_iter);
  EMB_EXPECTS(x.rows > 0 && x.cols > 0, "there are no points to cluster (", x.rows, " x ", x.cols, ")");
  EMB_EXPECTS(opts.k <= x.rows, "k = ", opts.k, " is larger than the number of points (", x.rows, ")");
  for (int64_t i = 0; i < x.size(); ++i)
    EMB_EXPECTS(std::isfinite(x.data[i]), "row ", i / x.cols, ", column ", i % x.cols,
                " is not finite (counting from 0); k-means needs finite values");
  const int64_t n = x.rows, d = x.cols, k = opts.k;
  std::mt19937_64 rng(opts.seed ^ 0x6d696e6962617463ull);
  std::vector<int64_t> pool;
  Matrix batch;
  std::vector<float> bw;

  // Start from full k-means on a sample: cheap, and far better than raw seeds.
  const int64_t init_size = std::min(n, std::max<int64_t>(3 * batch_size, 10 * k));
  gather(backend, x, opts.weights, draw(n, init_size, rng, pool), opts.metric, batch, bw);
  KMeansOptions start = opts;
  start.weights = opts.weights ? bw.data() : nullptr;
  start.on_iteration = nullptr;
  Matrix centres = kmeans(backend, batch.view(), start).centroids;

  const int64_t b = std::min(batch_size, n);
  const int64_t steps = std::max<int64_t>(1, static_cast<int64_t>(opts.max_iter) * n / b);
  const double alpha = std::min(1.0, 2.0 * static_cast<double>(b) / (static_cast<double>(n) + 1.0));
  std::vector<double> mass(static_cast<size_t>(k), 0.0), sums(static_cast<size_t>(k * d)), got(static_cast<size_t>(k));
  std::vector<int32_t> labels(static_cast<size_t>(b));
  std::vector<float> dist(static_cast<size_t>(b));
  Matrix before(k, d);
  double ewa = -1.0, best_ewa = INFINITY;
  int no_improvement = 0, step = 0;
  for (; step < steps; ++step) {
    gather(backend, x, opts.weights, draw(n, b, rng, pool), opts.metric, batch, bw);
    backend.nearest_centroids(batch.view(), centres.view(), labels.data(), dist.data());
    double batch_inertia = 0.0, batch_mass = 0.0;
    for (int64_t i = 0; i < b; ++i) batch_inertia += static_cast<double>(bw[i]) * dist[i], batch_mass += bw[i];
    std::fill(sums.begin(), sums.end(), 0.0);
    std::fill(got.begin(), got.end(), 0.0);
    backend.accumulate_centroids(batch.view(), labels.data(), bw.data(), {sums.data(), k, d}, got.data());
    before = centres;
    // c <- (mass * c + batch sum) / (mass + batch mass): the running weighted mean.
    for (int64_t j = 0; j < k; ++j) {
      if (!(got[j] > 0.0)) continue;
      const double m = mass[j] + got[j];
      float* c = centres.row(j);
      for (int64_t t = 0; t < d; ++t) c[t] = static_cast<float>((mass[j] * c[t] + sums[j * d + t]) / m);
      mass[j] = m;
    }
    if (opts.metric == Metric::Cosine) backend.normalize_rows(centres.view());
    if (opts.on_iteration) opts.on_iteration(0, step + 1, batch_inertia);

    // Early stop (as scikit-learn): the smoothed mean batch inertia stalls.
    const double mean = batch_mass > 0 ? batch_inertia / batch_mass : 0.0;
    ewa = ewa < 0 ? mean : ewa * (1.0 - alpha) + mean * alpha;
    if (ewa < best_ewa) best_ewa = ewa, no_improvement = 0;
    else if (++no_improvement >= 10) break;
    if (opts.tol_shift > 0.0) {
      double shift = 0.0, norms = 0.0;
      for (int64_t j = 0; j < k; ++j)
        for (int64_t t = 0; t < d; ++t) {
          const double a = centres.row(j)[t], p = before.row(j)[t];
          shift = std::max(shift, (a - p) * (a - p));
          norms += a * a;
        }
      if (shift <= opts.tol_shift * norms / static_cast<double>(k)) break;
    }
  }

  // The final labels and inertia: one full pass, in blocks (unit rows for cosine).
  KMeansResult r;
  r.labels.resize(static_cast<size_t>(n));
  std::vector<float> d2(static_cast<size_t>(n));
  const int64_t block = std::max<int64_t>(1, (int64_t{1} << 24) / d);
  for (int64_t b0 = 0; b0 < n; b0 += block) {
    const int64_t nb = std::min(block, n - b0);
    if (opts.metric == Metric::Cosine) {
      Matrix unit(nb, d);
      std::memcpy(unit.data(), x.row(b0), sizeof(float) * static_cast<size_t>(nb * d));
      backend.normalize_rows(unit.view());
      backend.nearest_centroids(unit.view(), centres.view(), r.labels.data() + b0, d2.data() + b0);
    } else {
      backend.nearest_centroids(x.block(b0, nb), centres.view(), r.labels.data() + b0, d2.data() + b0);
    }
  }
  for (int64_t i = 0; i < n; ++i) r.inertia += (opts.weights ? static_cast<double>(opts.weights[i]) : 1.0) * d2[i];
  r.centroids = std::move(centres);
  r.iterations = step;
  r.init_inertia = {r.inertia};
  return r;
}

}  // namespace emb
