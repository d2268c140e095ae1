#include <algorithm>
#include <cstdint>

#include "cuda/check.cuh"
#include "cuda/to_half.cuh"

namespace emb::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = 8192;  // grid-stride beyond

// n4 groups of four go through float4 loads and half2 stores; the rest (or all, when unaligned) one by one.
__global__ void to_half_kernel(const float* __restrict__ x, int64_t n, int64_t n4, __half* __restrict__ out) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const int64_t tid = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  const auto* x4 = reinterpret_cast<const float4*>(x);
  auto* o2 = reinterpret_cast<__half2*>(out);
  for (int64_t i = tid; i < n4; i += step) {
    const float4 v = x4[i];
    o2[2 * i] = __floats2half2_rn(v.x, v.y);
    o2[2 * i + 1] = __floats2half2_rn(v.z, v.w);
  }
  for (int64_t i = 4 * n4 + tid; i < n; i += step) out[i] = __float2half_rn(x[i]);
}

}  // namespace

void to_half_async(const float* d_x, int64_t n, __half* d_out, cudaStream_t stream) {
  if (n == 0) return;
  const bool vec = reinterpret_cast<std::uintptr_t>(d_x) % 16 == 0 && reinterpret_cast<std::uintptr_t>(d_out) % 8 == 0;
  const int64_t n4 = vec ? n / 4 : 0;
  const int64_t work = std::max<int64_t>(n4, n - 4 * n4);
  const auto blocks = static_cast<unsigned>(std::min<int64_t>((work + kThreads - 1) / kThreads, kMaxBlocks));
  to_half_kernel<<<blocks, kThreads, 0, stream>>>(d_x, n, n4, d_out);
  EMB_CUDA_CHECK_LAUNCH();
}

}  // namespace emb::cuda
