// The k-means driver through the Backend interface (here the CPU backend): a case
// worked by hand, separated blobs, determinism, best-of-n, empty clusters,
// degenerate data, every rejected input.
#include "tests/kmeans_test_helpers.hpp"

namespace emb {
namespace {

using namespace kmtest;

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

// Hamerly's bounds on the CPU keep only assignments they prove: every iteration
// the same labels as searching every row, so the same centres and iterations,
// with most rows skipped once the centres settle. Weighted and cosine too.
TEST(KMeans, BoundsGiveTheSameRunAsSearchingEveryRow) {
  auto be = make_cpu_backend(2);
  const auto [x, truth] = test::gaussian_blobs(3000, 24, 30, 3.0f, 17);
  std::vector<float> w(3000);
  for (size_t i = 0; i < w.size(); ++i) w[i] = 0.5f + static_cast<float>(i % 7);
  for (const Metric metric : {Metric::L2, Metric::Cosine})
    for (const bool weighted : {false, true}) {
      KMeansOptions o = options(40, 5, 1);
      o.tol = 0.0;
      o.max_iter = 60;
      o.metric = metric;
      if (weighted) o.weights = w.data();
      o.bounds = false;
      const KMeansResult every = kmeans(*be, x.view(), o);
      o.bounds = true;
      const KMeansResult bounded = kmeans(*be, x.view(), o);
      EXPECT_EQ(every.proven, 0);
      EXPECT_EQ(bounded.labels, every.labels);
      EXPECT_EQ(bounded.iterations, every.iterations);
      EXPECT_EQ(bounded.centroids.storage(), every.centroids.storage());
      EXPECT_NEAR(bounded.inertia, every.inertia, 1e-6 * every.inertia);
      // The first assignment searches every row; most later ones are proven.
      EXPECT_GT(bounded.proven, 3000 * (bounded.iterations - 1) / 2)
          << bounded.iterations << " iterations, metric " << static_cast<int>(metric);
    }
}

// Rows wide enough that the bounded assignment goes in several blocks (about 4 MiB
// of rows each, the last one partial): the blocks' sums add up as one pass would.
TEST(KMeans, BoundsInSeveralBlocksGiveTheSameRun) {
  auto be = make_cpu_backend(2);
  const auto [x, truth] = test::gaussian_blobs(6000, 384, 40, 3.0f, 29);
  std::vector<float> w(6000);
  // A period of 11: the assignment's blocks of 2730 rows do not line up with it.
  for (size_t i = 0; i < w.size(); ++i) w[i] = 0.25f + static_cast<float>(i % 11);
  for (const bool weighted : {false, true}) {
    KMeansOptions o = options(40, 7, 1);
    o.tol = 0.0;
    o.max_iter = 30;
    if (weighted) o.weights = w.data();
    o.bounds = false;
    const KMeansResult every = kmeans(*be, x.view(), o);
    o.bounds = true;
    const KMeansResult bounded = kmeans(*be, x.view(), o);
    EXPECT_EQ(bounded.labels, every.labels);
    EXPECT_EQ(bounded.iterations, every.iterations);
    EXPECT_EQ(bounded.centroids.storage(), every.centroids.storage());
    EXPECT_GT(bounded.proven, 0);
  }
}

// Empty clusters re-seeded while bounds are kept: a moved row's bounds belong to
// its old centre, so the next assignment searches every row. Same run as without.
TEST(KMeans, BoundsWithReseededEmptyClusters) {
  auto be = make_cpu_backend(2);
  const auto [x, truth] = test::gaussian_blobs(2000, 8, 20, 5.0f, 23);
  Matrix start(24, 8);
  for (int64_t j = 0; j < 24; ++j)
    for (int64_t t = 0; t < 8; ++t) start.row(j)[t] = j < 20 ? x.row(j * 7)[t] : 1000.0f + static_cast<float>(j + t);
  KMeansOptions o = options(24);
  o.tol = 0.0;
  o.max_iter = 40;
  o.bounds = false;
  const KMeansResult every = kmeans_from(*be, x.view(), start.view(), o);
  o.bounds = true;
  const KMeansResult bounded = kmeans_from(*be, x.view(), start.view(), o);
  EXPECT_GE(every.reseeded_empty, 4);
  EXPECT_EQ(bounded.reseeded_empty, every.reseeded_empty);
  EXPECT_EQ(bounded.labels, every.labels);
  EXPECT_EQ(bounded.centroids.storage(), every.centroids.storage());
  EXPECT_GT(bounded.proven, 0);
  expect_consistent(*be, bounded, x.view());
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
