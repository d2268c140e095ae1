// The CUDA backend's neighbour ops (k_nearest, nearest_other_component) against the
// CPU reference on the same data at odd sizes: with x streamed in small tiles, held
// on the device, and queried against itself. On small integers every GEMM is exact
// on both devices, so results must agree index for index (ties to the lowest
// index); on random floats distances agree within fp32 rounding and an index may
// differ only where the two distances are a near-tie. Outputs start poisoned and are
// followed by guard values. Skips with a message where there is no CUDA device.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <numeric>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "host/backend/backend.hpp"
#include "host/core/matrix.hpp"
#include "tests/test_util.hpp"

#include "tests/gpu/cuda_test_util.hpp"

namespace emb {
namespace {

constexpr int64_t kGuard = 67;
constexpr float kGuardFloat = -12345.5f;
constexpr int32_t kGuardIndex = 0x5A5A5A5A;
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

struct Case {
  int64_t nq, nx, d;
  int k;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.nq << " queries, " << c.nx << " x " << c.d << ", k " << c.k; }

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  const Case& c = info.param;
  return "q" + std::to_string(c.nq) + "_x" + std::to_string(c.nx) + "_d" + std::to_string(c.d) + "_k" +
         std::to_string(c.k);
}

// The ways the backend can see x: its default limits, tiles of a few thousand
// floats (many query blocks and x tiles), and nothing held.
std::vector<test::CudaLimits> limit_sets() { return {{}, {4099, -1}, {0, 0}}; }

using test::dist2_exact;
using test::norm2_exact;

double tolerance(const float* a, const float* b, int64_t d) {
  return 1e-4 * (norm2_exact(a, d) + norm2_exact(b, d)) + 1e-6;
}

template <class T>
std::vector<T> poisoned(int64_t count, T poison, T guard) {
  std::vector<T> v(static_cast<size_t>(count + kGuard), poison);
  std::fill(v.begin() + count, v.end(), guard);
  return v;
}

template <class T>
void expect_guards(const std::vector<T>& v, int64_t count, T guard, const char* what) {
  for (int64_t g = 0; g < kGuard; ++g) ASSERT_EQ(v[count + g], guard) << "write past " << what;
}

struct Knn {
  std::vector<int32_t> idx;
  std::vector<float> dist2;
};

Knn run_k_nearest(Backend& be, ConstMatrixView q, ConstMatrixView x, int k) {
  const int64_t count = q.rows * k;
  Knn o{poisoned<int32_t>(count, -7, kGuardIndex), poisoned<float>(count, kNaN, kGuardFloat)};
  be.k_nearest(q, x, k, o.idx.data(), o.dist2.data());
  expect_guards(o.idx, count, kGuardIndex, "idx");
  expect_guards(o.dist2, count, kGuardFloat, "dist2");
  o.idx.resize(static_cast<size_t>(count));
  o.dist2.resize(static_cast<size_t>(count));
  return o;
}

// GPU lists against the CPU's: equal on exact data; else per rank the same distance
// within rounding, an index whose exact distance is that near too, none twice.
void expect_knn_agree(const Knn& gpu, const Knn& cpu, ConstMatrixView q, ConstMatrixView x, int k, bool exact) {
  for (int64_t i = 0; i < q.rows; ++i) {
    std::set<int32_t> seen;
    for (int t = 0; t < k; ++t) {
      const int64_t at = i * k + t;
      if (exact) {
        ASSERT_EQ(gpu.idx[at], cpu.idx[at]) << "row " << i << " rank " << t;
        ASSERT_EQ(gpu.dist2[at], cpu.dist2[at]) << "row " << i << " rank " << t;
        continue;
      }
      const int32_t j = gpu.idx[at];
      ASSERT_GE(j, 0) << "row " << i << " rank " << t;
      ASSERT_LT(j, x.rows) << "row " << i << " rank " << t;
      ASSERT_TRUE(seen.insert(j).second) << "row " << i << " has " << j << " twice";
      ASSERT_FALSE(std::isnan(gpu.dist2[at])) << "row " << i << " rank " << t;
      const double tol = tolerance(q.row(i), x.row(j), x.cols);
      ASSERT_NEAR(gpu.dist2[at], cpu.dist2[at], tol) << "row " << i << " rank " << t;
      if (j != cpu.idx[at])  // a near-tie: both rows must be about as near
        ASSERT_NEAR(dist2_exact(q.row(i), x.row(j), x.cols), cpu.dist2[at], tol) << "row " << i << " rank " << t;
    }
  }
}

class NeighbourKNearestGpu : public ::testing::TestWithParam<Case> {};

TEST_P(NeighbourKNearestGpu, MatchesCpuReference) {
  const Case c = GetParam();
  std::string reason;
  if (!test::cuda_backend_or_reason(&reason)) GTEST_SKIP() << "no CUDA device: " << reason;
  auto cpu = make_cpu_backend(2);
  const uint64_t seed = static_cast<uint64_t>(c.nq * 7919 + c.nx * 131 + c.d * 17 + c.k);
  for (bool exact : {true, false}) {
    const auto data = [&](int64_t rows, uint64_t s) {
      return exact ? test::integer_matrix(rows, c.d, s, -1, 1) : test::random_matrix(rows, c.d, s);
    };
    const Matrix x = data(c.nx, seed), q = data(c.nq, seed + 1);
    const Knn want_q = run_k_nearest(*cpu, q.view(), x.view(), c.k);
    const Knn want_x = run_k_nearest(*cpu, x.view(), x.view(), c.k);
    for (const test::CudaLimits& limits : limit_sets()) {
      SCOPED_TRACE(::testing::Message() << (exact ? "integers" : "floats") << ", block_floats " << limits.block_floats
                                        << ", max_held_floats " << limits.max_held_floats);
      auto gpu = test::cuda_backend_or_reason(&reason, limits);
      ASSERT_TRUE(gpu) << reason;
      ASSERT_TRUE(gpu->supports(Op::KNearest));
      expect_knn_agree(run_k_nearest(*gpu, q.view(), x.view(), c.k), want_q, q.view(), x.view(), c.k, exact);
      // x held (when the limits allow): queries and tiles come from the device copy.
      HeldMatrix held(*gpu, x.view());
      expect_knn_agree(run_k_nearest(*gpu, x.view(), x.view(), c.k), want_x, x.view(), x.view(), c.k, exact);
      expect_knn_agree(run_k_nearest(*gpu, q.view(), x.view(), c.k), want_q, q.view(), x.view(), c.k, exact);
    }
  }
}

// k from 1 to all of x: above about 2,400 the lists leave shared memory.
INSTANTIATE_TEST_SUITE_P(OddSizes, NeighbourKNearestGpu,
                         ::testing::Values(Case{1, 1, 1, 1}, Case{7, 300, 3, 5}, Case{257, 1031, 33, 16},
                                           Case{1000, 4099, 97, 64}, Case{129, 2000, 384, 128},
                                           Case{31, 3001, 5, 3001}, Case{2, 9000, 2, 300}),
                         case_name);

// ---- nearest_other_component ----------------------------------------------

struct Boruvka {
  std::vector<int32_t> nearest;
  std::vector<float> weight2;
};

// cand: the candidate rows searched (null: all rows).
Boruvka run_other(Backend& be, ConstMatrixView x, const std::vector<int32_t>& rows, const std::vector<float>& core2,
                  const std::vector<int32_t>& component, const std::vector<int32_t>* cand = nullptr) {
  const auto n = static_cast<int64_t>(rows.size());
  Boruvka o{poisoned<int32_t>(n, -7, kGuardIndex), poisoned<float>(n, kNaN, kGuardFloat)};
  be.nearest_other_component(x, rows.data(), n, core2.data(), component.data(), cand ? cand->data() : nullptr,
                             cand ? static_cast<int64_t>(cand->size()) : 0, o.nearest.data(), o.weight2.data());
  expect_guards(o.nearest, n, kGuardIndex, "nearest");
  expect_guards(o.weight2, n, kGuardFloat, "weight2");
  o.nearest.resize(static_cast<size_t>(n));
  o.weight2.resize(static_cast<size_t>(n));
  return o;
}

double reach_exact(ConstMatrixView x, const std::vector<float>& core2, int32_t r, int32_t j) {
  return std::max({static_cast<double>(core2[r]), static_cast<double>(core2[j]),
                   dist2_exact(x.row(r), x.row(j), x.cols)});
}

void expect_other_agree(const Boruvka& gpu, const Boruvka& cpu, ConstMatrixView x, const std::vector<int32_t>& rows,
                        const std::vector<float>& core2, const std::vector<int32_t>& component, bool exact) {
  for (size_t t = 0; t < rows.size(); ++t) {
    const int32_t r = rows[t];
    if (exact || cpu.nearest[t] < 0) {
      ASSERT_EQ(gpu.nearest[t], cpu.nearest[t]) << "row " << r;
      ASSERT_EQ(gpu.weight2[t], cpu.weight2[t]) << "row " << r;
      continue;
    }
    const int32_t j = gpu.nearest[t];
    ASSERT_GE(j, 0) << "row " << r;
    ASSERT_LT(j, x.rows) << "row " << r;
    ASSERT_NE(component[j], component[r]) << "row " << r;
    const double tol = tolerance(x.row(r), x.row(j), x.cols);
    ASSERT_NEAR(gpu.weight2[t], cpu.weight2[t], tol) << "row " << r;
    ASSERT_NEAR(reach_exact(x, core2, r, j), cpu.weight2[t], tol) << "row " << r;
  }
}

struct OtherCase {
  int64_t n, d;
  int components;
};

std::string other_name(const ::testing::TestParamInfo<OtherCase>& info) {
  return "n" + std::to_string(info.param.n) + "_d" + std::to_string(info.param.d) + "_c" +
         std::to_string(info.param.components);
}

class NeighbourOtherComponentGpu : public ::testing::TestWithParam<OtherCase> {};

// A component for each of the case's rows, drawn uniformly from c.components.
std::vector<int32_t> random_components(const OtherCase& c, std::mt19937_64& rng) {
  std::uniform_int_distribution<int32_t> pick(0, c.components - 1);
  std::vector<int32_t> component(static_cast<size_t>(c.n));
  for (auto& v : component) v = pick(rng);
  return component;
}

TEST_P(NeighbourOtherComponentGpu, MatchesCpuReference) {
  const OtherCase c = GetParam();
  std::string reason;
  if (!test::cuda_backend_or_reason(&reason)) GTEST_SKIP() << "no CUDA device: " << reason;
  auto cpu = make_cpu_backend(2);
  const uint64_t seed = static_cast<uint64_t>(c.n * 131 + c.d * 17 + c.components);
  std::mt19937_64 rng(seed);
  // Components at random; rows a shuffled subset with one repeated.
  const std::vector<int32_t> component = random_components(c, rng);
  std::vector<int32_t> rows(static_cast<size_t>(c.n));
  std::iota(rows.begin(), rows.end(), 0);
  std::shuffle(rows.begin(), rows.end(), rng);
  rows.resize(static_cast<size_t>(c.n - c.n / 4));
  rows.push_back(rows.front());
  for (bool exact : {true, false}) {
    const Matrix x = exact ? test::integer_matrix(c.n, c.d, seed, -2, 2) : test::random_matrix(c.n, c.d, seed);
    // Core distances from the CPU's k nearest (the 3rd, counting the row itself).
    const int k = static_cast<int>(std::min<int64_t>(3, c.n));
    const Knn knn = run_k_nearest(*cpu, x.view(), x.view(), k);
    std::vector<float> core2(static_cast<size_t>(c.n));
    for (int64_t i = 0; i < c.n; ++i) core2[i] = knn.dist2[i * k + k - 1];
    const Boruvka want = run_other(*cpu, x.view(), rows, core2, component);
    for (const test::CudaLimits& limits : limit_sets()) {
      SCOPED_TRACE(::testing::Message() << (exact ? "integers" : "floats") << ", block_floats " << limits.block_floats
                                        << ", max_held_floats " << limits.max_held_floats);
      auto gpu = test::cuda_backend_or_reason(&reason, limits);
      ASSERT_TRUE(gpu) << reason;
      ASSERT_TRUE(gpu->supports(Op::NearestOtherComponent));
      expect_other_agree(run_other(*gpu, x.view(), rows, core2, component), want, x.view(), rows, core2, component,
                         exact);
      HeldMatrix held(*gpu, x.view());  // rows gathered from the device copy
      expect_other_agree(run_other(*gpu, x.view(), rows, core2, component), want, x.view(), rows, core2, component,
                         exact);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(OddSizes, NeighbourOtherComponentGpu,
                         ::testing::Values(OtherCase{2, 1, 2}, OtherCase{97, 7, 3}, OtherCase{1031, 33, 2},
                                           OtherCase{4099, 97, 50}, OtherCase{2000, 384, 700}),
                         other_name);

// Candidate lists: every third row (gaps), and a contiguous run, searched from the
// device's held copy and from host memory (and as their own queries); the same
// answers as the CPU's.
TEST_P(NeighbourOtherComponentGpu, CandidatesMatchCpuReference) {
  const OtherCase c = GetParam();
  std::string reason;
  if (!test::cuda_backend_or_reason(&reason)) GTEST_SKIP() << "no CUDA device: " << reason;
  if (c.n < 4) GTEST_SKIP() << "too few rows for a candidate subset (n = " << c.n << ")";
  auto cpu = make_cpu_backend(2);
  const uint64_t seed = static_cast<uint64_t>(c.n * 137 + c.d * 19 + c.components);
  std::mt19937_64 rng(seed);
  const std::vector<int32_t> component = random_components(c, rng);
  std::vector<int32_t> rows(static_cast<size_t>(c.n / 2));
  std::iota(rows.begin(), rows.end(), static_cast<int32_t>(c.n / 3));
  std::shuffle(rows.begin(), rows.end(), rng);
  std::vector<int32_t> gaps, run;
  for (int32_t r = 1; r < c.n; r += 3) gaps.push_back(r);
  for (int32_t r = static_cast<int32_t>(c.n / 4); r < c.n; ++r) run.push_back(r);
  const Matrix x = test::integer_matrix(c.n, c.d, seed, -2, 2);
  const int k = static_cast<int>(std::min<int64_t>(3, c.n));
  const Knn knn = run_k_nearest(*cpu, x.view(), x.view(), k);
  std::vector<float> core2(static_cast<size_t>(c.n));
  for (int64_t i = 0; i < c.n; ++i) core2[i] = knn.dist2[i * k + k - 1];
  for (const std::vector<int32_t>* cand : {&gaps, &run}) {
    const Boruvka want = run_other(*cpu, x.view(), rows, core2, component, cand);
    const int kk = static_cast<int>(std::min<size_t>(4, cand->size()));
    std::vector<int32_t> want_idx(rows.size() * kk), got_idx(rows.size() * kk);
    std::vector<float> want_d(rows.size() * kk), got_d(rows.size() * kk);
    cpu->k_nearest_among(x.view(), rows.data(), static_cast<int64_t>(rows.size()), cand->data(),
                         static_cast<int64_t>(cand->size()), kk, want_idx.data(), want_d.data(), nullptr);
    for (const test::CudaLimits& limits : limit_sets()) {
      SCOPED_TRACE(::testing::Message() << (cand == &run ? "run" : "gaps") << ", block_floats " << limits.block_floats
                                        << ", max_held_floats " << limits.max_held_floats);
      auto gpu = test::cuda_backend_or_reason(&reason, limits);
      ASSERT_TRUE(gpu) << reason;
      for (bool hold : {false, true}) {
        std::unique_ptr<HeldMatrix> held;
        if (hold) held = std::make_unique<HeldMatrix>(*gpu, x.view());
        expect_other_agree(run_other(*gpu, x.view(), rows, core2, component, cand), want, x.view(), rows, core2,
                           component, true);
        std::fill(got_idx.begin(), got_idx.end(), -7);
        gpu->k_nearest_among(x.view(), rows.data(), static_cast<int64_t>(rows.size()), cand->data(),
                             static_cast<int64_t>(cand->size()), kk, got_idx.data(), got_d.data(), nullptr);
        ASSERT_EQ(got_idx, want_idx) << (hold ? "held" : "not held");
        ASSERT_EQ(got_d, want_d) << (hold ? "held" : "not held");
        {
          // With bounds (the middle distance of each list): the same entries below
          // the bound; at or above it an entry may be left out (-1): from the held
          // copy it is, and without one the rows go through k_nearest, which keeps it.
          std::vector<float> bound(rows.size());
          for (size_t t = 0; t < rows.size(); ++t) bound[t] = want_d[t * kk + kk / 2];
          const bool held_on_device =
              hold && (limits.max_held_floats < 0 || limits.max_held_floats >= x.view().size());
          gpu->k_nearest_among(x.view(), rows.data(), static_cast<int64_t>(rows.size()), cand->data(),
                               static_cast<int64_t>(cand->size()), kk, got_idx.data(), got_d.data(), bound.data());
          for (size_t t = 0; t < rows.size(); ++t)
            for (int r = 0; r < kk; ++r) {
              if (want_d[t * kk + r] < bound[t]) {
                ASSERT_EQ(got_idx[t * kk + r], want_idx[t * kk + r]) << "bounded, row " << rows[t] << " rank " << r;
                ASSERT_EQ(got_d[t * kk + r], want_d[t * kk + r]) << "bounded, row " << rows[t] << " rank " << r;
              } else if (held_on_device) {
                ASSERT_EQ(got_idx[t * kk + r], -1) << "bounded, row " << rows[t] << " rank " << r;
              } else if (got_idx[t * kk + r] != -1) {
                ASSERT_EQ(got_idx[t * kk + r], want_idx[t * kk + r]) << "bounded, row " << rows[t] << " rank " << r;
                ASSERT_EQ(got_d[t * kk + r], want_d[t * kk + r]) << "bounded, row " << rows[t] << " rank " << r;
              }
            }
        }
        {
          // The candidates as their own queries (k_nearest_within): the CPU's lists.
          const int64_t m = static_cast<int64_t>(cand->size());
          std::vector<int32_t> wi_cpu(static_cast<size_t>(m * kk)), wi_gpu(wi_cpu.size(), -7);
          std::vector<float> wd_cpu(wi_cpu.size()), wd_gpu(wi_cpu.size());
          cpu->k_nearest_within(x.view(), cand->data(), m, kk, wi_cpu.data(), wd_cpu.data(), nullptr);
          gpu->k_nearest_within(x.view(), cand->data(), m, kk, wi_gpu.data(), wd_gpu.data(), nullptr);
          ASSERT_EQ(wi_gpu, wi_cpu) << "within, " << (hold ? "held" : "not held");
          ASSERT_EQ(wd_gpu, wd_cpu) << "within, " << (hold ? "held" : "not held");
        }
      }
    }
  }
}

// Exact pair distances from the held copy: the CPU's double sums, up to the order
// of the additions (a few units of double rounding).
TEST(NeighbourOpsGpu, PairDistancesMatchCpuReference) {
  CUDA_BACKEND_OR_SKIP(gpu);
  auto cpu = make_cpu_backend(2);
  for (int64_t d : {1, 7, 384, 1000}) {
    SCOPED_TRACE("d " + std::to_string(d));
    const Matrix x = test::random_matrix(3001, d, static_cast<uint64_t>(d) + 5, -3.0f, 3.0f);
    std::mt19937_64 rng(static_cast<uint64_t>(d));
    std::uniform_int_distribution<int32_t> pick(0, 3000);
    std::vector<int32_t> a(20011), b(20011);
    for (size_t t = 0; t < a.size(); ++t) {
      a[t] = pick(rng);
      b[t] = t % 7 == 0 ? a[t] : pick(rng);  // some pairs of a row with itself: exactly 0
    }
    std::vector<double> want(a.size()), got(a.size(), -1.0), host(a.size(), -1.0);
    cpu->pair_distances(x.view(), a.data(), b.data(), static_cast<int64_t>(a.size()), want.data());
    gpu->pair_distances(x.view(), a.data(), b.data(), static_cast<int64_t>(a.size()), host.data());  // not held
    HeldMatrix held(*gpu, x.view());
    gpu->pair_distances(x.view(), a.data(), b.data(), static_cast<int64_t>(a.size()), got.data());
    for (size_t t = 0; t < a.size(); ++t) {
      ASSERT_EQ(host[t], want[t]) << "pair " << t;
      ASSERT_NEAR(got[t], want[t], 1e-13 * want[t]) << "pair " << t;
      if (a[t] == b[t]) ASSERT_EQ(got[t], 0.0) << "pair " << t;
    }
  }
}

TEST(NeighbourOpsGpu, NoneWhenAllShareOneAndEmptyRows) {
  CUDA_BACKEND_OR_SKIP(gpu);
  const Matrix x = test::random_matrix(301, 9, 5);
  const std::vector<float> core2(301, 0.25f);
  const std::vector<int32_t> component(301, 3);
  std::vector<int32_t> rows(301);
  std::iota(rows.begin(), rows.end(), 0);
  const Boruvka got = run_other(*gpu, x.view(), rows, core2, component);
  for (size_t t = 0; t < rows.size(); ++t) {
    ASSERT_EQ(got.nearest[t], -1) << t;
    ASSERT_EQ(got.weight2[t], INFINITY) << t;
  }
  const Boruvka none = run_other(*gpu, x.view(), {}, core2, component);  // guards checked inside
  EXPECT_TRUE(none.nearest.empty());
}

}  // namespace
}  // namespace emb
