#include <cub/device/device_radix_sort.cuh>

#include <algorithm>

#include "cuda/accumulate_centroids.cuh"
#include "cuda/check.cuh"

namespace emb::cuda {
namespace {

__global__ void iota_kernel(int32_t* out, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    out[i] = static_cast<int32_t>(i);
}

// starts[c] = first position of label c in the sorted labels (c = 0..k; starts[k] = n).
__global__ void segment_starts_kernel(const int32_t* __restrict__ sorted, int64_t n, int64_t k,
                                      int64_t* __restrict__ starts) {
  const int64_t c = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (c > k) return;
  int64_t lo = 0, hi = n;
  while (lo < hi) {
    const int64_t mid = (lo + hi) / 2;
    if (sorted[mid] < c) lo = mid + 1;
    else hi = mid;
  }
  starts[c] = lo;
}

// One thread per (cluster, column): walks the cluster's members in row order.
__global__ void segment_sums_kernel(const float* __restrict__ x, int64_t d, int64_t k, const int32_t* __restrict__ members,
                                    const int64_t* __restrict__ starts, const float* __restrict__ weights,
                                    double* __restrict__ sums, double* __restrict__ counts) {
  const int64_t j = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  for (int64_t c = blockIdx.y; c < k; c += gridDim.y) {  // grid y is capped at 65535
    const int64_t begin = starts[c], end = starts[c + 1];
    if (j < d) {
      double acc = 0.0;
      for (int64_t m = begin; m < end; ++m) {
        const int64_t i = members[m];
        const double w = weights ? static_cast<double>(weights[i]) : 1.0;
        acc += w * x[i * d + j];
      }
      sums[c * d + j] = acc;
    }
    if (blockIdx.x == 0 && threadIdx.x == 0) {
      double w = weights ? 0.0 : static_cast<double>(end - begin);
      if (weights)
        for (int64_t m = begin; m < end; ++m) w += static_cast<double>(weights[members[m]]);
      counts[c] = w;
    }
  }
}

}  // namespace

void accumulate_centroids_async(const float* d_x, int64_t n, int64_t d, const int32_t* d_labels,
                                const float* d_weights, int64_t k, double* d_sums, double* d_counts,
                                AccumulateScratch& s, cudaStream_t stream) {
  if (k == 0) return;
  const auto un = static_cast<size_t>(n);
  s.keys_out.resize(un + 1);
  s.index_in.resize(un + 1);
  s.index_out.resize(un + 1);
  s.starts.resize(static_cast<size_t>(k) + 1);
  if (n > 0) {
    iota_kernel<<<static_cast<unsigned>(std::min<int64_t>((n + 255) / 256, 4096)), 256, 0, stream>>>(s.index_in.data(), n);
    EMB_CUDA_CHECK_LAUNCH();
    // A stable radix sort by label keeps each cluster's members in row order.
    size_t temp = 0;
    EMB_CUDA_TRY(cub::DeviceRadixSort::SortPairs(nullptr, temp, d_labels, s.keys_out.data(), s.index_in.data(),
                                                 s.index_out.data(), static_cast<int>(n), 0, 32, stream));
    s.cub_temp.resize(temp);
    EMB_CUDA_TRY(cub::DeviceRadixSort::SortPairs(s.cub_temp.data(), temp, d_labels, s.keys_out.data(),
                                                 s.index_in.data(), s.index_out.data(), static_cast<int>(n), 0, 32,
                                                 stream));
  }
  // CUB orders signed keys numerically: noise (-1) comes first, before cluster 0.
  segment_starts_kernel<<<static_cast<unsigned>((k + 1 + 255) / 256), 256, 0, stream>>>(s.keys_out.data(), n, k,
                                                                                        s.starts.data());
  EMB_CUDA_CHECK_LAUNCH();
  const dim3 grid(static_cast<unsigned>((d + 127) / 128), static_cast<unsigned>(std::min<int64_t>(k, 65535)));
  segment_sums_kernel<<<grid, 128, 0, stream>>>(d_x, d, k, s.index_out.data(), s.starts.data(), d_weights, d_sums,
                                                d_counts);
  EMB_CUDA_CHECK_LAUNCH();
}

}  // namespace emb::cuda
