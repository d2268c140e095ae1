// Model folders: the memory-mapped safetensors reader (dtype conversion, shape checks,
// every malformed file), config.json and the sentence-transformers files of a BERT-like
// and an XLM-R-like folder, every folder error, and the installed-models folder.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
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

namespace fs = std::filesystem;
using nlohmann::json;
using namespace emb::io;

namespace {

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
void write_raw(const fs::path& p, uint64_t header_len, const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((header_len >> (8 * i)) & 0xff);
  std::ofstream(p, std::ios::binary) << out << header << data;
}

// A well-formed file; `pad` spaces after the JSON shift the data area (safetensors allows it).
void write_safetensors(const fs::path& p, const std::vector<RawTensor>& tensors, const json& metadata = nullptr,
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
std::string error_of(const std::function<void()>& f) {
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
  void SetUp() override {
    static std::atomic<int> counter{0};
    dir_ = fs::temp_directory_path() /
           ("embclust_model_files_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string path(const std::string& rel) const { return (dir_ / rel).string(); }
  std::string write(const std::string& rel, const std::string& text) {
    const fs::path p = dir_ / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
    return p.string();
  }

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

  fs::path dir_;
};

// ---- safetensors -------------------------------------------------------------------

TEST(HalfFloat, KnownValues) {
  EXPECT_EQ(half_to_float(0x3C00), 1.0f);
  EXPECT_EQ(half_to_float(0xC000), -2.0f);
  EXPECT_EQ(half_to_float(0x3555), 0.333251953125f);
  EXPECT_EQ(half_to_float(0x7BFF), 65504.0f);            // largest finite
  EXPECT_EQ(half_to_float(0x0400), std::ldexp(1.0f, -14));  // smallest normal
  EXPECT_EQ(half_to_float(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(half_to_float(0x83FF), -std::ldexp(1023.0f, -24));
  EXPECT_EQ(half_to_float(0x0000), 0.0f);
  EXPECT_FALSE(std::signbit(half_to_float(0x0000)));
  EXPECT_TRUE(std::signbit(half_to_float(0x8000)));
  EXPECT_EQ(half_to_float(0x7C00), std::numeric_limits<float>::infinity());
  EXPECT_EQ(half_to_float(0xFC00), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(half_to_float(0x7E00)));
  EXPECT_TRUE(std::isnan(half_to_float(0xFC01)));
}

TEST(HalfFloat, EveryFiniteValueMatchesTheDefinition) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const int exp = (h >> 10) & 0x1f;
    if (exp == 31) continue;
    const double mant = h & 0x3ff;
    const double mag = exp == 0 ? std::ldexp(mant, -24) : std::ldexp(1.0 + mant / 1024.0, exp - 15);
    const double expected = (h & 0x8000) ? -mag : mag;
    ASSERT_EQ(half_to_float(static_cast<uint16_t>(h)), static_cast<float>(expected)) << std::hex << h;
  }
}

TEST(Bf16Float, KnownValues) {
  EXPECT_EQ(bf16_to_float(0x3F80), 1.0f);
  EXPECT_EQ(bf16_to_float(0xC049), -3.140625f);
  EXPECT_EQ(bf16_to_float(0x0001), std::bit_cast<float>(0x00010000u));  // subnormal
  EXPECT_EQ(bf16_to_float(0x7F80), std::numeric_limits<float>::infinity());
  EXPECT_EQ(bf16_to_float(0xFF80), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(bf16_to_float(0x7FC0)));
  EXPECT_TRUE(std::signbit(bf16_to_float(0x8000)));
}

TEST_F(ModelFilesTest, ReadsF32F16Bf16AsFloat) {
  const std::vector<float> f32 = {1.5f, -2.25f, 0.0f, 3.0e38f, -1e-40f, 7.0f};
  const std::vector<uint16_t> f16 = {0x3C00, 0x0001, 0x7BFF, 0x7C00, 0xFC00, 0x7E00};
  const std::vector<uint16_t> bf16 = {0x3F80, 0xC049, 0x0001, 0x7F80};
  // pad 1: the data area starts at an odd address, so nothing may assume alignment.
  write_safetensors(dir_ / "w.safetensors",
                    {{"b.f32", "F32", {2, 3}, bytes_of(f32)}, {"a.f16", "F16", {6}, bytes_of(f16)},
                     {"c.bf16", "BF16", {2, 1, 2}, bytes_of(bf16)}},
                    json{{"format", "pt"}}, 1);
  const SafeTensors st = SafeTensors::open(path("w.safetensors"));
  EXPECT_EQ(st.path(), path("w.safetensors"));
  EXPECT_EQ(st.names(), (std::vector<std::string>{"a.f16", "b.f32", "c.bf16"}));
  EXPECT_TRUE(st.has("a.f16"));
  EXPECT_FALSE(st.has("missing"));
  EXPECT_EQ(st.metadata(), (std::map<std::string, std::string>{{"format", "pt"}}));
  const TensorInfo& info = st.get("c.bf16");
  EXPECT_EQ(info.name, "c.bf16");
  EXPECT_EQ(info.dtype, TensorDType::BF16);
  EXPECT_EQ(info.shape, (std::vector<int64_t>{2, 1, 2}));
  EXPECT_EQ(info.nbytes, 8u);

  std::vector<float> out(6);
  st.read_f32("b.f32", {2, 3}, out.data());
  EXPECT_EQ(out, f32);
  st.read_f32("a.f16", {6}, out.data());
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], std::ldexp(1.0f, -24));
  EXPECT_EQ(out[2], 65504.0f);
  EXPECT_EQ(out[3], std::numeric_limits<float>::infinity());
  EXPECT_EQ(out[4], -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(out[5]));
  st.read_f32("c.bf16", {2, 1, 2}, out.data());
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], -3.140625f);
  EXPECT_EQ(out[2], std::bit_cast<float>(0x00010000u));
  EXPECT_EQ(out[3], std::numeric_limits<float>::infinity());
}

