// The k-means driver through the Backend interface (here the CPU backend): a case
// worked by hand, separated blobs, determinism, best-of-n, empty clusters,
// degenerate data, every rejected input; sample weights, random seeding, the
// cosine metric and the centre-shift stopping rule.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "host/backend/backend.hpp"
#include "host/cluster/kmeans.hpp"
#include "host/core/error.hpp"
#include "tests/test_util.hpp"

namespace emb {
namespace {

KMeansOptions options(int k, uint64_t seed = 0, int n_init = 1) {
  KMeansOptions o;
  o.k = k;
  o.seed = seed;
  o.n_init = n_init;
  return o;
}

void expect_sane(const KMeansResult& r, ConstMatrixView x, int k) {
  ASSERT_EQ(static_cast<int64_t>(r.labels.size()), x.rows);
  ASSERT_EQ(r.centroids.rows(), k);
  ASSERT_EQ(r.centroids.cols(), x.cols);
  for (int32_t l : r.labels) ASSERT_TRUE(l >= 0 && l < k) << l;
  for (float v : r.centroids.storage()) ASSERT_TRUE(std::isfinite(v));
  ASSERT_TRUE(std::isfinite(r.inertia));
  ASSERT_GE(r.inertia, 0.0);
}

// Labels and inertia must be those of the returned centroids.
void expect_consistent(Backend& be, const KMeansResult& r, ConstMatrixView x) {
  std::vector<int32_t> labels(x.rows);
  std::vector<float> dist2(x.rows);
  be.nearest_centroids(x, r.centroids.view(), labels.data(), dist2.data());
  EXPECT_EQ(labels, r.labels);
  double inertia = 0.0;
  for (float v : dist2) inertia += v;
  EXPECT_DOUBLE_EQ(inertia, r.inertia);
}

// The same with weights: inertia is the weighted sum.
void expect_consistent(Backend& be, const KMeansResult& r, ConstMatrixView x, const std::vector<float>& w) {
  std::vector<int32_t> labels(x.rows);
  std::vector<float> dist2(x.rows);
  be.nearest_centroids(x, r.centroids.view(), labels.data(), dist2.data());
  EXPECT_EQ(labels, r.labels);
  double inertia = 0.0;
  for (size_t i = 0; i < dist2.size(); ++i) inertia += static_cast<double>(w[i]) * dist2[i];
  EXPECT_DOUBLE_EQ(inertia, r.inertia);
}

// The CPU backend, counting the calls the driver makes.
class CountingBackend final : public Backend {
 public:
  std::string name() const override { return cpu_->name(); }
  bool is_gpu() const override { return false; }
  bool supports(Op) const override { return true; }
  void normalize_rows(MatrixView x) override { cpu_->normalize_rows(x); }
  void squared_distances(ConstMatrixView x, ConstMatrixView c, MatrixView out) override {
    centres_per_call.push_back(c.rows);
    cpu_->squared_distances(x, c, out);
  }
  void nearest_centroids(ConstMatrixView x, ConstMatrixView c, int32_t* labels, float* dist2) override {
    ++nearest_calls;
    cpu_->nearest_centroids(x, c, labels, dist2);
  }
  void accumulate_centroids(ConstMatrixView x, const int32_t* labels, const float* weights,
                            BasicMatrixView<double> sums, double* counts) override {
    cpu_->accumulate_centroids(x, labels, weights, sums, counts);
  }

  std::vector<int64_t> centres_per_call;  ///< c.rows of every squared_distances call
  int nearest_calls = 0;

