#pragma once
// Argmin over a tile of -2 x.c values: the nearest centroid of each row.
#include <cuda_runtime.h>

#include <cstdint>

namespace emb::cuda {

/// @brief For each of `rows` rows of tile (row-major, rows x k, holding -2 x.c):
///        label = argmin_j (c_norm[j] + tile[j]) (lowest j on ties) and, when d_dist2
///        is not null, dist2 = max(0, x_norm + that minimum). Asynchronous.
void nearest_from_tile_async(const float* d_tile, int64_t rows, int64_t k, const double* d_x_norm,
                             const double* d_c_norm, int32_t* d_labels, float* d_dist2, cudaStream_t stream);

}  // namespace emb::cuda
