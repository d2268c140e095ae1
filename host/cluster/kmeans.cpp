// k-means driver: every distance and every centroid sum goes through the Backend;
// only O(n) bookkeeping (sums of distances, sampling, empty clusters) runs here.
#include "host/cluster/kmeans.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include <utility>

#include "host/core/error.hpp"

namespace emb {
namespace {

void check_options(int k, int max_iter, int n_init, double tol) {
  EMB_USAGE(k >= 1, "k must be at least 1, got ", k);
  EMB_USAGE(max_iter >= 1, "max_iter must be at least 1, got ", max_iter);
  EMB_USAGE(n_init >= 1, "n_init must be at least 1, got ", n_init);
  EMB_USAGE(tol >= 0.0, "tol must be a non-negative number, got ", tol);  // also rejects NaN
}

const char* describe(float v) { return std::isnan(v) ? "NaN" : v > 0 ? "inf" : "-inf"; }

// Throws for the first value of m that is not finite, naming its row and column.
void check_finite(ConstMatrixView m, const char* what) {
  const int64_t size = m.size();
  for (int64_t i = 0; i < size; ++i) {
    if (!std::isfinite(m.data[i])) {
      throw InputError(detail::concat(what, "row ", i / m.cols, ", column ", i % m.cols, " is ",
                                      describe(m.data[i]), " (counting from 0); k-means needs finite values"));
    }
  }
}

void check_points(ConstMatrixView x, int k) {
  EMB_EXPECTS(x.rows > 0, "there are no points to cluster (0 rows)");
  EMB_EXPECTS(x.cols > 0, "the points have no dimensions (0 columns)");
  EMB_EXPECTS(k <= x.rows, "k = ", k, " is larger than the number of points (", x.rows, ")");
  check_finite(x, "");
}

// Distinct, well-mixed seeds for the runs, all derived from the user's seed.
uint64_t run_seed(uint64_t seed, int init) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ull * (static_cast<uint64_t>(init) + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Uniform in [0, 1) from the top 53 bits: the same on every standard library.
double uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

double sum(const std::vector<float>& v) { return std::accumulate(v.begin(), v.end(), 0.0); }

void copy_row(ConstMatrixView x, int64_t i, Matrix& c, int64_t j) {
  std::memcpy(c.row(j), x.row(i), sizeof(float) * static_cast<size_t>(x.cols));
}

// Draws a point with probability proportional to its weight: the first point whose
// cumulative weight exceeds r, so never one with weight 0.
int64_t sample(const std::vector<double>& cumsum, const std::vector<float>& weight, std::mt19937_64& rng) {
  const int64_t n = static_cast<int64_t>(cumsum.size());
  const double r = uniform01(rng) * cumsum.back();
  int64_t id = std::upper_bound(cumsum.begin(), cumsum.end(), r) - cumsum.begin();
  if (id == n) {  // r rounded up to the total: take the last point with weight
    id = n - 1;
    while (id > 0 && !(weight[id] > 0.0f)) --id;
  }
  return id;
}

Matrix seed_plusplus(Backend& backend, ConstMatrixView x, int k, std::mt19937_64& rng) {
  const int64_t n = x.rows;
  const int trials = 2 + static_cast<int>(std::log(static_cast<double>(k)));
  Matrix centres(k, x.cols);
  std::vector<char> chosen(static_cast<size_t>(n), 0);
  std::vector<float> closest(n);
  std::vector<double> cumsum(n), potential_of(trials);
  std::vector<int64_t> ids(trials);
  Matrix candidates(trials, x.cols);
  Matrix dist(n, trials);  // dist[i][t]: point i to candidate t

  const int64_t first = static_cast<int64_t>(rng() % static_cast<uint64_t>(n));
  copy_row(x, first, centres, 0);
  chosen[first] = 1;
  backend.squared_distances(x, x.block(first, 1), {closest.data(), n, 1});
  closest[first] = 0.0f;  // exact: the expanded distance leaves rounding noise on the point itself
  double potential = sum(closest);

  int64_t next_unused = 0;
  for (int c = 1; c < k; ++c) {
    if (!(potential > 0.0)) {  // every point sits on a centre: no distance to sample by
      while (chosen[next_unused]) ++next_unused;
      copy_row(x, next_unused, centres, c);
      chosen[next_unused] = 1;
      continue;
    }
    std::inclusive_scan(closest.begin(), closest.end(), cumsum.begin(), std::plus<double>{});
    for (int t = 0; t < trials; ++t) {
      ids[t] = sample(cumsum, closest, rng);
      copy_row(x, ids[t], candidates, t);
    }
    // Every candidate's distances in one call; the potential if candidate t were
    // added is the sum of min(dist, closest).
    backend.squared_distances(x, candidates.view(), dist.view());
    for (int t = 0; t < trials; ++t) dist.row(ids[t])[t] = 0.0f;  // exact, as for the first centre
    std::fill(potential_of.begin(), potential_of.end(), 0.0);
    for (int64_t i = 0; i < n; ++i) {
      const float* di = dist.row(i);
      for (int t = 0; t < trials; ++t) potential_of[t] += std::min(di[t], closest[i]);
    }
    int best = 0;
    for (int t = 1; t < trials; ++t)
      if (potential_of[t] < potential_of[best]) best = t;  // strict: the earliest draw wins a tie
    copy_row(x, ids[best], centres, c);
    chosen[ids[best]] = 1;
    for (int64_t i = 0; i < n; ++i) closest[i] = std::min(closest[i], dist.row(i)[best]);
    potential = potential_of[best];
  }
  return centres;
}

struct Run {
  std::vector<int32_t> labels;
  Matrix centroids;
  double inertia = 0.0;
  int iterations = 0;
  int64_t reseeded = 0;
};

// Moves each empty cluster onto the farthest point (by dist2 from the last
// assignment) not yet moved, taking it out of its old cluster's sums. Points of
// singleton clusters stay, and points already on their centre are not worth moving.
int64_t reseed_empty(ConstMatrixView x, std::vector<int32_t>& labels, const std::vector<float>& dist2,
                     const std::vector<int32_t>& empty, std::vector<double>& sums, std::vector<double>& counts) {
  const int64_t n = x.rows, d = x.cols;
  const int64_t k = static_cast<int64_t>(counts.size());
  // Singletons are skipped, at most k of them, so this many candidates always suffice.
  const int64_t m = std::min<int64_t>(n, static_cast<int64_t>(empty.size()) + k);
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), int64_t{0});
  std::partial_sort(order.begin(), order.begin() + m, order.end(), [&](int64_t a, int64_t b) {
    return dist2[a] > dist2[b] || (dist2[a] == dist2[b] && a < b);
  });
  int64_t moved = 0, pos = 0;
  for (const int32_t e : empty) {
    for (; pos < m; ++pos) {
      const int64_t p = order[pos];
      if (!(dist2[p] > 0.0f)) return moved;  // the rest sit on their centres
      const int32_t old = labels[p];
      if (counts[old] <= 1.0) continue;
      const float* xp = x.row(p);
      for (int64_t j = 0; j < d; ++j) {
        sums[old * d + j] -= xp[j];
        sums[e * d + j] = xp[j];
      }
      counts[old] -= 1.0;
      counts[e] = 1.0;
      labels[p] = e;
      ++moved;
      ++pos;
      break;
    }
  }
  return moved;
}

Run lloyd(Backend& backend, ConstMatrixView x, Matrix centroids, const KMeansOptions& opts, int init) {
  const int64_t n = x.rows, d = x.cols, k = centroids.rows();
  Run r;
  r.centroids = std::move(centroids);
  std::vector<int32_t> labels(n), prev(n);
  std::vector<float> dist2(n);
  std::vector<double> sums(static_cast<size_t>(k * d)), counts(static_cast<size_t>(k));
  std::vector<int32_t> empty;

  auto assign = [&] {
    backend.nearest_centroids(x, r.centroids.view(), labels.data(), dist2.data());
    return sum(dist2);
  };
  auto report = [&](int iter, double inertia) {
    if (opts.on_iteration) opts.on_iteration(init, iter, inertia);
  };

  double inertia = assign();
  report(0, inertia);
  for (int it = 1; it <= opts.max_iter && inertia > 0.0; ++it) {
    std::fill(sums.begin(), sums.end(), 0.0);
    std::fill(counts.begin(), counts.end(), 0.0);
    backend.accumulate_centroids(x, labels.data(), nullptr, {sums.data(), k, d}, counts.data());
    empty.clear();
    for (int64_t j = 0; j < k; ++j)
      if (counts[j] == 0.0) empty.push_back(static_cast<int32_t>(j));
    if (!empty.empty()) r.reseeded += reseed_empty(x, labels, dist2, empty, sums, counts);
    for (int64_t j = 0; j < k; ++j) {
      if (counts[j] == 0.0) continue;  // still empty: keep the old centroid rather than divide by 0
      float* c = r.centroids.row(j);
      for (int64_t t = 0; t < d; ++t) c[t] = static_cast<float>(sums[j * d + t] / counts[j]);
    }

    prev.swap(labels);
    const double prev_inertia = inertia;
    inertia = assign();
    r.iterations = it;
    report(it, inertia);
    if (labels == prev) break;                                 // a fixed point
    if (prev_inertia - inertia <= opts.tol * prev_inertia) break;  // relative change within tol
  }
  r.labels = std::move(labels);
  r.inertia = inertia;
  return r;
}

KMeansResult to_result(Run&& r) {
  KMeansResult out;
  out.labels = std::move(r.labels);
  out.centroids = std::move(r.centroids);
  out.inertia = r.inertia;
  out.iterations = r.iterations;
  out.reseeded_empty = r.reseeded;
  return out;
}

}  // namespace

