// The k-means driver through the Backend interface (here the CPU backend): a case
// worked by hand, separated blobs, determinism, best-of-n, empty clusters,
// degenerate data, and every rejected input.
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
std::vector<int64_t> reference_plusplus(ConstMatrixView x, int k, uint64_t seed) {
  const int64_t n = x.rows;
  std::mt19937_64 rng(seed);
  std::vector<int64_t> picked{static_cast<int64_t>(rng() % static_cast<uint64_t>(n))};
  std::vector<double> closest(n);
  for (int64_t i = 0; i < n; ++i) closest[i] = dist2_exact(x.row(i), x.row(picked[0]), x.cols);
  const int trials = 2 + static_cast<int>(std::log(static_cast<double>(k)));
  while (static_cast<int>(picked.size()) < k) {
    std::vector<double> cumsum(n);
    std::partial_sum(closest.begin(), closest.end(), cumsum.begin());
    if (!(cumsum.back() > 0.0)) {  // all on centres: the lowest unused row
      int64_t i = 0;
      while (std::find(picked.begin(), picked.end(), i) != picked.end()) ++i;
      picked.push_back(i);
      continue;
    }
    double best_p = std::numeric_limits<double>::infinity();
    int64_t best = -1;
    for (int t = 0; t < trials; ++t) {
      const double r = static_cast<double>(rng() >> 11) * 0x1.0p-53 * cumsum.back();
      int64_t id = std::upper_bound(cumsum.begin(), cumsum.end(), r) - cumsum.begin();
      if (id == n)
        for (id = n - 1; id > 0 && !(closest[id] > 0.0);) --id;
      double p = 0.0;
      for (int64_t i = 0; i < n; ++i) p += std::min(closest[i], dist2_exact(x.row(i), x.row(id), x.cols));
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

}  // namespace
}  // namespace emb