 private:
  std::unique_ptr<Backend> cpu_ = make_cpu_backend(2);
};

double dist2_exact(const float* a, const float* b, int64_t d) {
  double s = 0.0;
  for (int64_t j = 0; j < d; ++j) s += (static_cast<double>(a[j]) - b[j]) * (static_cast<double>(a[j]) - b[j]);
  return s;
}

// Greedy k-means++ as kmeans_plusplus documents it, with exact distances: the
// first centre is row rng() % n; each next one the lowest-potential of
// 2 + floor(ln k) draws (the earliest wins a tie), a draw being the first point
// whose cumulative distance exceeds u * total for u uniform in [0, 1).
// With weights w: the first centre is such a draw by weight, the others by
// w x distance, the potential is weighted, and only rows of weight > 0 are taken.
std::vector<int64_t> reference_plusplus(ConstMatrixView x, int k, uint64_t seed, const std::vector<float>& w = {}) {
  const int64_t n = x.rows;
  const auto weight = [&](int64_t i) { return w.empty() ? 1.0 : static_cast<double>(w[i]); };
  const auto draw = [&](std::mt19937_64& rng, const std::vector<double>& mass) {
    std::vector<double> cumsum(n);
    std::partial_sum(mass.begin(), mass.end(), cumsum.begin());
    const double r = static_cast<double>(rng() >> 11) * 0x1.0p-53 * cumsum.back();
    int64_t id = std::upper_bound(cumsum.begin(), cumsum.end(), r) - cumsum.begin();
    if (id == n)
      for (id = n - 1; id > 0 && !(mass[id] > 0.0);) --id;
    return id;
  };
  std::mt19937_64 rng(seed);
  std::vector<double> mass(n);
  for (int64_t i = 0; i < n; ++i) mass[i] = weight(i);
  std::vector<int64_t> picked{w.empty() ? static_cast<int64_t>(rng() % static_cast<uint64_t>(n)) : draw(rng, mass)};
  std::vector<double> closest(n);
  for (int64_t i = 0; i < n; ++i) closest[i] = dist2_exact(x.row(i), x.row(picked[0]), x.cols);
  const int trials = 2 + static_cast<int>(std::log(static_cast<double>(k)));
  while (static_cast<int>(picked.size()) < k) {
    double total = 0.0;
    for (int64_t i = 0; i < n; ++i) total += mass[i] = weight(i) * closest[i];
    if (!(total > 0.0)) {  // all on centres: the lowest unused row (of positive weight)
      int64_t i = 0;
      while (std::find(picked.begin(), picked.end(), i) != picked.end() || !(weight(i) > 0.0)) ++i;
      picked.push_back(i);
      continue;
    }
    double best_p = std::numeric_limits<double>::infinity();
    int64_t best = -1;
    for (int t = 0; t < trials; ++t) {
      const int64_t id = draw(rng, mass);
      double p = 0.0;
      for (int64_t i = 0; i < n; ++i) p += weight(i) * std::min(closest[i], dist2_exact(x.row(i), x.row(id), x.cols));
      if (p < best_p) best_p = p, best = id;
    }
    picked.push_back(best);
    for (int64_t i = 0; i < n; ++i) closest[i] = std::min(closest[i], dist2_exact(x.row(i), x.row(best), x.cols));
  }
  return picked;
}

template <class E, class F>
void expect_error(F&& f, std::initializer_list<std::string> parts) {
  try {
    f();
    ADD_FAILURE() << "no exception";
  } catch (const E& e) {
    for (const std::string& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
  }
}

TEST(KMeans, WorkedByHand) {
  auto be = make_cpu_backend(2);
  const Matrix x = Matrix::from({0.0f, 1.0f, 10.0f, 11.0f}, 4, 1);
  for (uint64_t seed = 0; seed < 10; ++seed) {
    const KMeansResult r = kmeans(*be, x.view(), options(2, seed));
    expect_sane(r, x.view(), 2);
    std::vector<float> c = r.centroids.storage();
    std::sort(c.begin(), c.end());
    EXPECT_EQ(c, (std::vector<float>{0.5f, 10.5f}));
    EXPECT_DOUBLE_EQ(r.inertia, 1.0);
    EXPECT_EQ(r.labels[0], r.labels[1]);
    EXPECT_EQ(r.labels[2], r.labels[3]);
    EXPECT_NE(r.labels[0], r.labels[2]);
    EXPECT_EQ(r.centroids.row(r.labels[0])[0], 0.5f);
  }
}

TEST(KMeans, SeparatedBlobsAreRecovered) {
  auto be = make_cpu_backend(2);
  const auto [x, truth] = test::gaussian_blobs(1000, 16, 5, 20.0f, 42);
  const KMeansResult r = kmeans(*be, x.view(), options(5, 7, 3));
  expect_sane(r, x.view(), 5);
  EXPECT_DOUBLE_EQ(test::adjusted_rand_index(r.labels, truth), 1.0);
  EXPECT_NEAR(r.inertia / (1000.0 * 16.0), 1.0, 0.1);  // unit noise per dimension
  expect_consistent(*be, r, x.view());
}

TEST(KMeans, AdjustedRandIndexHelper) {
  EXPECT_DOUBLE_EQ(test::adjusted_rand_index({0, 0, 1, 1}, {5, 5, 3, 3}), 1.0);
  EXPECT_NEAR(test::adjusted_rand_index({0, 0, 1, 1}, {0, 1, 0, 1}), -0.5, 1e-12);
  // sklearn.metrics.adjusted_rand_score([0, 0, 1, 2], [0, 0, 1, 1]) = 0.5714285714285715
  EXPECT_NEAR(test::adjusted_rand_index({0, 0, 1, 2}, {0, 0, 1, 1}), 0.5714285714285715, 1e-12);
}

TEST(KMeans, SameSeedSameResult) {
  auto be = make_cpu_backend(2);
  const Matrix x = test::random_matrix(700, 9, 3);
  const KMeansResult a = kmeans(*be, x.view(), options(13, 99, 2));
  const KMeansResult b = kmeans(*be, x.view(), options(13, 99, 2));
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_EQ(a.centroids.storage(), b.centroids.storage());
  EXPECT_EQ(a.inertia, b.inertia);
  EXPECT_EQ(a.init_inertia, b.init_inertia);
  expect_consistent(*be, a, x.view());
}

TEST(KMeans, BestOfSeveralIsNeverWorse) {
  auto be = make_cpu_backend(2);
  const Matrix x = test::random_matrix(500, 8, 5);
  for (uint64_t seed = 0; seed < 5; ++seed) {
    const KMeansResult one = kmeans(*be, x.view(), options(12, seed, 1));
    const KMeansResult five = kmeans(*be, x.view(), options(12, seed, 5));
    expect_sane(five, x.view(), 12);
    ASSERT_EQ(five.init_inertia.size(), 5u);
    EXPECT_EQ(five.init_inertia[0], one.inertia) << "run 0 uses the same seeding";
    EXPECT_LE(five.inertia, one.inertia);
    EXPECT_EQ(five.inertia, *std::min_element(five.init_inertia.begin(), five.init_inertia.end()));
    EXPECT_EQ(five.init_inertia[five.best_init], five.inertia);
    expect_consistent(*be, five, x.view());
  }
}

TEST(KMeans, ProgressCallbackSeesEveryAssignment) {
  auto be = make_cpu_backend(1);
  const Matrix x = test::random_matrix(300, 4, 8);
  KMeansOptions o = options(6, 1, 3);
  std::vector<std::vector<double>> seen(3);
  o.on_iteration = [&](int init, int iter, double inertia) {
    ASSERT_TRUE(init >= 0 && init < 3);
    EXPECT_EQ(iter, static_cast<int>(seen[init].size()));
    seen[init].push_back(inertia);
  };
  const KMeansResult r = kmeans(*be, x.view(), o);
  for (int i = 0; i < 3; ++i) {
    ASSERT_GE(seen[i].size(), 2u);
    EXPECT_EQ(seen[i].back(), r.init_inertia[i]);
    EXPECT_LE(seen[i][1], seen[i][0]);  // a Lloyd step never makes the seeding worse
  }
  EXPECT_EQ(static_cast<int>(seen[r.best_init].size()), r.iterations + 1);
}

TEST(KMeans, MaxIterBoundsTheUpdates) {
  auto be = make_cpu_backend(2);
  const Matrix x = test::random_matrix(400, 6, 9);
  KMeansOptions o = options(20, 4);
  o.max_iter = 1;
  const KMeansResult r = kmeans(*be, x.view(), o);
  EXPECT_EQ(r.iterations, 1);
  expect_consistent(*be, r, x.view());
}

TEST(KMeans, EmptyClustersAreReseededFromFarthestPoints) {
  auto be = make_cpu_backend(2);
  // Two starting centroids far from every point: both clusters start empty.
  const Matrix x = Matrix::from({0, 1, 2, 10, 11, 12}, 6, 1);
  const Matrix init = Matrix::from({100, 101, 1}, 3, 1);
  const KMeansResult r = kmeans_from(*be, x.view(), init.view(), options(3));
  expect_sane(r, x.view(), 3);
  EXPECT_EQ(r.reseeded_empty, 2);
  // 12 (farthest) and 11 take the empty clusters; 10 follows 11 on the next step.
  EXPECT_EQ(r.centroids.storage(), (std::vector<float>{12.0f, 10.5f, 1.0f}));
  EXPECT_EQ(r.labels, (std::vector<int32_t>{2, 2, 2, 1, 1, 0}));
  EXPECT_DOUBLE_EQ(r.inertia, 2.5);
  expect_consistent(*be, r, x.view());
}

TEST(KMeans, ManyDuplicatesMoreClustersThanDistinctPoints) {
  auto be = make_cpu_backend(2);
  const float distinct[3][2] = {{0, 0}, {5, 1}, {-3, 4}};
  Matrix x(120, 2);
  for (int64_t i = 0; i < 120; ++i) x.row(i)[0] = distinct[i % 3][0], x.row(i)[1] = distinct[i % 3][1];
  const Matrix seeds = kmeans_plusplus(*be, x.view(), 5, 3);
  std::set<std::pair<float, float>> first3;
  for (int c = 0; c < 3; ++c) first3.insert({seeds.row(c)[0], seeds.row(c)[1]});
  EXPECT_EQ(first3.size(), 3u) << "every distinct point is seeded before any duplicate";
  const KMeansResult r = kmeans(*be, x.view(), options(5, 3, 2));
  expect_sane(r, x.view(), 5);
  EXPECT_EQ(r.inertia, 0.0);
}

TEST(KMeans, AllEqualPoints) {
  auto be = make_cpu_backend(2);
  Matrix exact(50, 4, 1.5f);
  const KMeansResult r = kmeans(*be, exact.view(), options(3, 0, 3));
  expect_sane(r, exact.view(), 3);
  EXPECT_EQ(r.inertia, 0.0);
  for (float v : r.centroids.storage()) EXPECT_EQ(v, 1.5f);
  // Values whose expanded distances leave rounding noise rather than exact zeros.
  const Matrix one = test::random_matrix(1, 384, 10);
  Matrix noisy(200, 384);
  for (int64_t i = 0; i < 200; ++i) std::copy(one.row(0), one.row(0) + 384, noisy.row(i));
  const KMeansResult s = kmeans(*be, noisy.view(), options(3, 0, 2));
  expect_sane(s, noisy.view(), 3);
  EXPECT_LT(s.inertia, 1e-3);
}

TEST(KMeans, PlusPlusSeedsEveryDistinctPointWhenKEqualsN) {
  auto be = make_cpu_backend(2);
  const Matrix x = test::random_matrix(23, 3, 12);
  const Matrix seeds = kmeans_plusplus(*be, x.view(), 23, 5);
  std::set<std::vector<float>> want, got;
  for (int64_t i = 0; i < 23; ++i) want.insert(std::vector<float>(x.row(i), x.row(i) + 3));
  for (int64_t i = 0; i < 23; ++i) got.insert(std::vector<float>(seeds.row(i), seeds.row(i) + 3));
  EXPECT_EQ(got, want);
}

TEST(KMeans, PlusPlusFollowsTheDocumentedRule) {
  auto be = make_cpu_backend(2);
  // Small integers: every distance is exact, so the draws and potentials match the
  // reference exactly; few distinct values also reach "every point on a centre".
  for (auto [n, d, k, hi] : {std::tuple<int64_t, int64_t, int, int>{300, 3, 25, 3}, {200, 16, 7, 3}, {40, 1, 6, 1}}) {
    const Matrix x = test::integer_matrix(n, d, 50 + n, -hi, hi);
    for (uint64_t seed = 0; seed < 4; ++seed) {
      const Matrix got = kmeans_plusplus(*be, x.view(), k, seed);
      const std::vector<int64_t> want = reference_plusplus(x.view(), k, seed);
      for (int c = 0; c < k; ++c)
        for (int64_t j = 0; j < d; ++j)
          ASSERT_EQ(got.row(c)[j], x.row(want[c])[j]) << "centre " << c << " seed " << seed << " n " << n;
    }
  }
}

TEST(KMeans, PlusPlusAsksForAllCandidatesAtOnce) {
  CountingBackend be;
  const Matrix x = test::random_matrix(500, 8, 6);
  const Matrix seeds = kmeans_plusplus(be, x.view(), 12, 1);
  // One call for the first centre, then one per centre with its 2 + floor(ln 12) candidates.
  ASSERT_EQ(be.centres_per_call.size(), 12u);
  EXPECT_EQ(be.centres_per_call[0], 1);
  for (size_t c = 1; c < 12; ++c) EXPECT_EQ(be.centres_per_call[c], 4) << c;
  EXPECT_EQ(be.nearest_calls, 0);
  EXPECT_EQ(seeds.storage(), kmeans_plusplus(*make_cpu_backend(1), x.view(), 12, 1).storage());
}

TEST(KMeans, RejectsBadOptions) {
  auto be = make_cpu_backend(1);
  const Matrix x = test::random_matrix(12, 3, 1);
  expect_error<UsageError>([&] { kmeans(*be, x.view(), options(0)); }, {"k must be at least 1, got 0"});
  expect_error<UsageError>([&] { kmeans(*be, x.view(), options(-3)); }, {"-3"});
  KMeansOptions o = options(2);
  o.max_iter = 0;
  expect_error<UsageError>([&] { kmeans(*be, x.view(), o); }, {"max_iter", "0"});
  o = options(2, 0, 0);
  expect_error<UsageError>([&] { kmeans(*be, x.view(), o); }, {"n_init", "0"});
  o = options(2);
  o.tol = -1.0;
  expect_error<UsageError>([&] { kmeans(*be, x.view(), o); }, {"tol", "-1"});
  o.tol = std::numeric_limits<double>::quiet_NaN();
  expect_error<UsageError>([&] { kmeans(*be, x.view(), o); }, {"tol"});
}

TEST(KMeans, RejectsBadInput) {
  auto be = make_cpu_backend(1);
  const Matrix x = test::random_matrix(12, 3, 1);
  expect_error<InputError>([&] { kmeans(*be, x.view(), options(50)); },
                           {"k = 50 is larger than the number of points (12)"});
  const Matrix none(0, 3);
  expect_error<InputError>([&] { kmeans(*be, none.view(), options(1)); }, {"no points"});
  const Matrix flat(4, 0);
  expect_error<InputError>([&] { kmeans(*be, flat.view(), options(1)); }, {"0 columns"});

  Matrix bad = test::random_matrix(30, 5, 2);
  bad.row(17)[3] = std::numeric_limits<float>::quiet_NaN();
  expect_error<InputError>([&] { kmeans(*be, bad.view(), options(2)); }, {"row 17, column 3 is NaN"});
  bad.row(2)[0] = std::numeric_limits<float>::infinity();
  expect_error<InputError>([&] { kmeans(*be, bad.view(), options(2)); }, {"row 2, column 0 is inf"});
  bad.row(2)[0] = -std::numeric_limits<float>::infinity();
  expect_error<InputError>([&] { kmeans(*be, bad.view(), options(2)); }, {"row 2, column 0 is -inf"});

  const Matrix init(2, 4);
  expect_error<InputError>([&] { kmeans_from(*be, x.view(), init.view(), options(2)); }, {"2 x 4", "2 x 3"});
  expect_error<InputError>([&] { kmeans_plusplus(*be, x.view(), 13, 0); }, {"k = 13", "(12)"});
}

// ---- sample weights --------------------------------------------------------

TEST(KMeansWeights, WorkedByHand) {
  auto be = make_cpu_backend(1);
  // Centre (3 * 0 + 1 * 10) / 4 = 2.5; inertia 3 * 2.5^2 + 1 * 7.5^2 = 18.75 + 56.25 = 75.
  const Matrix x = Matrix::from({0.0f, 10.0f}, 2, 1);
  const std::vector<float> w{3.0f, 1.0f};
  for (KMeansInit init : {KMeansInit::PlusPlus, KMeansInit::Random}) {
    KMeansOptions o = options(1, 5);
    o.weights = w.data();
    o.init = init;
    const KMeansResult r = kmeans(*be, x.view(), o);
    EXPECT_EQ(r.centroids.storage(), std::vector<float>{2.5f});
    EXPECT_DOUBLE_EQ(r.inertia, 75.0);
    EXPECT_EQ(r.labels, (std::vector<int32_t>{0, 0}));
    expect_consistent(*be, r, x.view(), w);
  }
  const Matrix start = Matrix::from({10.0f}, 1, 1);
  KMeansOptions o = options(1);
  o.weights = w.data();
  const KMeansResult r = kmeans_from(*be, x.view(), start.view(), o);
  EXPECT_EQ(r.centroids.storage(), std::vector<float>{2.5f});
  EXPECT_DOUBLE_EQ(r.inertia, 75.0);
}

TEST(KMeansWeights, ZeroDropsAPointAndTwoDuplicatesIt) {
  auto be = make_cpu_backend(2);
  // Whole numbers: every centroid sum is exact, so the two runs can agree bit for bit.
  // With k = 3 the CPU backend computes each row's distances on their own (no GEMM
  // blocks), so a row gets the same distances in both sets.
  const Matrix x = test::integer_matrix(90, 4, 17, -20, 20);
  std::vector<float> w(90);
  std::vector<float> expanded;
  std::vector<int64_t> first_copy(90, -1);  // row of the expanded set for row i of x
  int64_t rows = 0;
  for (int64_t i = 0; i < 90; ++i) {
    w[i] = static_cast<float>(i % 3);  // 0, 1, 2, 0, 1, 2, ...
    if (w[i] > 0.0f) first_copy[i] = rows;
    for (int c = 0; c < static_cast<int>(w[i]); ++c, ++rows) expanded.insert(expanded.end(), x.row(i), x.row(i) + 4);
  }
  const Matrix dup = Matrix::from(std::move(expanded), rows, 4);
  Matrix start(3, 4);
  for (int c = 0; c < 3; ++c) std::copy(x.row(3 * c + 1), x.row(3 * c + 1) + 4, start.row(c));

  KMeansOptions o = options(3);
  o.tol = 0.0;
  const KMeansResult plain = kmeans_from(*be, dup.view(), start.view(), o);
  o.weights = w.data();
  const KMeansResult weighted = kmeans_from(*be, x.view(), start.view(), o);
  ASSERT_GT(plain.iterations, 1);
  EXPECT_EQ(plain.reseeded_empty, 0) << "a reseeded duplicate would move alone";
  EXPECT_EQ(weighted.centroids.storage(), plain.centroids.storage());
  EXPECT_EQ(weighted.iterations, plain.iterations);
  EXPECT_DOUBLE_EQ(weighted.inertia, plain.inertia);
  for (int64_t i = 0; i < 90; ++i)
    if (first_copy[i] >= 0) EXPECT_EQ(weighted.labels[i], plain.labels[first_copy[i]]) << i;
  expect_consistent(*be, weighted, x.view(), w);  // rows of weight 0 get their nearest centre too
}

TEST(KMeansWeights, AllOnesIsUnweighted) {
  auto be = make_cpu_backend(2);
  const Matrix x = test::random_matrix(300, 7, 21);
  const Matrix start = kmeans_plusplus(*be, x.view(), 9, 3);
  const std::vector<float> ones(300, 1.0f);
  KMeansOptions o = options(9);
  const KMeansResult a = kmeans_from(*be, x.view(), start.view(), o);
  o.weights = ones.data();
  const KMeansResult b = kmeans_from(*be, x.view(), start.view(), o);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_EQ(a.centroids.storage(), b.centroids.storage());
  EXPECT_EQ(a.inertia, b.inertia);
}

TEST(KMeansWeights, PlusPlusFollowsTheDocumentedRule) {
  auto be = make_cpu_backend(2);
  for (auto [n, d, k] : {std::tuple<int64_t, int64_t, int>{300, 3, 25}, {200, 16, 7}, {40, 1, 6}}) {
    const Matrix x = test::integer_matrix(n, d, 70 + n, -3, 3);
    std::mt19937_64 rng(n);
    std::vector<float> w(static_cast<size_t>(n));
    for (float& v : w) v = static_cast<float>(rng() % 4);  // 0 .. 3, a quarter of them 0
    for (uint64_t seed = 0; seed < 4; ++seed) {
      const Matrix got = kmeans_plusplus(*be, x.view(), k, seed, w.data());
      const std::vector<int64_t> want = reference_plusplus(x.view(), k, seed, w);
      for (int c = 0; c < k; ++c) {
        ASSERT_GT(w[want[c]], 0.0f);
        for (int64_t j = 0; j < d; ++j)
          ASSERT_EQ(got.row(c)[j], x.row(want[c])[j]) << "centre " << c << " seed " << seed << " n " << n;
      }
    }
  }
}

TEST(KMeansWeights, SeparatedBlobsWithWeights) {
  auto be = make_cpu_backend(2);
  const auto [x, truth] = test::gaussian_blobs(600, 8, 4, 20.0f, 3);
  std::vector<float> w(600);
  for (size_t i = 0; i < w.size(); ++i) w[i] = (i % 7 == 0) ? 0.0f : 0.5f + static_cast<float>(i % 5);
  KMeansOptions o = options(4, 2, 3);
  o.weights = w.data();
  const KMeansResult a = kmeans(*be, x.view(), o);
  expect_sane(a, x.view(), 4);
  EXPECT_DOUBLE_EQ(test::adjusted_rand_index(a.labels, truth), 1.0);
  expect_consistent(*be, a, x.view(), w);
  const KMeansResult b = kmeans(*be, x.view(), o);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_EQ(a.centroids.storage(), b.centroids.storage());
}

TEST(KMeansWeights, RejectsBadWeights) {
  auto be = make_cpu_backend(1);
  const Matrix x = test::random_matrix(20, 3, 1);
  std::vector<float> w(20, 1.0f);
  KMeansOptions o = options(2);
  o.weights = w.data();
  w[12] = -1.0f;
  expect_error<InputError>([&] { kmeans(*be, x.view(), o); }, {"weight of row 12 is -1"});
  w[12] = 1.0f;
  w[3] = std::numeric_limits<float>::quiet_NaN();
  expect_error<InputError>([&] { kmeans(*be, x.view(), o); }, {"weight of row 3 is NaN"});
  w[3] = std::numeric_limits<float>::infinity();
  expect_error<InputError>([&] { kmeans_plusplus(*be, x.view(), 2, 0, w.data()); }, {"weight of row 3 is inf"});
  std::fill(w.begin(), w.end(), 0.0f);
  expect_error<InputError>([&] { kmeans(*be, x.view(), o); }, {"weights sum to 0"});
  const Matrix start(2, 3);
  expect_error<InputError>([&] { kmeans_from(*be, x.view(), start.view(), o); }, {"weights sum to 0"});
  w[4] = w[9] = 2.0f;
  o.k = 3;
  expect_error<InputError>([&] { kmeans(*be, x.view(), o); }, {"k = 3", "positive weight (2)"});
  expect_error<InputError>([&] { kmeans_random(x.view(), 3, 0, w.data()); }, {"positive weight (2)"});
}

// ---- random seeding --------------------------------------------------------

TEST(KMeansRandomInit, DistinctRowsSameForTheSameSeed) {
  const Matrix x = test::random_matrix(50, 3, 4);
  std::set<std::vector<float>> rows;
  for (int64_t i = 0; i < 50; ++i) rows.insert(std::vector<float>(x.row(i), x.row(i) + 3));
  for (uint64_t seed = 0; seed < 5; ++seed) {
    const Matrix a = kmeans_random(x.view(), 10, seed);
    EXPECT_EQ(a.storage(), kmeans_random(x.view(), 10, seed).storage());
    EXPECT_NE(a.storage(), kmeans_random(x.view(), 10, seed + 100).storage());
    std::set<std::vector<float>> got;
    for (int c = 0; c < 10; ++c) {
      std::vector<float> r(a.row(c), a.row(c) + 3);
      EXPECT_TRUE(rows.count(r)) << "centre " << c << " is not a row of x";
      got.insert(r);
    }
    EXPECT_EQ(got.size(), 10u) << "the rows are not distinct";
  }
  const Matrix all = kmeans_random(x.view(), 50, 1);  // k = n: every row once
  std::set<std::vector<float>> got;
  for (int c = 0; c < 50; ++c) got.insert(std::vector<float>(all.row(c), all.row(c) + 3));
  EXPECT_EQ(got, rows);
}

TEST(KMeansRandomInit, UniformOverRowsOfPositiveWeight) {
  // Row i holds the value i, so each centre says which row it came from.
  const Matrix x = Matrix::from({0, 1, 2, 3, 4, 5}, 6, 1);
  const std::vector<float> w{1, 0, 5, 1, 0.25f, 1};  // row 1 has weight 0
  std::vector<int> seen(6, 0);
  const int draws = 10000;
  for (int s = 0; s < draws; ++s) {
    const Matrix c = kmeans_random(x.view(), 2, static_cast<uint64_t>(s), w.data());
    ASSERT_NE(c.row(0)[0], c.row(1)[0]);
    for (int j = 0; j < 2; ++j) ++seen[static_cast<int>(c.row(j)[0])];
  }
  EXPECT_EQ(seen[1], 0);
  for (int i : {0, 2, 3, 4, 5})  // 2 of the 5 rows of positive weight, whatever the weight
    EXPECT_NEAR(seen[i] / static_cast<double>(draws), 0.4, 0.03) << "row " << i;
}

TEST(KMeansRandomInit, KMeansWithRandomInitIsDeterministic) {
  auto be = make_cpu_backend(2);
  const Matrix x = test::random_matrix(400, 6, 30);
  KMeansOptions o = options(8, 11, 3);
  o.init = KMeansInit::Random;
  const KMeansResult a = kmeans(*be, x.view(), o);
  const KMeansResult b = kmeans(*be, x.view(), o);
  expect_sane(a, x.view(), 8);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_EQ(a.centroids.storage(), b.centroids.storage());
  EXPECT_EQ(a.init_inertia, b.init_inertia);
  expect_consistent(*be, a, x.view());
  // Not the k-means++ seeding: a different first run.
  const KMeansResult pp = kmeans(*be, x.view(), options(8, 11, 3));
  EXPECT_NE(a.init_inertia, pp.init_inertia);
}

// ---- cosine (spherical k-means) -------------------------------------------

// Points in `blobs` directions of R^d with small angular noise, at lengths from
// 0.2 to 5, so that only their directions tell the blobs apart.
std::pair<Matrix, std::vector<int32_t>> blobs_on_the_sphere(int64_t n, int64_t d, int blobs, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::uniform_real_distribution<float> len(0.2f, 5.0f);
  Matrix dirs(blobs, d);
  for (float& v : dirs.storage()) v = g(rng);
  Matrix x(n, d);
  std::vector<int32_t> truth(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    truth[i] = static_cast<int32_t>(i % blobs);
    const float* c = dirs.row(truth[i]);
    double norm = 0.0;
    for (int64_t j = 0; j < d; ++j) norm += static_cast<double>(c[j]) * c[j];
    const float scale = len(rng) / static_cast<float>(std::sqrt(norm));
    for (int64_t j = 0; j < d; ++j) x.row(i)[j] = scale * (c[j] + 0.05f * g(rng));
  }
  return {std::move(x), std::move(truth)};
}

TEST(KMeansCosine, BlobsOnTheSphereUnitCentres) {
  auto be = make_cpu_backend(2);
  const auto [x, truth] = blobs_on_the_sphere(800, 16, 5, 8);
  const std::vector<float> before = x.storage();
  KMeansOptions o = options(5, 3, 3);
  o.metric = Metric::Cosine;
  const KMeansResult r = kmeans(*be, x.view(), o);
  expect_sane(r, x.view(), 5);
  EXPECT_EQ(x.storage(), before) << "the caller's points changed";
  EXPECT_DOUBLE_EQ(test::adjusted_rand_index(r.labels, truth), 1.0);
  for (int64_t c = 0; c < 5; ++c) {
    double norm = 0.0;
    for (int64_t j = 0; j < 16; ++j) norm += static_cast<double>(r.centroids.row(c)[j]) * r.centroids.row(c)[j];
    EXPECT_NEAR(norm, 1.0, 1e-5) << "centre " << c;
  }
  // Inertia is the sum of 2 - 2 cos(x_i, c_l(i)).
  double want = 0.0;
  for (int64_t i = 0; i < 800; ++i) {
    const float* xi = x.row(i);
    const float* c = r.centroids.row(r.labels[i]);
    double dot = 0.0, xx = 0.0;
    for (int64_t j = 0; j < 16; ++j) dot += static_cast<double>(xi[j]) * c[j], xx += static_cast<double>(xi[j]) * xi[j];
    want += 2.0 - 2.0 * dot / std::sqrt(xx);
  }
  EXPECT_NEAR(r.inertia, want, 1e-4 * want + 1e-6);
}

TEST(KMeansCosine, RowLengthsDoNotMatter) {
  auto be = make_cpu_backend(2);
  const auto [x, truth] = blobs_on_the_sphere(300, 8, 4, 9);
  Matrix scaled = x;  // by powers of 2: both normalize to exactly the same unit rows
  for (int64_t i = 0; i < 300; ++i)
    for (int64_t j = 0; j < 8; ++j) scaled.row(i)[j] *= std::ldexp(1.0f, static_cast<int>(i % 9) - 4);
  KMeansOptions o = options(4, 6, 2);
  o.metric = Metric::Cosine;
  const KMeansResult a = kmeans(*be, x.view(), o);
  const KMeansResult b = kmeans(*be, scaled.view(), o);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_EQ(a.centroids.storage(), b.centroids.storage());
  EXPECT_EQ(a.inertia, b.inertia);
  // Rows already of unit length are used as they are: the same clustering.
  Matrix unit = x;
  be->normalize_rows(unit.view());
  const KMeansResult c = kmeans(*be, unit.view(), o);
  EXPECT_DOUBLE_EQ(test::adjusted_rand_index(a.labels, c.labels), 1.0);
  EXPECT_NEAR(a.inertia, c.inertia, 1e-4 * a.inertia);
  expect_consistent(*be, c, unit.view());
}

TEST(KMeansCosine, ACentreWhoseMeanIsZeroStays) {
  auto be = make_cpu_backend(1);
  // (1, 0) and (-1, 0) tie between the two centres and go to cluster 0, whose mean
  // is then (0, 0): no direction, so its centre stays where it was.
  const Matrix x = Matrix::from({1, 0, -1, 0, 0, 1, 0, 1}, 4, 2);
  const Matrix start = Matrix::from({0, -3, 0, 2}, 2, 2);  // scaled to unit length first
  KMeansOptions o = options(2);
  o.metric = Metric::Cosine;
  const KMeansResult r = kmeans_from(*be, x.view(), start.view(), o);
  EXPECT_EQ(r.centroids.storage(), (std::vector<float>{0, -1, 0, 1}));
  EXPECT_EQ(r.labels, (std::vector<int32_t>{0, 0, 1, 1}));
  EXPECT_DOUBLE_EQ(r.inertia, 4.0);
}

TEST(KMeansCosine, RejectsZeroRows) {
  auto be = make_cpu_backend(1);
  Matrix x = test::random_matrix(10, 3, 2);
  std::fill(x.row(6), x.row(6) + 3, 0.0f);
  KMeansOptions o = options(2);
  o.metric = Metric::Cosine;
  expect_error<InputError>([&] { kmeans(*be, x.view(), o); }, {"row 6 is all zeros"});
  o.metric = Metric::L2;
  EXPECT_NO_THROW(kmeans(*be, x.view(), o));
  const Matrix ok = test::random_matrix(10, 3, 3);
  Matrix start = test::random_matrix(2, 3, 4);
  std::fill(start.row(1), start.row(1) + 3, 0.0f);
  o.metric = Metric::Cosine;
  expect_error<InputError>([&] { kmeans_from(*be, ok.view(), start.view(), o); },
                           {"initial centroids: row 1 is all zeros"});
}

// ---- stopping on the centre shift -----------------------------------------

TEST(KMeansTolShift, StopsAtTheFirstSmallShift) {
  auto be = make_cpu_backend(2);
  const Matrix x = test::random_matrix(2000, 5, 40);
  const Matrix start = kmeans_plusplus(*be, x.view(), 10, 2);
  KMeansOptions o = options(10);
  o.tol = 0.0;
  const KMeansResult full = kmeans_from(*be, x.view(), start.view(), o);
  o.tol_shift = 1e-3;
  const KMeansResult early = kmeans_from(*be, x.view(), start.view(), o);
  ASSERT_LT(early.iterations, full.iterations);
  expect_consistent(*be, early, x.view());

  // Replay: the centres after j updates are those of a run capped at j iterations.
  const auto after = [&](int j) {
    KMeansOptions capped = options(10);
    capped.tol = 0.0;
    capped.max_iter = j;
    return j == 0 ? start : kmeans_from(*be, x.view(), start.view(), capped).centroids;
  };
  const auto settled = [](const Matrix& b, const Matrix& a) {
    double max_shift = 0.0, norms = 0.0;
    for (int64_t c = 0; c < a.rows(); ++c) {
      double s = 0.0;
      for (int64_t j = 0; j < a.cols(); ++j) {
        s += (static_cast<double>(a.row(c)[j]) - b.row(c)[j]) * (static_cast<double>(a.row(c)[j]) - b.row(c)[j]);
        norms += static_cast<double>(a.row(c)[j]) * a.row(c)[j];
      }
      max_shift = std::max(max_shift, s);
    }
    return max_shift <= 1e-3 * norms / static_cast<double>(a.rows());
  };
  Matrix prev = after(0);
  for (int j = 1; j <= early.iterations; ++j) {
    Matrix cur = after(j);
    EXPECT_EQ(settled(prev, cur), j == early.iterations) << "after update " << j;
    prev = std::move(cur);
  }
  EXPECT_EQ(prev.storage(), early.centroids.storage());

  o.tol_shift = -1.0;
  expect_error<UsageError>([&] { kmeans(*be, x.view(), o); }, {"tol_shift", "-1"});
  o.tol_shift = std::numeric_limits<double>::quiet_NaN();
  expect_error<UsageError>([&] { kmeans(*be, x.view(), o); }, {"tol_shift"});
}

}  // namespace
}  // namespace emb

// ---- k-means|| seeding ------------------------------------------------------

namespace emb {
namespace {

TEST(KMeansParallel, FindsSeparatedBlobsAndIsDeterministic) {
  auto cpu = make_cpu_backend(2);
  const auto [x, truth] = test::gaussian_blobs(3000, 24, 12, 20.0f, 7);
  KMeansOptions opts;
  opts.k = 12;
  opts.n_init = 1;
  opts.seed = 4;
  opts.init = KMeansInit::Parallel;
  const KMeansResult a = kmeans(*cpu, x.view(), opts);
  const KMeansResult b = kmeans(*cpu, x.view(), opts);
  EXPECT_EQ(test::adjusted_rand_index(a.labels, truth), 1.0);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_EQ(a.centroids.storage(), b.centroids.storage());
  opts.init = KMeansInit::PlusPlus;
  const KMeansResult pp = kmeans(*cpu, x.view(), opts);
  EXPECT_LE(a.inertia, pp.inertia * 1.001);
  const Matrix seeds = kmeans_parallel(*cpu, x.view(), 12, 4);
  EXPECT_EQ(seeds.rows(), 12);
  EXPECT_EQ(seeds.cols(), 24);
}

TEST(KMeansParallel, CloseToPlusPlusOnOverlappingData) {
  auto cpu = make_cpu_backend(2);
  const auto [x, truth] = test::gaussian_blobs(4000, 16, 40, 3.0f, 11);  // heavily overlapping
  KMeansOptions opts;
  opts.k = 40;
  opts.n_init = 3;
  opts.init = KMeansInit::Parallel;
  const double par = kmeans(*cpu, x.view(), opts).inertia;
  opts.init = KMeansInit::PlusPlus;
  const double pp = kmeans(*cpu, x.view(), opts).inertia;
  EXPECT_LE(par, pp * 1.02) << "k-means|| " << par << " vs k-means++ " << pp;
}

TEST(KMeansParallel, DuplicatesAndTinyInputsGiveKFiniteCentres) {
  auto cpu = make_cpu_backend(1);
  Matrix same(50, 3, 2.5f);
  const Matrix s = kmeans_parallel(*cpu, same.view(), 4, 1);
  ASSERT_EQ(s.rows(), 4);
  for (float v : s.storage()) EXPECT_EQ(v, 2.5f);
  Matrix three(3, 2);
  for (int i = 0; i < 6; ++i) three.data()[i] = static_cast<float>(i * i);
  const Matrix t = kmeans_parallel(*cpu, three.view(), 3, 0);  // k = n: every point a centre
  std::vector<float> got = t.storage(), want = three.storage();
  std::vector<std::vector<float>> rows_got, rows_want;
  for (int r = 0; r < 3; ++r) {
    rows_got.emplace_back(got.begin() + 2 * r, got.begin() + 2 * r + 2);
    rows_want.emplace_back(want.begin() + 2 * r, want.begin() + 2 * r + 2);
  }
  std::sort(rows_got.begin(), rows_got.end());
  std::sort(rows_want.begin(), rows_want.end());
  EXPECT_EQ(rows_got, rows_want);
  KMeansOptions opts;
  opts.k = 3;
  opts.init = KMeansInit::Parallel;
  const KMeansResult r = kmeans(*cpu, same.view(), opts);
  EXPECT_EQ(r.inertia, 0.0);
  EXPECT_THROW(kmeans_parallel(*cpu, three.view(), 4, 0), InputError);
}

}  // namespace
}  // namespace emb
