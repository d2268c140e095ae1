// The CPU backend's ops against plain double-precision loops, at odd sizes, with
// poisoned outputs and guard values after them.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <tuple>
#include <vector>

#include "host/backend/backend.hpp"
#include "host/core/error.hpp"
#include "host/core/exact_distance.hpp"
#include "tests/test_util.hpp"

namespace emb {
namespace {

constexpr float kPoison = std::numeric_limits<float>::quiet_NaN();
constexpr int32_t kGuardLabel = -12345;
constexpr int kGuard = 4;  // guard values after every output

using test::dist2_exact;
using test::norm2_exact;

// Lowest-index exact argmin, the contract nearest_centroids must meet.
std::pair<int32_t, double> nearest_exact(const float* x, ConstMatrixView c) {
  int32_t best = 0;
  double best_d = dist2_exact(x, c.row(0), c.cols);
  for (int64_t j = 1; j < c.rows; ++j) {
    const double d = dist2_exact(x, c.row(j), c.cols);
    if (d < best_d) best_d = d, best = static_cast<int32_t>(j);
  }
  return {best, best_d};
}

struct Outputs {
  std::vector<int32_t> labels;
  std::vector<float> dist2;
};

Outputs run_nearest(Backend& be, ConstMatrixView x, ConstMatrixView c) {
  Outputs o{std::vector<int32_t>(x.rows + kGuard, kGuardLabel), std::vector<float>(x.rows + kGuard, kPoison)};
  for (int64_t i = 0; i < x.rows; ++i) o.labels[i] = -7;
  be.nearest_centroids(x, c, o.labels.data(), o.dist2.data());
  for (int g = 0; g < kGuard; ++g) {
    EXPECT_EQ(o.labels[x.rows + g], kGuardLabel) << "write past the labels";
    EXPECT_TRUE(std::isnan(o.dist2[x.rows + g])) << "write past dist2";
  }
  o.labels.resize(x.rows);
  o.dist2.resize(x.rows);
  return o;
}

// n x k distances into a poisoned buffer with guard values after it.
std::vector<float> run_distances(Backend& be, ConstMatrixView x, ConstMatrixView c) {
  const int64_t size = x.rows * c.rows;
  std::vector<float> out(size + kGuard, kPoison);
  be.squared_distances(x, c, {out.data(), x.rows, c.rows});
  for (int g = 0; g < kGuard; ++g) EXPECT_TRUE(std::isnan(out[size + g])) << "write past the distances";
  out.resize(size);
  return out;
}

TEST(CpuBackend, NameAndSupport) {
  auto two = make_cpu_backend(2);
  EXPECT_EQ(two->name(), "cpu (2 threads)");
  EXPECT_EQ(make_cpu_backend(1)->name(), "cpu (1 thread)");
  EXPECT_FALSE(two->is_gpu());
  for (Op op : {Op::NormalizeRows, Op::SquaredDistances, Op::NearestCentroids, Op::AccumulateCentroids})
    EXPECT_TRUE(two->supports(op));
  EXPECT_NE(make_cpu_backend(0)->name().find("cpu ("), std::string::npos);
  EXPECT_THROW(make_cpu_backend(-1), UsageError);
}

class CpuOps : public ::testing::TestWithParam<std::tuple<int64_t, int64_t>> {};

TEST_P(CpuOps, NormalizeRowsMatchesDouble) {
  const auto [n, d] = GetParam();
  Matrix x = test::random_matrix(n, d, 11 + n * d);
  for (int64_t i = 3; i < n; i += 5)
    for (int64_t j = 0; j < d; ++j) x.row(i)[j] = 0.0f;  // zero rows stay zero
  const Matrix before = x;
  make_cpu_backend(2)->normalize_rows(x.view());
  for (int64_t i = 0; i < n; ++i) {
    const double norm = std::sqrt(norm2_exact(before.row(i), d));
    for (int64_t j = 0; j < d; ++j) {
      const double want = norm == 0.0 ? 0.0 : before.row(i)[j] / norm;
      ASSERT_NEAR(x.row(i)[j], want, 1e-6) << "row " << i << " column " << j;
    }
  }
}

TEST_P(CpuOps, SquaredDistancesMatchesDouble) {
  const auto [n, d] = GetParam();
  for (int64_t k : {1, 3, 6, 7, 100}) {  // both sides of the direct/GEMM switch
    const Matrix x = test::random_matrix(n, d, 800 + n + d);
    const Matrix c = test::random_matrix(k, d, 900 + k + d);
    std::vector<std::vector<float>> runs;
    for (int threads : {1, 2, 3}) runs.push_back(run_distances(*make_cpu_backend(threads), x.view(), c.view()));
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j < k; ++j) {
        const float got = runs[1][i * k + j];
        const double want = dist2_exact(x.row(i), c.row(j), d);
        const double tol = 1e-5 * (norm2_exact(x.row(i), d) + norm2_exact(c.row(j), d)) + 1e-6;
        ASSERT_FALSE(std::isnan(got)) << "row " << i << " column " << j << " k " << k;
        ASSERT_NEAR(got, want, tol) << "row " << i << " column " << j << " k " << k;
        ASSERT_GE(got, 0.0f);
      }
    }
    EXPECT_EQ(runs[0], runs[1]) << "1 and 2 threads differ, k " << k;
    EXPECT_EQ(runs[0], runs[2]) << "1 and 3 threads differ, k " << k;
  }
}

