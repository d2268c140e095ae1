// CPU k-means throughput: the assignment op alone (GEMM + argmin), the distances
// to a few k-means++ candidates, the centroid sums, and a whole k-means run, on
// uniform random data. GFLOP counts 2*n*k*d per
// assignment (the GEMM), the figure BLAS results are usually quoted in.
#include <benchmark/benchmark.h>

#include <chrono>
#include <vector>

#include "host/backend/backend.hpp"
#include "host/cluster/kmeans.hpp"
#include "tests/test_util.hpp"

namespace {

using emb::Matrix;

double gemm_gflop(int64_t n, int64_t k, int64_t d) { return 2.0 * n * k * d * 1e-9; }

// Args: n, d, k.
void BM_NearestCentroids(benchmark::State& state) {
  const int64_t n = state.range(0), d = state.range(1), k = state.range(2);
  auto be = emb::make_cpu_backend(0);
  const Matrix x = emb::test::random_matrix(n, d, 1);
  const Matrix c = emb::test::random_matrix(k, d, 2);
  std::vector<int32_t> labels(n);
  std::vector<float> dist2(n);
  for (auto _ : state) {
    be->nearest_centroids(x.view(), c.view(), labels.data(), dist2.data());
    benchmark::DoNotOptimize(labels.data());
  }
  state.SetItemsProcessed(state.iterations() * n);
  state.counters["GFLOP"] = benchmark::Counter(gemm_gflop(n, k, d), benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(be->name());
}
BENCHMARK(BM_NearestCentroids)
    ->Args({20000, 384, 1})
    ->Args({20000, 384, 100})
    ->Args({20000, 384, 1000})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Args: n, d, candidates (2 + floor(ln k): 6 for k = 100, 4 for k = 20); one call per
// k-means++ centre.
void BM_SquaredDistances(benchmark::State& state) {
  const int64_t n = state.range(0), d = state.range(1), k = state.range(2);
  auto be = emb::make_cpu_backend(0);
  const Matrix x = emb::test::random_matrix(n, d, 1);
  const Matrix c = emb::test::random_matrix(k, d, 2);
  Matrix out(n, k);
  for (auto _ : state) {
    be->squared_distances(x.view(), c.view(), out.view());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * n);
  state.counters["GFLOP"] = benchmark::Counter(gemm_gflop(n, k, d), benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(be->name());
}
BENCHMARK(BM_SquaredDistances)
    ->Args({20000, 384, 6})
    ->Args({7276, 1024, 4})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Labels in no order a prefetcher could follow, as after a real assignment.
std::vector<int32_t> scattered_labels(int64_t n, int64_t k) {
  std::vector<int32_t> labels(n);
  uint64_t h = 88172645463325252ULL;
  for (int64_t i = 0; i < n; ++i) {
    h ^= h << 13, h ^= h >> 7, h ^= h << 17;
    labels[i] = static_cast<int32_t>(h % static_cast<uint64_t>(k));
  }
  return labels;
}

// Args: n, d, k; range(3) = 1: with each row's exact distance to its centre.
void BM_AccumulateCentroids(benchmark::State& state) {
  const int64_t n = state.range(0), d = state.range(1), k = state.range(2);
  const bool with_distances = state.range(3) != 0;
  auto be = emb::make_cpu_backend(0);
  const Matrix x = emb::test::random_matrix(n, d, 1);
  const Matrix c = emb::test::random_matrix(k, d, 2);
  const std::vector<int32_t> labels = scattered_labels(n, k);
  std::vector<double> sums(k * d), counts(k), own2(n);
  for (auto _ : state) {
    if (with_distances)
      be->accumulate_centroids_with_distances(x.view(), labels.data(), nullptr, c.view(), {sums.data(), k, d},
                                              counts.data(), own2.data());
    else
      be->accumulate_centroids(x.view(), labels.data(), nullptr, {sums.data(), k, d}, counts.data());
    benchmark::DoNotOptimize(sums.data());
  }
  state.SetItemsProcessed(state.iterations() * n);
  state.SetBytesProcessed(state.iterations() * n * d * static_cast<int64_t>(sizeof(float)));
  state.SetLabel(be->name());
}
BENCHMARK(BM_AccumulateCentroids)
    ->ArgNames({"n", "d", "k", "dist"})
    ->Args({20000, 384, 100, 0})
    ->Args({100000, 384, 100, 0})
    ->Args({100000, 384, 100, 1})
    ->Args({2730, 384, 100, 0})
    ->Args({2730, 384, 100, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Args: n, d, k; 10 Lloyd iterations (tol 0), one run. seed_s is the k-means++ share.
void BM_KMeans(benchmark::State& state) {
  const int64_t n = state.range(0), d = state.range(1), k = state.range(2);
  auto be = emb::make_cpu_backend(0);
  const Matrix x = emb::test::random_matrix(n, d, 1);
  emb::KMeansOptions opts;
  opts.k = static_cast<int>(k);
  opts.max_iter = 10;
  opts.tol = 0.0;
  opts.n_init = 1;
  using Clock = std::chrono::steady_clock;
  Clock::time_point start;
  double seed_s = 0.0;
  opts.on_iteration = [&](int, int iter, double) {
    if (iter == 0) seed_s += std::chrono::duration<double>(Clock::now() - start).count();
  };
  int64_t assignments = 0;
  for (auto _ : state) {
    start = Clock::now();
    const emb::KMeansResult r = emb::kmeans(*be, x.view(), opts);
    assignments += r.iterations + 1;
    benchmark::DoNotOptimize(r.inertia);
  }
  state.SetItemsProcessed(assignments * n);
  state.counters["GFLOP"] = benchmark::Counter(assignments * gemm_gflop(n, k, d), benchmark::Counter::kIsRate);
  state.counters["seed_s"] = benchmark::Counter(seed_s, benchmark::Counter::kAvgIterations);
  state.counters["iters"] = benchmark::Counter(static_cast<double>(assignments), benchmark::Counter::kAvgIterations);
  state.SetLabel(be->name());
}
BENCHMARK(BM_KMeans)->Args({20000, 384, 100})->Args({7276, 1024, 20})->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
