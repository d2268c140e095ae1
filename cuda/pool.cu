#include <algorithm>

#include "cuda/check.cuh"
#include "cuda/pool.cuh"

namespace emb::cuda {
namespace {

constexpr int kWarp = 32;
constexpr int kThreads = 256;

// One block per sequence; thread j walks columns j, j + 256, ... over the tokens in order, so the
// float sums round exactly as the CPU reference's. Rows are written first and rescaled in place.
__global__ void __launch_bounds__(kThreads)
    pool_kernel(const float* __restrict__ x, const int32_t* __restrict__ offsets, int64_t h, int mode, bool normalize,
                float* __restrict__ out) {
  __shared__ double scratch[kWarp];
  const int64_t s = blockIdx.x;
  const int64_t begin = offsets[s], len = offsets[s + 1] - begin;
  const float* first = x + begin * h;
  float* o = out + s * h;
  double ss = 0.0;
  for (int64_t j = threadIdx.x; j < h; j += blockDim.x) {
    float v = len > 0 ? first[j] : 0.0f;  // an empty sequence pools to zeros
    if (mode == 0) {
      for (int64_t t = 1; t < len; ++t) v += first[t * h + j];
      v *= 1.0f / static_cast<float>(len > 1 ? len : 1);
    } else if (mode == 2) {
      for (int64_t t = 1; t < len; ++t) {
        const float r = first[t * h + j];
        v = v < r ? r : v;  // std::max's rule, so NaN handling matches the CPU
      }
    }
    o[j] = v;
    ss += static_cast<double>(v) * v;
  }
  if (!normalize) return;  // uniform across the block: no thread skips the reduction alone

  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  for (int off = kWarp / 2; off > 0; off /= 2) ss += __shfl_xor_sync(0xffffffffu, ss, off);
  if (lane == 0) scratch[warp] = ss;
  __syncthreads();
  if (warp == 0) {
    ss = lane < static_cast<int>(blockDim.x / kWarp) ? scratch[lane] : 0.0;
    for (int off = kWarp / 2; off > 0; off /= 2) ss += __shfl_xor_sync(0xffffffffu, ss, off);
    if (lane == 0) scratch[0] = ss;
  }
  __syncthreads();
  // As torch.nn.functional.normalize: divide by max(norm, 1e-12).
  const auto inv = static_cast<float>(1.0 / fmax(sqrt(scratch[0]), 1e-12));
  for (int64_t j = threadIdx.x; j < h; j += blockDim.x) o[j] *= inv;  // each thread rescales its own writes
}

}  // namespace

void pool_async(const float* d_x, const int32_t* d_offsets, int64_t batch, int64_t h, int mode, bool normalize,
                float* d_out, cudaStream_t stream) {
  EMB_EXPECTS(mode >= 0 && mode <= 2, "pool: mode ", mode, " is not 0 (mean), 1 (CLS) or 2 (max)");
  EMB_EXPECTS(batch <= 0x7fffffff, "pool: batch of ", batch, " sequences exceeds the grid");
  if (batch == 0 || h == 0) return;
  pool_kernel<<<static_cast<unsigned>(batch), kThreads, 0, stream>>>(d_x, d_offsets, h, mode, normalize, d_out);
  EMB_CUDA_CHECK_LAUNCH();
}

}  // namespace emb::cuda