TEST_F(ModelFilesTest, MovedFileStaysReadable) {
  write_safetensors(dir_ / "w.safetensors", {{"t", "F32", {2}, bytes_of(std::vector<float>{4.0f, 5.0f})}});
  SafeTensors a = SafeTensors::open(path("w.safetensors"));
  SafeTensors b = std::move(a);
  SafeTensors c = SafeTensors::open(path("w.safetensors"));
  c = std::move(b);
  float out[2];
  c.read_f32("t", {2}, out);
  EXPECT_EQ(out[0], 4.0f);
  EXPECT_EQ(out[1], 5.0f);
}

TEST_F(ModelFilesTest, EmptyAndScalarTensors) {
  write_safetensors(dir_ / "w.safetensors",
                    {{"empty", "F32", {0, 4}, ""}, {"scalar", "F16", {}, bytes_of(std::vector<uint16_t>{0xC000})}});
  const SafeTensors st = SafeTensors::open(path("w.safetensors"));
  float out = 0;
  st.read_f32("empty", {0, 4}, &out);
  st.read_f32("scalar", {}, &out);
  EXPECT_EQ(out, -2.0f);
  EXPECT_TRUE(st.metadata().empty());
}

TEST_F(ModelFilesTest, ShapeMismatchNamesTensorFileAndBothShapes) {
  write_safetensors(dir_ / "w.safetensors", {{"enc.w", "F32", {2, 3}, std::string(24, '\0')}});
  const SafeTensors st = SafeTensors::open(path("w.safetensors"));
  float out[6];
  EXPECT_EQ(error_of([&] { st.read_f32("enc.w", {3, 2}, out); }),
            "tensor enc.w in " + path("w.safetensors") + " has shape [2, 3] but config.json implies [3, 2]");
  EXPECT_NE(error_of([&] { st.read_f32("enc.w", {6}, out); }).find("[6]"), std::string::npos);
}

