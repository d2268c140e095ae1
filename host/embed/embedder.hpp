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
  /// A NAME in the models folder, a model folder, random:<arch>, or "hashing" (no model files).
  std::string model = "multilingual-e5-small";
  int dim = 1024;                 ///< output dimension, for models where it is free (hashing)
  bool progress = true;           ///< progress line on a terminal
  std::string long_text = "truncate";  ///< past max_seq_length: "truncate" (counted) or "chunk" (windows averaged)
  std::string prompt;             ///< a prompt name from the model's config, "none", or empty for the model's default
  int64_t max_seq_length = 0;     ///< tokens per sequence, special tokens included; 0 = the model's
  int64_t batch_tokens = 0;       ///< tokens per encoder batch; 0 = the default
  int64_t chunk_rows = 0;         ///< texts per chunk handed to an EmbeddingSink; 0 = the default
  uint64_t seed = 0;              ///< seed of random:<arch> weights
};

/// @brief What an encoder run did, for the report and the file.
struct EmbedStats {
  int64_t tokens = 0;          ///< tokens through the encoder, special tokens included
  int64_t truncated = 0;       ///< sentences cut at max_seq_length
  int64_t chunked = 0;         ///< sentences embedded as several windows
  int64_t max_seq_length = 0;  ///< 0 for models without a limit (hashing)
  std::string prompt;
  std::string long_text;
  std::string device;          ///< which ops ran the encoder
  double seconds = 0.0;        ///< tokenizing and encoding time, weight upload excluded; 0 = not measured
  int64_t batch_tokens = 0;    ///< the token budget of a batch at the end (smaller after running out of GPU memory)
  int64_t oom_retries = 0;     ///< times the budget was halved after running out of GPU memory
  int64_t chunks_skipped = 0;  ///< chunks the sink already had (a resumed run)
  std::string note;            ///< one line worth telling the user, e.g. why the encoder left the GPU

  /// @brief Adds the counts of another piece of the same run.
  void add(const EmbedStats& o) {
    tokens += o.tokens;
    truncated += o.truncated;
    chunked += o.chunked;
  }
};

/// @brief Where embeddings go, chunk after chunk in text order: chunk c holds texts
///        [c * chunk_rows, min(n, (c + 1) * chunk_rows)).
class EmbeddingSink {
 public:
  virtual ~EmbeddingSink() = default;
  /// @brief Whether chunk c is stored already (a resumed run): it is not computed again.
  virtual bool has_chunk(int64_t /*chunk*/) const { return false; }
  /// @brief Takes chunk c: rows x dim floats, row-major; `stats` counts this chunk only.
  virtual void put_chunk(int64_t chunk, int64_t first_row, int64_t rows, const float* data,
                         const EmbedStats& stats) = 0;
};

/// @brief A sink that copies every chunk into its rows of a Matrix.
class MatrixSink final : public EmbeddingSink {
 public:
  explicit MatrixSink(Matrix& m) : m_(m) {}
  void put_chunk(int64_t chunk, int64_t first_row, int64_t rows, const float* data, const EmbedStats& stats) override;

 private:
  Matrix& m_;
};

/// @brief The chunk size when none is asked for. On a GPU, about 64 MiB of float32
///        per chunk, between 1,024 and 65,536 rows (a few seconds of work); on the
///        CPU, 8,192 rows (about a minute for a small model), so that an interrupted run loses little.
int64_t default_chunk_rows(int64_t dim, bool gpu);

class Embedder {
 public:
  virtual ~Embedder() = default;
  /// @brief The name stored in /embeddings@model, e.g. "hashing-char1-3-word".
  virtual std::string model_name() const = 0;
  virtual int64_t dim() const = 0;
  /// @brief Whether rows come out L2-normalized.
  virtual bool normalized() const = 0;
  /// @brief Embeds every text; one row per text (embed_chunks() into a Matrix).
  virtual Matrix embed(const std::vector<std::string>& texts, Backend& backend);
  /// @brief Embeds every text chunk by chunk (chunk_rows texts each) into the sink,
  ///        skipping the chunks it already has: host memory holds a chunk of
  ///        vectors, not the corpus's.
  virtual void embed_chunks(const std::vector<std::string>& texts, Backend& backend, int64_t chunk_rows,
                            EmbeddingSink& sink) = 0;
  /// @brief What the last embed() or embed_chunks() did.
  virtual EmbedStats stats() const { return {}; }
};

/// @brief Creates the embedder named by opts.model.
/// @throws emb::UsageError for an unknown model or a bad option; emb::InputError for a
///         model folder that cannot be used (checked here, before any work starts).
std::unique_ptr<Embedder> make_embedder(const EmbedOptions& opts);

}  // namespace emb
