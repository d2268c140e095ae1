#include "cuda/check.cuh"
#include "cuda/distance_tile.cuh"

namespace emb::cuda {
namespace {

constexpr int kWarp = 32;
constexpr int kRowsPerBlock = 8;

// One warp per row, like normalize_rows.
__global__ void squared_row_norms_kernel(const float* __restrict__ x, int64_t rows, int64_t cols,
                                         double* __restrict__ out) {
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.y;
  if (row >= rows) return;
  const float* r = x + row * cols;
  double ss = 0.0;
  for (int64_t j = threadIdx.x; j < cols; j += kWarp) ss += static_cast<double>(r[j]) * r[j];
  for (int off = kWarp / 2; off > 0; off /= 2) ss += __shfl_xor_sync(0xffffffffu, ss, off);
  if (threadIdx.x == 0) out[row] = ss;
}

}  // namespace

void minus2_xct_async(cublasHandle_t handle, const float* d_x, int64_t rows, const float* d_c, int64_t k,
                      int64_t d, float* d_tile) {
  // Row-major tile (rows x k) is column-major tile^T (k x rows) = C (k x d) * X^T (d x rows);
  // row-major C and X read as column-major are C^T and X^T, hence op(C^T) = T, op(X^T) = N.
  const float alpha = -2.0f, beta = 0.0f;
  EMB_CUBLAS_TRY(cublasSgemm(handle, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(k), static_cast<int>(rows),
                             static_cast<int>(d), &alpha, d_c, static_cast<int>(d), d_x, static_cast<int>(d), &beta,
                             d_tile, static_cast<int>(k)));
}

void squared_row_norms_async(const float* d_x, int64_t rows, int64_t cols, double* d_out, cudaStream_t stream) {
  if (rows == 0) return;
  const dim3 block(kWarp, kRowsPerBlock);
  squared_row_norms_kernel<<<static_cast<unsigned>((rows + kRowsPerBlock - 1) / kRowsPerBlock), block, 0, stream>>>(
      d_x, rows, cols, d_out);
  EMB_CUDA_CHECK_LAUNCH();
}

}  // namespace emb::cuda
