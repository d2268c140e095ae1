// Every CUDA op against the CPU reference: random inputs at odd sizes, normalized
// mean squared error under a per-precision limit, NaN never passes. Skips with a
// message where there is no CUDA backend or no device.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "host/backend/backend.hpp"

#include "tests/gpu/cuda_test_util.hpp"

namespace emb {
namespace {

/// Normalized mean squared error, as ggml's backend-ops tests use; NaN anywhere -> +inf.
double nmse(const std::vector<float>& out, const std::vector<float>& ref) {
  double err = 0, norm = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    if (!std::isfinite(out[i]) || !std::isfinite(ref[i])) return INFINITY;
    const double d = double(out[i]) - double(ref[i]);
    err += d * d;
    norm += double(ref[i]) * double(ref[i]);
  }
  return norm == 0 ? err : err / norm;
}

class NormalizeRowsGpu : public ::testing::TestWithParam<std::pair<int, int>> {};

TEST_P(NormalizeRowsGpu, MatchesCpuReference) {
  CUDA_BACKEND_OR_SKIP(gpu);
  auto cpu = make_cpu_backend(1);
  const auto [rows, cols] = GetParam();
  std::mt19937 rng(rows * 131 + cols);
  std::normal_distribution<float> dist(0.0f, 3.0f);
  std::vector<float> x(static_cast<size_t>(rows) * cols);
  for (auto& v : x) v = dist(rng);
  if (rows > 2) std::fill(x.begin() + cols, x.begin() + 2 * cols, 0.0f);  // an all-zero row stays zero
  std::vector<float> a = x, b = x;
  cpu->normalize_rows({a.data(), rows, cols});
  gpu->normalize_rows({b.data(), rows, cols});
  EXPECT_LT(nmse(b, a), 1e-10) << rows << " x " << cols;
  if (rows > 2)
    for (int j = 0; j < cols; ++j) ASSERT_EQ(b[cols + j], 0.0f);
  for (int r = 0; r < rows; ++r) {
    if (rows > 2 && r == 1) continue;
    double ss = 0;
    for (int j = 0; j < cols; ++j) ss += double(b[size_t(r) * cols + j]) * b[size_t(r) * cols + j];
    ASSERT_NEAR(ss, 1.0, 1e-5) << "row " << r;
  }
}

INSTANTIATE_TEST_SUITE_P(OddSizes, NormalizeRowsGpu,
                         ::testing::Values(std::pair{1, 1}, std::pair{1, 384}, std::pair{7, 3}, std::pair{31, 33},
                                           std::pair{257, 1024}, std::pair{1000, 384}, std::pair{4099, 97}));

TEST(NormalizeRowsGpuTest, NanStaysVisible) {
  CUDA_BACKEND_OR_SKIP(gpu);
  std::vector<float> x = {1.0f, NAN, 2.0f, 3.0f, 4.0f, 0.0f};
  gpu->normalize_rows({x.data(), 2, 3});
  EXPECT_TRUE(std::isnan(x[0]) || std::isnan(x[1]));  // a NaN row must not come back finite
  EXPECT_NEAR(x[3] * x[3] + x[4] * x[4], 1.0f, 1e-6f);
}

TEST(CudaBackendTest, AutoTakesTheGpuAndSaysSo) {
  CUDA_BACKEND_OR_SKIP(gpu);
  std::string notice;
  auto b = make_backend({Device::Auto, 1}, &notice);
  EXPECT_TRUE(b->is_gpu());
  EXPECT_NE(notice.find("cuda:0"), std::string::npos) << notice;
}

}  // namespace
}  // namespace emb
