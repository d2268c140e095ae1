#pragma once
// The CUDA backend's public face: no CUDA types, so host code includes it freely.
#include <cstdint>
#include <memory>
#include <string>

#include "host/backend/backend.hpp"

namespace emb::cuda {

/// @brief Number of usable CUDA devices; 0 when there is no driver or no device.
///        `why`, when given, receives the runtime's reason for 0.
int device_count(std::string* why = nullptr);

/// @brief "NVIDIA H100 80GB HBM3, 132 SMs, 79.1 GiB, compute 9.0".
std::string device_description(int device);

/// @brief Memory limits of the CUDA backend.
struct CudaOptions {
  /// Most floats in one uploaded block of points, and in one tile of distances
  /// (256 MiB by default): device memory use is bounded by a few of these.
  int64_t block_floats = int64_t{64} << 20;
  /// Most floats hold() keeps on the device (-1: as many as fit while leaving room
  /// for four blocks and the libraries). Points that are not held stream from host
  /// memory in blocks, so data larger than the GPU works.
  int64_t max_held_floats = -1;
  /// The transformer encoder on the GPU (make_encoder_ops); off, the encoder runs on
  /// the CPU's ops.
  bool encoder = true;
  /// The encoder's GEMMs with float16 operands (float32 accumulation) instead of float32.
  bool encoder_fp16 = true;
};

/// @brief Creates the CUDA backend on `device`. Ops it does not support are
///        answered by supports() == false (the caller routes them to the CPU).
/// @throws emb::RuntimeError when the device cannot be initialised.
std::unique_ptr<Backend> make_cuda_backend(int device, const CudaOptions& options = {});

}  // namespace emb::cuda
