#pragma once
// Writes float32 tensors as a safetensors file (the layout io/safetensors.hpp reads),
// through a temporary file renamed into place, so a failed write leaves nothing behind.
#include <cstdint>
#include <string>
#include <vector>

namespace emb::io {

/// @brief One tensor to write: row-major float32 data of the given shape.
struct TensorToWrite {
  std::string name;
  std::vector<int64_t> shape;
  const float* data = nullptr;
};

/// @brief Writes the tensors (in name order) with "__metadata__" {"format": "pt"}.
/// @throws emb::RuntimeError naming the file when it cannot be written.
void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors);

}  // namespace emb::io
