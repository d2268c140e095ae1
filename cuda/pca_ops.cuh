#pragma once
// PCA on the device, with the CPU backend's contract (host/backend/backend.hpp):
// column means and covariance (rows centred in float, one FP32 SSYRK per tile of
// rows, tiles added up in double), the symmetric eigen-decomposition (cuSOLVER,
// double), and the projection (one FP32 SGEMM per centred tile). Everything runs in
// a fixed order, so results are the same on every run.
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cusolverDn.h>

#include <cstdint>

#include "cuda/device_buffer.cuh"
#include "host/core/matrix.hpp"

namespace emb::cuda {

/// @brief Reusable device scratch for the PCA ops; grows as needed.
struct PcaScratch {
  DeviceBuffer<double> partial;   // column sums per chunk of rows
  DeviceBuffer<float> centred;    // one tile of centred rows
  DeviceBuffer<float> gram_tile;  // one tile's Gram matrix (FP32)
  DeviceBuffer<double> gram;      // the Gram matrix summed over tiles
  DeviceBuffer<double> eigen;     // cuSOLVER's matrix, eigenvalues and workspace
  DeviceBuffer<int> info;
};

/// @brief d_sums[j] += the sum of column j over the rows of d_x (rows x cols,
///        row-major), in double, in a fixed order. Asynchronous on stream.
void add_column_sums_async(const float* d_x, int64_t rows, int64_t cols, double* d_sums, PcaScratch& scratch,
                           cudaStream_t stream);

/// @brief d_sums[j] /= rows, in place, turning column sums into means. Asynchronous.
void means_from_sums_async(double* d_sums, int64_t cols, int64_t rows, cudaStream_t stream);

/// @brief d_gram (cols x cols, row-major, double) += sum_i (x_i - mean)(x_i - mean)^T
///        over the rows of d_x; only the lower triangle (column <= row) is written.
///        Tiles of rows are centred into float, one FP32 SSYRK each, and added in
///        double. Asynchronous on the handle's stream.
void add_centred_gram_async(cublasHandle_t handle, const float* d_x, int64_t rows, int64_t cols, const double* d_mean,
                            double* d_gram, PcaScratch& scratch);

/// @brief d_cov (cols x cols, full) = the lower triangle of d_gram mirrored, divided
///        by rows - 1 (by 1 when rows == 1). d_cov must not alias d_gram. Asynchronous.
void covariance_from_gram_async(const double* d_gram, int64_t cols, int64_t rows, double* d_cov, cudaStream_t stream);

/// @brief Backend::covariance for rows resident on the device: the column means
///        into d_mean (cols values) and the covariance into d_cov (cols x cols).
///        Asynchronous on the handle's stream.
void covariance_async(cublasHandle_t handle, const float* d_x, int64_t rows, int64_t cols, double* d_mean,
                      double* d_cov, PcaScratch& scratch);

/// @brief Backend::symmetric_eigen on the device: d_a (n x n, row-major, double;
///        only its lower triangle is read; left unchanged) into d_values (n,
///        decreasing) and d_vectors (n x n, row i the unit eigenvector of value i,
///        its entry of largest magnitude positive, the first on equal magnitudes).
///        Runs on the handle's stream; waits for the decomposition to read cuSOLVER's
///        status, then orders and signs the vectors asynchronously.
/// @throws emb::RuntimeError when cuSOLVER fails or does not converge.
void symmetric_eigen(cusolverDnHandle_t handle, const double* d_a, int64_t n, double* d_values, double* d_vectors,
                     PcaScratch& scratch);

/// @brief Backend::project on the device: d_out (rows x m, row-major) =
///        (x_i - mean) . components[c], with d_mean (cols floats) and d_components
///        (m x cols). Asynchronous on the handle's stream.
void project_async(cublasHandle_t handle, const float* d_x, int64_t rows, int64_t cols, const float* d_mean,
                   const float* d_components, int64_t m, float* d_out, PcaScratch& scratch);

/// @brief Backend::covariance for rows in host memory: streams them to the device
///        in blocks (twice, unless one block holds them all). Blocking.
void covariance_from_host(cublasHandle_t handle, ConstMatrixView x, double* mean, BasicMatrixView<double> cov,
                          PcaScratch& scratch);

/// @brief Backend::symmetric_eigen for a matrix in host memory. Blocking.
/// @throws emb::RuntimeError when cuSOLVER fails or does not converge.
void symmetric_eigen_from_host(cusolverDnHandle_t handle, BasicMatrixView<const double> a, double* values,
                               BasicMatrixView<double> vectors, PcaScratch& scratch);

/// @brief Backend::project for rows in host memory, streamed in blocks. Blocking.
void project_from_host(cublasHandle_t handle, ConstMatrixView x, const float* mean, ConstMatrixView components,
                       MatrixView out, PcaScratch& scratch);

}  // namespace emb::cuda
