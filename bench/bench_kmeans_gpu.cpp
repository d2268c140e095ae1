// GPU k-means throughput at embedding scale (1M and 2M points x 384): the
// assignment op (GEMM + argmin) with the points held on the device, the centroid
// sums, and whole Lloyd runs, through make_backend({Device::Cuda, 0}). Skips with a
// message where no CUDA device is usable.
//
// These time the host interface, as k-means sees it, not the kernels alone: every
// call sends its centroids (and, for the sums, its labels) over PCIe and brings
// labels, distances or sums back; x does not cross again once held. The calls
// return only when the results are in host memory, so wall-clock time (UseRealTime)
// is the GPU time plus those transfers. GFLOP counts 2*n*k*d per
// assignment, shown as a rate (GFLOP/s).
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "host/backend/backend.hpp"
#include "host/cluster/kmeans.hpp"
#include "host/core/matrix.hpp"

namespace {

using emb::Matrix;

double gemm_gflop(int64_t n, int64_t k, int64_t d) { return 2.0 * n * k * d * 1e-9; }

// The CUDA backend behind the dispatcher, made once for every benchmark (cuBLAS
// start-up stays out of the runs), or null after skipping with the reason.
emb::Backend* gpu_or_skip(benchmark::State& state) {
  static std::unique_ptr<emb::Backend> backend;
  static std::string error;
  if (!backend && error.empty()) {
    try {
      backend = emb::make_backend({emb::Device::Cuda, 0});
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  if (!backend) state.SkipWithError(error.c_str());
  return backend.get();
}

// Uniform in [-1, 1) from splitmix64, two values per draw: seconds for 1M x 384,
// several times faster than std::mt19937 with a distribution.
Matrix fast_random(int64_t rows, int64_t cols, uint64_t seed) {
  Matrix m(rows, cols);
  float* v = m.data();
  const int64_t size = rows * cols;
  uint64_t state = seed * 0x9E3779B97F4A7C15ull + 1;
  for (int64_t i = 0; i < size; i += 2) {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    v[i] = static_cast<float>(z >> 40) * 0x1.0p-23f - 1.0f;
    if (i + 1 < size) v[i + 1] = static_cast<float>((z >> 8) & 0xFFFFFF) * 0x1.0p-23f - 1.0f;
  }
  return m;
}

// The points, made once per shape and kept for the next benchmark of that shape;
// only one shape is kept at a time (2M x 384 is 3 GB).
const Matrix& points(int64_t n, int64_t d) {
  static std::unique_ptr<Matrix> cached;
  if (!cached || cached->rows() != n || cached->cols() != d) {
    cached.reset();
    cached = std::make_unique<Matrix>(fast_random(n, d, 1));
  }
  return *cached;
}

// Args: n, d, k.
void BM_GpuNearestCentroids(benchmark::State& state) {
  const int64_t n = state.range(0), d = state.range(1), k = state.range(2);
  emb::Backend* be = gpu_or_skip(state);
  if (!be) return;
  const Matrix& x = points(n, d);
  const Matrix c = fast_random(k, d, 2);
  std::vector<int32_t> labels(n);
  std::vector<float> dist2(n);
  const emb::HeldMatrix held(*be, x.view());
  be->nearest_centroids(x.view(), c.view(), labels.data(), dist2.data());  // warm-up: cuBLAS, buffers
  for (auto _ : state) {
    be->nearest_centroids(x.view(), c.view(), labels.data(), dist2.data());
    benchmark::DoNotOptimize(labels.data());
  }
  state.SetItemsProcessed(state.iterations() * n);
  state.counters["GFLOP"] = benchmark::Counter(gemm_gflop(n, k, d), benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(be->name());
}
BENCHMARK(BM_GpuNearestCentroids)
    ->Args({1000000, 384, 1000})
    ->Args({1000000, 384, 10000})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Args: n, d, k; labels spread over every cluster, no weights.
void BM_GpuAccumulateCentroids(benchmark::State& state) {
  const int64_t n = state.range(0), d = state.range(1), k = state.range(2);
  emb::Backend* be = gpu_or_skip(state);
  if (!be) return;
  const Matrix& x = points(n, d);
  std::vector<int32_t> labels(n);
  for (int64_t i = 0; i < n; ++i) labels[i] = static_cast<int32_t>((i * 7919) % k);
  std::vector<double> sums(k * d), counts(k);
  const emb::HeldMatrix held(*be, x.view());
  be->accumulate_centroids(x.view(), labels.data(), nullptr, {sums.data(), k, d}, counts.data());  // warm-up
  for (auto _ : state) {
    be->accumulate_centroids(x.view(), labels.data(), nullptr, {sums.data(), k, d}, counts.data());
    benchmark::DoNotOptimize(sums.data());
  }
  state.SetItemsProcessed(state.iterations() * n);
  state.SetBytesProcessed(state.iterations() * n * d * static_cast<int64_t>(sizeof(float)));
  state.SetLabel(be->name());
}
BENCHMARK(BM_GpuAccumulateCentroids)->Args({1000000, 384, 1000})->Unit(benchmark::kMillisecond)->UseRealTime();

// Args: n, d, k, iterations; one run of kmeans_from (tol 0) from the first k points.
// Each run holds x itself, so its single upload (and the finite-value check) is part
// of the time: the difference between two iteration counts gives the cost of one.
void BM_GpuKMeansFrom(benchmark::State& state) {
  const int64_t n = state.range(0), d = state.range(1), k = state.range(2);
  emb::Backend* be = gpu_or_skip(state);
  if (!be) return;
  const Matrix& x = points(n, d);
  emb::KMeansOptions opts;
  opts.k = static_cast<int>(k);
  opts.max_iter = static_cast<int>(state.range(3));
  opts.tol = 0.0;
  using Clock = std::chrono::steady_clock;
  double seconds = 0.0;
  int64_t iterations = 0, assignments = 0;
  for (auto _ : state) {
    const Clock::time_point start = Clock::now();
    const emb::KMeansResult r = emb::kmeans_from(*be, x.view(), x.view().block(0, k), opts);
    seconds += std::chrono::duration<double>(Clock::now() - start).count();
    iterations += r.iterations;
    assignments += r.iterations + 1;  // the first assignment, then one per update
    benchmark::DoNotOptimize(r.inertia);
  }
  state.SetItemsProcessed(assignments * n);
  state.counters["s_per_iter"] = iterations > 0 ? seconds / static_cast<double>(iterations) : 0.0;
  state.counters["iters"] = benchmark::Counter(static_cast<double>(iterations), benchmark::Counter::kAvgIterations);
  state.counters["GFLOP"] = benchmark::Counter(assignments * gemm_gflop(n, k, d), benchmark::Counter::kIsRate);
  state.SetLabel(be->name());
}
BENCHMARK(BM_GpuKMeansFrom)->Args({1000000, 384, 1000, 2})->Args({1000000, 384, 1000, 12})->Unit(benchmark::kMillisecond)->UseRealTime();

// Twice the points, registered last so the 1M x 384 points are made only once.
BENCHMARK(BM_GpuNearestCentroids)->Args({2000000, 384, 1000})->Unit(benchmark::kMillisecond)->UseRealTime();

// The large case: 10M x 384 (15 GB of points), k = 10,000; per-iteration time is
// the difference of the two runs. Registered last: it replaces the cached points.
BENCHMARK(BM_GpuKMeansFrom)->Args({10000000, 384, 10000, 1})->Args({10000000, 384, 10000, 3})
    ->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1);

}  // namespace

BENCHMARK_MAIN();
