// CudaBackend: checks inputs and moves data at the entry points, then calls the
// per-op launchers in cuda/<op>.cu on the backend's stream. A held matrix (hold())
// stays on the device, so k-means uploads its points once, not every iteration.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <utility>
#include <vector>

#include "cuda/accumulate_centroids.cuh"
#include "cuda/check.cuh"
#include "cuda/cuda_backend.hpp"
#include "cuda/device_buffer.cuh"
#include "cuda/distance_tile.cuh"
#include "cuda/encoder_ops.cuh"
#include "cuda/k_nearest.cuh"
#include "cuda/nearest_centroids.cuh"
#include "cuda/pca_ops.cuh"
#include "cuda/nearest_other_component.cuh"
#include "cuda/pair_distances.cuh"
#include "cuda/normalize_rows.cuh"
#include "cuda/pinned_buffer.cuh"
#include "cuda/squared_distances.cuh"

namespace emb::cuda {
namespace {

class CudaBackend final : public Backend {
 public:
  CudaBackend(int device, const CudaOptions& options) : device_(device), options_(options) {
    EMB_CUDA_TRY(cudaSetDevice(device_));
    EMB_CUDA_TRY(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    EMB_CUBLAS_TRY(cublasCreate(&blas_));
    EMB_CUBLAS_TRY(cublasSetStream(blas_, stream_));
    // Plain FP32 (the default math mode; TF32 would move distances away from the CPU reference).
    EMB_CUBLAS_TRY(cublasSetMathMode(blas_, CUBLAS_DEFAULT_MATH));
    name_ = "cuda:" + std::to_string(device_) + " (" + device_description(device_) + ")";
  }
  ~CudaBackend() override {
    if (solver_) cusolverDnDestroy(solver_);
    if (blas_) cublasDestroy(blas_);
    if (stream_) cudaStreamDestroy(stream_);
  }

  std::string name() const override { return name_; }
  bool is_gpu() const override { return true; }
  bool supports(Op) const override { return true; }
  void covariance(ConstMatrixView x, double* mean, BasicMatrixView<double> cov) override {
    EMB_CUDA_TRY(cudaSetDevice(device_));
    covariance_from_host(blas_, x, mean, cov, pca_);
  }
  void symmetric_eigen(BasicMatrixView<const double> a, double* values, BasicMatrixView<double> vectors) override {
    EMB_CUDA_TRY(cudaSetDevice(device_));
    if (!solver_) {
      if (cusolverDnCreate(&solver_) != CUSOLVER_STATUS_SUCCESS || cusolverDnSetStream(solver_, stream_) !=
                                                                         CUSOLVER_STATUS_SUCCESS)
        throw RuntimeError("cuSOLVER could not be initialised on cuda:" + std::to_string(device_));
    }
    symmetric_eigen_from_host(solver_, a, values, vectors, pca_);
  }
  void project(ConstMatrixView x, const float* mean, ConstMatrixView components, MatrixView out) override {
    EMB_CUDA_TRY(cudaSetDevice(device_));
    project_from_host(blas_, x, mean, components, out, pca_);
  }
  std::unique_ptr<EncoderOps> make_encoder_ops() override {
    if (!options_.encoder) return nullptr;
    return make_cuda_encoder_ops(device_, options_.encoder_fp16 ? GemmPrecision::F16 : GemmPrecision::F32);
  }

  void hold(ConstMatrixView x) override {
    EMB_CUDA_TRY(cudaSetDevice(device_));
    held_ = Held{};
    if (x.size() == 0) return;
    if (options_.max_held_floats >= 0 && x.size() > options_.max_held_floats) return;  // stream it instead
    if (options_.max_held_floats < 0) {
      // Hold only what leaves room for the work itself (a few blocks and tiles of
      // block_floats each, and 256 MiB for the libraries): else stream.
      size_t free_bytes = 0, total_bytes = 0;
      EMB_CUDA_TRY(cudaMemGetInfo(&free_bytes, &total_bytes));
      const double need = 4.0 * static_cast<double>(x.size()) + 8.0 * static_cast<double>(x.rows) +
                          4.0 * 4.0 * static_cast<double>(options_.block_floats) + 256.0 * (1 << 20);
      if (need > static_cast<double>(free_bytes)) return;
    }
    try {
      held_.x.resize(static_cast<size_t>(x.size()));
      held_.norms.resize(static_cast<size_t>(x.rows));
    } catch (const RuntimeError&) {
      // Too large for the device: a hint, not a requirement; ops stream x in blocks.
      held_ = Held{};
      cudaGetLastError();
      return;
    }
    upload(x, held_.x.data());
    squared_row_norms_async(held_.x.data(), x.rows, x.cols, held_.norms.data(), stream_);
    EMB_CUDA_TRY(cudaStreamSynchronize(stream_));
    held_.host = x.data;
    held_.rows = x.rows;
    held_.cols = x.cols;
  }
  void release(ConstMatrixView x) override {
    if (held_.host == x.data) held_ = Held{};
  }

  void normalize_rows(MatrixView x) override {
    if (x.size() == 0) return;
    EMB_CUDA_TRY(cudaSetDevice(device_));
    // In blocks of bounded size (rows are independent), so that normalizing a large
    // matrix does not leave a copy of it in device memory.
    for_each_uploaded_block(x, [&](int64_t b0, int64_t nb, float* dx) {
      normalize_rows_async(dx, nb, x.cols, stream_);
      download(dx, x.row(b0), nb * x.cols);
      EMB_CUDA_TRY(cudaStreamSynchronize(stream_));  // the next block reuses the buffer
    });
  }

  void squared_distances(ConstMatrixView x, ConstMatrixView c, MatrixView out) override {
    if (x.rows == 0 || c.rows == 0) return;
    EMB_CUDA_TRY(cudaSetDevice(device_));
    upload_centroids(c);
    for_each_block(x, c.rows, [&](int64_t b0, int64_t nb, const float* dx, const double* dnorm) {
      float* tile = tile_for(nb, c.rows);
      minus2_xct_async(blas_, dx, nb, c_.data(), c.rows, x.cols, tile);
      squared_from_tile_async(tile, nb, c.rows, dnorm, c_norm_.data(), stream_);
      download(tile, out.row(b0), nb * c.rows);
    });
    EMB_CUDA_TRY(cudaStreamSynchronize(stream_));
  }

  void nearest_centroids(ConstMatrixView x, ConstMatrixView c, int32_t* labels, float* dist2) override {
    if (x.rows == 0) return;
    EMB_CUDA_TRY(cudaSetDevice(device_));
    upload_centroids(c);
    labels_.resize(static_cast<size_t>(x.rows));
    dist_.resize(static_cast<size_t>(x.rows));
    for_each_block(x, c.rows, [&](int64_t b0, int64_t nb, const float* dx, const double* dnorm) {
      float* tile = tile_for(nb, c.rows);
      minus2_xct_async(blas_, dx, nb, c_.data(), c.rows, x.cols, tile);
      nearest_from_tile_async(tile, nb, c.rows, dnorm, c_norm_.data(), labels_.data() + b0,
                              dist2 ? dist_.data() + b0 : nullptr, stream_);
    });
    // Through pinned staging: a pageable copy of this size runs at a fraction of PCIe speed.
    pinned_labels_.resize(static_cast<size_t>(x.rows));
    EMB_CUDA_TRY(cudaMemcpyAsync(pinned_labels_.data(), labels_.data(), sizeof(int32_t) * x.rows,
                                 cudaMemcpyDeviceToHost, stream_));
    if (dist2) {
      pinned_dist_.resize(static_cast<size_t>(x.rows));
      download(dist_.data(), pinned_dist_.data(), x.rows);
    }
    EMB_CUDA_TRY(cudaStreamSynchronize(stream_));
    std::copy_n(pinned_labels_.data(), x.rows, labels);
    if (dist2) std::copy_n(pinned_dist_.data(), x.rows, dist2);
  }

  void accumulate_centroids(ConstMatrixView x, const int32_t* labels, const float* weights,
                            BasicMatrixView<double> sums, double* counts) override {
    if (x.rows == 0 || sums.rows == 0) return;
    EMB_CUDA_TRY(cudaSetDevice(device_));
    if (const float* dx = resident(x)) {
      accumulate_rows(dx, x.rows, x.cols, labels, weights, sums, counts);
      return;
    }
    // Not held: stream blocks of rows; each block's sums are added in block order,
    // so the result is still the same on every run.
    for_each_uploaded_block(x, [&](int64_t b0, int64_t nb, float* dx) {
      accumulate_rows(dx, nb, x.cols, labels + b0, weights ? weights + b0 : nullptr, sums, counts);
    });
  }

  // Blocks of query rows against tiles of x (each resident or uploaded), one GEMM
  // per tile, each row's k best kept on the device across tiles.
  void k_nearest(ConstMatrixView q, ConstMatrixView x, int k, int32_t* idx, float* dist2) override {
    if (q.rows == 0) return;
    check_k(k, q.cols, x.cols);
    EMB_CUDA_TRY(cudaSetDevice(device_));
    k_nearest_blocks(q.rows, x.rows, q.cols, k, idx, dist2, nullptr,
                     [&](int64_t b0, int64_t nb, const double** dqn) {
                       return device_rows(q.block(b0, nb), q_block_, q_norm_, dqn);
                     },
                     [&](int64_t t0, int64_t nt, const double** dxn) {
                       return device_rows(x.block(t0, nt), x_block_, x_norm_, dxn);
                     });
  }

  // As k_nearest, the queries and candidates gathered from the held copy of x on
  // the device (a contiguous run of candidates read in place); x not held: the
  // host gathers them.
  void k_nearest_among(ConstMatrixView x, const int32_t* q_rows, int64_t n_q, const int32_t* cand, int64_t n_cand,
                       int k, int32_t* idx, float* dist2, const float* bound) override {
    if (n_q == 0) return;
    if (!resident(x)) {
      Backend::k_nearest_among(x, q_rows, n_q, cand, n_cand, k, idx, dist2, bound);
      return;
    }
    check_k(k, x.cols, x.cols);
    if (k > n_cand) throw RuntimeError("k_nearest_among: k = " + std::to_string(k) + " with " +
                                       std::to_string(n_cand) + " candidates");
    check_rows("k_nearest_among", q_rows, n_q, x.rows);
    check_rows("k_nearest_among", cand, n_cand, x.rows);
    EMB_CUDA_TRY(cudaSetDevice(device_));
    rows_.resize(static_cast<size_t>(n_q));
    EMB_CUDA_TRY(cudaMemcpyAsync(rows_.data(), q_rows, sizeof(int32_t) * n_q, cudaMemcpyHostToDevice, stream_));
    const bool run = is_run(cand, n_cand);
    if (!run) {
      cand_.resize(static_cast<size_t>(n_cand));
      EMB_CUDA_TRY(cudaMemcpyAsync(cand_.data(), cand, sizeof(int32_t) * n_cand, cudaMemcpyHostToDevice, stream_));
    }
    if (bound) {
      bound_.resize(static_cast<size_t>(n_q));
      EMB_CUDA_TRY(cudaMemcpyAsync(bound_.data(), bound, sizeof(float) * n_q, cudaMemcpyHostToDevice, stream_));
    }
    k_nearest_blocks(n_q, n_cand, x.cols, k, idx, dist2, bound ? bound_.data() : nullptr,
                     [&](int64_t b0, int64_t nb, const double** dqn) {
                       return gathered_rows(x, rows_.data() + b0, nb, q_block_, q_norm_, dqn);
                     },
                     [&](int64_t t0, int64_t nt, const double** dxn) {
                       if (run) return device_rows(x.block(cand[0] + t0, nt), x_block_, x_norm_, dxn);
                       return gathered_rows(x, cand_.data() + t0, nt, x_block_, x_norm_, dxn);
                     });
    for (int64_t t = 0; t < n_q * k; ++t)
      if (idx[t] >= 0) idx[t] = cand[idx[t]];
  }

  // Exact (double) distances of row pairs from the held copy; not held: the host's.
  void pair_distances(ConstMatrixView x, const int32_t* a, const int32_t* b, int64_t n, double* out) override {
    if (n == 0) return;
    const float* held = resident(x);
    if (!held) {
      Backend::pair_distances(x, a, b, n, out);
      return;
    }
    check_rows("pair_distances", a, n, x.rows);
    check_rows("pair_distances", b, n, x.rows);
    EMB_CUDA_TRY(cudaSetDevice(device_));
    pair_a_.resize(static_cast<size_t>(n));
    pair_b_.resize(static_cast<size_t>(n));
    pair_out_.resize(static_cast<size_t>(n));
    EMB_CUDA_TRY(cudaMemcpyAsync(pair_a_.data(), a, sizeof(int32_t) * n, cudaMemcpyHostToDevice, stream_));
    EMB_CUDA_TRY(cudaMemcpyAsync(pair_b_.data(), b, sizeof(int32_t) * n, cudaMemcpyHostToDevice, stream_));
    pair_distances_async(held, x.cols, pair_a_.data(), pair_b_.data(), n, pair_out_.data(), stream_);
    EMB_CUDA_TRY(cudaMemcpyAsync(out, pair_out_.data(), sizeof(double) * n, cudaMemcpyDeviceToHost, stream_));
    EMB_CUDA_TRY(cudaStreamSynchronize(stream_));
  }

  // TF32 inputs keep 10 of float's 23 fraction bits: each rounds by at most 2^-11
  // of itself, so a product q_k x_k moves by at most (2^-10 + 2^-22)|q_k x_k|, and
  // -2 q.x by at most 2^-10 (1 + 2^-12) 2|q||x| <= 2^-10 (1 + 2^-12)(||q||^2 + ||x||^2).
  // Reported with a factor of 2 to spare.
  double fast_distances(bool on) override {
    tf32_ = on;
    return on ? std::ldexp(1.0, -9) : 0.0;
  }

  // The rows gathered on the device (from the held copy) or on the host, then
  // blocks of them against tiles of the searched rows (all of x, or the
  // candidates), the best per row kept on the device.
  void nearest_other_component(ConstMatrixView x, const int32_t* rows, int64_t n_rows, const float* core2,
                               const int32_t* component, const int32_t* cand, int64_t n_cand, int32_t* nearest,
                               float* weight2) override {
    if (n_rows == 0) return;
    check_rows("nearest_other_component", rows, n_rows, x.rows);
    if (cand) check_rows("nearest_other_component", cand, n_cand, x.rows);
    EMB_CUDA_TRY(cudaSetDevice(device_));
    const int64_t d = x.cols;
    const int64_t n_pos = cand ? n_cand : x.rows;
    // Per query row its core distance and component; per searched position the same.
    host_core_.resize(static_cast<size_t>(n_rows + n_pos));
    host_comp_.resize(static_cast<size_t>(n_rows + n_pos));
    for (int64_t t = 0; t < n_rows; ++t) {
      host_core_[t] = core2[rows[t]];
      host_comp_[t] = component[rows[t]];
    }
    for (int64_t p = 0; p < n_pos; ++p) {
      const int64_t r = cand ? cand[p] : p;
      host_core_[n_rows + p] = core2[r];
      host_comp_[n_rows + p] = component[r];
    }
    core2_.resize(static_cast<size_t>(n_rows + n_pos));
    component_.resize(static_cast<size_t>(n_rows + n_pos));
    EMB_CUDA_TRY(cudaMemcpyAsync(core2_.data(), host_core_.data(), sizeof(float) * (n_rows + n_pos),
                                 cudaMemcpyHostToDevice, stream_));
    EMB_CUDA_TRY(cudaMemcpyAsync(component_.data(), host_comp_.data(), sizeof(int32_t) * (n_rows + n_pos),
                                 cudaMemcpyHostToDevice, stream_));
    rows_.resize(static_cast<size_t>(n_rows));
    EMB_CUDA_TRY(cudaMemcpyAsync(rows_.data(), rows, sizeof(int32_t) * n_rows, cudaMemcpyHostToDevice, stream_));
    const bool run = cand && is_run(cand, n_cand);
    if (cand && !run) {
      cand_.resize(static_cast<size_t>(n_cand));
      EMB_CUDA_TRY(cudaMemcpyAsync(cand_.data(), cand, sizeof(int32_t) * n_cand, cudaMemcpyHostToDevice, stream_));
    }
    dist_.resize(static_cast<size_t>(n_rows));
    labels_.resize(static_cast<size_t>(n_rows));
    nearest_other_init_async(dist_.data(), labels_.data(), n_rows, stream_);
    const auto [block, tile] = neighbour_tiling(n_rows, n_pos, d, 0);
    // TF32 tensor cores for this op's GEMMs only, when asked for (fast_distances).
    struct MathMode {
      cublasHandle_t h;
      bool on;
      MathMode(cublasHandle_t handle, bool tf32) : h(handle), on(tf32) {
        if (on) EMB_CUBLAS_TRY(cublasSetMathMode(h, CUBLAS_TF32_TENSOR_OP_MATH));
      }
      ~MathMode() {
        if (on) cublasSetMathMode(h, CUBLAS_DEFAULT_MATH);
      }
    } math(blas_, tf32_);
    for (int64_t b0 = 0; b0 < n_rows; b0 += block) {
      const int64_t nb = std::min(block, n_rows - b0);
      const double* dqn = nullptr;
      const float* dq = gathered_rows(x, rows_.data() + b0, nb, q_block_, q_norm_, &dqn, rows + b0);
      for (int64_t t0 = 0; t0 < n_pos; t0 += tile) {
        const int64_t nt = std::min(tile, n_pos - t0);
        const double* dxn = nullptr;
        const float* dx = !cand ? device_rows(x.block(t0, nt), x_block_, x_norm_, &dxn)
                          : run ? device_rows(x.block(cand[0] + t0, nt), x_block_, x_norm_, &dxn)
                                : gathered_rows(x, cand_.data() + t0, nt, x_block_, x_norm_, &dxn, cand + t0);
        float* t = tile_for(nb, nt);
        minus2_xct_async(blas_, dq, nb, dx, nt, d, t);
        nearest_other_from_tile_async(t, nb, nt, static_cast<int32_t>(t0), dqn, dxn, core2_.data() + b0,
                                      component_.data() + b0, core2_.data() + n_rows, component_.data() + n_rows,
                                      dist_.data() + b0, labels_.data() + b0, stream_);
      }
    }
    pinned_labels_.resize(static_cast<size_t>(n_rows));
    pinned_dist_.resize(static_cast<size_t>(n_rows));
    EMB_CUDA_TRY(cudaMemcpyAsync(pinned_labels_.data(), labels_.data(), sizeof(int32_t) * n_rows,
                                 cudaMemcpyDeviceToHost, stream_));
    download(dist_.data(), pinned_dist_.data(), n_rows);
    EMB_CUDA_TRY(cudaStreamSynchronize(stream_));
    for (int64_t t = 0; t < n_rows; ++t) {
      const int32_t j = pinned_labels_.data()[t];
      nearest[t] = j >= 0 && cand ? cand[j] : j;
    }
    std::copy_n(pinned_dist_.data(), n_rows, weight2);
  }

 private:
  static void check_k(int k, int64_t q_cols, int64_t x_cols) {
    // A bad argument would read outside device memory and spoil the whole context.
    if (k < 1 || q_cols != x_cols)
      throw RuntimeError("k_nearest: k = " + std::to_string(k) + " with " + std::to_string(q_cols) + "- and " +
                         std::to_string(x_cols) + "-column rows");
  }
  static void check_rows(const char* op, const int32_t* rows, int64_t n, int64_t x_rows) {
    for (int64_t t = 0; t < n; ++t)
      if (rows[t] < 0 || rows[t] >= x_rows)
        throw RuntimeError(std::string(op) + ": row " + std::to_string(rows[t]) + " is outside 0.." +
                           std::to_string(x_rows - 1));
  }
  // Whether rows are one contiguous run (first, first + 1, ...).
  static bool is_run(const int32_t* rows, int64_t n) { return n > 0 && rows[n - 1] - rows[0] == n - 1; }

  // The k-nearest loop over blocks of n_q queries and tiles of n_x searched rows:
  // query_block(b0, nb, &norms) and x_tile(t0, nt, &norms) give their device rows.
  template <class Q, class X>
  void k_nearest_blocks(int64_t n_q, int64_t n_x, int64_t d, int k, int32_t* idx, float* dist2, const float* d_bound,
                        Q&& query_block, X&& x_tile) {
    const int64_t per_row = 2 * static_cast<int64_t>(k) + k_nearest_scratch_floats(k);  // lists + scratch
    const auto [block, tile] = neighbour_tiling(n_q, n_x, d, per_row);
    list_dist_.resize(static_cast<size_t>(block * k));
    list_idx_.resize(static_cast<size_t>(block * k));
    list_scratch_.resize(static_cast<size_t>(block * k_nearest_scratch_floats(k)));
    pinned_dist_.resize(static_cast<size_t>(block * k));
    pinned_labels_.resize(static_cast<size_t>(block * k));
    for (int64_t b0 = 0; b0 < n_q; b0 += block) {
      const int64_t nb = std::min(block, n_q - b0);
      const double* dqn = nullptr;
      const float* dq = query_block(b0, nb, &dqn);
      k_nearest_init_async(list_dist_.data(), list_idx_.data(), nb, k, stream_, d_bound ? d_bound + b0 : nullptr);
      for (int64_t t0 = 0; t0 < n_x; t0 += tile) {
        const int64_t nt = std::min(tile, n_x - t0);
        const double* dxn = nullptr;
        const float* dx = x_tile(t0, nt, &dxn);
        float* t = tile_for(nb, nt);
        minus2_xct_async(blas_, dq, nb, dx, nt, d, t);
        k_nearest_merge_tile_async(t, nb, nt, static_cast<int32_t>(t0), dqn, dxn, k, list_dist_.data(),
                                   list_idx_.data(), list_scratch_.data(), stream_);
      }
      const int64_t count = nb * k;
      download(list_dist_.data(), pinned_dist_.data(), count);
      EMB_CUDA_TRY(cudaMemcpyAsync(pinned_labels_.data(), list_idx_.data(), sizeof(int32_t) * count,
                                   cudaMemcpyDeviceToHost, stream_));
      EMB_CUDA_TRY(cudaStreamSynchronize(stream_));
      // Slots no finite distance filled hold (+inf, INT32_MAX): reported as -1.
      for (int64_t i = 0; i < count; ++i) {
        const int32_t j = pinned_labels_.data()[i];
        idx[b0 * k + i] = j == INT32_MAX ? -1 : j;
      }
      std::copy_n(pinned_dist_.data(), count, dist2 + b0 * k);
    }
  }

  // n rows of x, by the device row list d_rows (host_rows: the same list on the
  // host), into buf with their squared norms: gathered on the device from the held
  // copy, else on the host and uploaded.
  const float* gathered_rows(ConstMatrixView x, const int32_t* d_rows, int64_t n, DeviceBuffer<float>& buf,
                             DeviceBuffer<double>& norms, const double** dnorm, const int32_t* host_rows = nullptr) {
    buf.resize(static_cast<size_t>(n * x.cols));
    norms.resize(static_cast<size_t>(n));
    if (const float* held = resident(x)) {
      gather_rows_async(held, x.cols, d_rows, n, buf.data(), stream_);
    } else {
      // From pageable memory: the copy has taken the rows when it returns.
      host_rows_.resize(static_cast<size_t>(n * x.cols));
      std::vector<int32_t> r;
      if (!host_rows) {
        r.resize(static_cast<size_t>(n));
        EMB_CUDA_TRY(cudaMemcpyAsync(r.data(), d_rows, sizeof(int32_t) * n, cudaMemcpyDeviceToHost, stream_));
        EMB_CUDA_TRY(cudaStreamSynchronize(stream_));
        host_rows = r.data();
      }
      for (int64_t i = 0; i < n; ++i) std::copy_n(x.row(host_rows[i]), x.cols, host_rows_.data() + i * x.cols);
      upload({host_rows_.data(), n, x.cols}, buf.data());
    }
    squared_row_norms_async(buf.data(), n, x.cols, norms.data(), stream_);
    *dnorm = norms.data();
    return buf.data();
  }

  // Query rows per block and rows of x per tile for the neighbour ops: the block's
  // rows, the tile's rows and the block x tile distances each stay within
  // block_floats, as do the block's per-row state (per_row floats a row).
  std::pair<int64_t, int64_t> neighbour_tiling(int64_t q_rows, int64_t x_rows, int64_t d, int64_t per_row) const {
    constexpr int64_t kMaxBlockRows = 8192;  // enough rows to fill the GPU
    int64_t block = std::min({q_rows, kMaxBlockRows, rows_per_block_for(d)});
    if (per_row > 0) block = std::min(block, std::max<int64_t>(1, options_.block_floats / per_row));
    const int64_t tile = std::min({x_rows, rows_per_block_for(d), std::max<int64_t>(1, options_.block_floats / block)});
    return {block, tile};
  }

  // The device copy of the rows m (resident, or uploaded into buf) and their
  // squared norms (resident, or computed into norms).
  const float* device_rows(ConstMatrixView m, DeviceBuffer<float>& buf, DeviceBuffer<double>& norms,
                           const double** dnorm) {
    if (const float* d = resident(m, dnorm)) return d;
    buf.resize(static_cast<size_t>(m.size()));
    norms.resize(static_cast<size_t>(m.rows));
    upload(m, buf.data());
    squared_row_norms_async(buf.data(), m.rows, m.cols, norms.data(), stream_);
    *dnorm = norms.data();
    return buf.data();
  }

  // sums += per-cluster sums of the n device rows dx; counts += their weights.
  void accumulate_rows(const float* dx, int64_t n, int64_t d, const int32_t* labels, const float* weights,
                       BasicMatrixView<double> sums, double* counts) {
    labels_.resize(static_cast<size_t>(n));
    pinned_labels_.resize(static_cast<size_t>(n));
    std::copy_n(labels, n, pinned_labels_.data());
    EMB_CUDA_TRY(cudaMemcpyAsync(labels_.data(), pinned_labels_.data(), sizeof(int32_t) * n, cudaMemcpyHostToDevice,
                                 stream_));
    if (weights) {
      weights_.resize(static_cast<size_t>(n));
      EMB_CUDA_TRY(cudaMemcpyAsync(weights_.data(), weights, sizeof(float) * n, cudaMemcpyHostToDevice, stream_));
    }
    const size_t kd = static_cast<size_t>(sums.rows * d);
    sums_.resize(kd);
    counts_.resize(static_cast<size_t>(sums.rows));
    accumulate_centroids_async(dx, n, d, labels_.data(), weights ? weights_.data() : nullptr, sums.rows, sums_.data(),
                               counts_.data(), acc_scratch_, stream_);
    // host_sums_ and host_counts_ are pinned: the copies run at PCIe speed.
    host_sums_.resize(kd);
    host_counts_.resize(static_cast<size_t>(sums.rows));
    EMB_CUDA_TRY(cudaMemcpyAsync(host_sums_.data(), sums_.data(), sizeof(double) * kd, cudaMemcpyDeviceToHost, stream_));
    EMB_CUDA_TRY(cudaMemcpyAsync(host_counts_.data(), counts_.data(), sizeof(double) * sums.rows,
                                 cudaMemcpyDeviceToHost, stream_));
    EMB_CUDA_TRY(cudaStreamSynchronize(stream_));
    const double* hs = host_sums_.data();
    const double* hc = host_counts_.data();
    for (size_t i = 0; i < kd; ++i) sums.data[i] += hs[i];  // the op accumulates into sums
    for (int64_t c = 0; c < sums.rows; ++c) counts[c] += hc[c];
  }

  struct Held {
    const float* host = nullptr;
    int64_t rows = 0, cols = 0;
    DeviceBuffer<float> x;
    DeviceBuffer<double> norms;
  };

  // The device copy of x when x is the held matrix or a row block of it, else null.
  const float* resident(ConstMatrixView x, const double** norms = nullptr) const {
    if (!held_.host || x.cols != held_.cols || x.data < held_.host) return nullptr;
    const int64_t off = x.data - held_.host;
    if (off % held_.cols != 0 || off / held_.cols + x.rows > held_.rows) return nullptr;
    if (norms) *norms = held_.norms.data() + off / held_.cols;
    return held_.x.data() + off;
  }

  // Calls f(first row, rows, device rows, device squared norms) for blocks of x
  // small enough that the block and its rows x k tile stay bounded.
  template <class F>
  void for_each_block(ConstMatrixView x, int64_t k, F&& f) {
    const int64_t rows_per_block = std::min(rows_per_block_for(x.cols), std::max<int64_t>(1, options_.block_floats / std::max<int64_t>(k, 1)));
    for (int64_t b0 = 0; b0 < x.rows; b0 += rows_per_block) {
      const int64_t nb = std::min(rows_per_block, x.rows - b0);
      const ConstMatrixView xb = x.block(b0, nb);
      const double* norms = nullptr;
      const float* dx = resident(xb, &norms);
      if (!dx) {
        x_block_.resize(static_cast<size_t>(xb.size()));
        x_norm_.resize(static_cast<size_t>(nb));
        upload(xb, x_block_.data());
        squared_row_norms_async(x_block_.data(), nb, x.cols, x_norm_.data(), stream_);
        dx = x_block_.data();
        norms = x_norm_.data();
      }
      f(b0, nb, dx, norms);
    }
  }

  // Calls f(first row, rows, device copy of those rows) for blocks of x uploaded one
  // after another into the same buffer (rows_per_block_for rows each).
  template <class F>
  void for_each_uploaded_block(ConstMatrixView x, F&& f) {
    const int64_t rows_per_block = rows_per_block_for(x.cols);
    for (int64_t b0 = 0; b0 < x.rows; b0 += rows_per_block) {
      const int64_t nb = std::min(rows_per_block, x.rows - b0);
      const ConstMatrixView xb = x.block(b0, nb);
      x_block_.resize(static_cast<size_t>(xb.size()));
      upload(xb, x_block_.data());
      f(b0, nb, x_block_.data());
    }
  }

  int64_t rows_per_block_for(int64_t cols) const {
    return std::max<int64_t>(1, options_.block_floats / std::max<int64_t>(cols, 1));
  }

  void upload_centroids(ConstMatrixView c) {
    c_.resize(static_cast<size_t>(c.size()));
    c_norm_.resize(static_cast<size_t>(c.rows));
    upload(c, c_.data());
    squared_row_norms_async(c_.data(), c.rows, c.cols, c_norm_.data(), stream_);
  }

  float* tile_for(int64_t rows, int64_t k) {
    tile_.resize(static_cast<size_t>(rows * k));
    return tile_.data();
  }

  void upload(ConstMatrixView m, float* d) {
    EMB_CUDA_TRY(cudaMemcpyAsync(d, m.data, sizeof(float) * m.size(), cudaMemcpyHostToDevice, stream_));
  }
  void download(const float* d, float* h, int64_t count) {
    EMB_CUDA_TRY(cudaMemcpyAsync(h, d, sizeof(float) * count, cudaMemcpyDeviceToHost, stream_));
  }

  int device_ = 0;
  CudaOptions options_;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t blas_ = nullptr;
  cusolverDnHandle_t solver_ = nullptr;  // created on the first symmetric_eigen
  PcaScratch pca_;
  std::string name_;
  Held held_;
  DeviceBuffer<float> x_block_, c_, tile_, dist_, weights_;
  DeviceBuffer<double> x_norm_, c_norm_;
  DeviceBuffer<int32_t> labels_;
  // The neighbour ops: a block of query rows, the running lists, the Boruvka inputs.
  DeviceBuffer<float> q_block_, list_dist_, list_scratch_, core2_;
  DeviceBuffer<double> q_norm_;
  DeviceBuffer<int32_t> list_idx_, component_, rows_, cand_;
  bool tf32_ = false;
  DeviceBuffer<int32_t> pair_a_, pair_b_;
  DeviceBuffer<float> bound_;
  DeviceBuffer<double> pair_out_;
  std::vector<float> host_core_;
  std::vector<int32_t> host_comp_;
  std::vector<float> host_rows_;
  DeviceBuffer<double> sums_, counts_;
  AccumulateScratch acc_scratch_;
  PinnedBuffer<double> host_sums_, host_counts_;
  PinnedBuffer<int32_t> pinned_labels_;
  PinnedBuffer<float> pinned_dist_;
};

}  // namespace

int device_count(std::string* why) {
  int n = 0;
  const cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    if (why) *why = cudaGetErrorString(err);
    cudaGetLastError();  // clear the error so later calls start clean
    return 0;
  }
  if (n == 0 && why) *why = "no CUDA device found";
  return n;
}

std::string device_description(int device) {
  cudaDeviceProp p{};
  EMB_CUDA_TRY(cudaGetDeviceProperties(&p, device));
  char buf[256];
  std::snprintf(buf, sizeof buf, "%s, %d SMs, %.1f GiB, compute %d.%d", p.name, p.multiProcessorCount,
                static_cast<double>(p.totalGlobalMem) / (1024.0 * 1024.0 * 1024.0), p.major, p.minor);
  return buf;
}

std::unique_ptr<Backend> make_cuda_backend(int device, const CudaOptions& options) {
  EMB_EXPECTS(options.block_floats >= 1, "the CUDA block size must be at least 1 float, got ", options.block_floats);
  return std::make_unique<CudaBackend>(device, options);
}

}  // namespace emb::cuda