TEST_P(CpuOps, SquaredDistancesExactOnIntegersAndZeroOnThePointItself) {
  const auto [n, d] = GetParam();
  auto be = make_cpu_backend(2);
  // Small integers: every product and sum is exact in float, so the result must be too.
  const Matrix xi = test::integer_matrix(n, d, 1000 + n + d);
  for (int64_t k : {2, 11}) {
    const Matrix c = test::integer_matrix(k, d, 1100 + k + d);
    const std::vector<float> got = run_distances(*be, xi.view(), c.view());
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < k; ++j)
        ASSERT_EQ(got[i * k + j], static_cast<float>(dist2_exact(xi.row(i), c.row(j), d))) << i << ", " << j;
  }
  // Rows of x as the centres, as k-means++ asks: cancellation must not go below 0.
  const Matrix x = test::random_matrix(n, d, 1200 + n + d, 10.0f, 11.0f);
  const int64_t k = std::min<int64_t>(n, 9);
  const std::vector<float> got = run_distances(*be, x.view(), x.view().block(0, k));
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < k; ++j) {
      ASSERT_GE(got[i * k + j], 0.0f) << i << ", " << j;
      if (i == j) {
        EXPECT_LE(got[i * k + j], 1e-4 * norm2_exact(x.row(i), d)) << i;
      }
    }
  }
}

TEST_P(CpuOps, NearestCentroidsMatchesDouble) {
  const auto [n, d] = GetParam();
  auto be = make_cpu_backend(2);
  for (int64_t k : {1, 3, 7, 100}) {  // 1 and 3 take the direct path, 7 and 100 the GEMM
    const Matrix x = test::random_matrix(n, d, 100 + n + d);
    const Matrix c = test::random_matrix(k, d, 200 + k + d);
    const Outputs got = run_nearest(*be, x.view(), c.view());
    for (int threads : {1, 3}) {
      const Outputs other = run_nearest(*make_cpu_backend(threads), x.view(), c.view());
      EXPECT_EQ(other.labels, got.labels) << threads << " and 2 threads differ, k " << k;
      EXPECT_EQ(other.dist2, got.dist2) << threads << " and 2 threads differ, k " << k;
    }
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_GE(got.labels[i], 0);
      ASSERT_LT(got.labels[i], k);
      const auto [want, want_d] = nearest_exact(x.row(i), c.view());
      // Float GEMM may swap near-ties: the pick must be as near as the best, within rounding.
      const double tol = 1e-5 * (norm2_exact(x.row(i), d) + norm2_exact(c.row(want), d)) + 1e-6;
      EXPECT_LE(dist2_exact(x.row(i), c.row(got.labels[i]), d), want_d + tol) << "row " << i << " k " << k;
      EXPECT_NEAR(got.dist2[i], want_d, tol) << "row " << i << " k " << k;
      EXPECT_GE(got.dist2[i], 0.0f);
    }
  }
}

