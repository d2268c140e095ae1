// k-means driver: every distance and every centroid sum goes through the Backend;
// only O(n) bookkeeping (sums of distances, sampling, empty clusters) and the
// checks of the inputs run here.
#include "host/cluster/kmeans.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>
#include <memory>
#include <numeric>
#include <random>
#include <utility>

#include "host/cluster/kmeans_bounds.hpp"
#include "host/core/error.hpp"

namespace emb {
namespace {

void check_options(const KMeansOptions& o, int n_init) {
  EMB_USAGE(o.k >= 1, "k must be at least 1, got ", o.k);
  EMB_USAGE(o.max_iter >= 1, "max_iter must be at least 1, got ", o.max_iter);
  EMB_USAGE(n_init >= 1, "n_init must be at least 1, got ", n_init);
  EMB_USAGE(o.tol >= 0.0, "tol must be a non-negative number, got ", o.tol);  // also rejects NaN
  EMB_USAGE(o.tol_shift >= 0.0, "tol_shift must be a non-negative number, got ", o.tol_shift);
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

// Throws for the first weight that is negative or not finite, or for weights that
// sum to 0; returns how many rows have a positive weight (n when w is null).
int64_t check_weights(const float* w, int64_t n) {
  if (!w) return n;
  double total = 0.0;
  int64_t positive = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(w[i]))
      throw InputError(detail::concat("weight of row ", i, " is ", describe(w[i]),
                                      " (counting from 0); weights must be finite and non-negative"));
    EMB_EXPECTS(w[i] >= 0.0f, "weight of row ", i, " is ", w[i],
                " (counting from 0); weights must be finite and non-negative");
    total += w[i];
    positive += w[i] > 0.0f;
  }
  EMB_EXPECTS(total > 0.0, "the weights sum to 0; at least one must be positive");
  return positive;
}

// Seeding draws only rows of positive weight, so there must be k of them.
void check_weights_for_seeding(const float* w, int64_t n, int k) {
  const int64_t positive = check_weights(w, n);
  EMB_EXPECTS(k <= positive, "k = ", k, " is larger than the number of points with a positive weight (", positive,
              ")");
}

double squared_norm(const float* v, int64_t d) {
  double s = 0.0;
  for (int64_t j = 0; j < d; ++j) s += static_cast<double>(v[j]) * v[j];
  return s;
}

// Throws for the first all-zero row of m: it has no direction to compare by cosine.
void check_directions(ConstMatrixView m, const char* what) {
  for (int64_t i = 0; i < m.rows; ++i)
    EMB_EXPECTS(squared_norm(m.row(i), m.cols) > 0.0, what, "row ", i,
                " is all zeros (counting from 0); cosine k-means needs rows with a direction");
}

// Unit-length copies of the rows of x for the cosine metric; an empty matrix when
// x is to be used as it is (the L2 metric, or rows already of length 1 +- 1e-4).
Matrix unit_rows(Backend& backend, ConstMatrixView x, Metric metric) {
  if (metric != Metric::Cosine) return {};
  check_directions(x, "");
  bool unit = true;
  for (int64_t i = 0; i < x.rows && unit; ++i)
    unit = std::abs(std::sqrt(squared_norm(x.row(i), x.cols)) - 1.0) <= 1e-4;
  if (unit) return {};
  Matrix copy(x.rows, x.cols);
  std::copy(x.data, x.data + x.size(), copy.data());
  backend.normalize_rows(copy.view());
  return copy;
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

// The sum of dist2, each term times its weight when there are weights.
double weighted_sum(const std::vector<float>& dist2, const float* w) {
  if (!w) return std::accumulate(dist2.begin(), dist2.end(), 0.0);
  double s = 0.0;
  for (size_t i = 0; i < dist2.size(); ++i) s += static_cast<double>(w[i]) * dist2[i];
  return s;
}

void copy_row(ConstMatrixView x, int64_t i, Matrix& c, int64_t j) {
  std::memcpy(c.row(j), x.row(i), sizeof(float) * static_cast<size_t>(x.cols));
}

// Draws a point with probability proportional to its mass, given the cumulative
// masses: the first point whose cumulative mass exceeds r, so never one of mass 0.
int64_t sample(const std::vector<double>& cumsum, std::mt19937_64& rng) {
  const int64_t n = static_cast<int64_t>(cumsum.size());
  const double r = uniform01(rng) * cumsum.back();
  int64_t id = std::upper_bound(cumsum.begin(), cumsum.end(), r) - cumsum.begin();
  if (id == n) {  // r rounded up to the total: take the last point with mass
    id = n - 1;
    while (id > 0 && !(cumsum[id] > cumsum[id - 1])) --id;
  }
  return id;
}

Matrix seed_plusplus(Backend& backend, ConstMatrixView x, int k, const float* w, std::mt19937_64& rng) {
  const int64_t n = x.rows;
  const int trials = 2 + static_cast<int>(std::log(static_cast<double>(k)));
  const auto weight = [w](int64_t i) { return w ? static_cast<double>(w[i]) : 1.0; };
  Matrix centres(k, x.cols);
  std::vector<char> chosen(static_cast<size_t>(n), 0);
  std::vector<float> closest(n);
  std::vector<double> mass(n), cumsum(n), potential_of(trials);  // mass: weight x closest
  std::vector<int64_t> ids(trials);
  Matrix candidates(trials, x.cols);
  Matrix dist(n, trials);  // dist[i][t]: point i to candidate t

  int64_t first = 0;
  if (w) {
    std::inclusive_scan(w, w + n, cumsum.begin(), std::plus<double>{});
    first = sample(cumsum, rng);
  } else {
    first = static_cast<int64_t>(rng() % static_cast<uint64_t>(n));
  }
  copy_row(x, first, centres, 0);
  chosen[first] = 1;
  backend.squared_distances(x, x.block(first, 1), {closest.data(), n, 1});
  closest[first] = 0.0f;  // exact: the expanded distance leaves rounding noise on the point itself
  double potential = weighted_sum(closest, w);

  int64_t next_unused = 0;
  for (int c = 1; c < k; ++c) {
    if (!(potential > 0.0)) {  // every point of weight sits on a centre: no distance to sample by
      while (chosen[next_unused] || !(weight(next_unused) > 0.0)) ++next_unused;
      assert(next_unused < n);  // the caller checked that k rows have a positive weight
      copy_row(x, next_unused, centres, c);
      chosen[next_unused] = 1;
      continue;
    }
    for (int64_t i = 0; i < n; ++i) mass[i] = weight(i) * closest[i];
    std::inclusive_scan(mass.begin(), mass.end(), cumsum.begin(), std::plus<double>{});
    for (int t = 0; t < trials; ++t) {
      ids[t] = sample(cumsum, rng);
      copy_row(x, ids[t], candidates, t);
    }
    // Every candidate's distances in one call; the potential if candidate t were
    // added is the weighted sum of min(dist, closest).
    backend.squared_distances(x, candidates.view(), dist.view());
    for (int t = 0; t < trials; ++t) dist.row(ids[t])[t] = 0.0f;  // exact, as for the first centre
    std::fill(potential_of.begin(), potential_of.end(), 0.0);
    for (int64_t i = 0; i < n; ++i) {
      const float* di = dist.row(i);
      const double wi = weight(i);
      for (int t = 0; t < trials; ++t) potential_of[t] += wi * std::min(di[t], closest[i]);
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

// k distinct rows (of positive weight), uniformly: a partial Fisher-Yates shuffle of
// the eligible rows. rng() % m is uniform up to a bias of m / 2^64, and the same on
// every standard library (std::uniform_int_distribution is not).
Matrix seed_random(ConstMatrixView x, int k, const float* w, std::mt19937_64& rng) {
  std::vector<int64_t> pool;
  pool.reserve(static_cast<size_t>(x.rows));
  for (int64_t i = 0; i < x.rows; ++i)
    if (!w || w[i] > 0.0f) pool.push_back(i);
  const auto m = static_cast<uint64_t>(pool.size());
  assert(m >= static_cast<uint64_t>(k));
  Matrix centres(k, x.cols);
  for (int c = 0; c < k; ++c) {
    const uint64_t j = static_cast<uint64_t>(c) + rng() % (m - static_cast<uint64_t>(c));
    std::swap(pool[static_cast<size_t>(c)], pool[j]);
    copy_row(x, pool[static_cast<size_t>(c)], centres, c);
  }
  return centres;
}

// Whether the labels of every row of positive weight are unchanged: the next
// update would then give the same centroids (rows of weight 0 do not move them).
bool same_labels(const std::vector<int32_t>& a, const std::vector<int32_t>& b, const float* w) {
  if (!w) return a == b;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i] != b[i] && w[i] > 0.0f) return false;
  return true;
}

struct Run {
  std::vector<int32_t> labels;
  Matrix centroids;
  double inertia = 0.0;
  int iterations = 0;
  int64_t reseeded = 0;
  int64_t proven = 0;  // assignments the bounds proved without a search
};

// Moves each empty cluster onto the farthest point (by dist2 from the last
// assignment) not yet moved, taking it (and its weight) out of its old cluster's
// sums. Points of weight 0 cannot hold a cluster, a point that carries its whole
// cluster's weight (a singleton, unweighted) stays, and points already on their
// centre are not worth moving.
int64_t reseed_empty(ConstMatrixView x, const float* w, std::vector<int32_t>& labels, const std::vector<float>& dist2,
                     const std::vector<int32_t>& empty, std::vector<double>& sums, std::vector<double>& counts) {
  const int64_t n = x.rows, d = x.cols;
  const int64_t k = static_cast<int64_t>(counts.size());
  std::vector<int64_t> order;
  order.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    if (!w || w[i] > 0.0f) order.push_back(i);
  // Points that carry their cluster are skipped, at most k of them, so this many
  // candidates always suffice.
  const int64_t m = std::min<int64_t>(static_cast<int64_t>(order.size()), static_cast<int64_t>(empty.size()) + k);
  std::partial_sort(order.begin(), order.begin() + m, order.end(), [&](int64_t a, int64_t b) {
    return dist2[a] > dist2[b] || (dist2[a] == dist2[b] && a < b);
  });
  int64_t moved = 0, pos = 0;
  for (const int32_t e : empty) {
    for (; pos < m; ++pos) {
      const int64_t p = order[pos];
      if (!(dist2[p] > 0.0f)) return moved;  // the rest sit on their centres
      const int32_t old = labels[p];
      const double wp = w ? static_cast<double>(w[p]) : 1.0;
      if (counts[old] - wp <= 0.0) continue;
      const float* xp = x.row(p);
      for (int64_t j = 0; j < d; ++j) {
        sums[old * d + j] -= wp * xp[j];
        sums[e * d + j] = wp * xp[j];
      }
      counts[old] -= wp;
      counts[e] = wp;
      labels[p] = e;
      ++moved;
      ++pos;
      break;
    }
  }
  return moved;
}

// Whether the largest squared shift of a centre is within tol_shift times the mean
// squared norm of the new centres.
bool centres_settled(const Matrix& before, const Matrix& after, double tol_shift) {
  const int64_t k = after.rows(), d = after.cols();
  double max_shift = 0.0, norms = 0.0;
  for (int64_t j = 0; j < k; ++j) {
    const float* a = after.row(j);
    const float* b = before.row(j);
    double shift = 0.0;
    for (int64_t t = 0; t < d; ++t) shift += (static_cast<double>(a[t]) - b[t]) * (static_cast<double>(a[t]) - b[t]);
    max_shift = std::max(max_shift, shift);
    norms += squared_norm(a, d);
  }
  return max_shift <= tol_shift * (norms / static_cast<double>(k));
}

Run lloyd(Backend& backend, ConstMatrixView x, Matrix centroids, const KMeansOptions& opts, int init) {
  const int64_t n = x.rows, d = x.cols, k = centroids.rows();
  const float* w = opts.weights;
  const bool spherical = opts.metric == Metric::Cosine;
  Run r;
  r.centroids = std::move(centroids);
  Matrix before(k, d);  // the centroids before an update
  std::vector<int32_t> labels(n), prev(n);
  std::vector<float> dist2(n);
  std::vector<double> sums(static_cast<size_t>(k * d)), counts(static_cast<size_t>(k));
  std::vector<int32_t> empty;

  // On the CPU with enough centres, bounds skip most rows once the centres settle;
  // a GPU searches every row (its GEMM is cheap against the bookkeeping).
  std::unique_ptr<AssignmentBounds> bounds;
  if (opts.bounds && !backend.is_gpu() && k >= kBoundsMinK) bounds = std::make_unique<AssignmentBounds>(x, k);
  bool first = true;
  // The assignment to r.centroids and its inertia. With bounds, the rows' exact
  // distances to their centres come from the same pass over x as the next update's
  // sums (and are what the bounds keep for the next assignment), so the update
  // below adds them up only without bounds.
  auto assign = [&] {
    if (bounds) {
      labels = prev;  // the previous assignment: what the bounds keep
      std::fill(sums.begin(), sums.end(), 0.0);
      std::fill(counts.begin(), counts.end(), 0.0);
      r.proven += bounds->assign(backend, r.centroids, first ? nullptr : &before, labels, w, {sums.data(), k, d},
                                 counts.data());
      bounds->own_distances(dist2);
    } else {
      backend.nearest_centroids(x, r.centroids.view(), labels.data(), dist2.data());
    }
    first = false;
    return weighted_sum(dist2, w);
  };
  auto report = [&](int iter, double inertia) {
    if (opts.on_iteration) opts.on_iteration(init, iter, inertia);
  };

  double inertia = assign();
  report(0, inertia);
  for (int it = 1; it <= opts.max_iter && inertia > 0.0; ++it) {
    if (!bounds) {
      std::fill(sums.begin(), sums.end(), 0.0);
      std::fill(counts.begin(), counts.end(), 0.0);
      backend.accumulate_centroids(x, labels.data(), w, {sums.data(), k, d}, counts.data());
    }
    empty.clear();
    for (int64_t j = 0; j < k; ++j)
      if (counts[j] == 0.0) empty.push_back(static_cast<int32_t>(j));
    if (!empty.empty()) {
      const int64_t moved = reseed_empty(x, w, labels, dist2, empty, sums, counts);
      r.reseeded += moved;
      if (bounds && moved > 0) bounds->reset();
    }
    before.storage() = r.centroids.storage();
    for (int64_t j = 0; j < k; ++j) {
      if (counts[j] == 0.0) continue;  // still empty: keep the old centroid rather than divide by 0
      float* c = r.centroids.row(j);
      for (int64_t t = 0; t < d; ++t) c[t] = static_cast<float>(sums[j * d + t] / counts[j]);
    }
    if (spherical) {
      backend.normalize_rows(r.centroids.view());
      for (int64_t j = 0; j < k; ++j) {  // a mean of 0 has no direction: keep the old centre
        float* c = r.centroids.row(j);
        if (!(squared_norm(c, d) > 0.0)) std::copy(before.row(j), before.row(j) + d, c);
      }
    }
    const bool settled = opts.tol_shift > 0.0 && centres_settled(before, r.centroids, opts.tol_shift);

    prev.swap(labels);
    const double prev_inertia = inertia;
    inertia = assign();
    r.iterations = it;
    report(it, inertia);
    if (same_labels(labels, prev, w)) break;                   // a fixed point
    if (prev_inertia - inertia <= opts.tol * prev_inertia) break;  // relative change within tol
    if (settled) break;                                        // the centres barely moved
  }
  r.labels = std::move(labels);
  r.inertia = inertia;
  return r;
}

// k-means|| (Bahmani et al., 2012): a few rounds, each drawing about 2k points at
// once with probability proportional to w * D^2, so seeding costs a few passes over
// x instead of k. The candidates, each weighted by the mass of the points nearest
// to it, are then reduced to k centres by weighted k-means++ and Lloyd.
Matrix seed_parallel(Backend& backend, ConstMatrixView x, const KMeansOptions& opts, std::mt19937_64& rng) {
  const int64_t n = x.rows, d = x.cols, k = opts.k;
  const float* w = opts.weights;
  const auto weight = [w](int64_t i) { return w ? static_cast<double>(w[i]) : 1.0; };
  constexpr int kRounds = 5;
  const double oversampling = 2.0 * static_cast<double>(k);

  std::vector<double> cumsum(n);
  double total = 0.0;
  for (int64_t i = 0; i < n; ++i) cumsum[i] = total += weight(i);
  const int64_t first = sample(cumsum, rng);
  std::vector<int64_t> ids = {first};
  std::vector<char> chosen(static_cast<size_t>(n), 0);
  chosen[first] = 1;
  std::vector<float> closest(n), fresh_dist(n);
  std::vector<int32_t> labels(n);
  backend.squared_distances(x, x.block(first, 1), {closest.data(), n, 1});
  closest[first] = 0.0f;

  for (int round = 0; round < kRounds; ++round) {
    const double potential = weighted_sum(closest, w);
    if (!(potential > 0.0)) break;  // every point sits on a candidate
    std::vector<int64_t> fresh;
    for (int64_t i = 0; i < n; ++i) {
      const double p = oversampling * weight(i) * closest[i] / potential;
      if (uniform01(rng) < p && !chosen[i]) fresh.push_back(i);  // one draw per point: deterministic
    }
    if (fresh.empty()) continue;
    Matrix fc(static_cast<int64_t>(fresh.size()), d);
    for (size_t t = 0; t < fresh.size(); ++t) {
      copy_row(x, fresh[t], fc, static_cast<int64_t>(t));
      chosen[fresh[t]] = 1;
    }
    backend.nearest_centroids(x, fc.view(), labels.data(), fresh_dist.data());
    for (int64_t i = 0; i < n; ++i) closest[i] = std::min(closest[i], fresh_dist[i]);
    for (const int64_t i : fresh) closest[i] = 0.0f;
    ids.insert(ids.end(), fresh.begin(), fresh.end());
  }
  // Too few candidates (tiny or duplicate-heavy data): top up with the lowest unused rows.
  for (int64_t i = 0; static_cast<int64_t>(ids.size()) < k && i < n; ++i)
    if (!chosen[i] && weight(i) > 0.0) ids.push_back(i), chosen[i] = 1;
  const int64_t m = static_cast<int64_t>(ids.size());
  Matrix cand(m, d);
  for (int64_t t = 0; t < m; ++t) copy_row(x, ids[t], cand, t);
  if (m == k) return cand;

  backend.nearest_centroids(x, cand.view(), labels.data(), nullptr);
  std::vector<float> mass(static_cast<size_t>(m), 0.0f);
  for (int64_t i = 0; i < n; ++i) mass[labels[i]] += static_cast<float>(weight(i));
  // A duplicate candidate loses every tie and gets no mass; keep it drawable.
  for (float& v : mass) v = std::max(v, 1e-6f);
  KMeansOptions reduce = opts;
  reduce.weights = mass.data();
  reduce.max_iter = 20;
  reduce.tol_shift = 0.0;
  reduce.on_iteration = nullptr;
  Matrix start = seed_plusplus(backend, cand.view(), static_cast<int>(k), mass.data(), rng);
  return std::move(lloyd(backend, cand.view(), std::move(start), reduce, 0).centroids);
}

KMeansResult to_result(Run&& r) {
  KMeansResult out;
  out.labels = std::move(r.labels);
  out.centroids = std::move(r.centroids);
  out.inertia = r.inertia;
  out.iterations = r.iterations;
  out.reseeded_empty = r.reseeded;
  out.proven = r.proven;
  return out;
}

}  // namespace

KMeansResult kmeans(Backend& backend, ConstMatrixView x, const KMeansOptions& opts) {
  check_options(opts, opts.n_init);
  check_points(x, opts.k);
  check_weights_for_seeding(opts.weights, x.rows, opts.k);
  const Matrix unit = unit_rows(backend, x, opts.metric);
  const ConstMatrixView points = unit.rows() > 0 ? unit.view() : x;
  const HeldMatrix held(backend, points);  // read by every op of every run: upload it once
  KMeansResult best;
  std::vector<double> inertias;
  for (int init = 0; init < opts.n_init; ++init) {
    std::mt19937_64 rng(run_seed(opts.seed, init));
    Matrix start = opts.init == KMeansInit::Random     ? seed_random(points, opts.k, opts.weights, rng)
                   : opts.init == KMeansInit::Parallel ? seed_parallel(backend, points, opts, rng)
                                                       : seed_plusplus(backend, points, opts.k, opts.weights, rng);
    Run r = lloyd(backend, points, std::move(start), opts, init);
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
  check_options(opts, 1);
  check_points(x, opts.k);
  check_weights(opts.weights, x.rows);
  EMB_EXPECTS(init.rows == opts.k && init.cols == x.cols, "the initial centroids are ", init.rows, " x ",
              init.cols, " but k x d is ", opts.k, " x ", x.cols);
  check_finite(init, "initial centroids: ");
  Matrix start(init.rows, init.cols);
  std::copy(init.data, init.data + init.size(), start.data());
  if (opts.metric == Metric::Cosine) {
    check_directions(init, "initial centroids: ");
    backend.normalize_rows(start.view());
  }
  const Matrix unit = unit_rows(backend, x, opts.metric);
  const ConstMatrixView points = unit.rows() > 0 ? unit.view() : x;
  const HeldMatrix held(backend, points);
  KMeansResult out = to_result(lloyd(backend, points, std::move(start), opts, 0));
  out.init_inertia = {out.inertia};
  return out;
}

Matrix kmeans_plusplus(Backend& backend, ConstMatrixView x, int k, uint64_t seed, const float* weights) {
  EMB_USAGE(k >= 1, "k must be at least 1, got ", k);
  check_points(x, k);
  check_weights_for_seeding(weights, x.rows, k);
  std::mt19937_64 rng(seed);
  const HeldMatrix held(backend, x);
  return seed_plusplus(backend, x, k, weights, rng);
}

Matrix kmeans_random(ConstMatrixView x, int k, uint64_t seed, const float* weights) {
  EMB_USAGE(k >= 1, "k must be at least 1, got ", k);
  check_points(x, k);
  check_weights_for_seeding(weights, x.rows, k);
  std::mt19937_64 rng(seed);
  return seed_random(x, k, weights, rng);
}

Matrix kmeans_parallel(Backend& backend, ConstMatrixView x, int k, uint64_t seed, const float* weights) {
  EMB_USAGE(k >= 1, "k must be at least 1, got ", k);
  check_points(x, k);
  check_weights_for_seeding(weights, x.rows, k);
  std::mt19937_64 rng(seed);
  KMeansOptions opts;
  opts.k = k;
  opts.weights = weights;
  const HeldMatrix held(backend, x);
  return seed_parallel(backend, x, opts, rng);
}

}  // namespace emb
