// Choosing k (scan_k) through the CPU backend: the silhouette against hand-worked
// values and a naive double loop, the choice on separated blobs, the sample, and
// every rejected range.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "host/backend/backend.hpp"
#include "host/cluster/k_scan.hpp"
#include "host/core/error.hpp"
#include "tests/test_util.hpp"

namespace emb {
namespace {

Matrix from_rows(const std::vector<std::vector<float>>& rows) {
  Matrix m(static_cast<int64_t>(rows.size()), static_cast<int64_t>(rows.at(0).size()));
  for (size_t i = 0; i < rows.size(); ++i) std::copy(rows[i].begin(), rows[i].end(), m.row(static_cast<int64_t>(i)));
  return m;
}

// The definition, one pair at a time, in double precision.
double naive_silhouette(ConstMatrixView x, const std::vector<int32_t>& labels, int k) {
  const int64_t n = x.rows;
  auto dist = [&](int64_t i, int64_t j) {
    double s = 0.0;
    for (int64_t c = 0; c < x.cols; ++c) {
      const double d = static_cast<double>(x.row(i)[c]) - x.row(j)[c];
      s += d * d;
    }
    return std::sqrt(s);
  };
  double total = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    std::vector<double> sum(k, 0.0);
    std::vector<int> count(k, 0);
    for (int64_t j = 0; j < n; ++j) {
      ++count[labels[j]];
      if (j != i) sum[labels[j]] += dist(i, j);
    }
    if (count[labels[i]] == 1) continue;
    const double a = sum[labels[i]] / (count[labels[i]] - 1);
    double b = INFINITY;
    for (int c = 0; c < k; ++c)
      if (c != labels[i] && count[c] > 0) b = std::min(b, sum[c] / count[c]);
    total += (b - a) / std::max(a, b);
  }
  return total / n;
}

class KScan : public ::testing::Test {
 protected:
  std::unique_ptr<Backend> be_ = make_cpu_backend(2);
};

TEST_F(KScan, SilhouetteOfHandWorkedCases) {
  // Points 0, 1 | 4, 5 on a line: (7/9 + 5/7 + 5/7 + 7/9) / 4 = 47/63 (scikit-learn gives the same).
  const Matrix line = from_rows({{0}, {1}, {4}, {5}});
  EXPECT_NEAR(silhouette_score(*be_, line.view(), std::vector<int32_t>{0, 0, 1, 1}.data(), 2), 47.0 / 63.0, 1e-6);
  // A singleton scores 0: (9/10 + 8/9 + 0) / 3 = 161/270.
  const Matrix three = from_rows({{0}, {1}, {10}});
  EXPECT_NEAR(silhouette_score(*be_, three.view(), std::vector<int32_t>{0, 0, 1}.data(), 2), 161.0 / 270.0, 1e-6);
  // One cluster present: no silhouette, 0.
  EXPECT_EQ(silhouette_score(*be_, three.view(), std::vector<int32_t>{1, 1, 1}.data(), 3), 0.0);
  EXPECT_THROW(silhouette_score(*be_, three.view(), std::vector<int32_t>{0, 2, 1}.data(), 2), InputError);
}

TEST_F(KScan, SilhouetteMatchesTheNaiveLoop) {
  // 301 rows: more than one block of distances, not a multiple of it.
  for (int k : {2, 3, 7}) {
    const Matrix x = test::random_matrix(301, 5, 40 + k);
    std::vector<int32_t> labels(301);
    std::mt19937_64 rng(k);
    for (auto& l : labels) l = static_cast<int32_t>(rng() % (k - 1));
    labels[17] = k - 1;  // one singleton
    EXPECT_NEAR(silhouette_score(*be_, x.view(), labels.data(), k), naive_silhouette(x.view(), labels, k), 1e-4)
        << "k = " << k;
  }
}

TEST_F(KScan, ScanOfAllRowsScoresEachClusteringExactly) {
  const Matrix x = test::gaussian_blobs(120, 3, 3, 6.0f, 5).first;
  KScanOptions o;
  o.k_min = 2;
  o.k_max = 5;
  o.sample = 1000;  // more than the rows: the silhouette is exact
  o.kmeans.seed = 3;
  const KScanResult r = scan_k(*be_, x.view(), o);
  ASSERT_EQ(r.k, (std::vector<int>{2, 3, 4, 5}));
  ASSERT_EQ(r.inertia.size(), 4u);
  ASSERT_EQ(r.silhouette.size(), 4u);
  KMeansOptions ko = o.kmeans;
  for (size_t i = 0; i < r.k.size(); ++i) {
    ko.k = r.k[i];
    const KMeansResult km = kmeans(*be_, x.view(), ko);
    EXPECT_DOUBLE_EQ(r.inertia[i], km.inertia);
    EXPECT_NEAR(r.silhouette[i], naive_silhouette(x.view(), km.labels, r.k[i]), 1e-4);
  }
  const auto best = std::max_element(r.silhouette.begin(), r.silhouette.end());
  EXPECT_EQ(r.best_k, r.k[best - r.silhouette.begin()]);
  EXPECT_EQ(r.best.centroids.rows(), r.best_k);
  EXPECT_DOUBLE_EQ(r.best.inertia, r.inertia[best - r.silhouette.begin()]);
}

TEST_F(KScan, FindsFourClearBlobs) {
  const auto [x, truth] = test::gaussian_blobs(2400, 8, 4, 10.0f, 11);
  for (Metric metric : {Metric::L2, Metric::Cosine}) {
    KScanOptions o;
    o.k_min = 2;
    o.k_max = 8;
    o.sample = 500;  // fewer than the rows
    o.kmeans.metric = metric;
    int calls = 0;
    o.on_k = [&](int k, double inertia, double s) {
      EXPECT_EQ(k, o.k_min + calls++);
      EXPECT_TRUE(std::isfinite(inertia) && s >= -1.0 && s <= 1.0);
    };
    const KScanResult r = scan_k(*be_, x.view(), o);
    EXPECT_EQ(calls, 7);
    if (metric == Metric::L2) {
      EXPECT_EQ(r.best_k, 4);
      EXPECT_GT(test::adjusted_rand_index(r.best.labels, truth), 0.99);
    }
    const auto best = std::max_element(r.silhouette.begin(), r.silhouette.end());
    EXPECT_EQ(r.best_k, r.k[best - r.silhouette.begin()]);  // the first maximum
    // The same seed draws the same sample and the same clusterings.
    o.on_k = nullptr;
    EXPECT_EQ(scan_k(*be_, x.view(), o).silhouette, r.silhouette);
  }
}

TEST_F(KScan, TiesGoToTheSmallerK) {
  // Four identical rows: every clustering scores 0.
  const Matrix x = from_rows({{1, 1}, {1, 1}, {1, 1}, {1, 1}});
  KScanOptions o;
  o.k_min = 2;
  o.k_max = 4;
  const KScanResult r = scan_k(*be_, x.view(), o);
  EXPECT_EQ(r.silhouette, (std::vector<double>{0.0, 0.0, 0.0}));
  EXPECT_EQ(r.best_k, 2);
}

TEST_F(KScan, RejectsBadRanges) {
  const Matrix x = test::random_matrix(10, 3, 1);
  auto scan = [&](int k_min, int k_max, int sample = 100) {
    KScanOptions o;
    o.k_min = k_min;
    o.k_max = k_max;
    o.sample = sample;
    return scan_k(*be_, x.view(), o);
  };
  EXPECT_THROW(scan(1, 5), UsageError);
  EXPECT_THROW(scan(0, 5), UsageError);
  EXPECT_THROW(scan(5, 4), UsageError);
  EXPECT_THROW(scan(2, 5, 1), UsageError);
  EXPECT_THROW(scan(2, 11), InputError);
  try {
    scan(2, 11);
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("11 with only 10 rows"), std::string::npos) << e.what();
  }
  EXPECT_EQ(scan(10, 10).best_k, 10);  // every row its own cluster
}

}  // namespace
}  // namespace emb
