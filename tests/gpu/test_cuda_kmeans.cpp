// The k-means ops of the CUDA backend against the CPU reference, on the same random
// data at odd sizes: squared_distances, nearest_centroids and accumulate_centroids
// called directly, then with the points held on the device (whole and by row
// block), then whole k-means runs. fp32 distances get a tolerance scaled by the
// norms; labels may differ only at near-ties, and exact ties go to the lowest
// index; sums (double on both sides) agree to 1e-9. NaN never passes, outputs
// start poisoned and are followed by guard values that must stay untouched.
// Skips with a message where there is no CUDA backend or no device.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "host/backend/backend.hpp"
#include "host/cluster/kmeans.hpp"
#include "host/cluster/minibatch_kmeans.hpp"
#include "host/core/matrix.hpp"
#include "tests/test_util.hpp"

#include "tests/gpu/cuda_test_util.hpp"

namespace emb {
namespace {

using test::cuda_backend_or_reason;

// A GPU backend that declines one of these ops would quietly send k-means to the
// CPU, so that is a failure, not a skip.
::testing::AssertionResult supports_kmeans_ops(const Backend& b) {
  if (!b.is_gpu()) return ::testing::AssertionFailure() << b.name() << " says it is not a GPU backend";
  if (!b.supports(Op::SquaredDistances)) return ::testing::AssertionFailure() << "no SquaredDistances";
  if (!b.supports(Op::NearestCentroids)) return ::testing::AssertionFailure() << "no NearestCentroids";
  if (!b.supports(Op::AccumulateCentroids)) return ::testing::AssertionFailure() << "no AccumulateCentroids";
  return ::testing::AssertionSuccess();
}

#define CUDA_OR_SKIP(var) \
  CUDA_BACKEND_OR_SKIP(var);  \
  ASSERT_TRUE(supports_kmeans_ops(*var))

// fp32 expanded distances (||x||^2 - 2 x.c + ||c||^2) lose precision with the
// norms, not with the distance: per element, the error bound scales with both norms.
constexpr double kDistTol = 1e-4;
// ... and over the whole matrix, relative to the reference (Frobenius norm).
constexpr double kDistRelTol = 1e-5;
// Centroid sums are double on both sides; only the order of the additions differs.
constexpr double kSumTol = 1e-9;

// Values after each output that must come back unchanged (out-of-bounds writes).
constexpr int64_t kGuard = 67;
constexpr float kGuardFloat = -12345.5f;
constexpr int32_t kGuardLabel = 0x5A5A5A5A;
constexpr double kGuardDouble = -9876.25;
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

struct Shape {
  int64_t n, d, k;
};

std::string shape_name(const ::testing::TestParamInfo<Shape>& info) {
  const Shape& s = info.param;
  return "n" + std::to_string(s.n) + "_d" + std::to_string(s.d) + "_k" + std::to_string(s.k);
}

void PrintTo(const Shape& s, std::ostream* os) { *os << s.n << " x " << s.d << ", k = " << s.k; }

uint64_t shape_seed(const Shape& s) { return static_cast<uint64_t>(s.n * 1000003 + s.d * 131 + s.k); }

// count values of poison followed by kGuard values of guard.
template <class T>
std::vector<T> poisoned(int64_t count, T poison, T guard) {
  std::vector<T> v(static_cast<size_t>(count + kGuard), poison);
  std::fill(v.end() - kGuard, v.end(), guard);
  return v;
}

template <class T>
::testing::AssertionResult guard_intact(const std::vector<T>& v, T guard) {
  const size_t end = v.size() - kGuard;  // one past the output
  for (size_t i = end; i < v.size(); ++i)
    if (!(v[i] == guard)) return ::testing::AssertionFailure() << "a write " << i - end << " values past the end";
  return ::testing::AssertionSuccess();
}

std::vector<double> row_norms(ConstMatrixView m) {
  std::vector<double> out(static_cast<size_t>(m.rows));
  for (int64_t i = 0; i < m.rows; ++i)
    for (int64_t j = 0; j < m.cols; ++j) out[i] += double(m.row(i)[j]) * m.row(i)[j];
  return out;
}

// The distance without cancellation: differences first, in double.
double exact_dist2(const float* a, const float* b, int64_t d) {
  double s = 0.0;
  for (int64_t j = 0; j < d; ++j) {
    const double t = double(a[j]) - double(b[j]);
    s += t * t;
  }
  return s;
}

// ---- the checks -------------------------------------------------------------

::testing::AssertionResult distances_match(const float* out, const float* ref, ConstMatrixView x,
                                           ConstMatrixView c) {
  const auto xn = row_norms(x), cn = row_norms(c);
  double err = 0.0, norm = 0.0;
  for (int64_t i = 0; i < x.rows; ++i) {
    for (int64_t j = 0; j < c.rows; ++j) {
      const float o = out[i * c.rows + j], r = ref[i * c.rows + j];
      const double diff = std::abs(double(o) - double(r));
      if (!std::isfinite(o) || o < 0.0f || !(diff <= kDistTol * (xn[i] + cn[j])))
        return ::testing::AssertionFailure() << "out[" << i << "][" << j << "] = " << o << ", the CPU has " << r;
      err += diff * diff;
      norm += double(r) * r;
    }
  }
  if (!(std::sqrt(err) <= kDistRelTol * std::sqrt(norm)))
    return ::testing::AssertionFailure() << "relative error " << std::sqrt(err / norm);
  return ::testing::AssertionSuccess();
}

// Where the GPU's label differs from the CPU's, both centroids must be equally near
// in exact arithmetic (a near-tie fp32 may break either way), and that must be rare.
::testing::AssertionResult labels_match(ConstMatrixView x, ConstMatrixView c, const int32_t* gpu,
                                        const int32_t* cpu) {
  const auto xn = row_norms(x), cn = row_norms(c);
  int64_t differ = 0;
  for (int64_t i = 0; i < x.rows; ++i) {
    const int32_t g = gpu[i], r = cpu[i];
    if (g < 0 || g >= c.rows) return ::testing::AssertionFailure() << "labels[" << i << "] = " << g;
    if (g == r) continue;
    ++differ;
    const double dg = exact_dist2(x.row(i), c.row(g), x.cols), dr = exact_dist2(x.row(i), c.row(r), x.cols);
    if (!(std::abs(dg - dr) <= kDistTol * (xn[i] + std::max(cn[g], cn[r]))))
      return ::testing::AssertionFailure() << "row " << i << ": the GPU picks " << g << " at " << dg
                                           << ", the CPU " << r << " at " << dr << " (not a near-tie)";
  }
  const int64_t allowed = std::max<int64_t>(1, x.rows / 200);
  if (differ > allowed)
    return ::testing::AssertionFailure() << differ << " of " << x.rows << " labels differ (near-ties), over "
                                         << allowed;
  return ::testing::AssertionSuccess();
}

// dist2 must be near the CPU's and belong to the GPU's own label.
::testing::AssertionResult dist2_match(ConstMatrixView x, ConstMatrixView c, const float* gpu, const float* cpu,
                                       const int32_t* gpu_labels, const int32_t* cpu_labels) {
  const auto xn = row_norms(x), cn = row_norms(c);
  for (int64_t i = 0; i < x.rows; ++i) {
    const int32_t g = gpu_labels[i];
    const double tol = kDistTol * (xn[i] + std::max(cn[g], cn[cpu_labels[i]]));
    const double own = exact_dist2(x.row(i), c.row(g), x.cols);
    if (!std::isfinite(gpu[i]) || gpu[i] < 0.0f || !(std::abs(double(gpu[i]) - cpu[i]) <= tol) ||
        !(std::abs(double(gpu[i]) - own) <= tol))
      return ::testing::AssertionFailure() << "dist2[" << i << "] = " << gpu[i] << ", the CPU has " << cpu[i]
                                           << ", exact to label " << g << " is " << own;
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult sums_match(const double* gpu, const double* cpu, const std::vector<double>& scale,
                                      const char* what) {
  for (size_t i = 0; i < scale.size(); ++i)
    if (!std::isfinite(gpu[i]) || !(std::abs(gpu[i] - cpu[i]) <= kSumTol * scale[i]))
      return ::testing::AssertionFailure() << what << "[" << i << "] = " << gpu[i] << ", the CPU has " << cpu[i];
  return ::testing::AssertionSuccess();
}

// ---- one op on both backends --------------------------------------------------

void check_squared_distances(Backend& gpu, Backend& cpu, ConstMatrixView x, ConstMatrixView c) {
  const int64_t size = x.rows * c.rows;
  auto ref = poisoned(size, kNaN, kGuardFloat);
  auto out = poisoned(size, kNaN, kGuardFloat);
  cpu.squared_distances(x, c, {ref.data(), x.rows, c.rows});
  gpu.squared_distances(x, c, {out.data(), x.rows, c.rows});
  EXPECT_TRUE(distances_match(out.data(), ref.data(), x, c));
  EXPECT_TRUE(guard_intact(out, kGuardFloat));
}

void check_nearest_centroids(Backend& gpu, Backend& cpu, ConstMatrixView x, ConstMatrixView c) {
  std::vector<int32_t> ref_labels(static_cast<size_t>(x.rows));
  std::vector<float> ref_dist2(static_cast<size_t>(x.rows));
  cpu.nearest_centroids(x, c, ref_labels.data(), ref_dist2.data());

  auto labels = poisoned<int32_t>(x.rows, -7, kGuardLabel);
  auto dist2 = poisoned(x.rows, kNaN, kGuardFloat);
  gpu.nearest_centroids(x, c, labels.data(), dist2.data());
  ASSERT_TRUE(labels_match(x, c, labels.data(), ref_labels.data()));
  EXPECT_TRUE(dist2_match(x, c, dist2.data(), ref_dist2.data(), labels.data(), ref_labels.data()));
  EXPECT_TRUE(guard_intact(labels, kGuardLabel));
  EXPECT_TRUE(guard_intact(dist2, kGuardFloat));

  auto labels_only = poisoned<int32_t>(x.rows, -7, kGuardLabel);
  gpu.nearest_centroids(x, c, labels_only.data(), nullptr);
  EXPECT_TRUE(labels_match(x, c, labels_only.data(), ref_labels.data())) << "with dist2 == nullptr";
  EXPECT_TRUE(guard_intact(labels_only, kGuardLabel));
}

// sums and counts start non-zero, since the op adds into them, and must end as the
// CPU's to kSumTol of the magnitudes that went into them.
void check_accumulate_centroids(Backend& gpu, Backend& cpu, ConstMatrixView x, const int32_t* labels,
                                const float* weights, int64_t k, uint64_t seed) {
  const int64_t d = x.cols, kd = k * d;
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-10.0, 10.0);
  auto sums = poisoned(kd, 0.0, kGuardDouble);
  auto counts = poisoned(k, 0.0, kGuardDouble);
  for (int64_t i = 0; i < kd; ++i) sums[i] = u(rng);
  for (int64_t j = 0; j < k; ++j) counts[j] = std::abs(u(rng));
  auto ref_sums = sums, ref_counts = counts;

  // The size of what went into each value: the bound for rounding in a different order.
  std::vector<double> sum_scale(static_cast<size_t>(kd)), count_scale(static_cast<size_t>(k));
  for (int64_t i = 0; i < kd; ++i) sum_scale[i] = std::abs(sums[i]);
  for (int64_t j = 0; j < k; ++j) count_scale[j] = counts[j];
  for (int64_t i = 0; i < x.rows; ++i) {
    const int32_t l = labels[i];
    if (l < 0) continue;
    const double w = weights ? weights[i] : 1.0;
    count_scale[l] += std::abs(w);
    for (int64_t j = 0; j < d; ++j) sum_scale[l * d + j] += std::abs(w * x.row(i)[j]);
  }

  cpu.accumulate_centroids(x, labels, weights, {ref_sums.data(), k, d}, ref_counts.data());
  gpu.accumulate_centroids(x, labels, weights, {sums.data(), k, d}, counts.data());
  EXPECT_TRUE(sums_match(sums.data(), ref_sums.data(), sum_scale, "sums")) << (weights ? "weighted" : "unweighted");
  EXPECT_TRUE(sums_match(counts.data(), ref_counts.data(), count_scale, "counts"))
      << (weights ? "weighted" : "unweighted");
  EXPECT_TRUE(guard_intact(sums, kGuardDouble));
  EXPECT_TRUE(guard_intact(counts, kGuardDouble));
}

struct AccumulateInputs {
  std::vector<int32_t> labels;
  std::vector<float> weights;
};

// Labels in [-1, k), -1 (skipped) at every 7th row and more at random; weights in
// [0, 2), zero at every 11th row.
AccumulateInputs accumulate_inputs(int64_t n, int64_t k, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int64_t> label(-1, k - 1);
  std::uniform_real_distribution<float> weight(0.0f, 2.0f);
  AccumulateInputs in;
  in.labels.resize(static_cast<size_t>(n));
  in.weights.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    in.labels[i] = i % 7 == 3 ? -1 : static_cast<int32_t>(label(rng));
    in.weights[i] = i % 11 == 5 ? 0.0f : weight(rng);
  }
  return in;
}

void check_accumulate_both(Backend& gpu, Backend& cpu, ConstMatrixView x, const AccumulateInputs& in, int64_t k,
                           uint64_t seed) {
  check_accumulate_centroids(gpu, cpu, x, in.labels.data(), nullptr, k, seed);
  check_accumulate_centroids(gpu, cpu, x, in.labels.data(), in.weights.data(), k, seed + 1);
}

// Odd sizes: 1, small primes-ish, not multiples of 32; n >= k throughout.
const auto kOpShapes = ::testing::Values(Shape{1, 1, 1}, Shape{7, 5, 3}, Shape{33, 97, 7}, Shape{1000, 1, 7},
                                         Shape{1000, 384, 100}, Shape{4099, 5, 257}, Shape{4099, 97, 1},
                                         Shape{4099, 384, 3}, Shape{4099, 384, 257});

// ---- each op on its own -------------------------------------------------------

class CudaKMeansOps : public ::testing::TestWithParam<Shape> {};

TEST_P(CudaKMeansOps, SquaredDistancesMatchCpu) {
  CUDA_OR_SKIP(gpu);
  auto cpu = make_cpu_backend(0);
  const Shape s = GetParam();
  const Matrix x = test::random_matrix(s.n, s.d, shape_seed(s));
  const Matrix c = test::random_matrix(s.k, s.d, shape_seed(s) + 1);
  check_squared_distances(*gpu, *cpu, x.view(), c.view());
  // As k-means++ asks: centres that are rows of x itself, so distances near 0.
  check_squared_distances(*gpu, *cpu, x.view(), x.view().block(s.n / 2, 1));
}

TEST_P(CudaKMeansOps, NearestCentroidsMatchCpu) {
  CUDA_OR_SKIP(gpu);
  auto cpu = make_cpu_backend(0);
  const Shape s = GetParam();
  const Matrix x = test::random_matrix(s.n, s.d, shape_seed(s));
  const Matrix c = test::random_matrix(s.k, s.d, shape_seed(s) + 1);
  check_nearest_centroids(*gpu, *cpu, x.view(), c.view());
}

TEST_P(CudaKMeansOps, AccumulateCentroidsMatchCpu) {
  CUDA_OR_SKIP(gpu);
  auto cpu = make_cpu_backend(0);
  const Shape s = GetParam();
  const Matrix x = test::random_matrix(s.n, s.d, shape_seed(s), -3.0f, 5.0f);
  check_accumulate_both(*gpu, *cpu, x.view(), accumulate_inputs(s.n, s.k, shape_seed(s) + 2), s.k, shape_seed(s));
}

INSTANTIATE_TEST_SUITE_P(OddSizes, CudaKMeansOps, kOpShapes, shape_name);

// ---- the points held on the device --------------------------------------------

// A block [b, b+m) with b and m odd where n allows, and a short block at the end.
struct Blocks {
  int64_t b, m, tail;
};
Blocks blocks_of(int64_t n) {
  int64_t b = (n / 3) | 1;
  if (b >= n) b = 0;
  const int64_t m = std::min(std::max<int64_t>(1, ((n - b) / 2) | 1), n - b);
  return {b, m, std::min<int64_t>(n, 5)};
}

class CudaHeldPoints : public ::testing::TestWithParam<Shape> {};

TEST_P(CudaHeldPoints, OpsOnTheHeldMatrixAndItsBlocksMatchCpu) {
  CUDA_OR_SKIP(gpu);
  auto cpu = make_cpu_backend(0);
  const Shape s = GetParam();
  Matrix x = test::random_matrix(s.n, s.d, shape_seed(s));
  const Matrix c = test::random_matrix(s.k, s.d, shape_seed(s) + 1);
  const Matrix other = test::random_matrix(s.n, s.d, shape_seed(s) + 3);  // same shape, other values
  const AccumulateInputs in = accumulate_inputs(s.n, s.k, shape_seed(s) + 2);
  const Blocks bl = blocks_of(s.n);
  const ConstMatrixView xv = x.view();

  auto all_ops = [&](ConstMatrixView v, int64_t first_row, const char* what) {
    SCOPED_TRACE(what);
    check_squared_distances(*gpu, *cpu, v, c.view());
    check_squared_distances(*gpu, *cpu, v, xv.block(s.n / 2, 1));  // a centre inside the held matrix
    check_nearest_centroids(*gpu, *cpu, v, c.view());
    AccumulateInputs part;  // the labels and weights of v's rows
    part.labels.assign(in.labels.begin() + first_row, in.labels.begin() + first_row + v.rows);
    part.weights.assign(in.weights.begin() + first_row, in.weights.begin() + first_row + v.rows);
    check_accumulate_both(*gpu, *cpu, v, part, s.k, shape_seed(s) + first_row);
  };
  {
    const HeldMatrix held(*gpu, xv);
    all_ops(xv, 0, "the held matrix");
    all_ops(xv.block(bl.b, bl.m), bl.b, "a block in the middle");
    all_ops(xv.block(s.n - bl.tail, bl.tail), s.n - bl.tail, "a block at the end");
    all_ops(other.view(), 0, "another matrix of the same shape, not held");
    all_ops(xv, 0, "the held matrix again");
  }
  // Released: x may change, and the next call must see the change.
  for (float& v : x.storage()) v = -v + 0.25f;
  all_ops(xv, 0, "the matrix changed after release");
}

INSTANTIATE_TEST_SUITE_P(OddSizes, CudaHeldPoints,
                         ::testing::Values(Shape{1, 1, 1}, Shape{7, 5, 3}, Shape{33, 97, 7}, Shape{1000, 384, 100},
                                           Shape{4099, 5, 257}),
                         shape_name);

// ---- exact ties -----------------------------------------------------------------

// Small integers make every distance exact in fp32 whatever the order of the sums,
// so each label is defined exactly (no near-ties) and must match index by index:
// the lowest index among equally near centroids.
class CudaNearestTies : public ::testing::TestWithParam<Shape> {};

TEST_P(CudaNearestTies, TiesGoToTheLowestIndex) {
  CUDA_OR_SKIP(gpu);
  auto cpu = make_cpu_backend(0);
  const Shape s = GetParam();
  Matrix x = test::integer_matrix(s.n, s.d, shape_seed(s));
  Matrix c = test::integer_matrix(s.k, s.d, shape_seed(s) + 1);
  const int64_t half = s.k - s.k / 2;  // centroids [half, k) repeat [0, k/2)
  for (int64_t j = half; j < s.k; ++j) std::memcpy(c.row(j), c.row(j - half), sizeof(float) * s.d);
  for (int64_t i = 0; i < s.n; i += 3)  // every third point sits on a centroid
    std::memcpy(x.row(i), c.row((i / 3) % s.k), sizeof(float) * s.d);

  std::vector<int32_t> exact(static_cast<size_t>(s.n));
  std::vector<float> exact_d(static_cast<size_t>(s.n));
  for (int64_t i = 0; i < s.n; ++i) {
    double best = INFINITY;
    for (int64_t j = 0; j < s.k; ++j) {
      const double v = exact_dist2(x.row(i), c.row(j), s.d);
      if (v < best) {
        best = v;
        exact[i] = static_cast<int32_t>(j);
      }
    }
    exact_d[i] = static_cast<float>(best);
  }

  std::vector<int32_t> ref(static_cast<size_t>(s.n));
  cpu->nearest_centroids(x.view(), c.view(), ref.data(), nullptr);
  ASSERT_EQ(ref, exact) << "the CPU reference itself";

  auto labels = poisoned<int32_t>(s.n, -7, kGuardLabel);
  auto dist2 = poisoned(s.n, kNaN, kGuardFloat);
  gpu->nearest_centroids(x.view(), c.view(), labels.data(), dist2.data());
  for (int64_t i = 0; i < s.n; ++i) {
    ASSERT_EQ(labels[i], exact[i]) << "row " << i;
    ASSERT_EQ(dist2[i], exact_d[i]) << "row " << i;
  }
  EXPECT_TRUE(guard_intact(labels, kGuardLabel));
  EXPECT_TRUE(guard_intact(dist2, kGuardFloat));

  auto labels_only = poisoned<int32_t>(s.n, -7, kGuardLabel);
  gpu->nearest_centroids(x.view(), c.view(), labels_only.data(), nullptr);
  EXPECT_TRUE(std::equal(exact.begin(), exact.end(), labels_only.begin())) << "with dist2 == nullptr";
  EXPECT_TRUE(guard_intact(labels_only, kGuardLabel));
}

INSTANTIATE_TEST_SUITE_P(IntegerData, CudaNearestTies,
                         ::testing::Values(Shape{7, 1, 3}, Shape{33, 5, 7}, Shape{4099, 1, 7}, Shape{1000, 384, 100},
                                           Shape{4099, 5, 257}),
                         shape_name);

// ---- whole k-means runs ---------------------------------------------------------

struct Blobs {
  int64_t n, d;
  int k;
  float spread;
};

void PrintTo(const Blobs& b, std::ostream* os) {
  *os << b.n << " x " << b.d << ", " << b.k << " blobs, spread " << b.spread;
}

std::string blobs_name(const ::testing::TestParamInfo<Blobs>& info) {
  const Blobs& b = info.param;
  return "n" + std::to_string(b.n) + "_d" + std::to_string(b.d) + "_k" + std::to_string(b.k);
}

void expect_same_result(const KMeansResult& a, const KMeansResult& b) {
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_EQ(a.centroids.storage(), b.centroids.storage());  // == fails on NaN, as it should
  EXPECT_EQ(a.inertia, b.inertia);
  EXPECT_EQ(a.iterations, b.iterations);
  EXPECT_EQ(a.best_init, b.best_init);
  EXPECT_EQ(a.init_inertia, b.init_inertia);
}

class CudaKMeansFrom : public ::testing::TestWithParam<Blobs> {};

TEST_P(CudaKMeansFrom, SeparatedBlobsAsOnTheCpu) {
  CUDA_OR_SKIP(gpu);
  auto cpu = make_cpu_backend(0);
  auto dispatch = make_backend({Device::Cuda, 0});
  const Blobs p = GetParam();
  const auto [x, truth] = test::gaussian_blobs(p.n, p.d, p.k, p.spread, 4099 + p.n + p.d + p.k);
  // Point i belongs to blob i % k, so the first k points start one centroid per blob.
  const ConstMatrixView init = x.view().block(0, p.k);
  KMeansOptions opts;
  opts.k = p.k;
  opts.max_iter = 100;
  opts.tol = 0.0;  // to the fixed point on both

  const KMeansResult r_cpu = kmeans_from(*cpu, x.view(), init, opts);
  const KMeansResult r_gpu = kmeans_from(*gpu, x.view(), init, opts);
  ASSERT_EQ(r_gpu.labels.size(), truth.size());
  EXPECT_EQ(test::adjusted_rand_index(r_cpu.labels, truth), 1.0) << "the blobs are not separated enough";
  EXPECT_EQ(test::adjusted_rand_index(r_gpu.labels, truth), 1.0);
  EXPECT_EQ(test::adjusted_rand_index(r_gpu.labels, r_cpu.labels), 1.0);
  ASSERT_TRUE(std::isfinite(r_gpu.inertia));
  EXPECT_LE(std::abs(r_gpu.inertia - r_cpu.inertia), 1e-4 * r_cpu.inertia);
  // The same start names the clusters alike, so centroid j is the same mean on both.
  ASSERT_EQ(r_gpu.centroids.storage().size(), r_cpu.centroids.storage().size());
  for (size_t i = 0; i < r_cpu.centroids.storage().size(); ++i) {
    const float g = r_gpu.centroids.storage()[i], c = r_cpu.centroids.storage()[i];
    ASSERT_LE(std::abs(g - c), 1e-5f * (1.0f + std::abs(c))) << "centroid value " << i;
  }

  // Through make_backend (the GPU behind the dispatcher): the very same run.
  EXPECT_TRUE(dispatch->is_gpu());
  expect_same_result(kmeans_from(*dispatch, x.view(), init, opts), r_gpu);
}

INSTANTIATE_TEST_SUITE_P(Blobs, CudaKMeansFrom,
                         ::testing::Values(Blobs{1000, 5, 3, 20.0f}, Blobs{4099, 97, 7, 10.0f},
                                           Blobs{4099, 384, 100, 10.0f}),
                         blobs_name);

TEST(CudaKMeans, SameSeedSameResult) {
  CUDA_OR_SKIP(gpu);
  // Uniform data: no clusters to find, so many iterations and many near-ties.
  const Matrix x = test::random_matrix(4099, 97, 11);
  KMeansOptions opts;
  opts.k = 100;
  opts.n_init = 2;
  opts.max_iter = 25;
  opts.tol = 0.0;
  opts.seed = 7;
  const KMeansResult a = kmeans(*gpu, x.view(), opts);
  for (int32_t l : a.labels) ASSERT_TRUE(l >= 0 && l < opts.k) << l;
  for (float v : a.centroids.storage()) ASSERT_TRUE(std::isfinite(v));
  {
    SCOPED_TRACE("the same backend again");
    expect_same_result(kmeans(*gpu, x.view(), opts), a);
  }
  {
    SCOPED_TRACE("a new GPU backend");
    std::string why;
    auto again = cuda_backend_or_reason(&why);
    ASSERT_TRUE(again) << why;
    expect_same_result(kmeans(*again, x.view(), opts), a);
  }
  {
    SCOPED_TRACE("make_backend({Device::Cuda, 0})");
    auto dispatch = make_backend({Device::Cuda, 0});
    expect_same_result(kmeans(*dispatch, x.view(), opts), a);
  }
}

TEST(CudaKMeans, SeededRunFindsTheBlobsAsOnTheCpu) {
  CUDA_OR_SKIP(gpu);
  auto cpu = make_cpu_backend(0);
  const auto [x, truth] = test::gaussian_blobs(4099, 97, 7, 10.0f, 33);
  KMeansOptions opts;
  opts.k = 7;
  opts.seed = 5;
  const KMeansResult r_cpu = kmeans(*cpu, x.view(), opts);
  const KMeansResult r_gpu = kmeans(*gpu, x.view(), opts);
  EXPECT_EQ(test::adjusted_rand_index(r_cpu.labels, truth), 1.0) << "the CPU reference itself";
  EXPECT_EQ(test::adjusted_rand_index(r_gpu.labels, truth), 1.0);
  EXPECT_EQ(test::adjusted_rand_index(r_gpu.labels, r_cpu.labels), 1.0);
  ASSERT_TRUE(std::isfinite(r_gpu.inertia));
  EXPECT_LE(std::abs(r_gpu.inertia - r_cpu.inertia), 1e-4 * r_cpu.inertia);
}

// Points larger than the device allows: nothing held, everything streamed from host
// memory in small blocks (odd sizes, so blocks end mid-matrix). Same answers.
TEST(CudaKMeans, StreamedPointsGiveTheSameAnswers) {
  test::CudaLimits small;
  small.block_floats = 97 * 61 + 13;  // about 97 rows of 61 floats a block
  small.max_held_floats = 0;          // hold() keeps nothing
  std::string reason;
  auto gpu = test::cuda_backend_or_reason(&reason, small);
  if (!gpu) GTEST_SKIP() << "no CUDA device: " << reason;
  auto cpu = make_cpu_backend(0);
  const auto [x, truth] = test::gaussian_blobs(2003, 61, 6, 10.0f, 17);
  std::vector<float> w(static_cast<size_t>(x.rows()));
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i % 3);
  {
    SCOPED_TRACE("ops");
    const ConstMatrixView c = x.view().block(5, 6);
    check_squared_distances(*gpu, *cpu, x.view(), c);
    check_nearest_centroids(*gpu, *cpu, x.view(), c);
    std::vector<int32_t> labels(static_cast<size_t>(x.rows()));
    cpu->nearest_centroids(x.view(), c, labels.data(), nullptr);
    for (const float* weights : {static_cast<const float*>(nullptr), static_cast<const float*>(w.data())}) {
      std::vector<double> s_cpu(6 * 61, 0.5), s_gpu(6 * 61, 0.5), n_cpu(6, 1.0), n_gpu(6, 1.0);
      cpu->accumulate_centroids(x.view(), labels.data(), weights, {s_cpu.data(), 6, 61}, n_cpu.data());
      gpu->accumulate_centroids(x.view(), labels.data(), weights, {s_gpu.data(), 6, 61}, n_gpu.data());
      for (size_t i = 0; i < s_cpu.size(); ++i) ASSERT_NEAR(s_gpu[i], s_cpu[i], 1e-9 * (1.0 + std::abs(s_cpu[i])));
      for (size_t i = 0; i < n_cpu.size(); ++i) ASSERT_EQ(n_gpu[i], n_cpu[i]);
    }
  }
  KMeansOptions opts;
  opts.k = 6;
  opts.seed = 9;
  const KMeansResult r_cpu = kmeans(*cpu, x.view(), opts);
  const KMeansResult r_gpu = kmeans(*gpu, x.view(), opts);
  EXPECT_EQ(test::adjusted_rand_index(r_gpu.labels, r_cpu.labels), 1.0);
  EXPECT_EQ(test::adjusted_rand_index(r_gpu.labels, truth), 1.0);
  EXPECT_LE(std::abs(r_gpu.inertia - r_cpu.inertia), 1e-4 * r_cpu.inertia);
}

}  // namespace
}  // namespace emb
