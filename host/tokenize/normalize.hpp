#pragma once
// Normalizers of a tokenizer.json: BertNormalizer, Precompiled, Replace, NFC/NFD/NFKC/NFKD,
// Lowercase, Strip and Sequence of those.
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

namespace emb::tok {

/// @brief Rewrites text before pre-tokenization; input and output are valid UTF-8.
class Normalizer {
 public:
  virtual ~Normalizer() = default;
  /// @brief Writes the normalized form of `in` to `out` (cleared first).
  virtual void normalize(std::string_view in, std::string& out) const = 0;
  /// @brief How many leading bytes of normalize(in) tokenizers aligns with the first
  ///        `origin` bytes of `in` (for Metaspace's prepend_scheme "first"). By default
  ///        what those bytes normalize to on their own.
  virtual size_t origin_bytes(std::string_view in, size_t origin) const;
};

/// @brief The normalizer a tokenizer.json "normalizer" object describes; nullptr for null.
/// @throws emb::InputError naming `path` for an unsupported type or bad fields.
std::unique_ptr<Normalizer> make_normalizer(const nlohmann::json& spec, const std::string& path);

}  // namespace emb::tok
