#pragma once
// Sentence embedding from token states: mean, CLS or max pooling, optionally L2-normalized, on the device.
#include <cuda_runtime.h>

#include <cstdint>

namespace emb::cuda {

/// @brief out[b] = pool(x rows [offsets[b], offsets[b+1])) with mode 0 mean, 1 CLS (first token), 2 max,
///        then divided by max(||.||, 1e-12) when `normalize`; x is tokens x h, out batch x h, fp32 on
///        `stream`. An empty sequence gives a zero row. Throws emb::InputError for another mode. Asynchronous.
void pool_async(const float* d_x, const int32_t* d_offsets, int64_t batch, int64_t h, int mode, bool normalize,
                float* d_out, cudaStream_t stream);

}  // namespace emb::cuda
