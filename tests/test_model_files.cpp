// Model folders: config.json and the sentence-transformers files of a BERT-like and an
// XLM-R-like folder, every folder error, and the installed-models folder.
#include "model_files_test_util.hpp"

using namespace emb::test::model_files;

namespace {

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