TEST_F(ModelFilesTest, MissingTensorAndUnsupportedDtype) {
  write_safetensors(dir_ / "w.safetensors", {{"embeddings.position_ids", "I64", {1, 4}, std::string(32, '\0')},
                                             {"w", "F32", {1}, std::string(4, '\0')}});
  const SafeTensors st = SafeTensors::open(path("w.safetensors"));  // I64 tensors do not stop the file opening
  const std::string file = path("w.safetensors");
  EXPECT_TRUE(st.has("embeddings.position_ids"));
  EXPECT_EQ(st.names(), (std::vector<std::string>{"embeddings.position_ids", "w"}));
  EXPECT_EQ(error_of([&] { st.get("nope"); }), file + " has no tensor nope");
  const std::string msg = error_of([&] { st.get("embeddings.position_ids"); });
  EXPECT_NE(msg.find("unsupported dtype I64 of tensor embeddings.position_ids in " + file), std::string::npos) << msg;
  float out[4];
  EXPECT_NE(error_of([&] { st.read_f32("embeddings.position_ids", {1, 4}, out); }).find("unsupported dtype I64"),
            std::string::npos);
}

TEST_F(ModelFilesTest, OpenErrorsNameTheFile) {
  const std::string file = path("w.safetensors");
  const auto open_error = [&] { return error_of([&] { SafeTensors::open(file); }); };
  const auto expect = [&](const std::string& msg, const std::string& part) {
    EXPECT_NE(msg.find(file), std::string::npos) << msg;
    EXPECT_NE(msg.find(part), std::string::npos) << msg;
  };
  expect(open_error(), "no such file");

  fs::create_directories(file);
  expect(open_error(), "is a folder");
  fs::remove(file);

  std::ofstream(file, std::ios::binary) << "abcd";
  expect(open_error(), "4 bytes long");

  write_raw(file, 1000, R"({"a": 1})", "");
  expect(open_error(), "header length 1000 runs past the end");

  write_raw(file, 9, "{not json", "");
  expect(open_error(), "not valid JSON");

  write_raw(file, 2, "[]", "");
  expect(open_error(), "not a JSON object");

  const auto header_only = [&](const json& h, const std::string& data) {
    const std::string text = h.dump();
    write_raw(file, text.size(), text, data);
  };
  header_only({{"w", {{"shape", {1}}, {"data_offsets", {0, 4}}}}}, std::string(4, '\0'));
  expect(open_error(), "tensor w");

  header_only({{"w", {{"dtype", "F32"}, {"shape", {-1}}, {"data_offsets", {0, 4}}}}}, std::string(4, '\0'));
  expect(open_error(), "shape");

  header_only({{"w", {{"dtype", "F32"}, {"shape", {2}}, {"data_offsets", {0, 8}}}}}, std::string(4, '\0'));
  expect(open_error(), "truncated");

  header_only({{"w", {{"dtype", "F32"}, {"shape", {1}}, {"data_offsets", {4, 0}}}}}, std::string(4, '\0'));
  expect(open_error(), "outside the data area");

  header_only({{"w", {{"dtype", "F32"}, {"shape", {3}}, {"data_offsets", {0, 8}}}}}, std::string(8, '\0'));
  expect(open_error(), "span 8 bytes, not 12");

  header_only({{"w", {{"dtype", "F32"}, {"shape", {1LL << 40, 1LL << 40}}, {"data_offsets", {0, 8}}}}},
              std::string(8, '\0'));
  expect(open_error(), "tensor w");

  header_only({{"__metadata__", "pt"}}, "");
  expect(open_error(), "__metadata__");
}

TEST_F(ModelFilesTest, TruncatedDownloadIsReportedAtOpen) {
  const std::string file = path("w.safetensors");
  write_safetensors(file, {{"a", "F32", {4}, std::string(16, '\1')}, {"b", "F16", {8}, std::string(16, '\2')}});
  fs::resize_file(file, fs::file_size(file) - 5);
  const std::string msg = error_of([&] { SafeTensors::open(file); });
  EXPECT_NE(msg.find(file + " is truncated"), std::string::npos) << msg;
  EXPECT_NE(msg.find("tensor b"), std::string::npos) << msg;
}

// ---- model folders -----------------------------------------------------------------