// nearest_centroid_groups, the CPU's fused version and the Backend's default (what a
// backend without its own runs), on every row and on a row list, with one group
// (the second-nearest distance) and with centres in three groups: the nearest as
// nearest_centroids picks it, and each group's nearest other centre's distance.
TEST_P(CpuOps, NearestCentroidGroupsMatchDouble) {
  const auto [n, d] = GetParam();
  auto be = make_cpu_backend(2);
  for (int64_t k : {1, 7, 100}) {
    const Matrix x = test::random_matrix(n, d, 300 + n + d);
    const Matrix c = test::random_matrix(k, d, 400 + k + d);
    std::vector<int32_t> rows;
    for (int64_t i = n - 1; i >= 0; i -= 3) rows.push_back(static_cast<int32_t>(i));
    const int64_t m = static_cast<int64_t>(rows.size());
    for (const int groups : {1, 3}) {
      // Consecutive ranges, uneven (the last holds the most; with k = 1 the others are empty).
      std::vector<int32_t> start(groups + 1);
      for (int g = 0; g <= groups; ++g) start[g] = static_cast<int32_t>(g == groups ? k : (k * g * 4) / (groups * 5));
      std::vector<int32_t> group(k);
      for (int g = 0; g < groups; ++g)
        for (int32_t j = start[g]; j < start[g + 1]; ++j) group[j] = g;
      for (const bool fused : {true, false})
        for (const bool listed : {false, true}) {
          const int64_t cnt = listed ? m : n;
          std::vector<int32_t> labels(cnt, -7);
          std::vector<float> dist2(cnt, kPoison), gmin(cnt * groups + kGuard, kPoison);
          const int32_t* r = listed ? rows.data() : nullptr;
          if (fused)
            be->nearest_centroid_groups(x.view(), r, cnt, c.view(), start.data(), groups, labels.data(), dist2.data(),
                                        gmin.data());
          else
            be->Backend::nearest_centroid_groups(x.view(), r, cnt, c.view(), start.data(), groups, labels.data(),
                                                 dist2.data(), gmin.data());
          for (int g = 0; g < kGuard; ++g) EXPECT_TRUE(std::isnan(gmin[cnt * groups + g])) << "write past group_min2";
          for (int64_t t = 0; t < cnt; ++t) {
            const int64_t i = listed ? rows[t] : t;
            const auto [want, want_d] = nearest_exact(x.row(i), c.view());
            const double tol = 1e-5 * (norm2_exact(x.row(i), d) + norm2_exact(c.row(want), d)) + 1e-6;
            ASSERT_GE(labels[t], 0);
            ASSERT_LT(labels[t], k);
            EXPECT_LE(dist2_exact(x.row(i), c.row(labels[t]), d), want_d + tol) << "row " << i << " k " << k;
            EXPECT_NEAR(dist2[t], want_d, tol) << "row " << i << " k " << k;
            for (int g = 0; g < groups; ++g) {
              double other = std::numeric_limits<double>::infinity();
              for (int64_t j = 0; j < k; ++j)
                if (j != labels[t] && group[j] == g) other = std::min(other, dist2_exact(x.row(i), c.row(j), d));
              const float got = gmin[t * groups + g];
              if (std::isinf(other))
                EXPECT_TRUE(std::isinf(got)) << "row " << i << " k " << k << " group " << g;
              else
                EXPECT_NEAR(got, other, tol) << "row " << i << " k " << k << " group " << g
                                             << (fused ? " fused" : " default");
            }
          }
        }
    }
  }
}

TEST_P(CpuOps, NearestCentroidsExactTiesTakeLowestIndex) {
  const auto [n, d] = GetParam();
  // Small integers: every product and sum is exact in float, so ties are real ties.
  const Matrix x = test::integer_matrix(n, d, 300 + n + d);
  const Matrix base = test::integer_matrix(5, d, 400 + d);
  // Every centroid twice or more; 4 rows take the direct path, 9 the GEMM.
  for (std::vector<int> rows : {std::vector<int>{0, 1, 0, 1}, std::vector<int>{0, 1, 0, 2, 1, 3, 4, 3, 2}}) {
    Matrix c(static_cast<int64_t>(rows.size()), d);
    for (size_t r = 0; r < rows.size(); ++r)
      for (int64_t j = 0; j < d; ++j) c.row(r)[j] = base.row(rows[r])[j];
    const Outputs got = run_nearest(*make_cpu_backend(2), x.view(), c.view());
    for (int64_t i = 0; i < n; ++i) {
      const auto [want, want_d] = nearest_exact(x.row(i), c.view());
      ASSERT_EQ(got.labels[i], want) << "row " << i << " k " << c.rows();
      ASSERT_EQ(got.dist2[i], static_cast<float>(want_d)) << "row " << i << " k " << c.rows();
    }
  }
}

