#include <algorithm>

#include "cuda/add_layernorm.cuh"
#include "cuda/check.cuh"

namespace emb::cuda {
namespace {

constexpr int kWarp = 32;
constexpr int kPerThread = 8;  // a row lives in registers: 128 threads cover h = 1024, 1024 threads h = 8192
constexpr int kMinThreads = 128;

// Sum over the block in double; the trailing sync lets the caller reuse `scratch` at once.
__device__ double block_sum(double v, double* scratch) {
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  for (int off = kWarp / 2; off > 0; off /= 2) v += __shfl_xor_sync(0xffffffffu, v, off);
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < static_cast<int>(blockDim.x / kWarp) ? scratch[lane] : 0.0;
    for (int off = kWarp / 2; off > 0; off /= 2) v += __shfl_xor_sync(0xffffffffu, v, off);
    if (lane == 0) scratch[0] = v;
  }
  __syncthreads();
  const double total = scratch[0];
  __syncthreads();
  return total;
}

// One block per token. Statistics as the CPU reference: double sums, float mean, two passes.
__global__ void __launch_bounds__(1024)
    add_layernorm_kernel(float* __restrict__ x, const float* __restrict__ residual, int64_t h,
                         const float* __restrict__ gamma, const float* __restrict__ beta, float eps) {
  __shared__ double scratch[kWarp];
  const int64_t t = blockIdx.x;
  float* r = x + t * h;
  const float* s = residual + t * h;
  float v[kPerThread];
  double sum = 0.0;
#pragma unroll
  for (int i = 0; i < kPerThread; ++i) {
    const int j = threadIdx.x + i * blockDim.x;  // h <= 8192: int indices save registers
    v[i] = j < h ? r[j] + s[j] : 0.0f;
    sum += v[i];
  }
  const auto m = static_cast<float>(block_sum(sum, scratch) / static_cast<double>(h));
  double ss = 0.0;
#pragma unroll
  for (int i = 0; i < kPerThread; ++i) {
    const int j = threadIdx.x + i * blockDim.x;
    const float d = v[i] - m;
    if (j < h) ss += static_cast<double>(d) * d;
  }
  const double var = block_sum(ss, scratch) / static_cast<double>(h);
  const auto inv = static_cast<float>(1.0 / sqrt(var + static_cast<double>(eps)));
#pragma unroll
  for (int i = 0; i < kPerThread; ++i) {
    const int j = threadIdx.x + i * blockDim.x;
    if (j < h) r[j] = (v[i] - m) * inv * gamma[j] + beta[j];
  }
}

}  // namespace

void add_layernorm_async(float* d_x, const float* d_residual, int64_t tokens, int64_t h, const float* d_gamma,
                         const float* d_beta, float eps, cudaStream_t stream) {
  if (tokens == 0 || h == 0) return;
  EMB_EXPECTS(h <= int64_t{kPerThread} * 1024, "add_layernorm: width ", h, " exceeds ", kPerThread * 1024);
  const int64_t need = (h + kPerThread - 1) / kPerThread;
  const int threads = static_cast<int>(std::max<int64_t>(kMinThreads, (need + kWarp - 1) / kWarp * kWarp));
  // One block per token: grid x holds up to 2^31-1 tokens.
  add_layernorm_kernel<<<static_cast<unsigned>(tokens), threads, 0, stream>>>(d_x, d_residual, h, d_gamma, d_beta, eps);
  EMB_CUDA_CHECK_LAUNCH();
}

}  // namespace emb::cuda
