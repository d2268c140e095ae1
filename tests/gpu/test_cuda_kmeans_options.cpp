// The k-means drivers' options on the GPU against the CPU: cosine, weights,
// k-means|| seeding and mini-batch k-means. Skips with a message without a device.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "host/backend/backend.hpp"
#include "host/cluster/kmeans.hpp"
#include "host/cluster/minibatch_kmeans.hpp"
#include "tests/test_util.hpp"

#include "tests/gpu/cuda_test_util.hpp"

namespace emb {
namespace {


// Spherical and weighted k-means run the same driver: both devices agree.
TEST(CudaKMeans, CosineAndWeightedRunsAsOnTheCpu) {
  CUDA_BACKEND_OR_SKIP(gpu);
  auto cpu = make_cpu_backend(0);
  const auto [x, truth] = test::gaussian_blobs(3001, 61, 5, 10.0f, 71);
  std::vector<float> w(static_cast<size_t>(x.rows()));
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(1 + i % 4);
  for (const Metric metric : {Metric::Cosine, Metric::L2}) {
    SCOPED_TRACE(metric == Metric::Cosine ? "cosine" : "l2, weighted");
    KMeansOptions opts;
    opts.k = 5;
    opts.seed = 3;
    opts.metric = metric;
    if (metric == Metric::L2) opts.weights = w.data();
    const KMeansResult r_cpu = kmeans(*cpu, x.view(), opts);
    const KMeansResult r_gpu = kmeans(*gpu, x.view(), opts);
    EXPECT_EQ(test::adjusted_rand_index(r_gpu.labels, r_cpu.labels), 1.0);
    EXPECT_EQ(test::adjusted_rand_index(r_gpu.labels, truth), 1.0);
    ASSERT_TRUE(std::isfinite(r_gpu.inertia));
    EXPECT_LE(std::abs(r_gpu.inertia - r_cpu.inertia), 1e-4 * r_cpu.inertia);
  }
}

// k-means|| seeding and mini-batch k-means are drivers over the same ops.
TEST(CudaKMeans, ParallelSeedingAndMiniBatchAsOnTheCpu) {
  CUDA_BACKEND_OR_SKIP(gpu);
  auto cpu = make_cpu_backend(0);
  const auto [x, truth] = test::gaussian_blobs(6007, 48, 9, 20.0f, 23);
  KMeansOptions opts;
  opts.k = 9;
  opts.seed = 2;
  opts.init = KMeansInit::Parallel;
  const KMeansResult par_cpu = kmeans(*cpu, x.view(), opts);
  const KMeansResult par_gpu = kmeans(*gpu, x.view(), opts);
  EXPECT_EQ(test::adjusted_rand_index(par_gpu.labels, truth), 1.0);
  EXPECT_EQ(test::adjusted_rand_index(par_gpu.labels, par_cpu.labels), 1.0);
  EXPECT_LE(std::abs(par_gpu.inertia - par_cpu.inertia), 1e-4 * par_cpu.inertia);
  opts.init = KMeansInit::PlusPlus;
  const KMeansResult mb_cpu = minibatch_kmeans(*cpu, x.view(), opts, 512);
  const KMeansResult mb_gpu = minibatch_kmeans(*gpu, x.view(), opts, 512);
  EXPECT_EQ(test::adjusted_rand_index(mb_gpu.labels, truth), 1.0);
  EXPECT_EQ(test::adjusted_rand_index(mb_gpu.labels, mb_cpu.labels), 1.0);
}

}  // namespace
}  // namespace emb
