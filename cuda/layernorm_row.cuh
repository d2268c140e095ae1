#pragma once
// Device-side LayerNorm of one row held in registers, shared by embed_layernorm.cu
// and add_layernorm.cu (one block per token). Statistics as the CPU reference:
// double sums, a float mean, two passes.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "host/core/error.hpp"

namespace emb::cuda::detail {

constexpr int kLnWarp = 32;
constexpr int kLnPerThread = 8;  // a row lives in registers: 128 threads cover h = 1024, 1024 threads h = 8192
constexpr int kLnMinThreads = 128;

/// @brief Sum over the block in double; the trailing sync lets the caller reuse `scratch` at once.
__device__ inline double ln_block_sum(double v, double* scratch) {
  const int lane = threadIdx.x % kLnWarp, warp = threadIdx.x / kLnWarp;
  for (int off = kLnWarp / 2; off > 0; off /= 2) v += __shfl_xor_sync(0xffffffffu, v, off);
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < static_cast<int>(blockDim.x / kLnWarp) ? scratch[lane] : 0.0;
    for (int off = kLnWarp / 2; off > 0; off /= 2) v += __shfl_xor_sync(0xffffffffu, v, off);
    if (lane == 0) scratch[0] = v;
  }
  __syncthreads();
  const double total = scratch[0];
  __syncthreads();
  return total;
}

/// @brief out[j] = LN(v)[j] * gamma[j] + beta[j] for the row whose element
///        threadIdx.x + i * blockDim.x is v[i] (zero past h); `scratch` holds kLnWarp doubles.
__device__ inline void ln_write_row(const float (&v)[kLnPerThread], int64_t h, const float* __restrict__ gamma,
                                    const float* __restrict__ beta, float eps, float* __restrict__ out,
                                    double* scratch) {
  double sum = 0.0;
#pragma unroll
  for (int i = 0; i < kLnPerThread; ++i) sum += v[i];
  const auto m = static_cast<float>(ln_block_sum(sum, scratch) / static_cast<double>(h));
  double ss = 0.0;
#pragma unroll
  for (int i = 0; i < kLnPerThread; ++i) {
    const int j = threadIdx.x + i * blockDim.x;  // h <= 8192: int indices save registers
    const float d = v[i] - m;
    if (j < h) ss += static_cast<double>(d) * d;
  }
  const double var = ln_block_sum(ss, scratch) / static_cast<double>(h);
  const auto inv = static_cast<float>(1.0 / sqrt(var + static_cast<double>(eps)));
#pragma unroll
  for (int i = 0; i < kLnPerThread; ++i) {
    const int j = threadIdx.x + i * blockDim.x;
    if (j < h) out[j] = (v[i] - m) * inv * gamma[j] + beta[j];
  }
}

/// @brief Threads per block for rows of width h (a multiple of the warp, at least 128).
/// @throws emb::InputError when h exceeds what a block holds in registers.
inline int ln_threads(int64_t h, const char* op) {
  EMB_EXPECTS(h <= int64_t{kLnPerThread} * 1024, op, ": width ", h, " exceeds ", kLnPerThread * 1024);
  const int64_t need = (h + kLnPerThread - 1) / kLnPerThread;
  return static_cast<int>(std::max<int64_t>(kLnMinThreads, (need + kLnWarp - 1) / kLnWarp * kLnWarp));
}

}  // namespace emb::cuda::detail
