// The CPU backend's PCA ops. Rows go in blocks whose size depends only on the
// width, and sums over blocks run in block order: the mean adds per-block double sums in block order; the
// covariance centres each block in float, takes its Gram matrix with one
// single-threaded SSYRK per thread, and adds the float results into double in
// block order; the projection is one SGEMM per centred block.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstddef>
#include <vector>

#include "host/core/error.hpp"
#include "host/cpu/cpu_backend.hpp"
#include "host/cpu/blas_threads.hpp"

// LAPACK's symmetric eigensolver (MRRR), exported by OpenBLAS. The trailing
// arguments are the lengths of the three character arguments, as gfortran passes them.
extern "C" void dsyevr_(const char* jobz, const char* range, const char* uplo, const blasint* n, double* a,
                        const blasint* lda, const double* vl, const double* vu, const blasint* il, const blasint* iu,
                        const double* abstol, blasint* m, double* w, double* z, const blasint* ldz, blasint* isuppz,
                        double* work, const blasint* lwork, blasint* iwork, const blasint* liwork, blasint* info,
                        size_t jobz_len, size_t range_len, size_t uplo_len);

namespace emb {
namespace {

// A thread's centred block stays near this size; the block's rows (at most
// kMaxBlockRows, so a float Gram matrix over them loses little to rounding) depend
// only on the width, never on the thread count.
constexpr int64_t kBlockBytes = int64_t{4} << 20;
constexpr int64_t kMinBlockRows = 256;
constexpr int64_t kMaxBlockRows = 4096;
// Below this much work (multiply-adds) the calling thread works alone.
constexpr int64_t kParallelMinWork = int64_t{1} << 18;

int64_t block_rows(int64_t d) {
  return std::clamp(kBlockBytes / (static_cast<int64_t>(sizeof(float)) * std::max<int64_t>(d, 1)), kMinBlockRows,
                    kMaxBlockRows);
}

int64_t blocks_of(int64_t n, int64_t block) { return (n + block - 1) / block; }

}  // namespace

void CpuBackend::covariance(ConstMatrixView x, double* mean, BasicMatrixView<double> cov) {
  const int64_t n = x.rows, d = x.cols;
  assert(n >= 1 && cov.rows == d && cov.cols == d);
  const int64_t bs = block_rows(d), blocks = blocks_of(n, bs);
  const bool parallel = n * d >= kParallelMinWork;

  // Mean: one double sum per block and column, then the blocks in order.
  std::vector<double> partial(static_cast<size_t>(blocks * d), 0.0);
#pragma omp parallel for num_threads(threads_) schedule(static) if (parallel)
  for (int64_t b = 0; b < blocks; ++b) {
    double* s = partial.data() + b * d;
    for (int64_t i = b * bs; i < std::min(n, (b + 1) * bs); ++i) {
      const float* r = x.row(i);
      for (int64_t j = 0; j < d; ++j) s[j] += r[j];
    }
  }
  std::fill_n(mean, d, 0.0);
  for (int64_t b = 0; b < blocks; ++b)
    for (int64_t j = 0; j < d; ++j) mean[j] += partial[b * d + j];
  for (int64_t j = 0; j < d; ++j) mean[j] /= static_cast<double>(n);

  // Gram matrix of the centred rows: `threads_` blocks at a time, each into its own
  // float d x d lower triangle (row-major), then added to the double sum in order.
  const int team = parallel ? static_cast<int>(std::min<int64_t>(threads_, blocks)) : 1;
  std::vector<float> centred(static_cast<size_t>(team * std::min(n, bs) * d));
  std::vector<float> gram(static_cast<size_t>(team * d * d));
  std::vector<double> sum(static_cast<size_t>(d * d), 0.0);
  for (int64_t first = 0; first < blocks; first += team) {
    const int64_t count = std::min<int64_t>(team, blocks - first);
#pragma omp parallel for num_threads(team) schedule(static) if (team > 1)
    for (int64_t t = 0; t < count; ++t) {
      const int64_t b0 = (first + t) * bs, m = std::min(bs, n - b0);
      float* c = centred.data() + t * std::min(n, bs) * d;
      for (int64_t i = 0; i < m; ++i) {
        const float* r = x.row(b0 + i);
        for (int64_t j = 0; j < d; ++j) c[i * d + j] = static_cast<float>(r[j] - mean[j]);
      }
      cblas_ssyrk(CblasRowMajor, CblasLower, CblasTrans, static_cast<blasint>(d), static_cast<blasint>(m), 1.0f, c,
                  static_cast<blasint>(d), 0.0f, gram.data() + t * d * d, static_cast<blasint>(d));
    }
    // Threads split the rows of the triangle; each entry adds the blocks in order.
#pragma omp parallel for num_threads(threads_) schedule(static) if (parallel && d >= 64)
    for (int64_t r = 0; r < d; ++r)
      for (int64_t t = 0; t < count; ++t) {
        const float* g = gram.data() + t * d * d + r * d;
        double* s = sum.data() + r * d;
        for (int64_t j = 0; j <= r; ++j) s[j] += g[j];
      }
  }
  const double scale = 1.0 / static_cast<double>(std::max<int64_t>(n - 1, 1));
  for (int64_t r = 0; r < d; ++r)
    for (int64_t j = 0; j <= r; ++j) cov.row(r)[j] = cov.row(j)[r] = sum[r * d + j] * scale;
}

void CpuBackend::symmetric_eigen(BasicMatrixView<const double> a, double* values, BasicMatrixView<double> vectors) {
  const int64_t n = a.rows;
  assert(a.cols == n && vectors.rows == n && vectors.cols == n);
  if (n == 0) return;
  // dsyevr makes many small BLAS calls: with OpenBLAS's OpenMP threads each one
  // opens a parallel region, and their spin-waits cost far more than the work.
  cpu::use_blas_threads(1);
  // Row-major lower triangle = column-major upper triangle: LAPACK reads "U".
  std::vector<double> work_a(a.data, a.data + n * n);
  std::vector<double> w(static_cast<size_t>(n)), z(static_cast<size_t>(n * n));
  std::vector<blasint> isuppz(static_cast<size_t>(2 * n));
  const blasint nn = static_cast<blasint>(n), il = 0, iu = 0;
  const double vl = 0.0, vu = 0.0, abstol = 0.0;
  blasint found = 0, info = 0, lwork = -1, liwork = -1, iwork_size = 0;
  double work_size = 0.0;
  dsyevr_("V", "A", "U", &nn, work_a.data(), &nn, &vl, &vu, &il, &iu, &abstol, &found, w.data(), z.data(), &nn,
          isuppz.data(), &work_size, &lwork, &iwork_size, &liwork, &info, 1, 1, 1);
  if (info != 0) throw RuntimeError(detail::concat("LAPACK dsyevr workspace query failed (info ", info, ")"));
  lwork = static_cast<blasint>(work_size);
  liwork = iwork_size;
  std::vector<double> work(static_cast<size_t>(lwork));
  std::vector<blasint> iwork(static_cast<size_t>(liwork));
  dsyevr_("V", "A", "U", &nn, work_a.data(), &nn, &vl, &vu, &il, &iu, &abstol, &found, w.data(), z.data(), &nn,
          isuppz.data(), work.data(), &lwork, iwork.data(), &liwork, &info, 1, 1, 1);
  if (info != 0 || found != nn)
    throw RuntimeError(detail::concat("LAPACK dsyevr failed on a ", n, " x ", n, " matrix (info ", info, ")"));

  // LAPACK returns increasing values with vectors in contiguous columns of z.
  for (int64_t i = 0; i < n; ++i) {
    const int64_t src = n - 1 - i;
    values[i] = w[src];
    const double* v = z.data() + src * n;
    int64_t big = 0;  // the first entry of largest magnitude decides the sign
    for (int64_t j = 1; j < n; ++j)
      if (std::fabs(v[j]) > std::fabs(v[big])) big = j;
    const double sign = v[big] < 0.0 ? -1.0 : 1.0;
    for (int64_t j = 0; j < n; ++j) vectors.row(i)[j] = sign * v[j];
  }
}

void CpuBackend::project(ConstMatrixView x, const float* mean, ConstMatrixView components, MatrixView out) {
  const int64_t n = x.rows, d = x.cols, m = components.rows;
  assert(components.cols == d && out.rows == n && out.cols == m);
  if (n == 0 || m == 0) return;
  const int64_t bs = block_rows(d), blocks = blocks_of(n, bs);
#pragma omp parallel num_threads(threads_) if (n * d * m >= kParallelMinWork)
  {
    std::vector<float> centred(static_cast<size_t>(std::min(n, bs) * d));
#pragma omp for schedule(dynamic)
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t b0 = b * bs, rows = std::min(bs, n - b0);
      for (int64_t i = 0; i < rows; ++i) {
        const float* r = x.row(b0 + i);
        for (int64_t j = 0; j < d; ++j) centred[i * d + j] = r[j] - mean[j];
      }
      // out block (rows x m) = centred (rows x d) * components^T (d x m)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<blasint>(rows), static_cast<blasint>(m),
                  static_cast<blasint>(d), 1.0f, centred.data(), static_cast<blasint>(d), components.data,
                  static_cast<blasint>(d), 0.0f, out.row(b0), static_cast<blasint>(m));
    }
  }
}

}  // namespace emb
