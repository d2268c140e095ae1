#include <algorithm>
#include <cstdint>

#include "cuda/bias_activation.cuh"
#include "cuda/check.cuh"

namespace emb::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = 8192;  // grid-stride beyond: about 16 resident blocks on each of 132 SMs x 4

template <Act A>
__device__ __forceinline__ float activate(float x) {
  if constexpr (A == Act::GeluErf) {
    return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
  } else if constexpr (A == Act::GeluTanh) {
    constexpr float kC = 0.79788456080286536f;  // sqrt(2 / pi)
    return 0.5f * x * (1.0f + tanhf(kC * (x + 0.044715f * x * x * x)));
  } else if constexpr (A == Act::Relu) {
    return x > 0.0f ? x : 0.0f;  // as the CPU reference: NaN becomes 0
  } else {
    return x;
  }
}

// Scalar path: any width, any alignment.
template <Act A>
__global__ void bias_activation_kernel(float* __restrict__ y, int64_t total, int64_t cols,
                                       const float* __restrict__ bias) {
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    float v = y[e];
    if (bias) v += bias[e % cols];
    y[e] = activate<A>(v);
  }
}

// float4 path: cols % 4 == 0 and 16-byte aligned pointers, so a vector never straddles two rows.
template <Act A>
__global__ void bias_activation_vec4_kernel(float4* __restrict__ y, int64_t total4, int64_t cols4,
                                            const float4* __restrict__ bias) {
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < total4;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    float4 v = y[e];
    if (bias) {
      const float4 b = bias[e % cols4];
      v.x += b.x;
      v.y += b.y;
      v.z += b.z;
      v.w += b.w;
    }
    y[e] = make_float4(activate<A>(v.x), activate<A>(v.y), activate<A>(v.z), activate<A>(v.w));
  }
}

template <Act A>
void launch(float* d_y, int64_t rows, int64_t cols, const float* d_bias, cudaStream_t stream) {
  const auto aligned = [](const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; };
  const bool vec = cols % 4 == 0 && aligned(d_y) && (d_bias == nullptr || aligned(d_bias));
  const int64_t work = vec ? rows * cols / 4 : rows * cols;
  const auto blocks = static_cast<unsigned>(std::min<int64_t>((work + kThreads - 1) / kThreads, kMaxBlocks));
  if (vec) {
    bias_activation_vec4_kernel<A><<<blocks, kThreads, 0, stream>>>(reinterpret_cast<float4*>(d_y), work, cols / 4,
                                                                    reinterpret_cast<const float4*>(d_bias));
  } else {
    bias_activation_kernel<A><<<blocks, kThreads, 0, stream>>>(d_y, work, cols, d_bias);
  }
  EMB_CUDA_CHECK_LAUNCH();
}

}  // namespace

void bias_activation_async(float* d_y, int64_t rows, int64_t cols, const float* d_bias, Act act, cudaStream_t stream) {
  if (rows == 0 || cols == 0) return;
  switch (act) {
    case Act::None:
      if (d_bias) launch<Act::None>(d_y, rows, cols, d_bias, stream);  // nothing to do without a bias
      return;
    case Act::GeluErf:
      return launch<Act::GeluErf>(d_y, rows, cols, d_bias, stream);
    case Act::GeluTanh:
      return launch<Act::GeluTanh>(d_y, rows, cols, d_bias, stream);
    case Act::Relu:
      return launch<Act::Relu>(d_y, rows, cols, d_bias, stream);
  }
  EMB_EXPECTS(false, "bias_activation: unknown activation ", static_cast<int>(act));
}

}  // namespace emb::cuda
