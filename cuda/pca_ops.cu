#include <algorithm>

#include "cuda/check.cuh"
#include "cuda/pca_ops.cuh"

// cuSOLVER has no status-name function: the status number goes into the message.
#define EMB_CUSOLVER_TRY(call)                                                                                      \
  do {                                                                                                              \
    const cusolverStatus_t emb_st_ = (call);                                                                        \
    if (emb_st_ != CUSOLVER_STATUS_SUCCESS)                                                                         \
      throw ::emb::RuntimeError(::emb::detail::concat("cuSOLVER error ", static_cast<int>(emb_st_), " in `", #call, \
                                                      "` at ", __FILE__, ":", __LINE__));                           \
  } while (0)

namespace emb::cuda {
namespace {

constexpr int kWarp = 32;
constexpr int kSumRowsPerThread = 8;               // threadIdx.y of the column-sum blocks
constexpr int64_t kSumChunkRows = 1024;            // rows per partial column sum
constexpr int64_t kTileBytes = int64_t{64} << 20;  // one centred tile
constexpr int64_t kMinTileRows = 256;
constexpr int64_t kMaxTileRows = 8192;                   // a float Gram matrix over these loses little
constexpr int64_t kHostBlockBytes = int64_t{256} << 20;  // rows streamed from the host at once
constexpr unsigned kMaxGridY = 65535;

int64_t tile_rows(int64_t rows, int64_t cols) {
  const int64_t by_bytes = kTileBytes / (static_cast<int64_t>(sizeof(float)) * std::max<int64_t>(cols, 1));
  return std::min(rows, std::clamp(by_bytes, kMinTileRows, kMaxTileRows));
}

unsigned grid_for(int64_t total, int threads) {
  return static_cast<unsigned>(std::min<int64_t>((total + threads - 1) / threads, 65535 * 8));
}

cudaStream_t stream_of(cublasHandle_t handle) {
  cudaStream_t s = nullptr;
  EMB_CUBLAS_TRY(cublasGetStream(handle, &s));
  return s;
}

// partial[chunk][c] = sum of column c over the chunk's rows. Block: 32 columns x 8
// row lanes; lanes add strided rows, then lane 0 adds the lanes in order.
__global__ void column_partial_sums_kernel(const float* __restrict__ x, int64_t rows, int64_t cols,
                                           double* __restrict__ partial) {
  __shared__ double lanes[kSumRowsPerThread][kWarp + 1];
  const int64_t c = static_cast<int64_t>(blockIdx.x) * kWarp + threadIdx.x;
  const int64_t chunks = (rows + kSumChunkRows - 1) / kSumChunkRows;
  for (int64_t chunk = blockIdx.y; chunk < chunks; chunk += gridDim.y) {
    const int64_t r0 = chunk * kSumChunkRows, r1 = min(rows, r0 + kSumChunkRows);
    double s = 0.0;
    if (c < cols)
      for (int64_t r = r0 + threadIdx.y; r < r1; r += kSumRowsPerThread) s += x[r * cols + c];
    lanes[threadIdx.y][threadIdx.x] = s;
    __syncthreads();
    if (threadIdx.y == 0 && c < cols) {
      double t = 0.0;
      for (int l = 0; l < kSumRowsPerThread; ++l) t += lanes[l][threadIdx.x];
      partial[chunk * cols + c] = t;
    }
    __syncthreads();
  }
}

// sums[c] += the chunks' partial sums, in chunk order.
__global__ void add_partials_kernel(const double* __restrict__ partial, int64_t chunks, int64_t cols,
                                    double* __restrict__ sums) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= cols) return;
  double t = 0.0;
  for (int64_t k = 0; k < chunks; ++k) t += partial[k * cols + c];
  sums[c] += t;
}

__global__ void divide_kernel(double* __restrict__ v, int64_t count, double by) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < count) v[i] /= by;
}

// out[i][j] = x[i][j] - mean[j] in float; the subtraction in Mean's precision.
template <class Mean>
__global__ void centre_kernel(const float* __restrict__ x, int64_t rows, int64_t cols, const Mean* __restrict__ mean,
                              float* __restrict__ out) {
  const int64_t total = rows * cols;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x)
    out[e] = static_cast<float>(static_cast<Mean>(x[e]) - mean[e % cols]);
}

