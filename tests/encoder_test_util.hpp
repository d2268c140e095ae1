#pragma once
// Helpers shared by the encoder-op tests on the CPU (tests/test_encoder_ops.cpp) and
// on the GPU (tests/gpu/test_cuda_encoder_ops.cpp).
#include <cstdint>
#include <random>
#include <vector>

#include "host/backend/encoder_ops.hpp"

namespace emb::test {

/// @brief n normal values (mean, scale) from a fixed seed.
inline std::vector<float> randn(size_t n, uint32_t seed, float scale = 1.0f, float mean = 0.0f) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(mean, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

/// @brief The first rows of t, copied to the host.
inline std::vector<float> to_host(EncoderOps& ops, const Tensor& t) {
  std::vector<float> v(static_cast<size_t>(t.rows * t.cols));
  ops.download(t, v.data());
  return v;
}

}  // namespace emb::test
