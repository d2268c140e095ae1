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

// One warp per token for rows of up to 32 * kPer columns: the row in registers, the
// sums by shuffles, no block barriers. The same statistics as ln_write_row.
template <int kPer>
__global__ void __launch_bounds__(256)
    add_layernorm_warp_kernel(float* __restrict__ x, const float* __restrict__ residual, int64_t tokens, int h,
                              const float* __restrict__ gamma, const float* __restrict__ beta, float eps) {
  const int lane = threadIdx.x % kLnWarp;
  const int64_t row = blockIdx.x * static_cast<int64_t>(blockDim.x / kLnWarp) + threadIdx.x / kLnWarp;
  if (row >= tokens) return;  // the whole warp leaves together
  float* r = x + row * h;
  const float* s = residual + row * h;
  float v[kPer];
  double sum = 0.0;
#pragma unroll
  for (int i = 0; i < kPer; ++i) {
    const int j = lane + i * kLnWarp;
    v[i] = j < h ? r[j] + s[j] : 0.0f;
    sum += v[i];
  }
  for (int off = kLnWarp / 2; off > 0; off /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, off);
  const auto m = static_cast<float>(sum / static_cast<double>(h));
  double ss = 0.0;
#pragma unroll
  for (int i = 0; i < kPer; ++i) {
    const float d = v[i] - m;
    if (lane + i * kLnWarp < h) ss += static_cast<double>(d) * d;
  }
  for (int off = kLnWarp / 2; off > 0; off /= 2) ss += __shfl_xor_sync(0xffffffffu, ss, off);
  const auto inv = static_cast<float>(1.0 / sqrt(ss / static_cast<double>(h) + static_cast<double>(eps)));
#pragma unroll
  for (int i = 0; i < kPer; ++i) {
    const int j = lane + i * kLnWarp;
    if (j < h) r[j] = (v[i] - m) * inv * gamma[j] + beta[j];
  }
}

template <int kPer>
void launch_warp(float* d_x, const float* d_residual, int64_t tokens, int64_t h, const float* d_gamma,
                 const float* d_beta, float eps, cudaStream_t stream) {
  constexpr int kThreads = 256, kRows = kThreads / kLnWarp;
  const int64_t blocks = (tokens + kRows - 1) / kRows;
  EMB_EXPECTS(blocks <= 0x7fffffff, "add_layernorm: ", tokens, " tokens exceed the grid");
  add_layernorm_warp_kernel<kPer><<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(
      d_x, d_residual, tokens, static_cast<int>(h), d_gamma, d_beta, eps);
  EMB_CUDA_CHECK_LAUNCH();
}

}  // namespace

void add_layernorm_async(float* d_x, const float* d_residual, int64_t tokens, int64_t h, const float* d_gamma,
                         const float* d_beta, float eps, cudaStream_t stream) {
  if (tokens == 0 || h == 0) return;
  // Rows of up to 1024 columns (every BERT-family width up to large): a warp each.
  if (h <= 4 * kLnWarp) return launch_warp<4>(d_x, d_residual, tokens, h, d_gamma, d_beta, eps, stream);
  if (h <= 8 * kLnWarp) return launch_warp<8>(d_x, d_residual, tokens, h, d_gamma, d_beta, eps, stream);
  if (h <= 12 * kLnWarp) return launch_warp<12>(d_x, d_residual, tokens, h, d_gamma, d_beta, eps, stream);
  if (h <= 16 * kLnWarp) return launch_warp<16>(d_x, d_residual, tokens, h, d_gamma, d_beta, eps, stream);
  if (h <= 24 * kLnWarp) return launch_warp<24>(d_x, d_residual, tokens, h, d_gamma, d_beta, eps, stream);
  if (h <= 32 * kLnWarp) return launch_warp<32>(d_x, d_residual, tokens, h, d_gamma, d_beta, eps, stream);
  const int threads = ln_threads(h, "add_layernorm");
  // One block per token: grid x holds up to 2^31-1 tokens.
  add_layernorm_kernel<<<static_cast<unsigned>(tokens), threads, 0, stream>>>(d_x, d_residual, h, d_gamma, d_beta, eps);
  EMB_CUDA_CHECK_LAUNCH();
}

}  // namespace emb::cuda
