#pragma once
// Helpers shared by the k-means driver tests.
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

namespace emb::kmtest {

inline KMeansOptions options(int k, uint64_t seed = 0, int n_init = 1) {
  KMeansOptions o;
  o.k = k;
  o.seed = seed;
  o.n_init = n_init;
  return o;
}

inline void expect_sane(const KMeansResult& r, ConstMatrixView x, int k) {
  ASSERT_EQ(static_cast<int64_t>(r.labels.size()), x.rows);
  ASSERT_EQ(r.centroids.rows(), k);
  ASSERT_EQ(r.centroids.cols(), x.cols);
  for (int32_t l : r.labels) ASSERT_TRUE(l >= 0 && l < k) << l;
  for (float v : r.centroids.storage()) ASSERT_TRUE(std::isfinite(v));
  ASSERT_TRUE(std::isfinite(r.inertia));
  ASSERT_GE(r.inertia, 0.0);
}

// Labels and inertia must be those of the returned centroids. The inertia to
// float rounding: the CPU's bounded assignment sums exact distances, the check
// here the GEMM's.
inline void expect_consistent(Backend& be, const KMeansResult& r, ConstMatrixView x) {
  std::vector<int32_t> labels(x.rows);
  std::vector<float> dist2(x.rows);
  be.nearest_centroids(x, r.centroids.view(), labels.data(), dist2.data());
  EXPECT_EQ(labels, r.labels);
  double inertia = 0.0;
  for (float v : dist2) inertia += v;
  EXPECT_NEAR(inertia, r.inertia, 1e-6 * std::max(1.0, inertia));
}

// The same with weights: inertia is the weighted sum.
inline void expect_consistent(Backend& be, const KMeansResult& r, ConstMatrixView x, const std::vector<float>& w) {
  std::vector<int32_t> labels(x.rows);
  std::vector<float> dist2(x.rows);
  be.nearest_centroids(x, r.centroids.view(), labels.data(), dist2.data());
  EXPECT_EQ(labels, r.labels);
  double inertia = 0.0;
  for (size_t i = 0; i < dist2.size(); ++i) inertia += static_cast<double>(w[i]) * dist2[i];
  EXPECT_NEAR(inertia, r.inertia, 1e-6 * std::max(1.0, inertia));
}

// The CPU backend, counting the calls the driver makes. With gpu_shaped it says
// it is a GPU, so the drivers take their GPU paths on the CPU's ops.
class CountingBackend final : public Backend {
 public:
  explicit CountingBackend(bool gpu_shaped = false) : gpu_shaped_(gpu_shaped) {}
  std::string name() const override { return cpu_->name(); }
  bool is_gpu() const override { return gpu_shaped_; }
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
  void k_nearest(ConstMatrixView q, ConstMatrixView x, int k, int32_t* idx, float* dist2) override {
    cpu_->k_nearest(q, x, k, idx, dist2);
  }
  void nearest_other_component(ConstMatrixView x, const int32_t* rows, int64_t n_rows, const float* core2,
                               const int32_t* component, const int32_t* cand, int64_t n_cand, int32_t* nearest,
                               float* weight2) override {
    cpu_->nearest_other_component(x, rows, n_rows, core2, component, cand, n_cand, nearest, weight2);
  }
  void covariance(ConstMatrixView x, double* mean, BasicMatrixView<double> cov) override {
    cpu_->covariance(x, mean, cov);
  }
  void symmetric_eigen(BasicMatrixView<const double> a, double* values, BasicMatrixView<double> vectors) override {
    cpu_->symmetric_eigen(a, values, vectors);
  }
  void project(ConstMatrixView x, const float* mean, ConstMatrixView components, MatrixView out) override {
    cpu_->project(x, mean, components, out);
  }

  std::vector<int64_t> centres_per_call;  ///< c.rows of every squared_distances call
  int nearest_calls = 0;

 private:
  bool gpu_shaped_;
  std::unique_ptr<Backend> cpu_ = make_cpu_backend(2);
};

using test::dist2_exact;

// Greedy k-means++ as kmeans_plusplus documents it, with exact distances: the
// first centre is row rng() % n; each next one the lowest-potential of
// 2 + floor(ln k) draws (the earliest wins a tie), a draw being the first point
// whose cumulative distance exceeds u * total for u uniform in [0, 1).
// With weights w: the first centre is such a draw by weight, the others by
// w x distance, the potential is weighted, and only rows of weight > 0 are taken.
inline std::vector<int64_t> reference_plusplus(ConstMatrixView x, int k, uint64_t seed, const std::vector<float>& w = {}) {
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
}  // namespace emb::kmtest
