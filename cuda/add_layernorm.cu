#include "cuda/add_layernorm.cuh"
#include "cuda/check.cuh"
#include "cuda/layernorm_row.cuh"

namespace emb::cuda {
namespace {

using namespace detail;

// One block per token: x = LN(x + residual), the row in registers.
__global__ void __launch_bounds__(1024)
    add_layernorm_kernel(float* __restrict__ x, const float* __restrict__ residual, int64_t h,
                         const float* __restrict__ gamma, const float* __restrict__ beta, float eps) {
  __shared__ double scratch[kLnWarp];
  float* r = x + static_cast<int64_t>(blockIdx.x) * h;
  const float* s = residual + static_cast<int64_t>(blockIdx.x) * h;
  float v[kLnPerThread];
#pragma unroll
  for (int i = 0; i < kLnPerThread; ++i) {
    const int j = threadIdx.x + i * blockDim.x;
    v[i] = j < h ? r[j] + s[j] : 0.0f;
  }
  ln_write_row(v, h, gamma, beta, eps, r, scratch);
}

}  // namespace

void add_layernorm_async(float* d_x, const float* d_residual, int64_t tokens, int64_t h, const float* d_gamma,
                         const float* d_beta, float eps, cudaStream_t stream) {
  if (tokens == 0 || h == 0) return;
  const int threads = ln_threads(h, "add_layernorm");
  // One block per token: grid x holds up to 2^31-1 tokens.
  add_layernorm_kernel<<<static_cast<unsigned>(tokens), threads, 0, stream>>>(d_x, d_residual, h, d_gamma, d_beta, eps);
  EMB_CUDA_CHECK_LAUNCH();
}

}  // namespace emb::cuda
