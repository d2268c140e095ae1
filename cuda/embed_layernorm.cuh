#pragma once
// Encoder input: word + position + token-type embeddings, then LayerNorm, on the device.
#include <cuda_runtime.h>

#include <cstdint>

namespace emb::cuda {

/// @brief out[t] = LayerNorm(word[ids[t]] + position[positions[t]] + type[0]) for each of `tokens` rows of
///        width h (h <= 8192; throws emb::InputError beyond), fp32 on `stream`. Asynchronous.
void embed_layernorm_async(const int32_t* d_ids, const int32_t* d_positions, int64_t tokens, const float* d_word,
                           const float* d_position, const float* d_type, const float* d_gamma, const float* d_beta,
                           int64_t h, float eps, float* d_out, cudaStream_t stream);

}  // namespace emb::cuda
