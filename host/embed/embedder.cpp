#include "host/embed/embedder.hpp"

#include <algorithm>

#include "host/core/error.hpp"

#include "host/embed/hashing_embedder.hpp"
#include "host/embed/transformer_embedder.hpp"

namespace emb {

int64_t default_chunk_rows(int64_t dim, bool gpu) {
  if (!gpu) return 8192;
  const int64_t rows = (int64_t{16} << 20) / std::max<int64_t>(dim, 1);
  return std::clamp<int64_t>(rows / 1024 * 1024, 1024, 65536);
}

void Embedder::embed_chunks(const std::vector<std::string>& texts, Backend& backend, int64_t chunk_rows,
                            EmbeddingSink& sink) {
  EMB_USAGE(chunk_rows > 0, "--chunk-rows must be positive, got ", chunk_rows);
  const Matrix m = embed(texts, backend);
  const int64_t n = m.rows();
  const EmbedStats all = stats();
  bool first_put = true;
  for (int64_t c = 0, first = 0; first < n; ++c, first += chunk_rows) {
    if (sink.has_chunk(c)) continue;
    // The run's counts go with the first chunk stored, so the sink's sum is the run's.
    sink.put_chunk(c, first, std::min(chunk_rows, n - first), m.row(first), first_put ? all : EmbedStats{});
    first_put = false;
  }
}

std::unique_ptr<Embedder> make_embedder(const EmbedOptions& opts) {
  if (opts.model == "hashing") return std::make_unique<HashingEmbedder>(opts.dim, opts.progress);
  return std::make_unique<TransformerEmbedder>(load_encoder_model(opts.model, opts.seed), opts);
}

}  // namespace emb