TEST_F(ModelFilesTest, LoadsBertSentenceTransformersFolder) {
  const std::string folder = make_bert("minilm");
  const ModelFolder m = ModelFolder::load(folder);
  EXPECT_EQ(m.path, folder);
  EXPECT_EQ(m.tokenizer_json, (fs::path(folder) / "tokenizer.json").string());
  EXPECT_EQ(m.weights, (fs::path(folder) / "model.safetensors").string());
  const EncoderConfig& c = m.config;
  EXPECT_EQ(c.architecture, "BertModel");
  EXPECT_EQ(c.model_type, "bert");
  EXPECT_EQ(c.vocab_size, 100);
  EXPECT_EQ(c.hidden_size, 32);
  EXPECT_EQ(c.num_layers, 2);
  EXPECT_EQ(c.num_heads, 4);
  EXPECT_EQ(c.intermediate_size, 64);
  EXPECT_EQ(c.max_position_embeddings, 512);
  EXPECT_EQ(c.type_vocab_size, 2);
  EXPECT_EQ(c.pad_token_id, 0);
  EXPECT_EQ(c.layer_norm_eps, 1e-12);
  EXPECT_EQ(c.hidden_act, "gelu");
  EXPECT_EQ(c.position_embedding_type, "absolute");
  const SentenceConfig& s = m.sentence;
  EXPECT_EQ(s.pooling, PoolingMode::Mean);
  EXPECT_TRUE(s.normalize);
  EXPECT_EQ(s.max_seq_length, 256);
  EXPECT_TRUE(s.do_lower_case);
  EXPECT_EQ(s.prompts, (std::map<std::string, std::string>{{"query", "query: "}, {"passage", "passage: "}}));
  EXPECT_EQ(s.default_prompt_name, "query");
  EXPECT_FALSE(s.has_dense);
}

TEST_F(ModelFilesTest, LoadsXlmRobertaFolderWithDefaults) {
  const ModelFolder m = ModelFolder::load(make_xlmr("e5"));
  EXPECT_EQ(m.config.architecture, "XLMRobertaModel");
  EXPECT_EQ(m.config.model_type, "xlm-roberta");
  EXPECT_EQ(m.config.hidden_size, 48);
  EXPECT_EQ(m.config.num_heads, 3);
  EXPECT_EQ(m.config.max_position_embeddings, 514);
  EXPECT_EQ(m.config.type_vocab_size, 1);
  EXPECT_EQ(m.config.pad_token_id, 1);
  EXPECT_EQ(m.config.layer_norm_eps, 1e-5);
  // No sentence-transformers files: mean pooling, no normalization, all positions but two.
  EXPECT_EQ(m.sentence.pooling, PoolingMode::Mean);
  EXPECT_FALSE(m.sentence.normalize);
  EXPECT_EQ(m.sentence.max_seq_length, 512);
  EXPECT_FALSE(m.sentence.do_lower_case);
  EXPECT_TRUE(m.sentence.prompts.empty());
  EXPECT_EQ(m.sentence.default_prompt_name, "");
  EXPECT_FALSE(m.sentence.has_dense);
}

TEST_F(ModelFilesTest, ArchitectureFromVariantsAndModelType) {
  EXPECT_EQ(ModelFolder::load(make_xlmr("mlm", "XLMRobertaForMaskedLM")).config.architecture, "XLMRobertaModel");
  const std::string folder = make_bert("bert");
  json c = bert_config();
  c.erase("architectures");
  c.erase("hidden_act");
  c.erase("layer_norm_eps");
  c.erase("type_vocab_size");
  c.erase("position_embedding_type");
  c["pad_token_id"] = nullptr;
  write("bert/config.json", c.dump());
  const ModelFolder m = ModelFolder::load(folder);
  EXPECT_EQ(m.config.architecture, "BertModel");
  EXPECT_EQ(m.config.hidden_act, "gelu");
  EXPECT_EQ(m.config.layer_norm_eps, 1e-12);
  EXPECT_EQ(m.config.type_vocab_size, 2);
  EXPECT_EQ(m.config.pad_token_id, 0);
  c = bert_config();
  c["architectures"] = {"BertForMaskedLM"};
  c.erase("model_type");
  write("bert/config.json", c.dump());
  EXPECT_EQ(ModelFolder::load(folder).config.model_type, "bert");
}

