#include "cuda/check.cuh"
#include "cuda/nearest_centroids.cuh"
#include "cuda/warp_argmin.cuh"

namespace emb::cuda {
namespace {

constexpr int kWarp = 32;
constexpr int kRowsPerBlock = 8;

// One warp per row: lanes stride over the centroids, then a shuffle reduction that
// keeps the lowest index among equal values, as the CPU reference does.
__global__ void nearest_kernel(const float* __restrict__ tile, int64_t rows, int64_t k,
                               const double* __restrict__ x_norm, const double* __restrict__ c_norm,
                               int32_t* __restrict__ labels, float* __restrict__ dist2) {
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.y;
  if (row >= rows) return;
  const float* t = tile + row * k;
  float best = INFINITY;
  int32_t best_j = 0x7fffffff;
  for (int64_t j = threadIdx.x; j < k; j += kWarp) {
    const float v = static_cast<float>(c_norm[j]) + t[j];  // float, as the CPU reference
    if (v < best) {  // strict: within a lane j only grows
      best = v;
      best_j = static_cast<int32_t>(j);
    }
  }
  warp_argmin(best, best_j);
  if (threadIdx.x == 0) {
    // A NaN row never compares less: report centroid 0 with a NaN distance, as the CPU does.
    if (best_j == 0x7fffffff) best_j = 0, best = static_cast<float>(c_norm[0]) + t[0];
    labels[row] = best_j;
    if (dist2) {
      const float dist = static_cast<float>(x_norm[row] + best);
      dist2[row] = dist < 0.0f ? 0.0f : dist;  // clamp; NaN passes through
    }
  }
}

}  // namespace

void nearest_from_tile_async(const float* d_tile, int64_t rows, int64_t k, const double* d_x_norm,
                             const double* d_c_norm, int32_t* d_labels, float* d_dist2, cudaStream_t stream) {
  if (rows == 0) return;
  const dim3 block(kWarp, kRowsPerBlock);
  nearest_kernel<<<static_cast<unsigned>((rows + kRowsPerBlock - 1) / kRowsPerBlock), block, 0, stream>>>(
      d_tile, rows, k, d_x_norm, d_c_norm, d_labels, d_dist2);
  EMB_CUDA_CHECK_LAUNCH();
}

}  // namespace emb::cuda
