// The CPU backend's PCA ops (covariance, symmetric_eigen, project) against plain
// double-precision loops and matrices of known eigen-decomposition.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "host/backend/backend.hpp"
#include "tests/test_util.hpp"

namespace emb {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct DoubleMatrix {
  int64_t rows, cols;
  std::vector<double> v;
  DoubleMatrix(int64_t r, int64_t c, double fill = 0.0) : rows(r), cols(c), v(static_cast<size_t>(r * c), fill) {}
  double& at(int64_t i, int64_t j) { return v[i * cols + j]; }
  double at(int64_t i, int64_t j) const { return v[i * cols + j]; }
  BasicMatrixView<double> view() { return {v.data(), rows, cols}; }
  BasicMatrixView<const double> cview() const { return {v.data(), rows, cols}; }
};

// A random orthogonal matrix: Gram-Schmidt (twice, for accuracy) on Gaussian rows.
DoubleMatrix random_orthogonal(int64_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g;
  DoubleMatrix q(n, n);
  for (double& x : q.v) x = g(rng);
  for (int64_t i = 0; i < n; ++i)
    for (int pass = 0; pass < 2; ++pass) {
      for (int64_t p = 0; p < i; ++p) {
        double dot = 0.0;
        for (int64_t j = 0; j < n; ++j) dot += q.at(i, j) * q.at(p, j);
        for (int64_t j = 0; j < n; ++j) q.at(i, j) -= dot * q.at(p, j);
      }
      double norm = 0.0;
      for (int64_t j = 0; j < n; ++j) norm += q.at(i, j) * q.at(i, j);
      for (int64_t j = 0; j < n; ++j) q.at(i, j) /= std::sqrt(norm);
    }
  return q;
}

// a = sum_i values[i] q_i q_i^T over the rows q_i of q.
DoubleMatrix compose(const DoubleMatrix& q, const std::vector<double>& values) {
  const int64_t n = q.rows;
  DoubleMatrix a(n, n);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < n; ++c) {
      double s = 0.0;
      for (int64_t i = 0; i < n; ++i) s += values[i] * q.at(i, r) * q.at(i, c);
      a.at(r, c) = s;
    }
  return a;
}

// The sign convention: the first entry of largest magnitude is positive.
void expect_sign_convention(const double* v, int64_t n) {
  int64_t big = 0;
  for (int64_t j = 1; j < n; ++j)
    if (std::fabs(v[j]) > std::fabs(v[big]) * (1.0 + 1e-9)) big = j;
  EXPECT_GT(v[big], 0.0);
}

struct Eigen {
  std::vector<double> values;
  DoubleMatrix vectors;
};

Eigen run_eigen(Backend& be, const DoubleMatrix& a) {
  const int64_t n = a.rows;
  // Only the lower triangle may be read: the upper one is poisoned.
  DoubleMatrix lower = a;
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = r + 1; c < n; ++c) lower.at(r, c) = kNaN;
  Eigen e{std::vector<double>(static_cast<size_t>(n), kNaN), DoubleMatrix(n, n, kNaN)};
  be.symmetric_eigen(lower.cview(), e.values.data(), e.vectors.view());
  return e;
}

TEST(PcaOps, SymmetricEigenRecoversKnownDecomposition) {
  auto be = make_cpu_backend(2);
  for (const int64_t n : {1, 2, 3, 17, 64, 131}) {
    SCOPED_TRACE(testing::Message() << "n=" << n);
    const DoubleMatrix q = random_orthogonal(n, 40 + n);
    // Distinct values, decreasing, of both signs and one zero; scale ~ 10.
    std::vector<double> values(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) values[i] = 10.0 - 20.0 * static_cast<double>(i) / static_cast<double>(n);
    const DoubleMatrix a = compose(q, values);
    const Eigen e = run_eigen(*be, a);
    for (int64_t i = 0; i < n; ++i) {
      EXPECT_NEAR(e.values[i], values[i], 1e-11) << "value " << i;
      // The same line as q_i, with the sign of the convention.
      double dot = 0.0;
      for (int64_t j = 0; j < n; ++j) dot += e.vectors.at(i, j) * q.at(i, j);
      EXPECT_NEAR(std::fabs(dot), 1.0, 1e-9) << "vector " << i;
      expect_sign_convention(e.vectors.v.data() + i * n, n);
    }
  }
}

