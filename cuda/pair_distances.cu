#include "cuda/check.cuh"
#include "cuda/pair_distances.cuh"

namespace emb::cuda {
namespace {

constexpr int kWarp = 32;
constexpr int kPairsPerBlock = 8;

__global__ void pair_kernel(const float* __restrict__ x, int64_t d, const int32_t* __restrict__ a,
                            const int32_t* __restrict__ b, int64_t n, double* __restrict__ out) {
  const int64_t t = static_cast<int64_t>(blockIdx.x) * kPairsPerBlock + threadIdx.y;
  if (t >= n) return;
  const float* p = x + static_cast<int64_t>(a[t]) * d;
  const float* q = x + static_cast<int64_t>(b[t]) * d;
  double s = 0.0;
  for (int64_t j = threadIdx.x; j < d; j += kWarp) {
    const double v = static_cast<double>(p[j]) - static_cast<double>(q[j]);
    s += v * v;
  }
  for (int off = kWarp / 2; off > 0; off /= 2) s += __shfl_down_sync(0xffffffffu, s, off);
  if (threadIdx.x == 0) out[t] = s;
}

}  // namespace

void pair_distances_async(const float* d_x, int64_t d, const int32_t* d_a, const int32_t* d_b, int64_t n,
                          double* d_out, cudaStream_t stream) {
  if (n == 0) return;
  const dim3 block(kWarp, kPairsPerBlock);
  pair_kernel<<<static_cast<unsigned>((n + kPairsPerBlock - 1) / kPairsPerBlock), block, 0, stream>>>(d_x, d, d_a, d_b,
                                                                                                      n, d_out);
  EMB_CUDA_CHECK_LAUNCH();
}

}  // namespace emb::cuda
