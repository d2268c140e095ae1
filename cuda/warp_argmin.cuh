#pragma once
// A warp's argmin: every lane holds a (value, index) candidate; afterwards every
// lane holds the smallest value, the lowest index on equal values. A NaN value
// never wins over a number.
#include <cuda_runtime.h>

#include <cstdint>

namespace emb::cuda {

__device__ inline void warp_argmin(float& best, int32_t& best_j) {
  for (int off = 16; off > 0; off /= 2) {
    const float ov = __shfl_xor_sync(0xffffffffu, best, off);
    const int32_t oj = __shfl_xor_sync(0xffffffffu, best_j, off);
    if (ov < best || (ov == best && oj < best_j)) {
      best = ov;
      best_j = oj;
    }
  }
}

}  // namespace emb::cuda