TEST_P(CpuOps, AccumulateCentroidsMatchesDoubleAndThreadCounts) {
  const auto [n, d] = GetParam();
  const int64_t k = 7;
  const Matrix x = test::random_matrix(n, d, 500 + n + d);
  std::vector<int32_t> labels(n);
  std::vector<float> weights(n);
  for (int64_t i = 0; i < n; ++i) {
    labels[i] = static_cast<int32_t>((i * 5 + i / 3) % (k + 1)) - 1;  // -1 rows are skipped
    weights[i] = 0.25f + static_cast<float>(i % 4);
  }
  for (const float* w : {static_cast<const float*>(nullptr), static_cast<const float*>(weights.data())}) {
    // Accumulated into, not cleared: start from 0.5 and 2.
    std::vector<double> want(k * d, 0.5), want_counts(k, 2.0);
    for (int64_t i = 0; i < n; ++i) {
      if (labels[i] < 0) continue;
      const double wi = w ? w[i] : 1.0;
      want_counts[labels[i]] += wi;
      for (int64_t j = 0; j < d; ++j) want[labels[i] * d + j] += wi * x.row(i)[j];
    }
    std::vector<std::vector<double>> sums;
    for (int threads : {1, 2, 3}) {
      std::vector<double> s(k * d + kGuard, 0.5), counts(k + kGuard, 2.0);
      make_cpu_backend(threads)->accumulate_centroids(x.view(), labels.data(), w, {s.data(), k, d}, counts.data());
      for (int g = 0; g < kGuard; ++g) EXPECT_EQ(s[k * d + g], 0.5) << "write past sums";
      for (int g = 0; g < kGuard; ++g) EXPECT_EQ(counts[k + g], 2.0) << "write past counts";
      for (int64_t l = 0; l < k; ++l) EXPECT_EQ(counts[l], want_counts[l]);
      for (int64_t t = 0; t < k * d; ++t) ASSERT_NEAR(s[t], want[t], 1e-9 * (1.0 + std::abs(want[t])));
      sums.push_back(s);
    }
    EXPECT_EQ(sums[0], sums[1]) << "1 and 2 threads differ";
    EXPECT_EQ(sums[0], sums[2]) << "1 and 3 threads differ";
  }
}

TEST_P(CpuOps, AccumulateWithDistancesIsAccumulateAndExactDistances) {
  const auto [n, d] = GetParam();
  const int64_t k = 7;
  const Matrix x = test::random_matrix(n, d, 600 + n + d);
  const Matrix c = test::random_matrix(k, d, 700 + n + d);
  std::vector<int32_t> labels(n);
  std::vector<float> weights(n);
  for (int64_t i = 0; i < n; ++i) {
    labels[i] = static_cast<int32_t>((i * 3 + i / 5) % (k + 1)) - 1;  // -1 rows are skipped
    weights[i] = 0.5f + static_cast<float>(i % 3);
  }
  for (const float* w : {static_cast<const float*>(nullptr), static_cast<const float*>(weights.data())}) {
    std::vector<double> want(k * d, 0.5), want_counts(k, 2.0);
    make_cpu_backend(1)->accumulate_centroids(x.view(), labels.data(), w, {want.data(), k, d}, want_counts.data());
    for (int threads : {1, 2, 3})
      for (const bool fused : {true, false}) {
        auto be = make_cpu_backend(threads);
        std::vector<double> s(k * d + kGuard, 0.5), counts(k + kGuard, 2.0), own2(n + kGuard, -1.0);
        if (fused)
          be->accumulate_centroids_with_distances(x.view(), labels.data(), w, c.view(), {s.data(), k, d},
                                                  counts.data(), own2.data());
        else
          be->Backend::accumulate_centroids_with_distances(x.view(), labels.data(), w, c.view(), {s.data(), k, d},
                                                           counts.data(), own2.data());
        const std::string what = (fused ? "fused, " : "default, ") + std::to_string(threads) + " threads";
        for (int g = 0; g < kGuard; ++g) EXPECT_EQ(s[k * d + g], 0.5) << "write past sums, " << what;
        for (int g = 0; g < kGuard; ++g) EXPECT_EQ(own2[n + g], -1.0) << "write past own2, " << what;
        EXPECT_EQ(std::vector<double>(s.begin(), s.begin() + k * d), want) << what;
        EXPECT_EQ(std::vector<double>(counts.begin(), counts.begin() + k), want_counts) << what;
        for (int64_t i = 0; i < n; ++i) {
          if (labels[i] < 0)
            ASSERT_EQ(own2[i], -1.0) << "row " << i << " has no label, " << what;
          else
            ASSERT_EQ(own2[i], exact_dist2(x.row(i), c.row(labels[i]), d)) << "row " << i << ", " << what;
        }
      }
  }
}

