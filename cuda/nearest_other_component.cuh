#pragma once
// One Boruvka step under mutual reachability, over tiles of -2 q.x: per query row
// the nearest row of another component, kept in device memory across tiles.
#include <cuda_runtime.h>

#include <cstdint>

namespace emb::cuda {

/// @brief out (n x d, row-major) = rows d_rows[0..n) of d_x (row-major, d columns). Asynchronous.
void gather_rows_async(const float* d_x, int64_t d, const int32_t* d_rows, int64_t n, float* d_out,
                       cudaStream_t stream);

/// @brief Sets n running results to none: weight +inf, index -1. Asynchronous.
void nearest_other_init_async(float* d_weight2, int32_t* d_nearest, int64_t n, cudaStream_t stream);

/// @brief For each of `rows` query rows i (core distance d_q_core2[i], component
///        d_q_component[i]) and the tile (rows x cols, row-major, holding -2 q.x for
///        the searched positions base .. base+cols-1): the position base+j of another
///        component (d_component[base+j] != d_q_component[i]) minimising
///        w = max(d_q_core2[i], d_core2[base+j], max(0, q_norm[i] + (x_norm[j] +
///        tile[i][j]))), lowest position on ties, replaces the running (d_weight2[i],
///        d_nearest[i]) when w is strictly smaller. d_core2 and d_component cover
///        all searched positions; d_x_norm the tile's only. Asynchronous.
void nearest_other_from_tile_async(const float* d_tile, int64_t rows, int64_t cols, int32_t base,
                                   const double* d_q_norm, const double* d_x_norm, const float* d_q_core2,
                                   const int32_t* d_q_component, const float* d_core2, const int32_t* d_component,
                                   float* d_weight2, int32_t* d_nearest, cudaStream_t stream);

}  // namespace emb::cuda