TEST_F(ModelFilesTest, PoolingModesAndSequenceLength) {
  const std::string folder = make_bert("m");
  write("m/1_Pooling/config.json", pooling("cls_token").dump());
  write("m/sentence_bert_config.json", R"({"max_seq_length": 4096})");
  ModelFolder m = ModelFolder::load(folder);
  EXPECT_EQ(m.sentence.pooling, PoolingMode::Cls);
  EXPECT_EQ(m.sentence.max_seq_length, 512);  // never beyond the position embeddings
  EXPECT_FALSE(m.sentence.do_lower_case);
  write("m/1_Pooling/config.json", pooling("max_tokens").dump());
  write("m/modules.json", st_modules(false).dump());
  m = ModelFolder::load(folder);
  EXPECT_EQ(m.sentence.pooling, PoolingMode::Max);
  EXPECT_FALSE(m.sentence.normalize);
  // The pooling folder's name comes from modules.json.
  json mods = st_modules();
  mods[1]["path"] = "pool";
  write("m/modules.json", mods.dump());
  write("m/pool/config.json", pooling("cls_token").dump());
  EXPECT_EQ(ModelFolder::load(folder).sentence.pooling, PoolingMode::Cls);
  EXPECT_STREQ(to_string(PoolingMode::MeanSqrtLen), "mean_sqrt_len");
}

// Each case breaks one file of a good BERT folder; the error must name that file.
struct FolderBreak {
  const char* label;
  const char* file;  // relative to the folder
  std::function<std::string()> contents;
  const char* part;  // expected in the message
};