// gram[r][c] += tile[r][c] on the lower triangle (c <= r).
__global__ void add_lower_kernel(const float* __restrict__ tile, int64_t n, double* __restrict__ gram) {
  const int64_t total = n * n;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x)
    if (e % n <= e / n) gram[e] += tile[e];
}

__global__ void mirror_scale_kernel(const double* __restrict__ gram, int64_t n, double scale,
                                    double* __restrict__ cov) {
  const int64_t total = n * n;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t r = e / n, c = e % n;
    cov[e] = gram[max(r, c) * n + min(r, c)] * scale;
  }
}

// One block per eigenvector: cuSOLVER's column n-1-i (increasing values, vectors in
// contiguous columns) becomes row i, its sign set by its first entry of largest magnitude.
constexpr int kEigenThreads = 256;
__global__ void order_eigen_kernel(const double* __restrict__ z, const double* __restrict__ w, int64_t n,
                                   double* __restrict__ values, double* __restrict__ vectors) {
  __shared__ double best_abs[kEigenThreads];
  __shared__ int64_t best_at[kEigenThreads];
  const int64_t i = blockIdx.x;
  const double* v = z + (n - 1 - i) * n;
  double b = -1.0;
  int64_t at = 0;
  for (int64_t j = threadIdx.x; j < n; j += kEigenThreads)
    if (fabs(v[j]) > b) b = fabs(v[j]), at = j;  // strided ascending: the first wins ties
  best_abs[threadIdx.x] = b;
  best_at[threadIdx.x] = at;
  __syncthreads();
  for (int half = kEigenThreads / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) {
      const double ob = best_abs[threadIdx.x + half];
      const int64_t oa = best_at[threadIdx.x + half];
      if (ob > best_abs[threadIdx.x] || (ob == best_abs[threadIdx.x] && oa < best_at[threadIdx.x]))
        best_abs[threadIdx.x] = ob, best_at[threadIdx.x] = oa;
    }
    __syncthreads();
  }
  const double sign = v[best_at[0]] < 0.0 ? -1.0 : 1.0;
  for (int64_t j = threadIdx.x; j < n; j += kEigenThreads) vectors[i * n + j] = sign * v[j];
  if (threadIdx.x == 0) values[i] = w[n - 1 - i];
}

}  // namespace

void add_column_sums_async(const float* d_x, int64_t rows, int64_t cols, double* d_sums, PcaScratch& scratch,
                           cudaStream_t stream) {
  if (rows == 0 || cols == 0) return;
  const int64_t chunks = (rows + kSumChunkRows - 1) / kSumChunkRows;
  scratch.partial.resize(static_cast<size_t>(chunks * cols));
  const dim3 block(kWarp, kSumRowsPerThread);
  const dim3 grid(static_cast<unsigned>((cols + kWarp - 1) / kWarp),
                  static_cast<unsigned>(std::min<int64_t>(chunks, kMaxGridY)));
  column_partial_sums_kernel<<<grid, block, 0, stream>>>(d_x, rows, cols, scratch.partial.data());
  EMB_CUDA_CHECK_LAUNCH();
  add_partials_kernel<<<static_cast<unsigned>((cols + 255) / 256), 256, 0, stream>>>(scratch.partial.data(), chunks,
                                                                                     cols, d_sums);
  EMB_CUDA_CHECK_LAUNCH();
}

void means_from_sums_async(double* d_sums, int64_t cols, int64_t rows, cudaStream_t stream) {
  if (cols == 0) return;
  divide_kernel<<<static_cast<unsigned>((cols + 255) / 256), 256, 0, stream>>>(d_sums, cols, static_cast<double>(rows));
  EMB_CUDA_CHECK_LAUNCH();
}

