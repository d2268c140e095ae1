#include <algorithm>

#include "cuda/check.cuh"
#include "cuda/squared_distances.cuh"

namespace emb::cuda {
namespace {

__global__ void squared_from_tile_kernel(float* __restrict__ tile, int64_t rows, int64_t k,
                                         const double* __restrict__ x_norm, const double* __restrict__ c_norm) {
  const int64_t total = rows * k;
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t i = e / k, j = e % k;
    // The CPU reference's arithmetic: double norms, one rounding, clamp (NaN passes through).
    const float v = static_cast<float>(x_norm[i] + c_norm[j] + tile[e]);
    tile[e] = v < 0.0f ? 0.0f : v;
  }
}

}  // namespace

void squared_from_tile_async(float* d_tile, int64_t rows, int64_t k, const double* d_x_norm, const double* d_c_norm,
                             cudaStream_t stream) {
  const int64_t total = rows * k;
  if (total == 0) return;
  const int threads = 256;
  const int64_t blocks = std::min<int64_t>((total + threads - 1) / threads, 65535 * 8);
  squared_from_tile_kernel<<<static_cast<unsigned>(blocks), threads, 0, stream>>>(d_tile, rows, k, d_x_norm,
                                                                                   d_c_norm);
  EMB_CUDA_CHECK_LAUNCH();
}

}  // namespace emb::cuda
