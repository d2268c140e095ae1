#pragma once
// The k nearest rows per query row, over tiles of -2 q.x: each row keeps a sorted
// list of its k best (distance, index) pairs in device memory, and each tile's
// candidates are merged into it.
#include <cuda_runtime.h>

#include <cstdint>

namespace emb::cuda {

/// @brief Device scratch, in floats per query row, that k_nearest_merge_tile_async
///        needs for this k: 0 while a row's working set fits in shared memory.
int64_t k_nearest_scratch_floats(int k);

/// @brief Empties `rows` lists of k: distances +inf (or row i's d_bound[i], so that
///        only nearer candidates enter), indices INT32_MAX (sorting last).
void k_nearest_init_async(float* d_dist, int32_t* d_idx, int64_t rows, int k, cudaStream_t stream,
                          const float* d_bound = nullptr);

/// @brief For each of `rows` rows i of tile (rows x cols, row-major, holding -2 q.x
///        for the rows base .. base+cols-1 of x): the distances
///        max(0, q_norm[i] + (x_norm[j] + tile[i][j])) merged into row i's list
///        (d_dist, d_idx: rows x k, nearest first, lower index first on equal
///        distances; NaN and +inf never enter). d_x_norm holds the tile's x rows only.
///        d_scratch has rows * k_nearest_scratch_floats(k) floats (null when that is 0).
///        Asynchronous.
void k_nearest_merge_tile_async(const float* d_tile, int64_t rows, int64_t cols, int32_t base,
                                const double* d_q_norm, const double* d_x_norm, int k, float* d_dist,
                                int32_t* d_idx, float* d_scratch, cudaStream_t stream);

}  // namespace emb::cuda