void add_centred_gram_async(cublasHandle_t handle, const float* d_x, int64_t rows, int64_t cols, const double* d_mean,
                            double* d_gram, PcaScratch& scratch) {
  if (rows == 0 || cols == 0) return;
  const cudaStream_t stream = stream_of(handle);
  const int64_t tile = tile_rows(rows, cols);
  scratch.centred.resize(static_cast<size_t>(tile * cols));
  scratch.gram_tile.resize(static_cast<size_t>(cols * cols));
  const float alpha = 1.0f, beta = 0.0f;
  for (int64_t b = 0; b < rows; b += tile) {
    const int64_t m = std::min(tile, rows - b);
    centre_kernel<double>
        <<<grid_for(m * cols, 256), 256, 0, stream>>>(d_x + b * cols, m, cols, d_mean, scratch.centred.data());
    EMB_CUDA_CHECK_LAUNCH();
    // Row-major centred tile (m x cols) read as column-major is C^T (cols x m), so
    // C^T C = op(A) op(A)^T with op = N; column-major upper = row-major lower.
    EMB_CUBLAS_TRY(cublasSsyrk(handle, CUBLAS_FILL_MODE_UPPER, CUBLAS_OP_N, static_cast<int>(cols), static_cast<int>(m),
                               &alpha, scratch.centred.data(), static_cast<int>(cols), &beta, scratch.gram_tile.data(),
                               static_cast<int>(cols)));
    add_lower_kernel<<<grid_for(cols * cols, 256), 256, 0, stream>>>(scratch.gram_tile.data(), cols, d_gram);
    EMB_CUDA_CHECK_LAUNCH();
  }
}

void covariance_from_gram_async(const double* d_gram, int64_t cols, int64_t rows, double* d_cov, cudaStream_t stream) {
  if (cols == 0) return;
  const double scale = 1.0 / static_cast<double>(std::max<int64_t>(rows - 1, 1));
  mirror_scale_kernel<<<grid_for(cols * cols, 256), 256, 0, stream>>>(d_gram, cols, scale, d_cov);
  EMB_CUDA_CHECK_LAUNCH();
}

void covariance_async(cublasHandle_t handle, const float* d_x, int64_t rows, int64_t cols, double* d_mean,
                      double* d_cov, PcaScratch& scratch) {
  const cudaStream_t stream = stream_of(handle);
  EMB_CUDA_TRY(cudaMemsetAsync(d_mean, 0, static_cast<size_t>(cols) * sizeof(double), stream));
  add_column_sums_async(d_x, rows, cols, d_mean, scratch, stream);
  means_from_sums_async(d_mean, cols, rows, stream);
  scratch.gram.resize(static_cast<size_t>(cols * cols));
  EMB_CUDA_TRY(cudaMemsetAsync(scratch.gram.data(), 0, static_cast<size_t>(cols * cols) * sizeof(double), stream));
  add_centred_gram_async(handle, d_x, rows, cols, d_mean, scratch.gram.data(), scratch);
  covariance_from_gram_async(scratch.gram.data(), cols, rows, d_cov, stream);
}

void symmetric_eigen(cusolverDnHandle_t handle, const double* d_a, int64_t n, double* d_values, double* d_vectors,
                     PcaScratch& scratch) {
  if (n == 0) return;
  cudaStream_t stream = nullptr;
  EMB_CUSOLVER_TRY(cusolverDnGetStream(handle, &stream));
  const int ni = static_cast<int>(n);
  // Row-major lower triangle = column-major upper triangle.
  const cublasFillMode_t uplo = CUBLAS_FILL_MODE_UPPER;
  const cusolverEigMode_t mode = CUSOLVER_EIG_MODE_VECTOR;
  int lwork = 0;
  scratch.eigen.resize(static_cast<size_t>(n * n + n));
  double* a = scratch.eigen.data();
  EMB_CUSOLVER_TRY(cusolverDnDsyevd_bufferSize(handle, mode, uplo, ni, a, ni, a + n * n, &lwork));
  scratch.eigen.resize(static_cast<size_t>(n * n + n + lwork));  // may move: take the pointers after
  scratch.info.resize(1);
  a = scratch.eigen.data();
  double* w = a + n * n;
  EMB_CUDA_TRY(cudaMemcpyAsync(a, d_a, static_cast<size_t>(n * n) * sizeof(double), cudaMemcpyDeviceToDevice, stream));
  EMB_CUSOLVER_TRY(cusolverDnDsyevd(handle, mode, uplo, ni, a, ni, w, w + n, lwork, scratch.info.data()));
  int info = 0;
  EMB_CUDA_TRY(cudaMemcpyAsync(&info, scratch.info.data(), sizeof(int), cudaMemcpyDeviceToHost, stream));
  EMB_CUDA_TRY(cudaStreamSynchronize(stream));
  if (info != 0)
    throw RuntimeError(::emb::detail::concat("cuSOLVER syevd failed on a ", n, " x ", n, " matrix (info ", info, ")"));
  order_eigen_kernel<<<static_cast<unsigned>(n), kEigenThreads, 0, stream>>>(a, w, n, d_values, d_vectors);
  EMB_CUDA_CHECK_LAUNCH();
}

