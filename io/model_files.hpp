#pragma once
// A transformer model folder: the Hugging Face layout (config.json, tokenizer.json,
// model.safetensors) plus the sentence-transformers files (modules.json, the pooling
// config, sentence_bert_config.json, config_sentence_transformers.json), and the
// folder of installed models that `--model NAME` and `embclust models` look in.
// Only parsing and checking here; the encoder lives in host/.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace emb::io {

/// @brief The encoder's hyperparameters, from config.json.
struct EncoderConfig {
  /// The supported encoder the folder holds: "BertModel" or "XLMRobertaModel", taken from
  /// architectures[0] or, for *ForMaskedLM-style variants or no architectures, from model_type.
  std::string architecture;
  std::string model_type;  ///< "bert", "xlm-roberta" (as in the file; derived from architecture if absent)
  int64_t vocab_size = 0, hidden_size = 0, num_layers = 0, num_heads = 0, intermediate_size = 0;
  int64_t max_position_embeddings = 0, type_vocab_size = 0;
  int64_t pad_token_id = 0;
  double layer_norm_eps = 1e-12;
  std::string hidden_act = "gelu";  ///< "gelu" (erf), "gelu_new"/"gelu_pytorch_tanh" (tanh), "relu"
  std::string position_embedding_type = "absolute";
};

enum class PoolingMode { Mean, Cls, Max, MeanSqrtLen, LastToken, WeightedMean };

/// @brief "mean", "cls", "max", "mean_sqrt_len", "lasttoken", "weightedmean".
const char* to_string(PoolingMode mode);

/// @brief The sentence-transformers settings; defaults where the files are absent.
struct SentenceConfig {
  PoolingMode pooling = PoolingMode::Mean;  ///< the Pooling module's config.json (its path from modules.json)
  bool normalize = false;                   ///< modules.json lists sentence_transformers.models.Normalize
  /// sentence_bert_config.json; when absent, load() fills in max_position_embeddings
  /// (minus 2 for XLM-R, whose positions start after the padding index). Never above that.
  int64_t max_seq_length = 0;
  bool do_lower_case = false;
  std::map<std::string, std::string> prompts;  ///< config_sentence_transformers.json "prompts"; may be empty
  std::string default_prompt_name;             ///< empty when none
  bool has_dense = false;  ///< a Dense module in modules.json (load() rejects it: unsupported)
};

/// @brief A model folder, parsed and checked.
struct ModelFolder {
  std::string path;  ///< the folder
  EncoderConfig config;
  SentenceConfig sentence;
  std::string tokenizer_json;  ///< path of tokenizer.json
  std::string weights;         ///< path of model.safetensors (not opened by load())

  /// @brief Reads config.json, modules.json, the pooling config, sentence_bert_config.json
  ///        and config_sentence_transformers.json; checks tokenizer.json and model.safetensors exist.
  /// @throws emb::InputError naming the file and what is wrong: not a folder; missing
  ///         config.json, tokenizer.json or model.safetensors (saying which PyTorch, ONNX or
  ///         sharded weights were found instead); bad JSON; missing or non-positive required
  ///         fields; hidden_size not divisible by num_attention_heads; an unsupported
  ///         architecture (BertModel and XLMRobertaModel are supported), hidden_act or
  ///         position_embedding_type; a pooling mode other than mean, cls or max, or several
  ///         combined; a Dense or unknown module in modules.json.
  static ModelFolder load(const std::string& folder);
};

/// @brief The models folder: $EMBCLUST_MODELS if set, else
///        ${XDG_DATA_HOME:-$HOME/.local/share}/embclust/models.
/// @throws emb::UsageError when none of EMBCLUST_MODELS, XDG_DATA_HOME and HOME is set.
std::string models_dir();

/// @brief Resolves --model: an existing folder path is used as is; otherwise NAME under models_dir().
/// @throws emb::UsageError "model NAME is not installed in DIR; run scripts/fetch_model.sh NAME"
///         when neither exists.
std::string resolve_model_path(const std::string& name_or_path);

/// @brief One installed model, for `embclust models`.
struct InstalledModel {
  std::string name, path, architecture;
  std::string dtype;    ///< the dtype holding most of model.safetensors' bytes: "F32", "F16", "BF16"
  std::string pooling;  ///< to_string(PoolingMode)
  std::string error;    ///< why the folder failed to load; empty when it loaded
  int64_t dim = 0, vocab = 0, layers = 0, max_seq_length = 0;
  double size_mib = 0;  ///< size of model.safetensors in MiB (also for broken folders, when present)
};

/// @brief Every sub-folder of `dir` (sorted by name, hidden ones skipped); folders that
///        fail to load, or whose weights fail to open, are listed with their error.
///        An absent `dir` lists nothing.
std::vector<InstalledModel> list_models(const std::string& dir);

}  // namespace emb::io
