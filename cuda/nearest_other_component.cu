#include "cuda/check.cuh"
#include "cuda/nearest_other_component.cuh"
#include "cuda/warp_argmin.cuh"

#include <climits>

namespace emb::cuda {
namespace {

constexpr int kWarp = 32;
constexpr int kRowsPerBlock = 8;

// One warp per query row, as nearest_centroids: lanes stride over the tile's
// columns, then a shuffle reduction keeps the lowest index among equal weights.
__global__ void other_kernel(const float* __restrict__ tile, int64_t rows, int64_t cols, int32_t base,
                             const double* __restrict__ q_norm, const double* __restrict__ x_norm,
                             const float* __restrict__ q_core2, const int32_t* __restrict__ q_component,
                             const float* __restrict__ core2, const int32_t* __restrict__ component,
                             float* __restrict__ weight2, int32_t* __restrict__ nearest) {
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.y;
  if (row >= rows) return;
  const float cr = q_core2[row];
  const int32_t own = q_component[row];
  const float running = weight2[row];
  // w >= core2[r] always, and an equal w keeps the earlier (lower) index: done.
  if (!(cr < running)) return;
  const float qn = static_cast<float>(q_norm[row]);
  const float* t = tile + row * cols;
  const float* core_t = core2 + base;
  const int32_t* comp_t = component + base;
  float best = INFINITY;
  int32_t best_j = INT_MAX;
  for (int64_t j = threadIdx.x; j < cols; j += kWarp) {
    if (comp_t[j] == own) continue;
    // The same float operations, in the same order, as the CPU reference.
    float v = qn + (static_cast<float>(x_norm[j]) + t[j]);
    v = v < 0.0f ? 0.0f : v;
    v = v < core_t[j] ? core_t[j] : v;
    v = v < cr ? cr : v;
    if (v < best) {  // strict: within a lane j only grows
      best = v;
      best_j = static_cast<int32_t>(j);
    }
  }
  warp_argmin(best, best_j);
  if (threadIdx.x == 0 && best < running) {  // strict: an earlier tile's lower index keeps a tie
    weight2[row] = best;
    nearest[row] = base + best_j;
  }
}

__global__ void gather_kernel(const float* __restrict__ x, int64_t d, const int32_t* __restrict__ rows,
                              float* __restrict__ out) {
  const float* src = x + static_cast<int64_t>(rows[blockIdx.x]) * d;
  float* dst = out + static_cast<int64_t>(blockIdx.x) * d;
  for (int64_t j = threadIdx.x; j < d; j += blockDim.x) dst[j] = src[j];
}

__global__ void init_kernel(float* __restrict__ weight2, int32_t* __restrict__ nearest, int64_t n) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  weight2[i] = INFINITY;
  nearest[i] = -1;
}

}  // namespace

void gather_rows_async(const float* d_x, int64_t d, const int32_t* d_rows, int64_t n, float* d_out,
                       cudaStream_t stream) {
  if (n == 0 || d == 0) return;
  gather_kernel<<<static_cast<unsigned>(n), 128, 0, stream>>>(d_x, d, d_rows, d_out);
  EMB_CUDA_CHECK_LAUNCH();
}

void nearest_other_init_async(float* d_weight2, int32_t* d_nearest, int64_t n, cudaStream_t stream) {
  if (n == 0) return;
  constexpr int kBlock = 256;
  init_kernel<<<static_cast<unsigned>((n + kBlock - 1) / kBlock), kBlock, 0, stream>>>(d_weight2, d_nearest, n);
  EMB_CUDA_CHECK_LAUNCH();
}

void nearest_other_from_tile_async(const float* d_tile, int64_t rows, int64_t cols, int32_t base,
                                   const double* d_q_norm, const double* d_x_norm, const float* d_q_core2,
                                   const int32_t* d_q_component, const float* d_core2, const int32_t* d_component,
                                   float* d_weight2, int32_t* d_nearest, cudaStream_t stream) {
  if (rows == 0 || cols == 0) return;
  const dim3 block(kWarp, kRowsPerBlock);
  other_kernel<<<static_cast<unsigned>((rows + kRowsPerBlock - 1) / kRowsPerBlock), block, 0, stream>>>(
      d_tile, rows, cols, base, d_q_norm, d_x_norm, d_q_core2, d_q_component, d_core2, d_component, d_weight2,
      d_nearest);
  EMB_CUDA_CHECK_LAUNCH();
}

}  // namespace emb::cuda
