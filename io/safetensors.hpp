#pragma once
// A read-only, memory-mapped safetensors file (https://huggingface.co/docs/safetensors).
//
// Layout: an 8-byte little-endian header length N, N bytes of JSON
// {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}, then the
// data area; offsets count from the start of the data area. open() checks every
// tensor's offsets against the file, so get() and read_f32() may trust them.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace emb::io {

/// @brief The floating-point element types embclust reads.
enum class TensorDType { F32, F16, BF16 };

/// @brief "F32", "F16" or "BF16", as safetensors spells them.
const char* to_string(TensorDType dtype);

/// @brief Bytes per element of a dtype.
size_t dtype_size(TensorDType dtype);

/// @brief One tensor of a SafeTensors file.
struct TensorInfo {
  std::string name;
  TensorDType dtype;
  std::vector<int64_t> shape;
  const void* data;  ///< into the mapping; not necessarily aligned to the element size
  size_t nbytes;
};

/// @brief A memory-mapped safetensors file; movable, not copyable. Tensor data stays
///        valid as long as the object lives.
class SafeTensors {
 public:
  /// @brief Maps `path` and parses its header.
  /// @throws emb::InputError naming the file: missing or unreadable file, shorter than
  ///         8 bytes, header length beyond the file, bad JSON header, a malformed entry,
  ///         a tensor whose data_offsets lie outside the data area or disagree with
  ///         dtype x shape ("truncated").
  static SafeTensors open(const std::string& path);

  ~SafeTensors();
  SafeTensors(SafeTensors&& other) noexcept;
  SafeTensors& operator=(SafeTensors&& other) noexcept;
  SafeTensors(const SafeTensors&) = delete;
  SafeTensors& operator=(const SafeTensors&) = delete;

  /// @brief Whether the file holds a tensor `name` (of any dtype, supported or not).
  bool has(const std::string& name) const;
  /// @throws emb::InputError "FILE has no tensor NAME", or "unsupported dtype X of tensor
  ///         NAME in FILE" for tensors that are not F32, F16 or BF16 (e.g. I64 position ids).
  const TensorInfo& get(const std::string& name) const;
  /// @brief Every tensor name, sorted (including tensors of unsupported dtypes).
  std::vector<std::string> names() const;
  const std::string& path() const;

  /// @brief Copies tensor `name` into `out` (product of `shape` floats) as float32,
  ///        converting F16 and BF16.
  /// @throws emb::InputError when the tensor is missing or of an unsupported dtype, or
  ///         "tensor NAME in FILE has shape [a, b] but config.json implies [c, d]".
  void read_f32(const std::string& name, const std::vector<int64_t>& shape, float* out) const;

  /// @brief The string entries of "__metadata__" (e.g. format: pt); empty when none.
  std::map<std::string, std::string> metadata() const;

 private:
  SafeTensors() = default;
  void unmap() noexcept;

  std::string path_;
  void* map_ = nullptr;
  size_t map_size_ = 0;
  std::map<std::string, TensorInfo> tensors_;
  std::map<std::string, std::string> unsupported_;  ///< name -> dtype as written in the file
  std::map<std::string, std::string> metadata_;
};

/// @brief IEEE 754 binary16 -> float32, exact (subnormals, infinities and NaN included).
float half_to_float(uint16_t h);
/// @brief bfloat16 -> float32, exact (the top 16 bits of a float32).
float bf16_to_float(uint16_t b);

/// @brief "[a, b, c]" (for messages).
std::string shape_string(const std::vector<int64_t>& shape);

}  // namespace emb::io
