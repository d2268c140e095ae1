// Mini-batch k-means: finds separated blobs, stays near full k-means on
// overlapping data, is deterministic, and rejects bad options.
#include <gtest/gtest.h>

#include <cmath>

#include "host/cluster/minibatch_kmeans.hpp"
#include "host/core/error.hpp"
#include "tests/test_util.hpp"

namespace emb {
namespace {

TEST(MiniBatchKMeans, FindsSeparatedBlobs) {
  auto cpu = make_cpu_backend(2);
  const auto [x, truth] = test::gaussian_blobs(5000, 16, 8, 20.0f, 3);
  KMeansOptions opts;
  opts.k = 8;
  opts.seed = 1;
  const KMeansResult r = minibatch_kmeans(*cpu, x.view(), opts, 256);
  EXPECT_EQ(test::adjusted_rand_index(r.labels, truth), 1.0);
  EXPECT_EQ(r.centroids.rows(), 8);
  EXPECT_GT(r.iterations, 0);
  const KMeansResult again = minibatch_kmeans(*cpu, x.view(), opts, 256);
  EXPECT_EQ(r.labels, again.labels);
  EXPECT_EQ(r.centroids.storage(), again.centroids.storage());
}

TEST(MiniBatchKMeans, NearFullKMeansOnOverlappingData) {
  auto cpu = make_cpu_backend(2);
  const auto [x, truth] = test::gaussian_blobs(20000, 16, 30, 4.0f, 5);
  KMeansOptions opts;
  opts.k = 30;
  opts.n_init = 1;
  const double full = kmeans(*cpu, x.view(), opts).inertia;
  const KMeansResult mb = minibatch_kmeans(*cpu, x.view(), opts, 1024);
  EXPECT_LE(mb.inertia, full * 1.05) << "mini-batch " << mb.inertia << " vs full " << full;
  EXPECT_GE(mb.inertia, full * 0.95);
  // The returned inertia belongs to the returned labels and centres.
  double check = 0.0;
  for (int64_t i = 0; i < x.rows(); ++i) {
    const float* c = mb.centroids.row(mb.labels[static_cast<size_t>(i)]);
    for (int64_t t = 0; t < x.cols(); ++t) check += (x.row(i)[t] - c[t]) * double(x.row(i)[t] - c[t]);
  }
  EXPECT_NEAR(mb.inertia, check, 1e-3 * check);
}

TEST(MiniBatchKMeans, CosineAndWeights) {
  auto cpu = make_cpu_backend(2);
  const auto [x, truth] = test::gaussian_blobs(3000, 24, 5, 20.0f, 9);
  std::vector<float> w(static_cast<size_t>(x.rows()));
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(1 + i % 3);
  KMeansOptions opts;
  opts.k = 5;
  opts.metric = Metric::Cosine;
  opts.weights = w.data();
  const KMeansResult r = minibatch_kmeans(*cpu, x.view(), opts, 200);
  EXPECT_EQ(test::adjusted_rand_index(r.labels, truth), 1.0);
  for (int64_t j = 0; j < 5; ++j) {
    double s = 0;
    for (int64_t t = 0; t < 24; ++t) s += double(r.centroids.row(j)[t]) * r.centroids.row(j)[t];
    EXPECT_NEAR(s, 1.0, 1e-5);
  }
}

TEST(MiniBatchKMeans, BadOptions) {
  auto cpu = make_cpu_backend(1);
  const auto [x, truth] = test::gaussian_blobs(50, 4, 2, 5.0f, 1);
  KMeansOptions opts;
  opts.k = 2;
  EXPECT_THROW(minibatch_kmeans(*cpu, x.view(), opts, 0), UsageError);
  opts.k = 51;
  EXPECT_THROW(minibatch_kmeans(*cpu, x.view(), opts, 10), InputError);
  opts.k = 0;
  EXPECT_THROW(minibatch_kmeans(*cpu, x.view(), opts, 10), UsageError);
}

}  // namespace
}  // namespace emb
