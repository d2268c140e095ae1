#include "cuda/check.cuh"
#include "cuda/embed_layernorm.cuh"
#include "cuda/layernorm_row.cuh"

namespace emb::cuda {
namespace {

using namespace detail;

// One block per token: gather word + position + token-type rows, then LayerNorm.
__global__ void __launch_bounds__(1024)
    embed_layernorm_kernel(const int32_t* __restrict__ ids, const int32_t* __restrict__ positions,
                           const float* __restrict__ word, const float* __restrict__ position,
                           const float* __restrict__ type, const float* __restrict__ gamma,
                           const float* __restrict__ beta, int64_t h, float eps, float* __restrict__ out) {
  __shared__ double scratch[kLnWarp];
  const int64_t t = blockIdx.x;
  const float* w = word + static_cast<int64_t>(ids[t]) * h;
  const float* p = position + static_cast<int64_t>(positions[t]) * h;
  float v[kLnPerThread];
#pragma unroll
  for (int i = 0; i < kLnPerThread; ++i) {
    const int j = threadIdx.x + i * blockDim.x;
    v[i] = j < h ? w[j] + p[j] + type[j] : 0.0f;
  }
  ln_write_row(v, h, gamma, beta, eps, out + t * h, scratch);
}

}  // namespace

void embed_layernorm_async(const int32_t* d_ids, const int32_t* d_positions, int64_t tokens, const float* d_word,
                           const float* d_position, const float* d_type, const float* d_gamma, const float* d_beta,
                           int64_t h, float eps, float* d_out, cudaStream_t stream) {
  if (tokens == 0 || h == 0) return;
  const int threads = ln_threads(h, "embed_layernorm");
  // One block per token: grid x holds up to 2^31-1 tokens.
  embed_layernorm_kernel<<<static_cast<unsigned>(tokens), threads, 0, stream>>>(d_ids, d_positions, d_word, d_position,
                                                                                d_type, d_gamma, d_beta, h, eps, d_out);
  EMB_CUDA_CHECK_LAUNCH();
}

}  // namespace emb::cuda
