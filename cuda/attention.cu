#include <algorithm>
#include <cmath>
#include <cstdint>

#include "cuda/attention.cuh"
#include "cuda/check.cuh"

namespace emb::cuda {
namespace {

constexpr int kWarp = 32;
constexpr int kWarps = 16;  // queries per block (one per warp); they share each staged K/V tile
constexpr int kTile = 32;   // keys per tile: one per lane while scoring
constexpr int kThreads = kWarps * kWarp;
constexpr unsigned kFull = 0xffffffffu;

__device__ __forceinline__ void fma4(float4& acc, float p, const float4& v) {
  acc.x += p * v.x;
  acc.y += p * v.y;
  acc.z += p * v.z;
  acc.w += p * v.w;
}

// Block (sequence b, query chunk, head): each warp owns one query and runs an online softmax over
// the sequence's keys, tile by tile. Lane j scores key j of a tile (float4 reads of its K row and of
// the query); in P.V a group of lanes covers one V row with float4s and the groups take
// different keys, summed across groups at the end.
template <int kDh>
__global__ void __launch_bounds__(kThreads)
    attention_kernel(const float* __restrict__ qkv, const int32_t* __restrict__ offsets, int64_t h, float scale,
                     float* __restrict__ out) {
  constexpr int kV4 = kDh / 4;                      // float4s per head row: 4, 8, 16 or 32
  constexpr int kRowLanes = kV4 < kWarp ? kV4 : kWarp;  // lanes that cover one V row
  constexpr int kGroups = kWarp / kRowLanes;        // keys accumulated at once: 8, 4, 2 or 1
  // K rows padded by one float4: lanes reading one float4 column of eight different rows
  // (a quarter warp) fall on distinct bank groups, since kV4 + 1 is odd.
  __shared__ float4 ks[kTile][kV4 + 1];
  __shared__ float4 vs[kTile][kV4];
  __shared__ float4 qs[kWarps][kV4];

  const int64_t begin = offsets[blockIdx.x];
  const int len = offsets[blockIdx.x + 1] - static_cast<int>(begin);
  const int head = blockIdx.z;
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  const int col4 = lane % kRowLanes, group = lane / kRowLanes;
  const int64_t stride4 = 3 * h / 4;  // float4s per token row of qkv
  const auto* q_base = reinterpret_cast<const float4*>(qkv) + begin * stride4 + static_cast<int64_t>(head) * kV4;
  const float4* k_base = q_base + h / 4;
  const float4* v_base = q_base + h / 2;

  // Loop over query chunks so a max_len below the true longest sequence stays correct.
  for (int q0 = blockIdx.y * kWarps; q0 < len; q0 += gridDim.y * kWarps) {
    const int qi = q0 + warp;
    const bool active = qi < len;
    if (active) {
      for (int d = lane; d < kV4; d += kWarp) qs[warp][d] = q_base[qi * stride4 + d];
    }
    float m = -INFINITY, l = 0.0f;  // running max (warp-uniform) and this lane's share of the sum
    float4 acc = make_float4(0.0f, 0.0f, 0.0f, 0.0f);

    for (int k0 = 0; k0 < len; k0 += kTile) {
      __syncthreads();  // every warp is done with the previous tile (and qs is written)
      for (int e = threadIdx.x; e < kTile * kV4; e += blockDim.x) {
        const int r = e / kV4, d = e % kV4;
        const bool in = k0 + r < len;  // zeros past the end keep 0 * garbage out of the sums
        const int64_t off = static_cast<int64_t>(k0 + r) * stride4 + d;
        const float4 zero = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        ks[r][d] = in ? k_base[off] : zero;
        vs[r][d] = in ? v_base[off] : zero;
      }
      __syncthreads();
      if (!active) continue;

      float s = -INFINITY;
      if (k0 + lane < len) {
        float dot = 0.0f;
#pragma unroll
        for (int d = 0; d < kV4; ++d) {
          const float4 q = qs[warp][d], k = ks[lane][d];
          dot += q.x * k.x;
          dot += q.y * k.y;
          dot += q.z * k.z;
          dot += q.w * k.w;
        }
        s = dot * scale;  // as the CPU reference: the GEMM's alpha scales the finished dot product
      }
      float tile_max = s;
      for (int off = kWarp / 2; off > 0; off /= 2) tile_max = fmaxf(tile_max, __shfl_xor_sync(kFull, tile_max, off));
      const float m_new = fmaxf(m, tile_max);
      const float corr = expf(m - m_new);  // 0 on the first tile, where m = -inf
      const float p = expf(s - m_new);     // 0 for keys past the end
      l = l * corr + p;
      acc.x *= corr;
      acc.y *= corr;
      acc.z *= corr;
      acc.w *= corr;
      // Keys past the end carry p = 0 and zero V rows; round up so every group runs the same count.
      const int n = min(kTile, len - k0);
      const int n_even = (n + kGroups - 1) / kGroups * kGroups;
      for (int j0 = 0; j0 < n_even; j0 += kGroups) {
        const int j = j0 + group;
        fma4(acc, __shfl_sync(kFull, p, j), vs[j][col4]);
      }
      m = m_new;
    }
    if (!active) continue;

    for (int off = kWarp / 2; off > 0; off /= 2) l += __shfl_xor_sync(kFull, l, off);
    if constexpr (kGroups > 1) {
      // Lanes of different groups summed different keys for the same columns.
      for (int off = kWarp / 2; off >= kRowLanes; off /= 2) {
        acc.x += __shfl_xor_sync(kFull, acc.x, off);
        acc.y += __shfl_xor_sync(kFull, acc.y, off);
        acc.z += __shfl_xor_sync(kFull, acc.z, off);
        acc.w += __shfl_xor_sync(kFull, acc.w, off);
      }
    }
    if (group == 0) {
      auto* o = reinterpret_cast<float4*>(out + (begin + qi) * h) + static_cast<int64_t>(head) * kV4;
      o[col4] = make_float4(acc.x / l, acc.y / l, acc.z / l, acc.w / l);
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
  // The kernel reads and writes float4s: every head's columns start on 16 bytes.
  const auto aligned = [](const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; };
  EMB_EXPECTS(aligned(d_qkv) && aligned(d_out), "attention: device buffers not 16-byte aligned");
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