KMeansResult kmeans(Backend& backend, ConstMatrixView x, const KMeansOptions& opts) {
  check_options(opts.k, opts.max_iter, opts.n_init, opts.tol);
  check_points(x, opts.k);
  const HeldMatrix held(backend, x);  // x is read by every op of every run: upload it once
  KMeansResult best;
  std::vector<double> inertias;
  for (int init = 0; init < opts.n_init; ++init) {
    std::mt19937_64 rng(run_seed(opts.seed, init));
    Run r = lloyd(backend, x, seed_plusplus(backend, x, opts.k, rng), opts, init);
    inertias.push_back(r.inertia);
    if (init == 0 || r.inertia < best.inertia) {  // strict: the earliest run wins a tie
      best = to_result(std::move(r));
      best.best_init = init;
    }
  }
  best.init_inertia = std::move(inertias);
  return best;
}

KMeansResult kmeans_from(Backend& backend, ConstMatrixView x, ConstMatrixView init, const KMeansOptions& opts) {
  check_options(opts.k, opts.max_iter, 1, opts.tol);
  check_points(x, opts.k);
  EMB_EXPECTS(init.rows == opts.k && init.cols == x.cols, "the initial centroids are ", init.rows, " x ",
              init.cols, " but k x d is ", opts.k, " x ", x.cols);
  check_finite(init, "initial centroids: ");
  Matrix start(init.rows, init.cols);
  std::copy(init.data, init.data + init.size(), start.data());
  const HeldMatrix held(backend, x);
  KMeansResult out = to_result(lloyd(backend, x, std::move(start), opts, 0));
  out.init_inertia = {out.inertia};
  return out;
}

Matrix kmeans_plusplus(Backend& backend, ConstMatrixView x, int k, uint64_t seed) {
  EMB_USAGE(k >= 1, "k must be at least 1, got ", k);
  check_points(x, k);
  std::mt19937_64 rng(seed);
  const HeldMatrix held(backend, x);
  return seed_plusplus(backend, x, k, rng);
}

}  // namespace emb
