#pragma once
// Normalizers of a tokenizer.json: BertNormalizer, Precompiled, Replace, NFC/NFD/NFKC/NFKD,
// Lowercase, Strip and Sequence of those.
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
};

/// @brief The normalizer a tokenizer.json "normalizer" object describes; nullptr for null.
/// @throws emb::InputError naming `path` for an unsupported type or bad fields.
std::unique_ptr<Normalizer> make_normalizer(const nlohmann::json& spec, const std::string& path);

}  // namespace emb::tok
