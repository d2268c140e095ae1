#pragma once
// Row-wise L2 normalization of a row-major matrix resident on the device.
#include <cuda_runtime.h>

#include <cstdint>

namespace emb::cuda {

/// @brief Scales each of the rows x cols row-major rows of d_x to unit L2 norm in
///        place on `stream`; all-zero rows stay zero. Asynchronous.
void normalize_rows_async(float* d_x, int64_t rows, int64_t cols, cudaStream_t stream);

}  // namespace emb::cuda
