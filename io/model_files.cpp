#include "io/model_files.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <nlohmann/json.hpp>

#include "host/core/error.hpp"
#include "io/safetensors.hpp"

namespace emb::io {
namespace fs = std::filesystem;
using nlohmann::json;
namespace {

// A parsed JSON file and typed access to its top-level fields; every message names the file.
// JSON null counts as absent (Hugging Face writes "pad_token_id": null).
struct JsonFile {
  std::string path;
  json j;

  static JsonFile read(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    EMB_EXPECTS(in, "cannot read ", file.string());
    const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    JsonFile f{file.string(), {}};
    try {
      f.j = json::parse(text);
    } catch (const json::exception& e) {
      std::string why = e.what();
      if (why.starts_with("[json.exception.") && why.find("] ") != std::string::npos) why.erase(0, why.find("] ") + 2);
      throw InputError(detail::concat(f.path, " is not valid JSON (", why, ")"));
    }
    return f;
  }

  void expect_object() const { EMB_EXPECTS(j.is_object(), path, " must hold a JSON object"); }
  const json* find(const char* key) const {
    const auto it = j.find(key);
    return it == j.end() || it->is_null() ? nullptr : &*it;
  }
  int64_t positive_int(const char* key) const {
    const json* v = find(key);
    EMB_EXPECTS(v, path, " has no \"", key, "\"; it must be a positive integer");
    EMB_EXPECTS(v->is_number_integer() && v->get<int64_t>() > 0, path, ": \"", key,
                "\" must be a positive integer, not ", v->dump());
    return v->get<int64_t>();
  }
  int64_t int_or(const char* key, int64_t fallback, int64_t min) const {
    const json* v = find(key);
    if (!v) return fallback;
    EMB_EXPECTS(v->is_number_integer() && v->get<int64_t>() >= min, path, ": \"", key,
                "\" must be an integer of at least ", min, ", not ", v->dump());
    return v->get<int64_t>();
  }
  double positive_number_or(const char* key, double fallback) const {
    const json* v = find(key);
    if (!v) return fallback;
    EMB_EXPECTS(v->is_number() && v->get<double>() > 0, path, ": \"", key, "\" must be a positive number, not ",
                v->dump());
    return v->get<double>();
  }
  std::string string_or(const char* key, const std::string& fallback) const {
    const json* v = find(key);
    if (!v) return fallback;
    EMB_EXPECTS(v->is_string(), path, ": \"", key, "\" must be a string, not ", v->dump());
    return v->get<std::string>();
  }
  bool bool_or(const char* key, bool fallback) const {
    const json* v = find(key);
    if (!v) return fallback;
    EMB_EXPECTS(v->is_boolean(), path, ": \"", key, "\" must be true or false, not ", v->dump());
    return v->get<bool>();
  }
};

bool is_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

EncoderConfig parse_config(const JsonFile& f) {
  f.expect_object();
  EncoderConfig c;
  c.model_type = f.string_or("model_type", "");
  std::string named;  // architectures[0], when given
  if (const json* a = f.find("architectures")) {
    EMB_EXPECTS(a->is_array() && std::all_of(a->begin(), a->end(), [](const json& x) { return x.is_string(); }),
                f.path, ": \"architectures\" must be an array of strings, not ", a->dump());
    if (!a->empty()) named = (*a)[0].get<std::string>();
  }
  // The encoder body is the same under BertForMaskedLM & co.; model_type says which one it is.
  if (named == "BertModel" || named == "XLMRobertaModel") c.architecture = named;
  else if (c.model_type == "bert") c.architecture = "BertModel";
  else if (c.model_type == "xlm-roberta") c.architecture = "XLMRobertaModel";
  else if (named.starts_with("XLMRoberta")) c.architecture = "XLMRobertaModel";
  else if (named.starts_with("Bert")) c.architecture = "BertModel";
  EMB_EXPECTS(!c.architecture.empty(), f.path, " describes an unsupported model (architecture ",
              named.empty() ? "none" : named, ", model_type ", c.model_type.empty() ? "none" : c.model_type,
              "); embclust supports BertModel and XLMRobertaModel");
  if (c.model_type.empty()) c.model_type = c.architecture == "BertModel" ? "bert" : "xlm-roberta";
  const bool xlmr = c.architecture == "XLMRobertaModel";

  c.vocab_size = f.positive_int("vocab_size");
  c.hidden_size = f.positive_int("hidden_size");
  c.num_layers = f.positive_int("num_hidden_layers");
  c.num_heads = f.positive_int("num_attention_heads");
  c.intermediate_size = f.positive_int("intermediate_size");
  c.max_position_embeddings = f.positive_int("max_position_embeddings");
  EMB_EXPECTS(c.hidden_size % c.num_heads == 0, f.path, ": hidden_size ", c.hidden_size,
              " is not divisible by num_attention_heads ", c.num_heads);
  c.type_vocab_size = f.int_or("type_vocab_size", 2, 1);  // 2 is the transformers default
  c.pad_token_id = f.int_or("pad_token_id", xlmr ? 1 : 0, 0);
  EMB_EXPECTS(c.pad_token_id < c.vocab_size, f.path, ": pad_token_id ", c.pad_token_id,
              " is not below vocab_size ", c.vocab_size);
  c.layer_norm_eps = f.positive_number_or("layer_norm_eps", 1e-12);
  c.hidden_act = f.string_or("hidden_act", "gelu");
  EMB_EXPECTS(c.hidden_act == "gelu" || c.hidden_act == "gelu_new" || c.hidden_act == "gelu_pytorch_tanh" ||
                  c.hidden_act == "relu",
              f.path, ": hidden_act \"", c.hidden_act,
              "\" is not supported (embclust supports gelu, gelu_new, gelu_pytorch_tanh and relu)");
  c.position_embedding_type = f.string_or("position_embedding_type", "absolute");
  EMB_EXPECTS(c.position_embedding_type == "absolute", f.path, ": position_embedding_type \"",
              c.position_embedding_type, "\" is not supported (embclust supports absolute)");
  return c;
}

PoolingMode parse_pooling(const JsonFile& f, int64_t hidden_size) {
  f.expect_object();
  static const std::pair<const char*, PoolingMode> kFlags[] = {
      {"pooling_mode_mean_tokens", PoolingMode::Mean},
      {"pooling_mode_cls_token", PoolingMode::Cls},
      {"pooling_mode_max_tokens", PoolingMode::Max},
      {"pooling_mode_mean_sqrt_len_tokens", PoolingMode::MeanSqrtLen},
      {"pooling_mode_lasttoken", PoolingMode::LastToken},
      {"pooling_mode_weightedmean_tokens", PoolingMode::WeightedMean},
  };
  std::vector<PoolingMode> on;
  for (const auto& [key, mode] : kFlags)
    if (f.bool_or(key, false)) on.push_back(mode);
  EMB_EXPECTS(!on.empty(), f.path, " selects no pooling mode (no pooling_mode_* flag is true)");
  std::string names;
  for (PoolingMode m : on) names += (names.empty() ? "" : " + ") + std::string(to_string(m));
  EMB_EXPECTS(on.size() == 1, f.path, " combines pooling modes ", names, "; embclust supports only one");
  const PoolingMode mode = on[0];
  EMB_EXPECTS(mode == PoolingMode::Mean || mode == PoolingMode::Cls || mode == PoolingMode::Max, f.path,
              ": pooling mode ", names, " is not supported (embclust supports mean, cls and max)");
  // Prompt tokens left out of the pooling change the vectors; we pool over every token.
  EMB_EXPECTS(f.bool_or("include_prompt", true), f.path,
              ": include_prompt false (pooling without the prompt tokens) is not supported");
  const int64_t dim = f.int_or("word_embedding_dimension", hidden_size, 1);
  EMB_EXPECTS(dim == hidden_size, f.path, ": word_embedding_dimension ", dim, " differs from config.json's hidden_size ",
              hidden_size);
  return mode;
}

// modules.json: the pipeline after the transformer. Returns the pooling config's path
// (empty when the list has no Pooling module).
fs::path parse_modules(const JsonFile& f, const fs::path& dir, SentenceConfig& s) {
  EMB_EXPECTS(f.j.is_array(), f.path, " must hold a JSON array of modules");
  fs::path pooling;
  for (const json& m : f.j) {
    EMB_EXPECTS(m.is_object() && m.contains("type") && m["type"].is_string(), f.path,
                ": every module must be an object with a \"type\" string, not ", m.dump());
    const std::string type = m["type"].get<std::string>();
    const std::string sub = m.contains("path") && m["path"].is_string() ? m["path"].get<std::string>() : "";
    if (type == "sentence_transformers.models.Transformer") continue;
    if (type == "sentence_transformers.models.Pooling") {
      pooling = dir / sub / "config.json";
    } else if (type == "sentence_transformers.models.Normalize") {
      s.normalize = true;
    } else if (type == "sentence_transformers.models.Dense") {
      s.has_dense = true;
    } else {
      throw InputError(detail::concat(f.path, " lists module ", type, ", which embclust does not support"));
    }
  }
  EMB_EXPECTS(!s.has_dense, f.path,
              " lists a Dense module (a projection after pooling), which embclust does not support");
  return pooling;
}

SentenceConfig parse_sentence_files(const fs::path& dir, const EncoderConfig& c) {
  SentenceConfig s;
  fs::path pooling = dir / "1_Pooling" / "config.json";  // the usual place when modules.json is absent
  if (is_file(dir / "modules.json")) {
    pooling = parse_modules(JsonFile::read(dir / "modules.json"), dir, s);
    if (!pooling.empty())
      EMB_EXPECTS(is_file(pooling), (dir / "modules.json").string(), " names a Pooling module whose config ",
                  pooling.string(), " does not exist");
  }
  if (!pooling.empty() && is_file(pooling)) s.pooling = parse_pooling(JsonFile::read(pooling), c.hidden_size);

  // XLM-R numbers positions from pad_token_id + 1 (= 2), so two embeddings are never used.
  const int64_t limit = c.max_position_embeddings - (c.architecture == "XLMRobertaModel" ? 2 : 0);
  EMB_EXPECTS(limit > 0, (dir / "config.json").string(), ": max_position_embeddings ", c.max_position_embeddings,
              " leaves no positions for tokens");
  s.max_seq_length = limit;
  if (is_file(dir / "sentence_bert_config.json")) {
    const JsonFile f = JsonFile::read(dir / "sentence_bert_config.json");
    f.expect_object();
    if (f.find("max_seq_length")) s.max_seq_length = std::min(f.positive_int("max_seq_length"), limit);
    s.do_lower_case = f.bool_or("do_lower_case", false);
  }
  if (is_file(dir / "config_sentence_transformers.json")) {
    const JsonFile f = JsonFile::read(dir / "config_sentence_transformers.json");
    f.expect_object();
    if (const json* p = f.find("prompts")) {
      EMB_EXPECTS(p->is_object(), f.path, ": \"prompts\" must be an object of strings, not ", p->dump());
      for (const auto& [name, text] : p->items()) {
        EMB_EXPECTS(text.is_string(), f.path, ": prompt \"", name, "\" must be a string, not ", text.dump());
        s.prompts[name] = text.get<std::string>();
      }
    }
    s.default_prompt_name = f.string_or("default_prompt_name", "");
    EMB_EXPECTS(s.default_prompt_name.empty() || s.prompts.contains(s.default_prompt_name), f.path,
                ": default_prompt_name \"", s.default_prompt_name, "\" is not one of its prompts");
  }
  return s;
}

// Why model.safetensors is missing, from what the folder holds instead.
std::string missing_weights_reason(const fs::path& dir) {
  static const std::pair<const char*, const char*> kOthers[] = {
      {"model.safetensors.index.json", "sharded safetensors weights (model.safetensors.index.json)"},
      {"pytorch_model.bin", "PyTorch weights (pytorch_model.bin)"},
      {"model.onnx", "ONNX weights (model.onnx)"},
      {"onnx/model.onnx", "ONNX weights (onnx/model.onnx)"},
      {"tf_model.h5", "TensorFlow weights (tf_model.h5)"},
  };
  for (const auto& [file, what] : kOthers)
    if (is_file(dir / file))
      return detail::concat(" but ", what, "; embclust reads a single model.safetensors file");
  return "";
}

int64_t file_size_or_zero(const fs::path& p) {
  std::error_code ec;
  const auto n = fs::file_size(p, ec);
  return ec ? 0 : static_cast<int64_t>(n);
}

}  // namespace

const char* to_string(PoolingMode mode) {
  switch (mode) {
    case PoolingMode::Mean: return "mean";
    case PoolingMode::Cls: return "cls";
    case PoolingMode::Max: return "max";
    case PoolingMode::MeanSqrtLen: return "mean_sqrt_len";
    case PoolingMode::LastToken: return "lasttoken";
    case PoolingMode::WeightedMean: return "weightedmean";
  }
  return "?";
}

ModelFolder ModelFolder::load(const std::string& folder) {
  const fs::path dir(folder);
  std::error_code ec;
  EMB_EXPECTS(fs::exists(dir, ec), "model folder ", folder, " does not exist");
  EMB_EXPECTS(fs::is_directory(dir, ec), folder, " is not a folder; a model is a folder holding config.json, ",
              "tokenizer.json and model.safetensors");
  EMB_EXPECTS(is_file(dir / "config.json"), folder, " has no config.json; it is not a Hugging Face model folder");
  ModelFolder m;
  m.path = folder;
  m.config = parse_config(JsonFile::read(dir / "config.json"));
  m.sentence = parse_sentence_files(dir, m.config);
  m.tokenizer_json = (dir / "tokenizer.json").string();
  EMB_EXPECTS(is_file(m.tokenizer_json), folder, " has no tokenizer.json (the fast-tokenizer file embclust reads)");
  m.weights = (dir / "model.safetensors").string();
  EMB_EXPECTS(is_file(m.weights), folder, " has no model.safetensors", missing_weights_reason(dir));
  return m;
}

std::string models_dir() {
  const auto env = [](const char* name) -> std::string {
    const char* v = std::getenv(name);
    return v ? v : "";
  };
  if (const std::string d = env("EMBCLUST_MODELS"); !d.empty()) return d;
  if (const std::string d = env("XDG_DATA_HOME"); !d.empty()) return (fs::path(d) / "embclust" / "models").string();
  const std::string home = env("HOME");
  EMB_USAGE(!home.empty(), "cannot find the models folder: none of EMBCLUST_MODELS, XDG_DATA_HOME and HOME is set");
  return (fs::path(home) / ".local" / "share" / "embclust" / "models").string();
}

std::string resolve_model_path(const std::string& name_or_path) {
  std::error_code ec;
  EMB_USAGE(!name_or_path.empty(), "the model name is empty");
  if (fs::is_directory(name_or_path, ec)) return name_or_path;
  EMB_USAGE(!fs::exists(name_or_path, ec), "model ", name_or_path,
            " is a file, not a model folder (config.json, tokenizer.json, model.safetensors)");
  const std::string dir = models_dir();
  const fs::path installed = fs::path(dir) / name_or_path;
  EMB_USAGE(fs::is_directory(installed, ec), "model ", name_or_path, " is not installed in ", dir,
            "; run scripts/fetch_model.sh ", name_or_path);
  return installed.string();
}

std::vector<InstalledModel> list_models(const std::string& dir) {
  std::vector<InstalledModel> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with('.') || !entry.is_directory(ec)) continue;
    InstalledModel m;
    m.name = name;
    m.path = entry.path().string();
    m.size_mib = static_cast<double>(file_size_or_zero(entry.path() / "model.safetensors")) / (1024.0 * 1024.0);
    try {
      const ModelFolder f = ModelFolder::load(m.path);
      m.architecture = f.config.architecture;
      m.dim = f.config.hidden_size;
      m.vocab = f.config.vocab_size;
      m.layers = f.config.num_layers;
      m.max_seq_length = f.sentence.max_seq_length;
      m.pooling = to_string(f.sentence.pooling);
      const SafeTensors weights = SafeTensors::open(f.weights);
      std::map<std::string, size_t> bytes;  // per float dtype
      for (const std::string& t : weights.names()) {
        try {
          const TensorInfo& ti = weights.get(t);
          bytes[to_string(ti.dtype)] += ti.nbytes;
        } catch (const InputError&) {  // integer tensors (position ids) do not set the weights' dtype
        }
      }
      const auto most = std::max_element(bytes.begin(), bytes.end(),
                                         [](const auto& a, const auto& b) { return a.second < b.second; });
      m.dtype = most == bytes.end() ? "none" : most->first;
    } catch (const Error& e) {
      m.error = e.what();
    }
    out.push_back(std::move(m));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

}  // namespace emb::io
