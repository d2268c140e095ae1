#pragma once
// Whole squared-distance rows from a tile of -2 x.c values.
#include <cuda_runtime.h>

#include <cstdint>

namespace emb::cuda {

/// @brief In place on the rows x k row-major tile: tile[i][j] = max(0, x_norm[i] +
///        c_norm[j] + tile[i][j]). Asynchronous.
void squared_from_tile_async(float* d_tile, int64_t rows, int64_t k, const double* d_x_norm, const double* d_c_norm,
                             cudaStream_t stream);

}  // namespace emb::cuda
