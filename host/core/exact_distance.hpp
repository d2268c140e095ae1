#pragma once
// Exact squared Euclidean distances of float rows, summed in double precision:
// what neighbour searches re-rank their float candidates by.
#include <cmath>
#include <cstdint>

#include "host/core/matrix.hpp"

namespace emb {

/// @brief The exact squared distance between two d-vectors, in double; sixteen
///        running sums (four vectors of four: enough independent additions to keep
///        the FMA units busy), added in the same order on every run.
inline double exact_dist2(const float* p, const float* q, int64_t d) {
  constexpr int kLanes = 16;
  double s[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= d; j += kLanes)
    for (int l = 0; l < kLanes; ++l) {
      const double t = static_cast<double>(p[j + l]) - static_cast<double>(q[j + l]);
      s[l] += t * t;
    }
  for (int l = 0; j < d; ++j, ++l) {
    const double t = static_cast<double>(p[j]) - static_cast<double>(q[j]);
    s[l] += t * t;
  }
  for (int w = kLanes / 2; w > 0; w /= 2)
    for (int l = 0; l < w; ++l) s[l] += s[l + w];
  return s[0];
}

/// @brief The squared norm of a d-vector, summed in double in order.
inline double exact_norm2(const float* v, int64_t d) {
  double s = 0.0;
  for (int64_t j = 0; j < d; ++j) s += static_cast<double>(v[j]) * v[j];
  return s;
}

/// @brief The most a squared distance computed in float as ||a||^2 - 2 a.b + ||b||^2
///        (a GEMM over d columns) can differ from the exact one, with norm2_sum =
///        ||a||^2 + ||b||^2: about d + 4 float roundings of the norms (cancellation
///        makes this large against small distances), plus the rounding of the value.
inline double gemm_distance_slack(int64_t d, double norm2_sum, double value) {
  return std::ldexp(1.0, -24) * static_cast<double>(d + 4) * norm2_sum + std::ldexp(std::abs(value), -22);
}

/// @brief The exact squared distance between rows a and b of x, in double.
inline double exact_dist2(ConstMatrixView x, int64_t a, int64_t b) { return exact_dist2(x.row(a), x.row(b), x.cols); }

}  // namespace emb