TEST(PcaOps, SymmetricEigenRepeatedValuesGiveAnOrthonormalBasis) {
  auto be = make_cpu_backend(1);
  const int64_t n = 24;
  const DoubleMatrix q = random_orthogonal(n, 5);
  std::vector<double> values(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) values[i] = i < 8 ? 3.0 : (i < 20 ? 1.0 : 0.0);
  const DoubleMatrix a = compose(q, values);
  const Eigen e = run_eigen(*be, a);
  for (int64_t i = 0; i < n; ++i) {
    EXPECT_NEAR(e.values[i], values[i], 1e-12);
    if (i > 0) {
      EXPECT_LE(e.values[i], e.values[i - 1]);
    }
    expect_sign_convention(e.vectors.v.data() + i * n, n);
    // a v_i = values_i v_i, and the vectors are orthonormal.
    for (int64_t r = 0; r < n; ++r) {
      double av = 0.0;
      for (int64_t c = 0; c < n; ++c) av += a.at(r, c) * e.vectors.at(i, c);
      EXPECT_NEAR(av, e.values[i] * e.vectors.at(i, r), 1e-12);
    }
    for (int64_t p = 0; p <= i; ++p) {
      double dot = 0.0;
      for (int64_t j = 0; j < n; ++j) dot += e.vectors.at(i, j) * e.vectors.at(p, j);
      EXPECT_NEAR(dot, p == i ? 1.0 : 0.0, 1e-12);
    }
  }
}

TEST(PcaOps, SymmetricEigenOfDiagonalIsSortedUnitVectors) {
  auto be = make_cpu_backend(1);
  DoubleMatrix a(4, 4);
  const double diag[4] = {2.0, -1.0, 5.0, 0.5};
  for (int i = 0; i < 4; ++i) a.at(i, i) = diag[i];
  const Eigen e = run_eigen(*be, a);
  const double want_values[4] = {5.0, 2.0, 0.5, -1.0};
  const int want_axis[4] = {2, 0, 3, 1};
  for (int i = 0; i < 4; ++i) {
    EXPECT_DOUBLE_EQ(e.values[i], want_values[i]);
    for (int j = 0; j < 4; ++j) EXPECT_DOUBLE_EQ(e.vectors.at(i, j), j == want_axis[i] ? 1.0 : 0.0);
  }
}

// Mean and covariance in double straight from the definition.
void covariance_exact(ConstMatrixView x, std::vector<double>& mean, DoubleMatrix& cov) {
  const int64_t n = x.rows, d = x.cols;
  mean.assign(static_cast<size_t>(d), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j) mean[j] += x.row(i)[j];
  for (double& m : mean) m /= static_cast<double>(n);
  cov = DoubleMatrix(d, d);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t r = 0; r < d; ++r)
      for (int64_t c = 0; c < d; ++c) cov.at(r, c) += (x.row(i)[r] - mean[r]) * (x.row(i)[c] - mean[c]);
  for (double& v : cov.v) v /= static_cast<double>(std::max<int64_t>(n - 1, 1));
}

TEST(PcaOps, CovarianceMatchesDouble) {
  struct Case {
    int64_t n, d;
    float offset;  // a mean far from zero: centring must happen before the products
  };
  for (const Case c : {Case{1, 5, 0.0f}, Case{2, 3, 0.0f}, Case{17, 1, 3.0f}, Case{1000, 13, 100.0f},
                       Case{9001, 3, -20.0f}, Case{4097, 40, 1.0f}, Case{3001, 97, 0.0f}}) {
    SCOPED_TRACE(testing::Message() << "n=" << c.n << " d=" << c.d);
    Matrix x = test::random_matrix(c.n, c.d, c.n * 7 + c.d);
    // Columns of different scales, so the covariance is not near a multiple of I.
    for (int64_t i = 0; i < c.n; ++i)
      for (int64_t j = 0; j < c.d; ++j) x.row(i)[j] = x.row(i)[j] * static_cast<float>(1 + j % 4) + c.offset;
    std::vector<double> want_mean;
    DoubleMatrix want(0, 0);
    covariance_exact(x.view(), want_mean, want);
    for (const int threads : {1, 2}) {
      auto be = make_cpu_backend(threads);
      std::vector<double> mean(static_cast<size_t>(c.d + 1), kNaN);
      DoubleMatrix cov(c.d, c.d, kNaN);
      be->covariance(x.view(), mean.data(), cov.view());
      EXPECT_TRUE(std::isnan(mean[c.d])) << "write past the mean";
      for (int64_t j = 0; j < c.d; ++j) EXPECT_NEAR(mean[j], want_mean[j], 1e-9 * (1.0 + std::fabs(want_mean[j])));
      for (int64_t r = 0; r < c.d; ++r)
        for (int64_t s = 0; s < c.d; ++s) {
          const double scale = std::sqrt(want.at(r, r) * want.at(s, s));
          EXPECT_NEAR(cov.at(r, s), want.at(r, s), 2e-5 * scale + 1e-12) << r << "," << s;
          EXPECT_EQ(cov.at(r, s), cov.at(s, r));
        }
    }
  }
}

