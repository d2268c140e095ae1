#pragma once
// Exact squared distances of given pairs of rows, summed in double precision.
#include <cuda_runtime.h>

#include <cstdint>

namespace emb::cuda {

/// @brief out[t] = sum_j (x[a[t]][j] - x[b[t]][j])^2 in double, for t < n; d_x is
///        row-major with d columns. One warp per pair, lanes over the columns, a
///        fixed reduction order: the same result on every run. Asynchronous.
void pair_distances_async(const float* d_x, int64_t d, const int32_t* d_a, const int32_t* d_b, int64_t n,
                          double* d_out, cudaStream_t stream);

}  // namespace emb::cuda
