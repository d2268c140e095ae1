#pragma once
// The epilogue of a linear layer: bias add and activation, in place, on the device.
#include <cuda_runtime.h>

#include <cstdint>

namespace emb::cuda {

/// Activation after the bias; values match emb::Activation's order.
enum class Act : int { None = 0, GeluErf = 1, GeluTanh = 2, Relu = 3 };

/// @brief y[r][c] = act(y[r][c] + bias[c]) in place for a rows x cols row-major fp32 matrix on `stream`;
///        d_bias may be null (no bias). Asynchronous.
void bias_activation_async(float* d_y, int64_t rows, int64_t cols, const float* d_bias, Act act, cudaStream_t stream);

}  // namespace emb::cuda