TEST_F(ModelFilesTest, EveryFolderErrorNamesTheFile) {
  const auto config_with = [](const char* key, json value) {
    return [=] {
      json c = bert_config();
      if (value.is_discarded()) c.erase(key);
      else c[key] = value;
      return c.dump();
    };
  };
  const auto text = [](std::string s) { return [=] { return s; }; };
  const json gone = json(json::value_t::discarded);
  const std::vector<FolderBreak> cases = {
      {"bad json", "config.json", text("{\"hidden_size\": 32,"), "is not valid JSON"},
      {"not object", "config.json", text("[1]"), "must hold a JSON object"},
      {"missing hidden_size", "config.json", config_with("hidden_size", gone), "has no \"hidden_size\""},
      {"zero hidden_size", "config.json", config_with("hidden_size", 0), "\"hidden_size\" must be a positive integer"},
      {"negative heads", "config.json", config_with("num_attention_heads", -4), "num_attention_heads"},
      {"string layers", "config.json", config_with("num_hidden_layers", "6"), "num_hidden_layers"},
      {"missing vocab", "config.json", config_with("vocab_size", gone), "vocab_size"},
      {"missing intermediate", "config.json", config_with("intermediate_size", gone), "intermediate_size"},
      {"missing positions", "config.json", config_with("max_position_embeddings", gone), "max_position_embeddings"},
      {"heads do not divide", "config.json", config_with("num_attention_heads", 5), "not divisible by"},
      {"zero eps", "config.json", config_with("layer_norm_eps", 0), "layer_norm_eps"},
      {"pad beyond vocab", "config.json", config_with("pad_token_id", 100), "pad_token_id"},
      {"hidden_act", "config.json", config_with("hidden_act", "swish"), "hidden_act \"swish\" is not supported"},
      {"relative positions", "config.json", config_with("position_embedding_type", "relative_key"), "relative_key"},
      {"unknown architecture", "config.json",
       [] {
         json c = bert_config();
         c["architectures"] = {"DistilBertModel"};
         c["model_type"] = "distilbert";
         return c.dump();
       },
       "unsupported model (architecture DistilBertModel, model_type distilbert)"},
      {"modules bad json", "modules.json", text("[{"), "is not valid JSON"},
      {"modules not array", "modules.json", text("{}"), "JSON array"},
      {"dense", "modules.json",
       [] {
         json m = st_modules();
         m.push_back({{"path", "2_Dense"}, {"type", "sentence_transformers.models.Dense"}});
         return m.dump();
       },
       "Dense"},
      {"unknown module", "modules.json",
       [] {
         json m = st_modules();
         m.push_back({{"path", "3_X"}, {"type", "sentence_transformers.models.LayerNorm"}});
         return m.dump();
       },
       "sentence_transformers.models.LayerNorm"},
      {"pooling folder missing", "modules.json",
       [] {
         json m = st_modules();
         m[1]["path"] = "9_Pooling";
         return m.dump();
       },
       "9_Pooling"},
      {"lasttoken", "1_Pooling/config.json", text(R"({"pooling_mode_lasttoken": true})"),
       "pooling mode lasttoken is not supported"},
      {"weighted", "1_Pooling/config.json", text(R"({"pooling_mode_weightedmean_tokens": true})"), "weightedmean"},
      {"sqrt len", "1_Pooling/config.json", text(pooling("mean_sqrt_len_tokens").dump()), "mean_sqrt_len"},
      {"two modes", "1_Pooling/config.json",
       text(R"({"pooling_mode_mean_tokens": true, "pooling_mode_max_tokens": true})"), "combines pooling modes"},
      {"no mode", "1_Pooling/config.json", text(pooling("none").dump()), "selects no pooling mode"},
      {"flag not bool", "1_Pooling/config.json", text(R"({"pooling_mode_mean_tokens": 1})"), "true or false"},
      {"pool dim", "1_Pooling/config.json", text(pooling("mean_tokens", 64).dump()), "word_embedding_dimension 64"},
      {"no prompt pooling", "1_Pooling/config.json",
       text(R"({"pooling_mode_mean_tokens": true, "include_prompt": false})"), "include_prompt"},
      {"seq len", "sentence_bert_config.json", text(R"({"max_seq_length": 0})"), "max_seq_length"},
      {"lower case", "sentence_bert_config.json", text(R"({"do_lower_case": "yes"})"), "do_lower_case"},
      {"prompts", "config_sentence_transformers.json", text(R"({"prompts": {"q": 3}})"), "prompt \"q\""},
      {"default prompt", "config_sentence_transformers.json",
       text(R"({"prompts": {"q": "query: "}, "default_prompt_name": "document"})"), "default_prompt_name \"document\""},
  };
  for (const FolderBreak& c : cases) {
    SCOPED_TRACE(c.label);
    const std::string folder = make_bert(std::string("case_") + std::to_string(&c - cases.data()));
    const std::string file = (fs::path(folder) / c.file).string();
    std::ofstream(file, std::ios::binary) << c.contents();
    const std::string msg = error_of([&] { ModelFolder::load(folder); });
    EXPECT_NE(msg.find(file), std::string::npos) << msg;
    EXPECT_NE(msg.find(c.part), std::string::npos) << msg;
  }
}

TEST_F(ModelFilesTest, MissingFolderFilesAreNamed) {
  const auto load_error = [](const std::string& f) { return error_of([&] { ModelFolder::load(f); }); };
  EXPECT_EQ(load_error(path("nowhere")), "model folder " + path("nowhere") + " does not exist");
  write("file.txt", "x");
  EXPECT_NE(load_error(path("file.txt")).find(path("file.txt") + " is not a folder"), std::string::npos);

  std::string folder = make_bert("a");
  fs::remove(fs::path(folder) / "config.json");
  EXPECT_EQ(load_error(folder), folder + " has no config.json; it is not a Hugging Face model folder");

  folder = make_bert("b");
  fs::remove(fs::path(folder) / "tokenizer.json");
  EXPECT_NE(load_error(folder).find(folder + " has no tokenizer.json"), std::string::npos);

  folder = make_bert("c");
  fs::remove(fs::path(folder) / "model.safetensors");
  EXPECT_EQ(load_error(folder), folder + " has no model.safetensors");
  write("c/pytorch_model.bin", "x");
  EXPECT_NE(load_error(folder).find("but PyTorch weights (pytorch_model.bin)"), std::string::npos);
  fs::remove(fs::path(folder) / "pytorch_model.bin");
  write("c/onnx/model.onnx", "x");
  EXPECT_NE(load_error(folder).find("but ONNX weights (onnx/model.onnx)"), std::string::npos);
  write("c/model.safetensors.index.json", "{}");
  EXPECT_NE(load_error(folder).find("sharded safetensors"), std::string::npos);
}

