#include "host/embed/embedder.hpp"

#include "host/embed/hashing_embedder.hpp"
#include "host/embed/transformer_embedder.hpp"

namespace emb {

std::unique_ptr<Embedder> make_embedder(const EmbedOptions& opts) {
  if (opts.model == "hashing") return std::make_unique<HashingEmbedder>(opts.dim, opts.progress);
  return std::make_unique<TransformerEmbedder>(load_encoder_model(opts.model, opts.seed), opts);
}

}  // namespace emb
