// KdTree against brute-force scans that compute distances the same way (double sums
// in column order, rounded to float), so results must match exactly, ties included.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <utility>
#include <vector>

#include "host/cluster/kd_tree.hpp"
#include "tests/test_util.hpp"

namespace emb {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

float dist2(const float* a, const float* b, int64_t d) {
  double s = 0.0;
  for (int64_t j = 0; j < d; ++j) {
    const double diff = static_cast<double>(a[j]) - b[j];
    s += diff * diff;
  }
  return static_cast<float>(s);
}

// The k nearest rows of x to q: by distance, then by row.
std::vector<std::pair<float, int32_t>> brute_knn(ConstMatrixView x, const float* q, int k) {
  std::vector<std::pair<float, int32_t>> all(static_cast<size_t>(x.rows));
  for (int64_t i = 0; i < x.rows; ++i) all[i] = {dist2(x.row(i), q, x.cols), static_cast<int32_t>(i)};
  std::partial_sort(all.begin(), all.begin() + k, all.end());
  all.resize(static_cast<size_t>(k));
  return all;
}

std::pair<int32_t, float> brute_other(ConstMatrixView x, int64_t row, const float* core2, const int32_t* comp,
                                      float bound2) {
  int32_t best = -1;
  float best_w = bound2;
  for (int64_t j = 0; j < x.rows; ++j) {
    if (comp[j] == comp[row]) continue;
    const float w = std::max({core2[row], core2[j], dist2(x.row(row), x.row(j), x.cols)});
    if (w < best_w) best_w = w, best = static_cast<int32_t>(j);  // ascending j: ties keep the lower
  }
  return best < 0 ? std::pair{-1, kInf} : std::pair{best, best_w};
}

void expect_knn(const KdTree& tree, ConstMatrixView x, const float* q, int k) {
  std::vector<int32_t> idx(k + 1, -7);
  std::vector<float> d2(k + 1, -1.0f);
  tree.knn(q, k, idx.data(), d2.data());
  EXPECT_EQ(idx[k], -7) << "write past idx";
  EXPECT_EQ(d2[k], -1.0f) << "write past dist2";
  const auto want = brute_knn(x, q, k);
  for (int t = 0; t < k; ++t) {
    ASSERT_EQ(idx[t], want[t].second) << "k=" << k << " t=" << t;
    ASSERT_EQ(d2[t], want[t].first) << "k=" << k << " t=" << t;
  }
}

// Some rows of x as queries, and some points near (not on) the data.
std::vector<std::vector<float>> queries_for(ConstMatrixView x, int rows, int off, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int64_t> pick(0, x.rows - 1);
  std::uniform_real_distribution<float> u(-1.5f, 1.5f);
  std::vector<std::vector<float>> qs;
  for (int i = 0; i < rows; ++i) {
    const float* r = x.row(pick(rng));
    qs.emplace_back(r, r + x.cols);
  }
  for (int i = 0; i < off; ++i) {
    std::vector<float> q(static_cast<size_t>(x.cols));
    for (float& v : q) v = u(rng);
    qs.push_back(std::move(q));
  }
  return qs;
}

TEST(KdTree, KnnMatchesBruteForce) {
  for (const int64_t d : {2, 3, 10, 16}) {
    for (const int64_t n : {1, 2, 17, 331, 5000}) {
      const Matrix x = test::random_matrix(n, d, 100 * d + n);
      const KdTree tree(x.view());
      ASSERT_EQ(tree.rows(), n);
      for (const int k : {1, 2, 5, 16, 100, static_cast<int>(n)}) {
        if (k > n) continue;
        SCOPED_TRACE(testing::Message() << "n=" << n << " d=" << d << " k=" << k);
        for (const auto& q : queries_for(x.view(), 40, 10, n + k)) expect_knn(tree, x.view(), q.data(), k);
      }
    }
  }
}

TEST(KdTree, KnnEveryKAndLeafSize) {
  const Matrix x = test::random_matrix(61, 3, 7);
  for (const int leaf : {1, 2, 16, 100}) {
    const KdTree tree(x.view(), leaf);
    for (int k = 1; k <= x.rows(); ++k) {
      SCOPED_TRACE(testing::Message() << "leaf=" << leaf << " k=" << k);
      for (int64_t i = 0; i < x.rows(); i += 5) expect_knn(tree, x.view(), x.row(i), k);
    }
  }
}

TEST(KdTree, KnnSelfQueriesFindThemselvesFirst) {
  const Matrix x = test::random_matrix(997, 10, 3);
  const KdTree tree(x.view(), 8);
  for (int64_t i = 0; i < x.rows(); ++i) {
    int32_t idx[4];
    float d2[4];
    tree.knn(x.row(i), 4, idx, d2);
    ASSERT_EQ(idx[0], i);
    ASSERT_EQ(d2[0], 0.0f);
    expect_knn(tree, x.view(), x.row(i), 4);
  }
}

TEST(KdTree, KnnDuplicatesAndTiesTakeLowerRows) {
  // Few distinct points, so nearly every distance is tied with many others.
  for (const int64_t d : {2, 3, 10}) {
    const Matrix x = test::integer_matrix(1500, d, 11 + d, -2, 2);
    const KdTree tree(x.view(), 16);
    for (const int k : {1, 7, 16, 200, 1500}) {
      SCOPED_TRACE(testing::Message() << "d=" << d << " k=" << k);
      for (const auto& q : queries_for(x.view(), 15, 5, k)) expect_knn(tree, x.view(), q.data(), k);
    }
  }
  // Every point the same.
  const Matrix same(300, 4, 0.25f);
  const KdTree tree(same.view(), 4);
  for (const int k : {1, 17, 300}) expect_knn(tree, same.view(), same.row(123), k);
}

// Components: 2 or 7 labels at random, clusters of neighbours, or every point alone.
std::vector<int32_t> components_for(int64_t n, int kind, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int32_t> c(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const int64_t v = kind == 0 ? rng() % 2 : kind == 1 ? rng() % 7 : kind == 2 ? i / 50 : i;
    c[i] = static_cast<int32_t>(v);
  }
  return c;
}

void expect_other(KdTree& tree, ConstMatrixView x, const std::vector<float>& core2, const std::vector<int32_t>& comp,
                  float bound2) {
  tree.set_core(core2.data());
  tree.set_components(comp.data());
  for (int64_t i = 0; i < x.rows; ++i) {
    const auto got = tree.nearest_other_component(i, core2.data(), comp.data(), bound2);
    const auto want = brute_other(x, i, core2.data(), comp.data(), bound2);
    ASSERT_EQ(got.first, want.first) << "row " << i << " bound2 " << bound2;
    ASSERT_EQ(got.second, want.second) << "row " << i << " bound2 " << bound2;
  }
}

TEST(KdTree, NearestOtherComponentMatchesBruteForce) {
  for (const int64_t d : {2, 3, 10, 16}) {
    for (const int64_t n : {2, 3, 97, 1200}) {
      const Matrix x = test::random_matrix(n, d, 7 * d + n);
      KdTree tree(x.view(), 8);
      // Core distances as HDBSCAN makes them (the 5th neighbour), and at random.
      std::vector<float> knn_core(static_cast<size_t>(n)), random_core(static_cast<size_t>(n));
      const int k = static_cast<int>(std::min<int64_t>(5, n));
      std::vector<int32_t> idx(k);
      std::vector<float> d2(k);
      std::mt19937_64 rng(n + d);
      std::uniform_real_distribution<float> u(0.0f, 0.5f);
      for (int64_t i = 0; i < n; ++i) {
        tree.knn(x.row(i), k, idx.data(), d2.data());
        knn_core[i] = d2[k - 1];
        random_core[i] = u(rng);
      }
      // The same tree serves round after round with new labels.
      for (int kind = 0; kind < 4; ++kind) {
        const auto comp = components_for(n, kind, 31 * n + kind);
        for (const auto* core : {&knn_core, &random_core}) {
          SCOPED_TRACE(testing::Message() << "n=" << n << " d=" << d << " kind=" << kind);
          expect_other(tree, x.view(), *core, comp, kInf);
          // A bound that leaves some rows without an answer.
          std::vector<float> sorted = *core;
          std::sort(sorted.begin(), sorted.end());
          expect_other(tree, x.view(), *core, comp, sorted[sorted.size() / 2] * 1.5f);
        }
      }
    }
  }
}

TEST(KdTree, NearestOtherComponentTiesTakeLowerRows) {
  // Integer points and integer core distances: w ties everywhere.
  for (const int64_t d : {2, 3, 10}) {
    const Matrix x = test::integer_matrix(800, d, 5 + d, -2, 2);
    const Matrix core = test::integer_matrix(800, 1, 9 + d, 0, 4);
    std::vector<float> core2(core.storage());
    for (float& v : core2) v = v * v;
    KdTree tree(x.view(), 16);
    for (int kind = 0; kind < 4; ++kind) {
      SCOPED_TRACE(testing::Message() << "d=" << d << " kind=" << kind);
      const auto comp = components_for(x.rows(), kind, kind);
      expect_other(tree, x.view(), core2, comp, kInf);
      expect_other(tree, x.view(), core2, comp, 4.0f);  // w == 4 exactly is out, w < 4 in
      expect_other(tree, x.view(), core2, comp, 0.0f);  // nothing is below 0
    }
  }
}

TEST(KdTree, NearestOtherComponentOneComponentFindsNothing) {
  const Matrix x = test::random_matrix(300, 3, 1);
  KdTree tree(x.view());
  const std::vector<int32_t> comp(300, 4);
  const std::vector<float> core2(300, 0.01f);
  tree.set_core(core2.data());
  tree.set_components(comp.data());
  for (int64_t i = 0; i < x.rows(); ++i) {
    const auto got = tree.nearest_other_component(i, core2.data(), comp.data(), kInf);
    EXPECT_EQ(got.first, -1);
    EXPECT_EQ(got.second, kInf);
  }
}

TEST(KdTree, ParallelQueriesMatchSerial) {
  const Matrix x = test::random_matrix(4000, 10, 2);
  const KdTree tree(x.view());
  const int k = 16;
  std::vector<int32_t> serial(x.rows() * k), parallel(x.rows() * k);
  std::vector<float> d_serial(x.rows() * k), d_parallel(x.rows() * k);
  for (int64_t i = 0; i < x.rows(); ++i) tree.knn(x.row(i), k, serial.data() + i * k, d_serial.data() + i * k);
#pragma omp parallel for schedule(dynamic, 64)
  for (int64_t i = 0; i < x.rows(); ++i) tree.knn(x.row(i), k, parallel.data() + i * k, d_parallel.data() + i * k);
  EXPECT_EQ(serial, parallel);
  EXPECT_EQ(d_serial, d_parallel);
}

}  // namespace
}  // namespace emb
