#include "host/backend/backend.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include "host/backend/dispatch.hpp"
#include "host/core/exact_distance.hpp"
#include "host/core/error.hpp"

#ifdef EMBCLUST_HAVE_CUDA
#include "cuda/cuda_backend.hpp"
#endif

namespace emb {

void Backend::pair_distances(ConstMatrixView x, const int32_t* a, const int32_t* b, int64_t n, double* out) {
#pragma omp parallel for schedule(static) if (n * x.cols >= (int64_t{1} << 16))
  for (int64_t t = 0; t < n; ++t) out[t] = exact_dist2(x.row(a[t]), x.row(b[t]), x.cols);
}

void Backend::nearest_centroid_groups(ConstMatrixView x, const int32_t* rows, int64_t n_rows, ConstMatrixView c,
                                      const int32_t* group_start, int n_groups, int32_t* labels, float* dist2,
                                      float* group_min2) {
  const int64_t d = x.cols, k = c.rows;
  EMB_EXPECTS(k >= 1 && c.cols == d && n_groups >= 1 && group_start[0] == 0 && group_start[n_groups] == k,
              "nearest_centroid_groups: ", k, " centres of ", c.cols, " columns in ", n_groups,
              " groups for rows of ", d);
  constexpr int64_t kRows = 2048;
  std::vector<float> gathered(rows ? static_cast<size_t>(std::min(n_rows, kRows) * d) : 0);
  std::vector<float> tile(static_cast<size_t>(std::min(n_rows, kRows) * k));
  for (int64_t b = 0; b < n_rows; b += kRows) {
    const int64_t m = std::min(kRows, n_rows - b);
    ConstMatrixView block = x.block(b, m);
    if (rows) {
      for (int64_t t = 0; t < m; ++t) std::copy_n(x.row(rows[b + t]), d, gathered.data() + t * d);
      block = {gathered.data(), m, d};
    }
    squared_distances(block, c, {tile.data(), m, k});
#pragma omp parallel for schedule(static) if (m * k >= (int64_t{1} << 16))
    for (int64_t t = 0; t < m; ++t) {
      const float* r = tile.data() + t * k;
      const Nearest s = nearest_and_group_minima(k, r, group_start, n_groups, group_min2 + (b + t) * n_groups);
      labels[b + t] = s.best;
      if (dist2) dist2[b + t] = s.first;
    }
  }
}

void Backend::accumulate_centroids_with_distances(ConstMatrixView x, const int32_t* labels, const float* weights,
                                                  ConstMatrixView c, BasicMatrixView<double> sums, double* counts,
                                                  double* own2) {
  EMB_EXPECTS(c.cols == x.cols && c.rows == sums.rows, "accumulate_centroids_with_distances: ", c.rows,
              " centres of ", c.cols, " columns for ", sums.rows, " sums of rows of ", x.cols);
  accumulate_centroids(x, labels, weights, sums, counts);
#pragma omp parallel for schedule(static) if (x.size() >= (int64_t{1} << 16))
  for (int64_t i = 0; i < x.rows; ++i)
    if (labels[i] >= 0) own2[i] = exact_dist2(x.row(i), c.row(labels[i]), x.cols);
}

void Backend::k_nearest_among(ConstMatrixView x, const int32_t* q_rows, int64_t n_q, const int32_t* cand,
                              int64_t n_cand, int k, int32_t* idx, float* dist2, const float* /*bound*/) {
  if (n_q == 0) return;
  EMB_EXPECTS(k >= 1 && k <= n_cand, "k_nearest_among: k = ", k, " with ", n_cand, " candidates");
  const int64_t d = x.cols;
  std::vector<float> q(static_cast<size_t>(n_q * d)), c(static_cast<size_t>(n_cand * d));
  for (int64_t i = 0; i < n_q; ++i) std::copy_n(x.row(q_rows[i]), d, q.data() + i * d);
  for (int64_t j = 0; j < n_cand; ++j) std::copy_n(x.row(cand[j]), d, c.data() + j * d);
  k_nearest({q.data(), n_q, d}, {c.data(), n_cand, d}, k, idx, dist2);
  for (int64_t t = 0; t < n_q * k; ++t)
    if (idx[t] >= 0) idx[t] = cand[idx[t]];
}

void Backend::k_nearest_within(ConstMatrixView x, const int32_t* rows, int64_t n, int k, int32_t* idx, float* dist2,
                               const float* bound) {
  k_nearest_among(x, rows, n, rows, n, k, idx, dist2, bound);
}

Device parse_device(const std::string& s) {
  if (s == "auto") return Device::Auto;
  if (s == "cpu") return Device::Cpu;
  if (s == "cuda") return Device::Cuda;
  throw UsageError("--device must be auto, cpu or cuda, not '" + s + "'");
}

EncoderPrecision parse_precision(const std::string& s) {
  if (s == "fp16") return EncoderPrecision::Fp16;
  if (s == "fp32") return EncoderPrecision::Fp32;
  throw UsageError("--precision must be fp16 or fp32, not '" + s + "'");
}

std::unique_ptr<Backend> make_backend(const BackendOptions& opts, std::string* notice) {
  if (opts.device != Device::Cpu) {
    std::string why;
#ifdef EMBCLUST_HAVE_CUDA
    if (cuda::device_count(&why) > 0) {
      cuda::CudaOptions co;
      co.encoder_fp16 = opts.precision == EncoderPrecision::Fp16;
      auto gpu = cuda::make_cuda_backend(0, co);
      if (notice) *notice = "using " + gpu->name();
      return std::make_unique<DispatchBackend>(std::move(gpu), make_cpu_backend(opts.threads));
    }
#else
    why = "this build of embclust has no CUDA backend";
#endif
    if (opts.device == Device::Cuda)
      throw RuntimeError("--device cuda was asked for, but no CUDA device is usable (" + why + ").");
    auto cpu = make_cpu_backend(opts.threads);
    if (notice) *notice = "using " + cpu->name() + "; no CUDA device is usable (" + why + ")";
    return cpu;
  }
  auto cpu = make_cpu_backend(opts.threads);
  if (notice) *notice = "using " + cpu->name();
  return cpu;
}

}  // namespace emb
