#pragma once
// Embedders turn segment texts into fixed-size vectors. `hashing` needs no model
// files; transformer encoders plug in beside it through make_embedder().
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "host/backend/backend.hpp"
#include "host/core/matrix.hpp"

namespace emb {

/// @brief What to embed with.
struct EmbedOptions {
  std::string model = "hashing";  ///< a model name or path
  int dim = 1024;                 ///< output dimension, for models where it is free (hashing)
  bool progress = true;           ///< progress line on a terminal
};

class Embedder {
 public:
  virtual ~Embedder() = default;
  /// @brief The name stored in /embeddings@model, e.g. "hashing-char1-3-word".
  virtual std::string model_name() const = 0;
  virtual int64_t dim() const = 0;
  /// @brief Whether rows come out L2-normalized.
  virtual bool normalized() const = 0;
  /// @brief Embeds every text; one row per text.
  virtual Matrix embed(const std::vector<std::string>& texts, Backend& backend) = 0;
};

/// @brief Creates the embedder named by opts.model.
/// @throws emb::UsageError for an unknown model or a bad dimension.
std::unique_ptr<Embedder> make_embedder(const EmbedOptions& opts);

}  // namespace emb
