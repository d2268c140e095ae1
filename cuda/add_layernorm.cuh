#pragma once
// Residual add followed by LayerNorm (the post-norm step of a BERT layer), on the device.
#include <cuda_runtime.h>

#include <cstdint>

namespace emb::cuda {

/// @brief x = LayerNorm(x + residual) in place for each of `tokens` rows of width h (h <= 8192; throws
///        emb::InputError beyond), fp32 on `stream`. Asynchronous.
void add_layernorm_async(float* d_x, const float* d_residual, int64_t tokens, int64_t h, const float* d_gamma,
                         const float* d_beta, float eps, cudaStream_t stream);

}  // namespace emb::cuda
