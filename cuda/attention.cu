#include <algorithm>
#include <cmath>

#include "cuda/attention.cuh"
#include "cuda/check.cuh"

namespace emb::cuda {
namespace {

constexpr int kWarp = 32;
constexpr int kWarps = 8;  // queries per block (one per warp); they share each staged K/V tile
constexpr int kTile = 32;  // keys per tile: one per lane while scoring
constexpr int kThreads = kWarps * kWarp;
constexpr unsigned kFull = 0xffffffffu;

// Block (sequence b, query chunk, head): each warp owns one query and runs an online softmax over
// the sequence's keys, tile by tile. Lane j scores key j of a tile; in P.V each lane owns output columns.
template <int kDh>
__global__ void __launch_bounds__(kThreads)
    attention_kernel(const float* __restrict__ qkv, const int32_t* __restrict__ offsets, int64_t h, float scale,
                     float* __restrict__ out) {
  constexpr int kCols = kDh < kWarp ? kDh : kWarp;  // lanes that cover one row of V
  constexpr int kGroups = kWarp / kCols;            // keys accumulated at once (2 when dh = 16)
  constexpr int kPer = kDh / kCols;                 // output columns per lane
  __shared__ float ks[kTile][kDh + 1];              // +1: lanes reading one column of different rows hit distinct banks
  __shared__ float vs[kTile][kDh];
  __shared__ float qs[kWarps][kDh];

  const int64_t begin = offsets[blockIdx.x];
  const int len = offsets[blockIdx.x + 1] - static_cast<int>(begin);
  const int head = blockIdx.z;
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  const int col = lane % kCols, group = lane / kCols;
  const int64_t stride = 3 * h;
  const float* q_base = qkv + begin * stride + static_cast<int64_t>(head) * kDh;
  const float* k_base = q_base + h;
  const float* v_base = q_base + 2 * h;

  // Loop over query chunks so a max_len below the true longest sequence stays correct.
  for (int q0 = blockIdx.y * kWarps; q0 < len; q0 += gridDim.y * kWarps) {
    const int qi = q0 + warp;
    const bool active = qi < len;
    if (active) {
      for (int d = lane; d < kDh; d += kWarp) qs[warp][d] = q_base[qi * stride + d];
    }
    float m = -INFINITY, l = 0.0f;  // running max (warp-uniform) and this lane's share of the sum
    float acc[kPer];
#pragma unroll
    for (int i = 0; i < kPer; ++i) acc[i] = 0.0f;

    for (int k0 = 0; k0 < len; k0 += kTile) {
      __syncthreads();  // every warp is done with the previous tile
      for (int e = threadIdx.x; e < kTile * kDh; e += blockDim.x) {
        const int r = e / kDh, d = e % kDh;
        const bool in = k0 + r < len;  // zeros past the end keep 0 * garbage out of the sums
        const int64_t off = static_cast<int64_t>(k0 + r) * stride + d;
        ks[r][d] = in ? k_base[off] : 0.0f;
        vs[r][d] = in ? v_base[off] : 0.0f;
      }
      __syncthreads();
      if (!active) continue;

      float s = -INFINITY;
      if (k0 + lane < len) {
        float dot = 0.0f;
#pragma unroll 16
        for (int d = 0; d < kDh; ++d) dot += qs[warp][d] * ks[lane][d];
        s = dot * scale;  // as the CPU reference: the GEMM's alpha scales the finished dot product
      }
      float tile_max = s;
      for (int off = kWarp / 2; off > 0; off /= 2) tile_max = fmaxf(tile_max, __shfl_xor_sync(kFull, tile_max, off));
      const float m_new = fmaxf(m, tile_max);
      const float corr = expf(m - m_new);  // 0 on the first tile, where m = -inf
      const float p = expf(s - m_new);     // 0 for keys past the end
      l = l * corr + p;
#pragma unroll
      for (int i = 0; i < kPer; ++i) acc[i] *= corr;
      // Keys past the end carry p = 0 and zero V rows; round up so every group runs the same count.
      const int n = min(kTile, len - k0);
      const int n_even = (n + kGroups - 1) / kGroups * kGroups;
      for (int j0 = 0; j0 < n_even; j0 += kGroups) {
        const int j = j0 + group;
        const float pj = __shfl_sync(kFull, p, j);
#pragma unroll
        for (int i = 0; i < kPer; ++i) acc[i] += pj * vs[j][col + i * kCols];
      }
      m = m_new;
    }
    if (!active) continue;

    for (int off = kWarp / 2; off > 0; off /= 2) l += __shfl_xor_sync(kFull, l, off);
    if constexpr (kGroups > 1) {
      // Lanes of different groups summed different keys for the same columns.
#pragma unroll
      for (int i = 0; i < kPer; ++i) {
        for (int off = kWarp / 2; off >= kCols; off /= 2) acc[i] += __shfl_xor_sync(kFull, acc[i], off);
      }
    }
    if (group == 0) {
      float* o = out + (begin + qi) * h + static_cast<int64_t>(head) * kDh;
#pragma unroll
      for (int i = 0; i < kPer; ++i) o[col + i * kCols] = acc[i] / l;
    }
  }
}

template <int kDh>
void launch(const float* d_qkv, const int32_t* d_offsets, int64_t batch, int heads, int64_t h, int max_len,
            float* d_out, cudaStream_t stream) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(kDh));  // the CPU reference's expression
  // Chunks beyond 65535 (never for encoder lengths) are covered by the kernel's loop.
  const int64_t chunks = std::clamp<int64_t>((static_cast<int64_t>(max_len) + kWarps - 1) / kWarps, 1, 65535);
  const dim3 grid(static_cast<unsigned>(batch), static_cast<unsigned>(chunks), static_cast<unsigned>(heads));
  attention_kernel<kDh><<<grid, kThreads, 0, stream>>>(d_qkv, d_offsets, h, scale, d_out);
  EMB_CUDA_CHECK_LAUNCH();
}

}  // namespace

bool attention_head_width_supported(int64_t width) {
  return width == 16 || width == 32 || width == 64 || width == 128;
}

void attention_async(const float* d_qkv, const int32_t* d_offsets, int64_t batch, int heads, int64_t h, int max_len,
                     float* d_out, cudaStream_t stream) {
  EMB_EXPECTS(heads > 0 && heads <= 65535 && h % heads == 0, "attention: width ", h, " does not split into ", heads,
              " heads");
  EMB_EXPECTS(batch <= 0x7fffffff, "attention: batch of ", batch, " sequences exceeds the grid");
  if (batch == 0) return;
  switch (h / heads) {
    case 16:
      return launch<16>(d_qkv, d_offsets, batch, heads, h, max_len, d_out, stream);
    case 32:
      return launch<32>(d_qkv, d_offsets, batch, heads, h, max_len, d_out, stream);
    case 64:
      return launch<64>(d_qkv, d_offsets, batch, heads, h, max_len, d_out, stream);
    case 128:
      return launch<128>(d_qkv, d_offsets, batch, heads, h, max_len, d_out, stream);
    default:
      EMB_EXPECTS(false, "attention: head width ", h / heads, " is not 16, 32, 64 or 128");
  }
}

}  // namespace emb::cuda
