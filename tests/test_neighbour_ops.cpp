// The CPU backend's neighbour ops (k_nearest, k_nearest_among, k_nearest_within,
// nearest_other_component) against plain double-precision brute force: exact on
// small integers (where float GEMMs are exact, so ties are real ties and the
// lowest index must win), within rounding on random floats; guard values after
// every output, and the same result for any thread count.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <set>
#include <vector>

#include "host/backend/backend.hpp"
#include "tests/test_util.hpp"

namespace emb {
namespace {

constexpr float kPoison = std::numeric_limits<float>::quiet_NaN();
constexpr int32_t kGuardIndex = -12345;
constexpr int kGuard = 4;  // guard values after every output

using test::dist2_exact;
using test::norm2_exact;

// Rounding allowance for a float distance between rows a and b (GEMM form).
double tolerance(const float* a, const float* b, int64_t d) {
  return 2e-5 * (norm2_exact(a, d) + norm2_exact(b, d)) + 1e-6;
}

struct Knn {
  std::vector<int32_t> idx;
  std::vector<float> dist2;
};

Knn run_k_nearest(Backend& be, ConstMatrixView q, ConstMatrixView x, int k) {
  const size_t size = static_cast<size_t>(q.rows * k);
  Knn o{std::vector<int32_t>(size + kGuard, kGuardIndex), std::vector<float>(size + kGuard, kPoison)};
  std::fill_n(o.idx.begin(), size, -7);
  be.k_nearest(q, x, k, o.idx.data(), o.dist2.data());
  for (int g = 0; g < kGuard; ++g) {
    EXPECT_EQ(o.idx[size + g], kGuardIndex) << "write past idx";
    EXPECT_TRUE(std::isnan(o.dist2[size + g])) << "write past dist2";
  }
  o.idx.resize(size);
  o.dist2.resize(size);
  return o;
}

// Every exact squared distance between rows of q and rows of x, computed once.
class Exact {
 public:
  Exact(ConstMatrixView q, ConstMatrixView x) : nx_(x.rows), d_(static_cast<size_t>(q.rows * x.rows)) {
    for (int64_t i = 0; i < q.rows; ++i)
      for (int64_t j = 0; j < x.rows; ++j) d_[i * nx_ + j] = dist2_exact(q.row(i), x.row(j), x.cols);
  }
  double operator()(int64_t i, int64_t j) const { return d_[i * nx_ + j]; }
  /// The k nearest rows of x to q_i, by (exact distance, index).
  std::vector<std::pair<double, int32_t>> nearest(int64_t i, int k) const {
    std::vector<std::pair<double, int32_t>> r(static_cast<size_t>(nx_));
    for (int64_t j = 0; j < nx_; ++j) r[j] = {d_[i * nx_ + j], static_cast<int32_t>(j)};
    std::partial_sort(r.begin(), r.begin() + k, r.end());
    r.resize(static_cast<size_t>(k));
    return r;
  }

