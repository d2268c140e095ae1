#include "cuda/check.cuh"
#include "cuda/k_nearest.cuh"

#include <climits>

namespace emb::cuda {
namespace {

// One block per query row. Threads test kPerThread distances each per round
// against the row's current k-th best; those below it go to a candidate buffer,
// which is sorted (bitonic) and merged into the list when it could overflow.
constexpr int kThreads = 128;
constexpr int kPerThread = 4;
constexpr int kRound = kThreads * kPerThread;
constexpr int kCandidates = 1024;  // a power of two, at least kRound
// Dynamic shared memory per block: under the 48 KiB a block gets without opting
// in to more, leaving room for the static `count`.
constexpr int64_t kSharedBytes = 47 * 1024;

struct Pair {
  float d;
  int32_t j;
};

__device__ __forceinline__ bool before(const Pair& a, const Pair& b) {
  return a.d < b.d || (a.d == b.d && a.j < b.j);
}

__device__ __forceinline__ Pair sentinel() { return {INFINITY, INT_MAX}; }

// A row's working set: its list, the merge's output, the candidate buffer.
__host__ __device__ inline int64_t working_pairs(int k) { return 2 * static_cast<int64_t>(k) + kCandidates; }
bool fits_shared(int k) { return working_pairs(k) * static_cast<int64_t>(sizeof(Pair)) <= kSharedBytes; }

// Sorts a[0..p) ascending, p a power of two; every thread of the block calls it.
__device__ void bitonic_sort(Pair* a, int p) {
  for (int size = 2; size <= p; size <<= 1) {
    for (int stride = size >> 1; stride > 0; stride >>= 1) {
      for (int i = threadIdx.x; i < p / 2; i += blockDim.x) {
        const int lo = 2 * i - (i & (stride - 1)), hi = lo + stride;
        const bool up = (lo & size) == 0;
        const Pair x = a[lo], y = a[hi];
        if (before(y, x) == up) {
          a[lo] = y;
          a[hi] = x;
        }
      }
      __syncthreads();
    }
  }
}

// Elements of a[0..n) before v (strictly), or not after v when `or_equal`.
__device__ int rank_in(const Pair* a, int n, const Pair& v, bool or_equal) {
  int lo = 0, hi = n;
  while (lo < hi) {
    const int mid = (lo + hi) / 2;
    if (or_equal ? !before(v, a[mid]) : before(a[mid], v))
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

// Merges the n candidates into the sorted list of k, the k best into `out`. A
// stable merge (list first on equal pairs) gives every element its own rank.
__device__ void merge_candidates(const Pair* list, int k, Pair* cand, int n, Pair* out) {
  int p = 1;
  while (p < n) p <<= 1;
  for (int i = n + threadIdx.x; i < p; i += blockDim.x) cand[i] = sentinel();
  __syncthreads();
  bitonic_sort(cand, p);
  for (int a = threadIdx.x; a < k; a += blockDim.x) {
    const int r = a + rank_in(cand, n, list[a], false);
    if (r < k) out[r] = list[a];
  }
  for (int b = threadIdx.x; b < n; b += blockDim.x) {
    const int r = b + rank_in(list, k, cand[b], true);
    if (r < k) out[r] = cand[b];
  }
  __syncthreads();
}

__global__ void __launch_bounds__(kThreads)
    merge_tile_kernel(const float* __restrict__ tile, int64_t cols, int32_t base, const double* __restrict__ q_norm,
                      const double* __restrict__ x_norm, int k, float* __restrict__ dist, int32_t* __restrict__ idx,
                      float* __restrict__ scratch) {
  extern __shared__ Pair shared_pairs[];
  __shared__ int count;
  const int64_t row = blockIdx.x;
  Pair* work = scratch ? reinterpret_cast<Pair*>(scratch) + row * working_pairs(k) : shared_pairs;
  Pair* list = work;
  Pair* spare = work + k;
  Pair* cand = work + 2 * k;

  for (int a = threadIdx.x; a < k; a += blockDim.x) list[a] = {dist[row * k + a], idx[row * k + a]};
  if (threadIdx.x == 0) count = 0;
  __syncthreads();
  float bound = list[k - 1].d;
  const float qn = static_cast<float>(q_norm[row]);
  const float* t = tile + row * cols;

  for (int64_t c0 = 0; c0 < cols; c0 += kRound) {
#pragma unroll
    for (int e = 0; e < kPerThread; ++e) {
      const int64_t j = c0 + e * kThreads + threadIdx.x;
      if (j < cols) {
        float v = qn + (static_cast<float>(x_norm[j]) + t[j]);  // float, as the CPU reference
        v = v < 0.0f ? 0.0f : v;
        if (v < bound) cand[atomicAdd(&count, 1)] = {v, base + static_cast<int32_t>(j)};
      }
    }
    __syncthreads();
    const int n = count;
    const bool last = c0 + kRound >= cols;
    __syncthreads();  // everyone has read count before the next round adds to it
    if (n > (last ? 0 : kCandidates - kRound)) {
      merge_candidates(list, k, cand, n, spare);
      Pair* swap = list;
      list = spare;
      spare = swap;
      if (threadIdx.x == 0) count = 0;
      __syncthreads();
      bound = list[k - 1].d;
    }
  }
  for (int a = threadIdx.x; a < k; a += blockDim.x) {
    dist[row * k + a] = list[a].d;
    idx[row * k + a] = list[a].j;
  }
}

__global__ void init_kernel(float* __restrict__ dist, int32_t* __restrict__ idx, int64_t n, int k,
                            const float* __restrict__ bound) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  dist[i] = bound ? bound[i / k] : INFINITY;
  idx[i] = INT_MAX;
}

}  // namespace

int64_t k_nearest_scratch_floats(int k) {
  return fits_shared(k) ? 0 : working_pairs(k) * static_cast<int64_t>(sizeof(Pair) / sizeof(float));
}

void k_nearest_init_async(float* d_dist, int32_t* d_idx, int64_t rows, int k, cudaStream_t stream,
                          const float* d_bound) {
  const int64_t n = rows * k;
  if (n == 0) return;
  constexpr int kBlock = 256;
  init_kernel<<<static_cast<unsigned>((n + kBlock - 1) / kBlock), kBlock, 0, stream>>>(d_dist, d_idx, n, k, d_bound);
  EMB_CUDA_CHECK_LAUNCH();
}

void k_nearest_merge_tile_async(const float* d_tile, int64_t rows, int64_t cols, int32_t base,
                                const double* d_q_norm, const double* d_x_norm, int k, float* d_dist,
                                int32_t* d_idx, float* d_scratch, cudaStream_t stream) {
  if (rows == 0 || cols == 0) return;
  const bool shared = fits_shared(k);
  const size_t shared_bytes = shared ? static_cast<size_t>(working_pairs(k)) * sizeof(Pair) : 0;
  merge_tile_kernel<<<static_cast<unsigned>(rows), kThreads, shared_bytes, stream>>>(
      d_tile, cols, base, d_q_norm, d_x_norm, k, d_dist, d_idx, shared ? nullptr : d_scratch);
  EMB_CUDA_CHECK_LAUNCH();
}

}  // namespace emb::cuda