TEST(PcaOps, CovarianceOfOneRowIsZero) {
  auto be = make_cpu_backend(2);
  const Matrix x = test::random_matrix(1, 6, 3);
  std::vector<double> mean(6);
  DoubleMatrix cov(6, 6, kNaN);
  be->covariance(x.view(), mean.data(), cov.view());
  for (int j = 0; j < 6; ++j) EXPECT_EQ(mean[j], static_cast<double>(x.row(0)[j]));
  for (double v : cov.v) EXPECT_EQ(v, 0.0);
}

TEST(PcaOps, CovarianceThenEigenFindsTheAxesOfStretchedData) {
  // Points stretched by 3, 2, 1 along the rows of a rotation: those are the components.
  auto be = make_cpu_backend(2);
  const int64_t n = 20000, d = 3;
  const DoubleMatrix q = random_orthogonal(d, 9);
  std::mt19937_64 rng(1);
  std::normal_distribution<double> g;
  Matrix x(n, d);
  for (int64_t i = 0; i < n; ++i) {
    const double z[3] = {3.0 * g(rng), 2.0 * g(rng), 1.0 * g(rng)};
    for (int64_t j = 0; j < d; ++j)
      x.row(i)[j] = static_cast<float>(z[0] * q.at(0, j) + z[1] * q.at(1, j) + z[2] * q.at(2, j));
  }
  std::vector<double> mean(d);
  DoubleMatrix cov(d, d);
  be->covariance(x.view(), mean.data(), cov.view());
  const Eigen e = run_eigen(*be, cov);
  for (int64_t i = 0; i < d; ++i) {
    EXPECT_NEAR(e.values[i], (3.0 - i) * (3.0 - i), 0.1 * (3.0 - i) * (3.0 - i));
    double dot = 0.0;
    for (int64_t j = 0; j < d; ++j) dot += e.vectors.at(i, j) * q.at(i, j);
    EXPECT_GT(std::fabs(dot), 0.99);
  }
}

TEST(PcaOps, ProjectMatchesDouble) {
  struct Case {
    int64_t n, d, m;
  };
  for (const Case c :
       {Case{1, 1, 1}, Case{1, 7, 3}, Case{5, 4, 4}, Case{257, 31, 2}, Case{9000, 5, 3}, Case{3001, 70, 17}}) {
    SCOPED_TRACE(testing::Message() << "n=" << c.n << " d=" << c.d << " m=" << c.m);
    const Matrix x = test::random_matrix(c.n, c.d, c.n + c.d, 4.0f, 6.0f);
    const Matrix mean = test::random_matrix(1, c.d, 2, 4.5f, 5.5f);
    const Matrix comp = test::random_matrix(c.m, c.d, 3);
    for (const int threads : {1, 2}) {
      auto be = make_cpu_backend(threads);
      Matrix out(c.n + 1, c.m, std::numeric_limits<float>::quiet_NaN());
      be->project(x.view(), mean.data(), comp.view(), out.view().block(0, c.n));
      for (int64_t t = 0; t < c.m; ++t) EXPECT_TRUE(std::isnan(out.row(c.n)[t])) << "write past out";
      for (int64_t i = 0; i < c.n; ++i)
        for (int64_t t = 0; t < c.m; ++t) {
          double want = 0.0, scale = 0.0;
          for (int64_t j = 0; j < c.d; ++j) {
            const double centred = static_cast<double>(x.row(i)[j]) - mean.row(0)[j];
            want += centred * comp.row(t)[j];
            scale += std::fabs(centred * comp.row(t)[j]);
          }
          ASSERT_NEAR(out.row(i)[t], want, 1.2e-7 * static_cast<double>(c.d + 2) * scale + 1e-30) << i << "," << t;
        }
    }
  }
}

}  // namespace
}  // namespace emb