 private:
  int64_t nx_;
  std::vector<double> d_;
};

// Exact check: on integer data every distance is exact, so the lists must be the
// reference's, index for index.
void expect_exact_knn(const Knn& got, const Exact& exact, int64_t nq, int k) {
  for (int64_t i = 0; i < nq; ++i) {
    const auto want = exact.nearest(i, k);
    for (int t = 0; t < k; ++t) {
      ASSERT_EQ(got.idx[i * k + t], want[t].second) << "row " << i << " rank " << t << " k " << k;
      ASSERT_EQ(got.dist2[i * k + t], static_cast<float>(want[t].first)) << "row " << i << " rank " << t;
    }
  }
}

// Rounding check: distances near the reference's, ranks in order, no index twice,
// and every index returned no farther than the reference's k-th (within rounding).
void expect_close_knn(const Knn& got, const Exact& exact, ConstMatrixView q, ConstMatrixView x, int k) {
  for (int64_t i = 0; i < q.rows; ++i) {
    const auto want = exact.nearest(i, k);
    std::set<int32_t> seen;
    for (int t = 0; t < k; ++t) {
      const int32_t j = got.idx[i * k + t];
      const float dj = got.dist2[i * k + t];
      ASSERT_GE(j, 0) << "row " << i << " rank " << t;
      ASSERT_LT(j, x.rows) << "row " << i << " rank " << t;
      ASSERT_TRUE(seen.insert(j).second) << "row " << i << " has " << j << " twice";
      ASSERT_FALSE(std::isnan(dj));
      ASSERT_GE(dj, 0.0f);
      const double tol = tolerance(q.row(i), x.row(j), x.cols);
      ASSERT_NEAR(dj, want[t].first, tol) << "row " << i << " rank " << t;
      ASSERT_NEAR(dj, exact(i, j), tol) << "row " << i << " rank " << t;
      ASSERT_LE(exact(i, j), want[k - 1].first + tol) << "row " << i << " rank " << t;
      if (t > 0) {
        const float prev = got.dist2[i * k + t - 1];
        ASSERT_TRUE(prev < dj || (prev == dj && got.idx[i * k + t - 1] < j)) << "row " << i << " rank " << t;
      }
    }
  }
}

// Rows of x repeated: several exact duplicates, the hardest ties.
Matrix with_duplicates(Matrix x, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int64_t> pick(0, x.rows() - 1);
  for (int64_t t = 0; t < x.rows() / 4; ++t) {
    const int64_t a = pick(rng), b = pick(rng);
    std::copy_n(x.row(a), x.cols(), x.row(b));
  }
  return x;
}

TEST(NeighbourOps, CpuSupportsBoth) {
  auto be = make_cpu_backend(1);
  EXPECT_TRUE(be->supports(Op::KNearest));
  EXPECT_TRUE(be->supports(Op::NearestOtherComponent));
}

// Sizes around the CPU's 256-row blocks and 1024-row tiles.
class NeighbourKNearest : public ::testing::TestWithParam<std::pair<int64_t, int64_t>> {};

TEST_P(NeighbourKNearest, ExactOnIntegersWithDuplicates) {
  const auto [n, d] = GetParam();
  // Values in {-1, 0, 1}: many rows at equal distances, and many duplicates.
  const Matrix x = with_duplicates(test::integer_matrix(n, d, 31 + n + d, -1, 1), 7 + n);
  const Exact exact(x.view(), x.view());
  auto be = make_cpu_backend(2);
  for (int k : {1, 5, 32, 33, 100, static_cast<int>(n)}) {  // the sorted buffer, the heap, all of x
    if (k > n || (k == n && n > 300)) continue;  // all of a large x: AllOfXIsAFullSort
    expect_exact_knn(run_k_nearest(*be, x.view(), x.view(), k), exact, n, k);
  }
}

TEST_P(NeighbourKNearest, WithinRoundingOnFloats) {
  const auto [n, d] = GetParam();
  const Matrix x = with_duplicates(test::random_matrix(n, d, 41 + n + d), 9 + n);
  const Matrix q = test::random_matrix(std::max<int64_t>(1, n / 3 + 1), d, 43 + n + d);  // q != x
  const Exact qx(q.view(), x.view()), xx(x.view(), x.view());
  auto be = make_cpu_backend(2);
  for (int k : {1, 16, 40}) {
    if (k > n) continue;
    expect_close_knn(run_k_nearest(*be, q.view(), x.view(), k), qx, q.view(), x.view(), k);
    expect_close_knn(run_k_nearest(*be, x.view(), x.view(), k), xx, x.view(), x.view(), k);
  }
}

INSTANTIATE_TEST_SUITE_P(OddSizes, NeighbourKNearest,
                         ::testing::Values(std::pair<int64_t, int64_t>{1, 1}, std::pair<int64_t, int64_t>{2, 3},
                                           std::pair<int64_t, int64_t>{37, 5}, std::pair<int64_t, int64_t>{257, 17},
                                           std::pair<int64_t, int64_t>{1031, 3},
                                           std::pair<int64_t, int64_t>{2053, 33}));

TEST(NeighbourOps, KNearestAllOfXIsAFullSort) {
  const Matrix x = test::random_matrix(301, 7, 5);
  const Matrix q = test::random_matrix(13, 7, 6);
  const int k = static_cast<int>(x.rows());
  expect_close_knn(run_k_nearest(*make_cpu_backend(2), q.view(), x.view(), k), Exact(q.view(), x.view()), q.view(),
                   x.view(), k);
}

TEST(NeighbourOps, KNearestSameForAnyThreadCount) {
  // Many query blocks, then a few query rows (x split into ranges of tiles).
  const Matrix x = test::random_matrix(3001, 19, 51);
  for (int64_t nq : {int64_t{700}, int64_t{5}}) {
    const Matrix q = test::random_matrix(nq, 19, 52 + nq);
    for (int k : {3, 50}) {
      const Knn one = run_k_nearest(*make_cpu_backend(1), q.view(), x.view(), k);
      for (int threads : {2, 3}) {
        const Knn other = run_k_nearest(*make_cpu_backend(threads), q.view(), x.view(), k);
        EXPECT_EQ(other.idx, one.idx) << threads << " threads, " << nq << " rows, k " << k;
        EXPECT_EQ(other.dist2, one.dist2) << threads << " threads, " << nq << " rows, k " << k;
      }
    }
  }
}

// ---- nearest_other_component ----------------------------------------------

struct Boruvka {
  std::vector<int32_t> nearest;
  std::vector<float> weight2;
};

// cand: the candidate rows searched (null: all rows).
Boruvka run_other(Backend& be, ConstMatrixView x, const std::vector<int32_t>& rows, const std::vector<float>& core2,
                  const std::vector<int32_t>& component, const std::vector<int32_t>* cand = nullptr) {
  const size_t n = rows.size();
  Boruvka o{std::vector<int32_t>(n + kGuard, kGuardIndex), std::vector<float>(n + kGuard, kPoison)};
  std::fill_n(o.nearest.begin(), n, -7);
  be.nearest_other_component(x, rows.data(), static_cast<int64_t>(n), core2.data(), component.data(),
                             cand ? cand->data() : nullptr, cand ? static_cast<int64_t>(cand->size()) : 0,
                             o.nearest.data(), o.weight2.data());
  for (int g = 0; g < kGuard; ++g) {
    EXPECT_EQ(o.nearest[n + g], kGuardIndex) << "write past nearest";
    EXPECT_TRUE(std::isnan(o.weight2[n + g])) << "write past weight2";
  }
  o.nearest.resize(n);
  o.weight2.resize(n);
  return o;
}

double reach_exact(const Exact& exact, const std::vector<float>& core2, int32_t r, int32_t j) {
  return std::max({static_cast<double>(core2[r]), static_cast<double>(core2[j]), exact(r, j)});
}

// The reference: lowest (w, j) over rows of another component; (-1, +inf) when none.
std::pair<int32_t, double> other_exact(const Exact& exact, const std::vector<float>& core2,
                                       const std::vector<int32_t>& component, int32_t r) {
  std::pair<int32_t, double> best{-1, INFINITY};
  for (int32_t j = 0; j < static_cast<int32_t>(component.size()); ++j) {
    if (component[j] == component[r]) continue;
    const double w = reach_exact(exact, core2, r, j);
    if (w < best.second) best = {j, w};
  }
  return best;
}

// Core distances as HDBSCAN makes them: the squared distance to the m-th nearest
// row (the row itself counted as the 0th).
std::vector<float> core_distances(const Exact& exact, int64_t n, int m) {
  std::vector<float> core2(static_cast<size_t>(n));
  const int kth = static_cast<int>(std::min<int64_t>(m, n - 1));
  for (int64_t i = 0; i < n; ++i) core2[i] = static_cast<float>(exact.nearest(i, kth + 1)[kth].first);
  return core2;
}

// Rows in a shuffled order, some twice, some left out.
std::vector<int32_t> some_rows(int64_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int32_t> rows(static_cast<size_t>(n));
  std::iota(rows.begin(), rows.end(), 0);
  std::shuffle(rows.begin(), rows.end(), rng);
  rows.resize(static_cast<size_t>(n - n / 5));
  if (n > 3) rows.push_back(rows[1]);
  return rows;
}

// Components: random labels from `count`, or contiguous runs (whole tiles in one component).
std::vector<int32_t> components(int64_t n, int count, bool runs, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int32_t> u(0, count - 1);
  std::vector<int32_t> c(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) c[i] = runs ? static_cast<int32_t>(i * count / n) : u(rng) * 3 + 1;
  return c;
}

class NeighbourOtherComponent : public ::testing::TestWithParam<std::pair<int64_t, int64_t>> {};

TEST_P(NeighbourOtherComponent, ExactOnIntegersLowestIndexOnTies) {
  const auto [n, d] = GetParam();
  const Matrix x = with_duplicates(test::integer_matrix(n, d, 61 + n + d, -2, 2), 11 + n);
  const Exact exact(x.view(), x.view());
  auto be = make_cpu_backend(2);
  for (int m : {1, 4}) {
    const std::vector<float> core2 = core_distances(exact, n, m);  // integers too: ties everywhere
    for (int count : {2, 5, static_cast<int>(n)}) {
      for (bool runs : {false, true}) {
        const std::vector<int32_t> comp = components(n, count, runs, 13 + count);
        const std::vector<int32_t> rows = some_rows(n, 17 + count);
        const Boruvka got = run_other(*be, x.view(), rows, core2, comp);
        for (size_t t = 0; t < rows.size(); ++t) {
          const auto [want, want_w] = other_exact(exact, core2, comp, rows[t]);
          ASSERT_EQ(got.nearest[t], want) << "row " << rows[t] << " components " << count << " runs " << runs;
          ASSERT_EQ(got.weight2[t], static_cast<float>(want_w)) << "row " << rows[t];
        }
      }
    }
  }
}

TEST_P(NeighbourOtherComponent, WithinRoundingOnFloats) {
  const auto [n, d] = GetParam();
  const Matrix x = with_duplicates(test::random_matrix(n, d, 71 + n + d), 19 + n);
  const Exact exact(x.view(), x.view());
  const std::vector<float> core2 = core_distances(exact, n, 3);
  auto be = make_cpu_backend(2);
  for (int count : {2, 7}) {
    const std::vector<int32_t> comp = components(n, count, false, 23 + count);
    const std::vector<int32_t> rows = some_rows(n, 29 + count);
    const Boruvka got = run_other(*be, x.view(), rows, core2, comp);
    for (size_t t = 0; t < rows.size(); ++t) {
      const int32_t r = rows[t];
      const auto [want, want_w] = other_exact(exact, core2, comp, r);
      if (want < 0) {
        ASSERT_EQ(got.nearest[t], -1) << "row " << r;
        continue;
      }
      const int32_t j = got.nearest[t];
      ASSERT_GE(j, 0) << "row " << r;
      ASSERT_LT(j, n) << "row " << r;
      ASSERT_NE(comp[j], comp[r]) << "row " << r;
      const double tol = tolerance(x.row(r), x.row(j), d);
      ASSERT_NEAR(got.weight2[t], want_w, tol) << "row " << r;
      ASSERT_NEAR(got.weight2[t], reach_exact(exact, core2, r, j), tol) << "row " << r;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(OddSizes, NeighbourOtherComponent,
                         ::testing::Values(std::pair<int64_t, int64_t>{2, 1}, std::pair<int64_t, int64_t>{3, 4},
                                           std::pair<int64_t, int64_t>{97, 7}, std::pair<int64_t, int64_t>{300, 2},
                                           std::pair<int64_t, int64_t>{1500, 5},
                                           std::pair<int64_t, int64_t>{2111, 31}));

// Every other row of a shuffled order, sorted: a candidate subset with gaps.
std::vector<int32_t> some_candidates(int64_t n, uint64_t seed) {
  std::vector<int32_t> c = some_rows(n, seed);
  c.resize((c.size() + 1) / 2);
  std::sort(c.begin(), c.end());
  c.erase(std::unique(c.begin(), c.end()), c.end());
  return c;
}

TEST_P(NeighbourOtherComponent, CandidatesExactOnIntegersLowestRowOnTies) {
  const auto [n, d] = GetParam();
  const Matrix x = with_duplicates(test::integer_matrix(n, d, 91 + n + d, -2, 2), 13 + n);
  const Exact exact(x.view(), x.view());
  const std::vector<float> core2 = core_distances(exact, n, 2);
  auto be = make_cpu_backend(2);
  for (int count : {2, 5}) {
    const std::vector<int32_t> comp = components(n, count, false, 31 + count);
    const std::vector<int32_t> rows = some_rows(n, 37 + count);
    const std::vector<int32_t> cand = some_candidates(n, 41 + count);
    const Boruvka got = run_other(*be, x.view(), rows, core2, comp, &cand);
    for (size_t t = 0; t < rows.size(); ++t) {
      const int32_t r = rows[t];
      std::pair<int32_t, double> want{-1, INFINITY};  // lowest (w, j) over the candidates only
      for (int32_t j : cand)
        if (comp[j] != comp[r] && reach_exact(exact, core2, r, j) < want.second) want = {j, reach_exact(exact, core2, r, j)};
      ASSERT_EQ(got.nearest[t], want.first) << "row " << r << " components " << count;
      ASSERT_EQ(got.weight2[t], static_cast<float>(want.second)) << "row " << r;
    }
  }
}

TEST_P(NeighbourOtherComponent, KNearestAmongCandidatesExactOnIntegers) {
  const auto [n, d] = GetParam();
  const Matrix x = with_duplicates(test::integer_matrix(n, d, 97 + n + d, -2, 2), 17 + n);
  const Exact exact(x.view(), x.view());
  const std::vector<int32_t> rows = some_rows(n, 43);
  const std::vector<int32_t> cand = some_candidates(n, 47);
  const int k = static_cast<int>(std::min<size_t>(5, cand.size()));
  std::vector<int32_t> idx(rows.size() * k, -7);
  std::vector<float> dist2(rows.size() * k, kPoison);
  make_cpu_backend(2)->k_nearest_among(x.view(), rows.data(), static_cast<int64_t>(rows.size()), cand.data(),
                                       static_cast<int64_t>(cand.size()), k, idx.data(), dist2.data(), nullptr);
  std::vector<float> bound(rows.size());
  for (size_t t = 0; t < rows.size(); ++t) {
    std::vector<std::pair<double, int32_t>> want;
    for (int32_t j : cand) want.push_back({exact(rows[t], j), j});
    std::sort(want.begin(), want.end());
    for (int r = 0; r < k; ++r) {
      ASSERT_EQ(idx[t * k + r], want[r].second) << "row " << rows[t] << " rank " << r;
      ASSERT_EQ(dist2[t * k + r], static_cast<float>(want[r].first)) << "row " << rows[t] << " rank " << r;
    }
    bound[t] = static_cast<float>(want[k / 2].first);
  }
  // With bounds: the same lists, cut before the first distance not below the bound.
  std::vector<int32_t> bidx(idx.size(), -7);
  std::vector<float> bd2(idx.size());
  make_cpu_backend(2)->k_nearest_among(x.view(), rows.data(), static_cast<int64_t>(rows.size()), cand.data(),
                                       static_cast<int64_t>(cand.size()), k, bidx.data(), bd2.data(), bound.data());
  for (size_t t = 0; t < rows.size(); ++t)
    for (int r = 0; r < k; ++r) {
      if (dist2[t * k + r] < bound[t]) {
        ASSERT_EQ(bidx[t * k + r], idx[t * k + r]) << "row " << rows[t] << " rank " << r;
        ASSERT_EQ(bd2[t * k + r], dist2[t * k + r]) << "row " << rows[t] << " rank " << r;
      } else {
        ASSERT_EQ(bidx[t * k + r], -1) << "row " << rows[t] << " rank " << r << ": not below the bound";
      }
    }
}

// The rows as their own candidates, each pair computed once for both its rows:
// the lists of the brute force over those rows (the lowest row on ties), for any
// thread count, nothing written past the outputs; with bounds, the same lists
// cut after the bound.
TEST_P(NeighbourOtherComponent, KNearestWithinExactOnIntegersAnyThreads) {
  const auto [n, d] = GetParam();
  const Matrix x = with_duplicates(test::integer_matrix(n, d, 101 + n + d, -2, 2), 19 + n);
  const Exact exact(x.view(), x.view());
  const std::vector<int32_t> rows = some_candidates(n, 53);
  const int64_t m = static_cast<int64_t>(rows.size());
  const int k = static_cast<int>(std::min<int64_t>(6, m));
  const size_t size = static_cast<size_t>(m * k);
  std::vector<std::vector<std::pair<double, int32_t>>> want(rows.size());
  std::vector<float> bound(rows.size());
  for (int64_t t = 0; t < m; ++t) {
    for (int32_t j : rows) want[t].push_back({exact(rows[t], j), j});
    std::sort(want[t].begin(), want[t].end());
    bound[t] = static_cast<float>(want[t][k / 2].first);
  }
  for (int threads : {1, 2, 3})
    for (bool bounded : {false, true}) {
      SCOPED_TRACE(::testing::Message() << threads << " threads" << (bounded ? ", bounded" : ""));
      std::vector<int32_t> idx(size + kGuard, kGuardIndex);
      std::vector<float> dist2(size + kGuard, kPoison);
      make_cpu_backend(threads)->k_nearest_within(x.view(), rows.data(), m, k, idx.data(), dist2.data(),
                                                  bounded ? bound.data() : nullptr);
      for (int g = 0; g < kGuard; ++g) {
        ASSERT_EQ(idx[size + g], kGuardIndex) << "write past idx";
        ASSERT_TRUE(std::isnan(dist2[size + g])) << "write past dist2";
      }
      for (int64_t t = 0; t < m; ++t)
        for (int r = 0; r < k; ++r) {
          const auto& [w, j] = want[t][r];
          const int32_t got = idx[t * k + r];
          if (!bounded || w < bound[t]) {
            ASSERT_EQ(got, j) << "row " << rows[t] << " rank " << r;
            ASSERT_EQ(dist2[t * k + r], static_cast<float>(w)) << "row " << rows[t] << " rank " << r;
          } else {
            ASSERT_EQ(got, -1) << "row " << rows[t] << " rank " << r << ": not below the bound";
          }
        }
    }
}

TEST(NeighbourOps, OtherComponentNoneWhenAllShareOne) {
  const Matrix x = test::random_matrix(1100, 6, 81);
  const std::vector<float> core2(1100, 0.5f);
  const std::vector<int32_t> comp(1100, 4);
  const std::vector<int32_t> rows = some_rows(1100, 83);
  const Boruvka got = run_other(*make_cpu_backend(2), x.view(), rows, core2, comp);
  for (size_t t = 0; t < rows.size(); ++t) {
    EXPECT_EQ(got.nearest[t], -1) << t;
    EXPECT_EQ(got.weight2[t], INFINITY) << t;
  }
}

TEST(NeighbourOps, OtherComponentEmptyRowsWritesNothing) {
  const Matrix x = test::random_matrix(10, 3, 85);
  const std::vector<float> core2(10, 0.0f);
  const std::vector<int32_t> comp(10, 0);
  const Boruvka got = run_other(*make_cpu_backend(2), x.view(), {}, core2, comp);  // guards checked inside
  EXPECT_TRUE(got.nearest.empty());
}

TEST(NeighbourOps, OtherComponentSameForAnyThreadCount) {
  const Matrix x = test::random_matrix(3001, 23, 91);
  const std::vector<float> core2 = core_distances(Exact(x.view(), x.view()), 3001, 2);
  const std::vector<int32_t> comp = components(3001, 9, false, 93);
  for (int64_t nq : {int64_t{3001}, int64_t{7}}) {  // many blocks; one block, x split into ranges
    std::vector<int32_t> rows = some_rows(3001, 95);
    rows.resize(static_cast<size_t>(std::min<int64_t>(nq, static_cast<int64_t>(rows.size()))));
    const Boruvka one = run_other(*make_cpu_backend(1), x.view(), rows, core2, comp);
    for (int threads : {2, 3}) {
      const Boruvka other = run_other(*make_cpu_backend(threads), x.view(), rows, core2, comp);
      EXPECT_EQ(other.nearest, one.nearest) << threads << " threads, " << nq << " rows";
      EXPECT_EQ(other.weight2, one.weight2) << threads << " threads, " << nq << " rows";
    }
  }
}

}  // namespace
}  // namespace emb
