#pragma once
// The transformer encoder's ops on a CUDA device (EncoderOps): tensors in device
// memory, GEMMs through cuBLAS, the rest through the kernels of cuda/embed_layernorm,
// add_layernorm, bias_activation, attention and pool.
#include <memory>

#include "host/backend/encoder_ops.hpp"

namespace emb::cuda {

/// @brief Operand precision of the encoder's GEMMs: float32 (the checking mode, no
///        TF32), or float16 operands with float32 accumulation and output.
enum class GemmPrecision { F32, F16 };

/// @brief Encoder ops on `device`, with their own stream and cuBLAS handle.
/// @throws emb::RuntimeError when the device or cuBLAS cannot be initialised.
std::unique_ptr<EncoderOps> make_cuda_encoder_ops(int device, GemmPrecision precision);

}  // namespace emb::cuda