INSTANTIATE_TEST_SUITE_P(OddSizes, CpuOps,
                         ::testing::Combine(::testing::Values<int64_t>(1, 7, 33, 1000),
                                            ::testing::Values<int64_t>(1, 5, 384)),
                         [](const auto& info) {
                           return "n" + std::to_string(std::get<0>(info.param)) + "_d" +
                                  std::to_string(std::get<1>(info.param));
                         });

TEST(CpuBackend, NormalizeRowsAccumulatesInDouble) {
  // Squares of 1e-30 underflow and of 1e30 overflow in float, not in double.
  Matrix x(3, 4);
  for (int64_t j = 0; j < 4; ++j) x.row(0)[j] = 1e-30f, x.row(1)[j] = 1e30f, x.row(2)[j] = 0.0f;
  make_cpu_backend(1)->normalize_rows(x.view());
  for (int64_t j = 0; j < 4; ++j) {
    EXPECT_NEAR(x.row(0)[j], 0.5f, 1e-6);
    EXPECT_NEAR(x.row(1)[j], 0.5f, 1e-6);
    EXPECT_EQ(x.row(2)[j], 0.0f);
  }
}

TEST(CpuBackend, NearestCentroidsSeveralBlocksAndNullDist) {
  auto be = make_cpu_backend(2);
  // Many centroids: a thread's 1 MiB distance tile holds only a few dozen rows, so
  // these span many row blocks; and many rows against few centroids.
  for (auto [n, d, k] : {std::tuple<int64_t, int64_t, int64_t>{1003, 3, 5003}, {1501, 2, 8191}, {9001, 5, 7}}) {
    const Matrix x = test::integer_matrix(n, d, 600 + n);
    const Matrix c = test::integer_matrix(k, d, 700 + k);
    const Outputs got = run_nearest(*be, x.view(), c.view());
    std::vector<int32_t> labels_only(n, -7);
    be->nearest_centroids(x.view(), c.view(), labels_only.data(), nullptr);
    for (int64_t i = 0; i < n; ++i) {
      const auto [want, want_d] = nearest_exact(x.row(i), c.view());
      ASSERT_EQ(got.labels[i], want) << "row " << i;
      ASSERT_EQ(got.dist2[i], static_cast<float>(want_d)) << "row " << i;
      ASSERT_EQ(labels_only[i], want) << "row " << i;
    }
  }
}

TEST(CpuBackend, NearestCentroidsHalfwayGoesToLowestIndex) {
  const Matrix x = Matrix::from({1.0f}, 1, 1);
  for (std::vector<float> cs : {std::vector<float>{0.0f, 2.0f}, std::vector<float>{2.0f, 0.0f}}) {
    const Matrix c = Matrix::from(cs, 2, 1);
    const Outputs got = run_nearest(*make_cpu_backend(1), x.view(), c.view());
    EXPECT_EQ(got.labels[0], 0);
    EXPECT_EQ(got.dist2[0], 1.0f);
  }
}

}  // namespace
}  // namespace emb