// ---- the models folder -------------------------------------------------------------

TEST_F(ModelFilesTest, ModelsDirFromEnvironment) {
  {
    EnvVar m("EMBCLUST_MODELS", path("models"));
    EXPECT_EQ(models_dir(), path("models"));
  }
  EnvVar m("EMBCLUST_MODELS", std::nullopt);
  {
    EnvVar x("XDG_DATA_HOME", "/data/xdg");
    EXPECT_EQ(models_dir(), "/data/xdg/embclust/models");
  }
  EnvVar x("XDG_DATA_HOME", std::nullopt);
  {
    EnvVar h("HOME", "/home/someone");
    EXPECT_EQ(models_dir(), "/home/someone/.local/share/embclust/models");
  }
  EnvVar h("HOME", std::nullopt);
  EXPECT_NE(error_of<emb::UsageError>([] { models_dir(); }).find("EMBCLUST_MODELS"), std::string::npos);
}

TEST_F(ModelFilesTest, ResolveModelPathByPathOrName) {
  EnvVar env("EMBCLUST_MODELS", path("models"));
  const std::string local = make_bert("local/minilm");
  const std::string installed = make_bert("models/e5-small");
  EXPECT_EQ(resolve_model_path(local), local);
  EXPECT_EQ(resolve_model_path("e5-small"), installed);
  EXPECT_EQ(error_of<emb::UsageError>([] { resolve_model_path("nope"); }),
            "model nope is not installed in " + path("models") + "; run scripts/fetch_model.sh nope");
  const std::string file = write("weights.bin", "x");
  EXPECT_NE(error_of<emb::UsageError>([&] { resolve_model_path(file); }).find(file + " is a file"), std::string::npos);
}

TEST_F(ModelFilesTest, ListModelsShowsGoodAndBrokenFolders) {
  const std::string dir = path("models");
  make_bert("models/minilm");
  make_bert("models/broken");
  write("models/broken/config.json", "{");
  make_bert("models/.partial");   // hidden: a download in progress
  write("models/README.txt", "x");  // files are not models
  const std::vector<InstalledModel> list = list_models(dir);
  ASSERT_EQ(list.size(), 2u);

  const InstalledModel& broken = list[0];
  EXPECT_EQ(broken.name, "broken");
  EXPECT_EQ(broken.path, (fs::path(dir) / "broken").string());
  EXPECT_NE(broken.error.find(broken.path + "/config.json is not valid JSON"), std::string::npos) << broken.error;
  EXPECT_GT(broken.size_mib, 0.0);

  const InstalledModel& good = list[1];
  EXPECT_EQ(good.name, "minilm");
  EXPECT_EQ(good.error, "");
  EXPECT_EQ(good.architecture, "BertModel");
  EXPECT_EQ(good.dim, 32);
  EXPECT_EQ(good.vocab, 100);
  EXPECT_EQ(good.layers, 2);
  EXPECT_EQ(good.max_seq_length, 256);
  EXPECT_EQ(good.pooling, "mean");
  EXPECT_EQ(good.dtype, "F16");  // most bytes; the I64 position ids do not count
  EXPECT_DOUBLE_EQ(good.size_mib,
                   static_cast<double>(fs::file_size(fs::path(dir) / "minilm" / "model.safetensors")) / 1048576.0);

  // Weights that fail to open make an entry with the error, too.
  fs::resize_file(fs::path(dir) / "minilm" / "model.safetensors", 100);
  const std::vector<InstalledModel> again = list_models(dir);
  EXPECT_NE(again[1].error.find("model.safetensors"), std::string::npos) << again[1].error;

  EXPECT_TRUE(list_models(path("no-such-folder")).empty());
}

}  // namespace
