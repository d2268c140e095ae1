// The CUDA backend's PCA ops against the CPU reference, and HDBSCAN and PCA as a
// whole on the GPU against the CPU: identical labels, spanning-tree weight and core
// distances within fp32 rounding. Skips with a message where there is no CUDA device.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "host/backend/backend.hpp"
#include "host/cluster/hdbscan.hpp"
#include "host/cluster/pca.hpp"
#include "tests/gpu/cuda_test_util.hpp"
#include "tests/test_util.hpp"

namespace emb {
namespace {

TEST(CudaPca, CovarianceEigenAndProjectionMatchTheCpu) {
  CUDA_BACKEND_OR_SKIP(gpu);
  auto cpu = make_cpu_backend(2);
  for (auto [n, d] : {std::pair<int64_t, int64_t>{1, 5}, {97, 13}, {5000, 64}, {3001, 384}}) {
    SCOPED_TRACE(std::to_string(n) + " x " + std::to_string(d));
    auto [x, truth] = test::gaussian_blobs(n, d, 4, 5.0f, 7);
    std::vector<double> m1(d), m2(d), c1(d * d), c2(d * d);
    cpu->covariance(x.view(), m1.data(), {c1.data(), d, d});
    gpu->covariance(x.view(), m2.data(), {c2.data(), d, d});
    double scale = 0.0;
    for (double v : c1) scale = std::max(scale, std::abs(v));
    for (int64_t j = 0; j < d; ++j) EXPECT_NEAR(m1[j], m2[j], 1e-5 * (1.0 + std::abs(m1[j])));
    for (int64_t j = 0; j < d * d; ++j) ASSERT_NEAR(c1[j], c2[j], 1e-5 * (scale + 1e-12)) << "entry " << j;
    if (n < 2) continue;
    const io::Reduction a = pca_fit(*cpu, x.view(), std::min<int64_t>(d, 8));
    const io::Reduction b = pca_fit(*gpu, x.view(), std::min<int64_t>(d, 8));
    for (size_t c = 0; c < a.explained_variance.size(); ++c)
      EXPECT_NEAR(a.explained_variance[c], b.explained_variance[c], 1e-4 * a.explained_variance[0]);
    const Matrix ra = reduce(*cpu, a, x.view()), rb = reduce(*gpu, a, x.view());
    for (int64_t i = 0; i < ra.rows() * ra.cols(); ++i)
      ASSERT_NEAR(ra.data()[i], rb.data()[i], 1e-3 * (1.0 + std::abs(ra.data()[i]))) << "value " << i;
  }
}

TEST(CudaHdbscan, SameLabelsAsTheCpu) {
  CUDA_BACKEND_OR_SKIP(gpu);
  auto cpu = make_cpu_backend(2);
  for (auto [n, d, metric] : {std::tuple<int64_t, int64_t, Metric>{3000, 24, Metric::L2},
                              {4000, 384, Metric::Cosine}, {2500, 64, Metric::L2}}) {
    SCOPED_TRACE(std::to_string(n) + " x " + std::to_string(d));
    auto [x, truth] = test::gaussian_blobs(n, d, 6, 8.0f, 3);
    HdbscanOptions o;
    o.min_cluster_size = 20;
    o.min_samples = 10;
    o.metric = metric;
    o.kd_tree_max_dim = 0;  // the CPU searches with GEMM tiles too
    const HdbscanResult a = hdbscan(*cpu, x.view(), o), b = hdbscan(*gpu, x.view(), o);
    EXPECT_EQ(a.tree.labels, b.tree.labels);
    EXPECT_NEAR(a.mst_weight(), b.mst_weight(), 1e-6 * a.mst_weight());
    // Float32 distances summed in a different order: a few float units of the value.
    for (int64_t i = 0; i < n; ++i)
      ASSERT_NEAR(a.core_distances[i], b.core_distances[i], 1e-6 * (1.0 + a.core_distances[i])) << "point " << i;
    o.mst = MstChoice::Knn;
    EXPECT_EQ(hdbscan(*cpu, x.view(), o).tree.labels, hdbscan(*gpu, x.view(), o).tree.labels);
    // With the search partition (the candidate searches on the device): the same
    // labels as the CPU's search over all rows.
    o.mst = MstChoice::Exact;
    o.search_parts = 40;
    const HdbscanResult p = hdbscan(*gpu, x.view(), o);
    EXPECT_GE(p.stats.search_parts, 1);
    EXPECT_EQ(p.tree.labels, a.tree.labels);
    EXPECT_NEAR(p.mst_weight(), a.mst_weight(), 1e-6 * a.mst_weight());
  }
}

// The last components joined by searching each pair once, on the GPU with TF32
// tensor cores and a float re-check of the rows that could be the lightest: the
// same tree as the CPU's float search.
TEST(CudaHdbscan, ContractionWithFastDistancesKeepsTheTree) {
  CUDA_BACKEND_OR_SKIP(gpu);
  auto cpu = make_cpu_backend(2);
  EXPECT_GT(gpu->fast_distances(true), 0.0) << "the CUDA backend has a TF32 mode";
  gpu->fast_distances(false);
  EXPECT_EQ(cpu->fast_distances(true), 0.0) << "the CPU has none";
  for (auto [n, d, blobs] : {std::tuple<int64_t, int64_t, int>{6000, 64, 10}, {5000, 384, 7}}) {
    SCOPED_TRACE(std::to_string(n) + " x " + std::to_string(d));
    auto [x, truth] = test::gaussian_blobs(n, d, blobs, 40.0f, 11);
    HdbscanOptions o;
    o.min_cluster_size = 30;
    o.min_samples = 8;
    o.kd_tree_max_dim = 0;
    o.mst = MstChoice::Knn;  // the k-NN forest leaves one component per blob
    const HdbscanResult a = hdbscan(*cpu, x.view(), o), b = hdbscan(*gpu, x.view(), o);
    EXPECT_EQ(a.stats.mst_stats.contracted, 1);
    EXPECT_EQ(b.stats.mst_stats.contracted, 1);
    ASSERT_EQ(a.mst.size(), b.mst.size());
    for (size_t e = 0; e < a.mst.size(); e += 3) {
      EXPECT_EQ(a.mst[e], b.mst[e]) << "edge " << e / 3;
      EXPECT_EQ(a.mst[e + 1], b.mst[e + 1]) << "edge " << e / 3;
      EXPECT_NEAR(a.mst[e + 2], b.mst[e + 2], 1e-6 * a.mst[e + 2]) << "edge " << e / 3;
    }
    EXPECT_EQ(a.tree.labels, b.tree.labels);
  }
}

}  // namespace
}  // namespace emb
