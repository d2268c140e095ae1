#pragma once
// Sentence embeddings from a BERT-family encoder (BertModel, XLMRobertaModel) the
// way sentence-transformers computes them: the model folder's tokenizer, prompt,
// truncation, pooling and normalization, on whichever backend runs the ops.
#include <memory>
#include <string>
#include <vector>

#include "host/embed/embedder.hpp"
#include "host/embed/encoder_graph.hpp"
#include "host/tokenize/tokenizer.hpp"

namespace emb {

/// @brief A loaded model: configuration, tokenizer, and where its weights come from.
struct EncoderModel {
  std::string name;       ///< stored in /embeddings@model
  std::string path;       ///< the folder, empty for random:<arch>
  EncoderSpec spec;
  Pooling pooling = Pooling::Mean;
  bool normalize = false;
  int64_t max_seq_length = 0;
  std::vector<std::pair<std::string, std::string>> prompts;  ///< name, text
  std::string default_prompt;                                ///< a name in prompts, or empty
  std::string tokenizer_json;  ///< the tokenizer.json it came from
  std::unique_ptr<Tokenizer> tokenizer;
  std::unique_ptr<WeightSource> weights;
};

/// @brief Loads and checks a model folder (or builds random:<arch>): config, tokenizer,
///        and every weight's name and shape, before any work starts.
/// @throws emb::InputError naming the file and what is wrong; emb::UsageError for a
///         model that is not installed or an unknown random architecture.
EncoderModel load_encoder_model(const std::string& name_or_path, uint64_t seed = 0);

/// @brief Writes a model (a folder, or random:<arch> with its seed) as a Hugging Face /
///        sentence-transformers folder with float32 safetensors, which
///        sentence-transformers loads as is: the same weights for both tools. The folder
///        is built beside `dir` and renamed into place; an existing `dir` is an error.
/// @throws emb::UsageError when dir exists; emb::RuntimeError when it cannot be written.
void export_encoder_model(const EncoderModel& model, const std::string& dir);

/// @brief The shape random:<arch> builds, with the given vocabulary and pad id.
/// @throws emb::UsageError for an unknown architecture.
EncoderSpec random_arch_spec(const std::string& arch, int64_t vocab, int64_t pad_id);

/// @brief Names of the architectures random:<arch> builds, e.g. "minilm-l6".
std::vector<std::string> random_architectures();

/// @brief Cuts ids (content tokens) into windows of at most `window` tokens that
///        overlap by a quarter window; returns [begin, end) pairs covering all ids.
std::vector<std::pair<int64_t, int64_t>> token_windows(int64_t n, int64_t window);

class TransformerEmbedder final : public Embedder {
 public:
  TransformerEmbedder(EncoderModel model, const EmbedOptions& opts);

  std::string model_name() const override { return model_.name; }
  int64_t dim() const override { return model_.spec.hidden; }
  bool normalized() const override { return model_.normalize; }
  /// @brief Chunk after chunk, with the backend's encoder ops (the CPU's when it has none).
  void embed_chunks(const std::vector<std::string>& texts, Backend& backend, int64_t chunk_rows,
                    EmbeddingSink& sink) override;
  /// @brief embed_chunks() on the given ops. Each chunk is tokenized (on a GPU, the next
  ///        chunk while this one encodes), cut into sequences sorted by length, packed
  ///        into batches of at most the token budget, and handed to the sink (on a GPU,
  ///        while the next chunk encodes). When the ops run out of device memory, the
  ///        budget halves and the batch runs again; below one longest sequence, the run
  ///        fails with emb::RuntimeError.
  void encode(const std::vector<std::string>& texts, EncoderOps& ops, int64_t chunk_rows, EmbeddingSink& sink);
  EmbedStats stats() const override { return stats_; }

  /// @brief The prompt text put before every sentence ("" for none).
  const std::string& prompt_text() const { return prompt_text_; }

 private:
  EncoderModel model_;
  EmbedOptions opts_;
  std::string prompt_name_, prompt_text_;
  int64_t max_len_ = 0;
  EmbedStats stats_;
};

}  // namespace emb