void project_async(cublasHandle_t handle, const float* d_x, int64_t rows, int64_t cols, const float* d_mean,
                   const float* d_components, int64_t m, float* d_out, PcaScratch& scratch) {
  if (rows == 0 || m == 0) return;
  const cudaStream_t stream = stream_of(handle);
  const int64_t tile = tile_rows(rows, cols);
  scratch.centred.resize(static_cast<size_t>(tile * cols));
  const float alpha = 1.0f, beta = 0.0f;
  for (int64_t b = 0; b < rows; b += tile) {
    const int64_t t = std::min(tile, rows - b);
    centre_kernel<float>
        <<<grid_for(t * cols, 256), 256, 0, stream>>>(d_x + b * cols, t, cols, d_mean, scratch.centred.data());
    EMB_CUDA_CHECK_LAUNCH();
    // Row-major out (t x m) is column-major out^T (m x t) = components (m x cols) *
    // centred^T (cols x t); row-major components read as column-major are transposed.
    EMB_CUBLAS_TRY(cublasSgemm(handle, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(m), static_cast<int>(t),
                               static_cast<int>(cols), &alpha, d_components, static_cast<int>(cols),
                               scratch.centred.data(), static_cast<int>(cols), &beta, d_out + b * m,
                               static_cast<int>(m)));
  }
}

namespace {

int64_t host_block_rows(int64_t cols) {
  return std::max<int64_t>(1, kHostBlockBytes / (static_cast<int64_t>(sizeof(float)) * std::max<int64_t>(cols, 1)));
}

void upload(const float* h, size_t count, float* d, cudaStream_t stream) {
  EMB_CUDA_TRY(cudaMemcpyAsync(d, h, count * sizeof(float), cudaMemcpyHostToDevice, stream));
}

}  // namespace

void covariance_from_host(cublasHandle_t handle, ConstMatrixView x, double* mean, BasicMatrixView<double> cov,
                          PcaScratch& scratch) {
  const int64_t n = x.rows, d = x.cols;
  const cudaStream_t stream = stream_of(handle);
  const int64_t block = std::min(n, host_block_rows(d));
  DeviceBuffer<float> d_x(static_cast<size_t>(std::max<int64_t>(block * d, 1)));
  DeviceBuffer<double> d_mean(static_cast<size_t>(std::max<int64_t>(d, 1)));
  DeviceBuffer<double> d_cov(static_cast<size_t>(std::max<int64_t>(d * d, 1)));
  if (block == n) {  // everything fits: one upload
    upload(x.data, static_cast<size_t>(n * d), d_x.data(), stream);
    covariance_async(handle, d_x.data(), n, d, d_mean.data(), d_cov.data(), scratch);
  } else {  // one pass for the means, a second for the Gram matrix
    EMB_CUDA_TRY(cudaMemsetAsync(d_mean.data(), 0, static_cast<size_t>(d) * sizeof(double), stream));
    for (int64_t b = 0; b < n; b += block) {
      const int64_t m = std::min(block, n - b);
      upload(x.row(b), static_cast<size_t>(m * d), d_x.data(), stream);
      add_column_sums_async(d_x.data(), m, d, d_mean.data(), scratch, stream);
    }
    means_from_sums_async(d_mean.data(), d, n, stream);
    scratch.gram.resize(static_cast<size_t>(d * d));
    EMB_CUDA_TRY(cudaMemsetAsync(scratch.gram.data(), 0, static_cast<size_t>(d * d) * sizeof(double), stream));
    for (int64_t b = 0; b < n; b += block) {
      const int64_t m = std::min(block, n - b);
      upload(x.row(b), static_cast<size_t>(m * d), d_x.data(), stream);
      add_centred_gram_async(handle, d_x.data(), m, d, d_mean.data(), scratch.gram.data(), scratch);
    }
    covariance_from_gram_async(scratch.gram.data(), d, n, d_cov.data(), stream);
  }
  EMB_CUDA_TRY(
      cudaMemcpyAsync(mean, d_mean.data(), static_cast<size_t>(d) * sizeof(double), cudaMemcpyDeviceToHost, stream));
  EMB_CUDA_TRY(cudaMemcpyAsync(cov.data, d_cov.data(), static_cast<size_t>(d * d) * sizeof(double),
                               cudaMemcpyDeviceToHost, stream));
  EMB_CUDA_TRY(cudaStreamSynchronize(stream));
}

