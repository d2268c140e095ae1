#pragma once
// Shared by tests/test_safetensors.cpp and tests/test_model_files.cpp: a raw
// safetensors writer, an environment-variable guard, and a fixture that builds model
// folders in a temporary directory.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <optional>

#include <nlohmann/json.hpp>

#include "host/core/error.hpp"
#include "io/model_files.hpp"
#include "io/safetensors.hpp"
#include "tests/scratch_dir.hpp"

namespace emb::test::model_files {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace emb::io;

// One tensor for write_safetensors: raw little-endian bytes as they go into the file.
struct RawTensor {
  std::string name, dtype;
  std::vector<int64_t> shape;
  std::string bytes;
};

template <class T>
std::string bytes_of(const std::vector<T>& v) {
  return {reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T)};
}

// 8-byte little-endian length, header, data: the whole format.
inline void write_raw(const fs::path& p, uint64_t header_len, const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((header_len >> (8 * i)) & 0xff);
  std::ofstream(p, std::ios::binary) << out << header << data;
}

// A well-formed file; `pad` spaces after the JSON shift the data area (safetensors allows it).
inline void write_safetensors(const fs::path& p, const std::vector<RawTensor>& tensors, const json& metadata = nullptr,
                       size_t pad = 0) {
  json header = json::object();
  std::string data;
  for (const RawTensor& t : tensors) {
    header[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {data.size(), data.size() + t.bytes.size()}}};
    data += t.bytes;
  }
  if (!metadata.is_null()) header["__metadata__"] = metadata;
  const std::string text = header.dump() + std::string(pad, ' ');
  write_raw(p, text.size(), text, data);
}

// The message of the exception of type E that f throws; fails the test if it throws nothing.
template <class E = emb::InputError>
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an exception";
  return "";
}

// Sets (or unsets, for nullopt) an environment variable for one scope.
class EnvVar {
 public:
  EnvVar(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) ::setenv(name, value->c_str(), 1);
    else ::unsetenv(name);
  }
  ~EnvVar() {
    if (old_) ::setenv(name_, old_->c_str(), 1);
    else ::unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

class ModelFilesTest : public ::testing::Test {
 protected:
  std::string path(const std::string& rel) const { return scratch_.path(rel); }
  std::string write(const std::string& rel, const std::string& text) { return scratch_.write(rel, text); }

  // A BERT-like sentence-transformers folder (the all-MiniLM-L6-v2 layout, smaller).
  static json bert_config() {
    return {{"architectures", {"BertModel"}}, {"model_type", "bert"}, {"hidden_act", "gelu"},
            {"hidden_size", 32},              {"intermediate_size", 64}, {"layer_norm_eps", 1e-12},
            {"max_position_embeddings", 512}, {"num_attention_heads", 4}, {"num_hidden_layers", 2},
            {"pad_token_id", 0},              {"position_embedding_type", "absolute"},
            {"type_vocab_size", 2},           {"vocab_size", 100}};
  }
  static json st_modules(bool normalize = true) {
    json m = json::array({{{"idx", 0}, {"name", "0"}, {"path", ""}, {"type", "sentence_transformers.models.Transformer"}},
                          {{"idx", 1}, {"name", "1"}, {"path", "1_Pooling"}, {"type", "sentence_transformers.models.Pooling"}}});
    if (normalize)
      m.push_back({{"idx", 2}, {"name", "2"}, {"path", "2_Normalize"}, {"type", "sentence_transformers.models.Normalize"}});
    return m;
  }
  static json pooling(const std::string& mode, int64_t dim = 32) {
    json p = {{"word_embedding_dimension", dim}};
    for (const char* m : {"cls_token", "mean_tokens", "max_tokens", "mean_sqrt_len_tokens"})
      p[std::string("pooling_mode_") + m] = (mode == m);
    return p;
  }
  std::string make_bert(const std::string& name) {
    write(name + "/config.json", bert_config().dump(2));
    write(name + "/modules.json", st_modules().dump(2));
    write(name + "/1_Pooling/config.json", pooling("mean_tokens").dump(2));
    write(name + "/sentence_bert_config.json", R"({"max_seq_length": 256, "do_lower_case": true})");
    write(name + "/config_sentence_transformers.json",
          R"({"__version__": {"sentence_transformers": "3.0.0"},
              "prompts": {"query": "query: ", "passage": "passage: "}, "default_prompt_name": "query"})");
    write(name + "/tokenizer.json", "{}");
    write_safetensors(dir_ / name / "model.safetensors",
                      {{"embeddings.word_embeddings.weight", "F16", {100, 32}, std::string(100 * 32 * 2, '\0')},
                       {"embeddings.position_ids", "I64", {1, 512}, std::string(512 * 8, '\0')},
                       {"pooler.dense.bias", "F32", {32}, std::string(32 * 4, '\0')}},
                      json{{"format", "pt"}});
    return path(name);
  }
  // An XLM-R-like folder with only the Hugging Face files (no sentence-transformers ones).
  std::string make_xlmr(const std::string& name, const std::string& architecture = "XLMRobertaModel") {
    write(name + "/config.json", json{{"architectures", {architecture}},
                                      {"model_type", "xlm-roberta"},
                                      {"hidden_size", 48},
                                      {"intermediate_size", 96},
                                      {"layer_norm_eps", 1e-5},
                                      {"max_position_embeddings", 514},
                                      {"num_attention_heads", 3},
                                      {"num_hidden_layers", 1},
                                      {"pad_token_id", 1},
                                      {"type_vocab_size", 1},
                                      {"hidden_act", "gelu"},
                                      {"vocab_size", 250}}
                                     .dump());
    write(name + "/tokenizer.json", "{}");
    write_safetensors(dir_ / name / "model.safetensors", {{"x", "F32", {1}, std::string(4, '\0')}});
    return path(name);
  }

  emb::test::ScratchDir scratch_{"embclust_model_files"};
  fs::path dir_ = scratch_.path();
};

}  // namespace emb::test::model_files
