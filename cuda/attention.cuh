#pragma once
// Multi-head self-attention over packed sequences (no padding), on the device.
#include <cuda_runtime.h>

#include <cstdint>

namespace emb::cuda {

/// @brief out = softmax(Q K^T / sqrt(dh)) V per head within each sequence [offsets[b], offsets[b+1]) of a
///        tokens x 3h fused Q|K|V matrix; out is tokens x h, fp32 on `stream`. max_len should be the
///        longest sequence (a smaller value is still correct, only slower). Throws emb::InputError unless
///        h % heads == 0 and h / heads is 16, 32, 64 or 128. Asynchronous.
/// @brief Whether attention_async has a kernel for heads of this many columns.
bool attention_head_width_supported(int64_t width);

void attention_async(const float* d_qkv, const int32_t* d_offsets, int64_t batch, int heads, int64_t h, int max_len,
                     float* d_out, cudaStream_t stream);

}  // namespace emb::cuda
