#pragma once
// The CUDA backend for GPU tests, or the reason there is none, so that a test can
// skip with a message on machines (and builds) without a device.
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>

#include "host/backend/backend.hpp"

#ifdef EMBCLUST_HAVE_CUDA
#include "cuda/cuda_backend.hpp"
#endif

namespace emb::test {

/// @brief Memory limits for a test backend (cuda::CudaOptions, usable without CUDA).
struct CudaLimits {
  int64_t block_floats = 0;      ///< 0: the backend's default
  int64_t max_held_floats = -1;  ///< -1: hold as much as fits
  bool encoder_fp16 = false;     ///< encoder GEMMs with float16 operands (runs default to it; op tests check fp32)
};

/// @brief The CUDA backend on device 0, or null with `reason` set.
inline std::unique_ptr<Backend> cuda_backend_or_reason(std::string* reason, const CudaLimits& limits = {}) {
#ifdef EMBCLUST_HAVE_CUDA
  if (cuda::device_count(reason) == 0) return nullptr;
  cuda::CudaOptions options;
  if (limits.block_floats > 0) options.block_floats = limits.block_floats;
  options.max_held_floats = limits.max_held_floats;
  options.encoder = true;
  options.encoder_fp16 = limits.encoder_fp16;
  return cuda::make_cuda_backend(0, options);
#else
  (void)limits;
  *reason = "this build has no CUDA backend (EMBCLUST_CUDA=OFF or nvcc not found)";
  return nullptr;
#endif
}

}  // namespace emb::test

/// @brief Declares `var` as the CUDA backend, or skips the test with the reason.
#define CUDA_BACKEND_OR_SKIP(var)                                        \
  std::string cuda_skip_reason_;                                         \
  auto var = ::emb::test::cuda_backend_or_reason(&cuda_skip_reason_);    \
  if (!var) GTEST_SKIP() << "no CUDA device: " << cuda_skip_reason_