void symmetric_eigen_from_host(cusolverDnHandle_t handle, BasicMatrixView<const double> a, double* values,
                               BasicMatrixView<double> vectors, PcaScratch& scratch) {
  const int64_t n = a.rows;
  if (n == 0) return;
  cudaStream_t stream = nullptr;
  EMB_CUSOLVER_TRY(cusolverDnGetStream(handle, &stream));
  const size_t bytes = static_cast<size_t>(n * n) * sizeof(double);
  DeviceBuffer<double> d_a(static_cast<size_t>(n * n)), d_values(static_cast<size_t>(n)),
      d_vectors(static_cast<size_t>(n * n));
  EMB_CUDA_TRY(cudaMemcpyAsync(d_a.data(), a.data, bytes, cudaMemcpyHostToDevice, stream));
  symmetric_eigen(handle, d_a.data(), n, d_values.data(), d_vectors.data(), scratch);
  EMB_CUDA_TRY(cudaMemcpyAsync(values, d_values.data(), static_cast<size_t>(n) * sizeof(double), cudaMemcpyDeviceToHost,
                               stream));
  EMB_CUDA_TRY(cudaMemcpyAsync(vectors.data, d_vectors.data(), bytes, cudaMemcpyDeviceToHost, stream));
  EMB_CUDA_TRY(cudaStreamSynchronize(stream));
}

void project_from_host(cublasHandle_t handle, ConstMatrixView x, const float* mean, ConstMatrixView components,
                       MatrixView out, PcaScratch& scratch) {
  const int64_t n = x.rows, d = x.cols, m = components.rows;
  if (n == 0 || m == 0) return;
  const cudaStream_t stream = stream_of(handle);
  const int64_t block = std::min(n, host_block_rows(std::max(d, m)));
  DeviceBuffer<float> d_x(static_cast<size_t>(block * d)), d_out(static_cast<size_t>(block * m));
  DeviceBuffer<float> d_mean(static_cast<size_t>(std::max<int64_t>(d, 1))),
      d_comp(static_cast<size_t>(std::max<int64_t>(m * d, 1)));
  upload(mean, static_cast<size_t>(d), d_mean.data(), stream);
  upload(components.data, static_cast<size_t>(m * d), d_comp.data(), stream);
  for (int64_t b = 0; b < n; b += block) {
    const int64_t rows = std::min(block, n - b);
    upload(x.row(b), static_cast<size_t>(rows * d), d_x.data(), stream);
    project_async(handle, d_x.data(), rows, d, d_mean.data(), d_comp.data(), m, d_out.data(), scratch);
    EMB_CUDA_TRY(cudaMemcpyAsync(out.row(b), d_out.data(), static_cast<size_t>(rows * m) * sizeof(float),
                                 cudaMemcpyDeviceToHost, stream));
  }
  EMB_CUDA_TRY(cudaStreamSynchronize(stream));
}

}  // namespace emb::cuda
