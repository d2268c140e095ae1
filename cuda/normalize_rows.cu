#include "cuda/check.cuh"
#include "cuda/normalize_rows.cuh"

namespace emb::cuda {
namespace {

constexpr int kWarp = 32;
constexpr int kRowsPerBlock = 8;  // one warp per row: rows of embeddings are a few hundred to a few thousand wide

__global__ void normalize_rows_kernel(float* __restrict__ x, int64_t rows, int64_t cols) {
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.y;
  if (row >= rows) return;
  float* r = x + row * cols;
  const int lane = threadIdx.x;
  // Accumulate in double: matches the CPU reference to rounding for any width.
  double ss = 0.0;
  for (int64_t j = lane; j < cols; j += kWarp) {
    const double v = r[j];
    ss += v * v;
  }
  for (int off = kWarp / 2; off > 0; off /= 2) ss += __shfl_xor_sync(0xffffffffu, ss, off);
  if (ss == 0.0) return;
  const float inv = static_cast<float>(1.0 / sqrt(ss));
  for (int64_t j = lane; j < cols; j += kWarp) r[j] *= inv;
}

}  // namespace

void normalize_rows_async(float* d_x, int64_t rows, int64_t cols, cudaStream_t stream) {
  if (rows == 0 || cols == 0) return;
  const dim3 block(kWarp, kRowsPerBlock);
  const int64_t blocks = (rows + kRowsPerBlock - 1) / kRowsPerBlock;
  // Grid x is limited to 2^31-1 blocks: enough for 1.7e10 rows.
  normalize_rows_kernel<<<static_cast<unsigned>(blocks), block, 0, stream>>>(d_x, rows, cols);
  EMB_CUDA_CHECK_LAUNCH();
}

}  // namespace emb::cuda
