// The k-means driver's options: sample weights, random and k-means|| seeding, the
// cosine metric and the centre-shift stopping rule (CPU backend).
#include "tests/kmeans_test_helpers.hpp"

namespace emb {
namespace {

using namespace kmtest;

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

// ---- k-means|| seeding ------------------------------------------------------

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
