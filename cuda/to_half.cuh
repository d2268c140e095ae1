#pragma once
// fp32 to fp16 conversion for the operands of half-precision GEMMs, on the device.
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace emb::cuda {

/// @brief d_out[i] = (half)d_x[i], round to nearest even, for n elements on `stream`. Asynchronous.
void to_half_async(const float* d_x, int64_t n, __half* d_out, cudaStream_t stream);

}  // namespace emb::cuda
