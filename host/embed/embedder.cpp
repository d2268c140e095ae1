#include "host/embed/embedder.hpp"

#include <algorithm>
#include <cstring>

#include "host/core/error.hpp"

#include "host/embed/hashing_embedder.hpp"
#include "host/embed/transformer_embedder.hpp"

namespace emb {

int64_t default_chunk_rows(int64_t dim, bool gpu) {
  if (!gpu) return 8192;
  const int64_t rows = (int64_t{16} << 20) / std::max<int64_t>(dim, 1);
  return std::clamp<int64_t>(rows / 1024 * 1024, 1024, 65536);
}

Matrix Embedder::embed(const std::vector<std::string>& texts, Backend& backend) {
  Matrix out(static_cast<int64_t>(texts.size()), dim());
  MatrixSink sink(out);
  embed_chunks(texts, backend, std::max<int64_t>(1, static_cast<int64_t>(texts.size())), sink);
  return out;
}

void MatrixSink::put_chunk(int64_t, int64_t first_row, int64_t rows, const float* data, const EmbedStats&) {
  std::memcpy(m_.row(first_row), data, sizeof(float) * static_cast<size_t>(rows * m_.cols()));
}

std::unique_ptr<Embedder> make_embedder(const EmbedOptions& opts) {
  if (opts.model == "hashing") return std::make_unique<HashingEmbedder>(opts.dim, opts.progress);
  return std::make_unique<TransformerEmbedder>(load_encoder_model(opts.model, opts.seed), opts);
}

}  // namespace emb
