#pragma once
// Per-cluster weighted sums of rows, deterministic: members are visited in row
// order, so sums are bitwise the same on every run (and as on the CPU reference).
#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/device_buffer.cuh"

namespace emb::cuda {

/// @brief Reusable device scratch for accumulate_centroids_async.
struct AccumulateScratch {
  DeviceBuffer<int32_t> keys_out, index_in, index_out;
  DeviceBuffer<int64_t> starts;
  DeviceBuffer<unsigned char> cub_temp;
};

/// @brief d_sums (k x d, double, row-major) = sum of w_i * x_i over rows i with
///        label c, and d_counts[c] = sum of w_i (w = 1 when d_weights is null);
///        labels < 0 are skipped. Overwrites d_sums and d_counts. Asynchronous.
void accumulate_centroids_async(const float* d_x, int64_t n, int64_t d, const int32_t* d_labels,
                                const float* d_weights, int64_t k, double* d_sums, double* d_counts,
                                AccumulateScratch& scratch, cudaStream_t stream);

}  // namespace emb::cuda
