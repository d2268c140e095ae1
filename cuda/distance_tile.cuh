#pragma once
// The GEMM part of squared L2 distances, on tiles of rows, and the squared row
// norms the rest of a distance needs.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace emb::cuda {

/// @brief tile (rows x k, row-major) = -2 * x (rows x d) * c^T (c is k x d), in FP32
///        (no TF32: distances must match the CPU reference). Asynchronous on the
///        handle's stream.
void minus2_xct_async(cublasHandle_t handle, const float* d_x, int64_t rows, const float* d_c, int64_t k,
                      int64_t d, float* d_tile);

/// @brief out[i] = squared L2 norm of row i, in double (as the CPU reference keeps it).
void squared_row_norms_async(const float* d_x, int64_t rows, int64_t cols, double* d_out, cudaStream_t stream);

}  // namespace emb::cuda
