#pragma once
// Helpers shared by the tests: seeded random data and the adjusted Rand index.
#include <cstdint>
#include <map>
#include <random>
#include <utility>
#include <vector>

#include "host/core/matrix.hpp"

namespace emb::test {

/// @brief rows x cols values uniform in [lo, hi), the same for the same seed.
inline Matrix random_matrix(int64_t rows, int64_t cols, uint64_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  Matrix m(rows, cols);
  for (float& v : m.storage()) v = u(rng);
  return m;
}

/// @brief rows x cols small integers in [lo, hi]: every GEMM on them is exact in
///        float, so ties stay ties.
inline Matrix integer_matrix(int64_t rows, int64_t cols, uint64_t seed, int lo = -3, int hi = 3) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> u(lo, hi);
  Matrix m(rows, cols);
  for (float& v : m.storage()) v = static_cast<float>(u(rng));
  return m;
}

/// @brief Points around `blobs` centres drawn in [-spread, spread]^d with unit
///        Gaussian noise; point i belongs to blob i % blobs (returned as labels).
inline std::pair<Matrix, std::vector<int32_t>> gaussian_blobs(int64_t n, int64_t d, int blobs, float spread,
                                                              uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(-spread, spread);
  std::normal_distribution<float> noise(0.0f, 1.0f);
  Matrix centres(blobs, d);
  for (float& v : centres.storage()) v = u(rng);
  Matrix x(n, d);
  std::vector<int32_t> truth(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    truth[i] = static_cast<int32_t>(i % blobs);
    for (int64_t j = 0; j < d; ++j) x.row(i)[j] = centres.row(truth[i])[j] + noise(rng);
  }
  return {std::move(x), std::move(truth)};
}

/// @brief Adjusted Rand index of two labelings from their contingency table:
///        1 for the same partition (up to renaming), about 0 for chance.
inline double adjusted_rand_index(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  const auto pairs = [](double m) { return m * (m - 1.0) / 2.0; };
  if (a.size() < 2) return 1.0;  // no pairs to disagree on
  std::map<std::pair<int32_t, int32_t>, double> table;
  std::map<int32_t, double> rows, cols;
  for (size_t i = 0; i < a.size(); ++i) {
    table[{a[i], b[i]}] += 1.0;
    rows[a[i]] += 1.0;
    cols[b[i]] += 1.0;
  }
  double index = 0.0, sum_rows = 0.0, sum_cols = 0.0;
  for (const auto& [key, m] : table) index += pairs(m);
  for (const auto& [key, m] : rows) sum_rows += pairs(m);
  for (const auto& [key, m] : cols) sum_cols += pairs(m);
  const double expected = sum_rows * sum_cols / pairs(static_cast<double>(a.size()));
  const double max_index = (sum_rows + sum_cols) / 2.0;
  if (max_index == expected) return 1.0;  // both trivial (one cluster, or all singletons)
  return (index - expected) / (max_index - expected);
}

/// @brief Squared L2 distance between two d-vectors, in double.
inline double dist2_exact(const float* a, const float* b, int64_t d) {
  double s = 0.0;
  for (int64_t j = 0; j < d; ++j) s += (static_cast<double>(a[j]) - b[j]) * (static_cast<double>(a[j]) - b[j]);
  return s;
}

/// @brief Squared L2 norm of a d-vector, in double.
inline double norm2_exact(const float* a, int64_t d) {
  double s = 0.0;
  for (int64_t j = 0; j < d; ++j) s += static_cast<double>(a[j]) * a[j];
  return s;
}

}  // namespace emb::test
