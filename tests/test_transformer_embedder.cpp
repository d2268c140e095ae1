// The transformer embedder on a tiny BERT folder written by the test itself (its
// own WordPiece vocabulary and seeded weights), so these cases need no installed
// model: loading and every model-folder error, truncation and chunking, prompts,
// batch invariance, export and reload.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "host/backend/backend.hpp"
#include "host/backend/dispatch.hpp"
#include "host/core/error.hpp"
#include "host/embed/transformer_embedder.hpp"
#include "io/safetensors_writer.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace emb {
namespace {

const std::vector<std::string> kWords = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "the", "cat", "dog", "sat", "on",
                                         "mat", "a", "big", "small", "red", "##s", "##ed", ".", ",", "query", ":",
                                         "한", "국", "어"};

EncoderSpec tiny_spec() {
  EncoderSpec s;
  s.arch = "bert";
  s.vocab = static_cast<int64_t>(kWords.size());
  s.hidden = 8;
  s.layers = 2;
  s.heads = 2;
  s.intermediate = 16;
  s.max_positions = 16;
  s.type_vocab = 2;
  return s;
}

json tokenizer_json() {
  json vocab = json::object();
  for (size_t i = 0; i < kWords.size(); ++i) vocab[kWords[i]] = i;
  json added = json::array();
  for (int i = 0; i < 4; ++i)
    added.push_back({{"id", i}, {"special", true}, {"content", kWords[i]}, {"single_word", false},
                     {"lstrip", false}, {"rstrip", false}, {"normalized", false}});
  return {{"version", "1.0"},
          {"truncation", nullptr},
          {"padding", nullptr},
          {"added_tokens", added},
          {"normalizer",
           {{"type", "BertNormalizer"}, {"clean_text", true}, {"handle_chinese_chars", true},
            {"strip_accents", nullptr}, {"lowercase", true}}},
          {"pre_tokenizer", {{"type", "BertPreTokenizer"}}},
          {"post_processor",
           {{"type", "TemplateProcessing"},
            {"single", json::array({{{"SpecialToken", {{"id", "[CLS]"}, {"type_id", 0}}}},
                                    {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                                    {{"SpecialToken", {{"id", "[SEP]"}, {"type_id", 0}}}}})},
            {"pair", json::array()},
            {"special_tokens",
             {{"[CLS]", {{"id", "[CLS]"}, {"ids", {2}}, {"tokens", {"[CLS]"}}}},
              {"[SEP]", {{"id", "[SEP]"}, {"ids", {3}}, {"tokens", {"[SEP]"}}}}}}}},
          {"decoder", nullptr},
          {"model",
           {{"type", "WordPiece"}, {"unk_token", "[UNK]"}, {"continuing_subword_prefix", "##"},
            {"max_input_chars_per_word", 100}, {"vocab", vocab}}}};
}

void write(const fs::path& p, const json& j) { std::ofstream(p) << j.dump(1); }

// A complete tiny model folder; `mutate` may break one thing before the weights are written.
class TinyModel : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("embclust_tiny_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "1_Pooling");
  }
  void TearDown() override { fs::remove_all(dir_); }

  void make(const EncoderSpec& s, const std::string& skip_tensor = "", bool transpose_one = false) {
    write(dir_ / "config.json",
          {{"architectures", {s.arch == "bert" ? "BertModel" : "XLMRobertaModel"}}, {"model_type", s.arch},
           {"vocab_size", s.vocab},
           {"hidden_size", s.hidden}, {"num_hidden_layers", s.layers}, {"num_attention_heads", s.heads},
           {"intermediate_size", s.intermediate}, {"max_position_embeddings", s.max_positions},
           {"type_vocab_size", s.type_vocab}, {"pad_token_id", s.pad_id}, {"layer_norm_eps", 1e-12},
           {"hidden_act", "gelu"}});
    write(dir_ / "tokenizer.json", tokenizer_json());
    write(dir_ / "modules.json",
          json::array({{{"idx", 0}, {"name", "0"}, {"path", ""}, {"type", "sentence_transformers.models.Transformer"}},
                       {{"idx", 1}, {"name", "1"}, {"path", "1_Pooling"},
                        {"type", "sentence_transformers.models.Pooling"}},
                       {{"idx", 2}, {"name", "2"}, {"path", "2_Normalize"},
                        {"type", "sentence_transformers.models.Normalize"}}}));
    write(dir_ / "1_Pooling" / "config.json",
          {{"word_embedding_dimension", s.hidden}, {"pooling_mode_mean_tokens", true},
           {"pooling_mode_cls_token", false}, {"pooling_mode_max_tokens", false}});
    write(dir_ / "sentence_bert_config.json", {{"max_seq_length", 12}, {"do_lower_case", false}});
    write(dir_ / "config_sentence_transformers.json", {{"prompts", {{"query", "query: "}}}, {"default_prompt_name", nullptr}});
    auto source = random_weights(11);
    std::vector<std::vector<float>> data;
    std::vector<io::TensorToWrite> tensors;
    const auto names = encoder_tensors(s);
    data.reserve(names.size());
    for (auto [name, shape] : names) {
      if (name == skip_tensor) continue;
      int64_t n = 1;
      for (int64_t d : shape) n *= d;
      data.emplace_back(n);
      source->read(name, shape, data.back().data());
      if (transpose_one && name == "encoder.layer.1.intermediate.dense.weight") std::swap(shape[0], shape[1]);
      tensors.push_back({name, shape, data.back().data()});
    }
    io::write_safetensors((dir_ / "model.safetensors").string(), tensors);
  }

  Matrix embed(const std::vector<std::string>& texts, EmbedOptions o = {}) {
    o.model = dir_.string();
    o.progress = false;
    TransformerEmbedder e(load_encoder_model(dir_.string()), o);
    auto cpu = make_cpu_backend(1);
    Matrix m = e.embed(texts, *cpu);
    stats_ = e.stats();
    return m;
  }

  template <class E>
  std::string error_of(const std::function<void()>& f) {
    try {
      f();
    } catch (const E& e) {
      return e.what();
    }
    ADD_FAILURE() << "no error thrown";
    return "";
  }

  fs::path dir_;
  EmbedStats stats_;
};

TEST_F(TinyModel, EmbedsUnitRowsDeterministically) {
  make(tiny_spec());
  const std::vector<std::string> texts = {"the cat sat on the mat.", "a big red dog", "한국어", ""};
  const Matrix a = embed(texts), b = embed(texts);
  ASSERT_EQ(a.rows(), 4);
  ASSERT_EQ(a.cols(), 8);
  EXPECT_EQ(a.storage(), b.storage());
  for (int64_t i = 0; i < a.rows(); ++i) {
    double ss = 0;
    for (int64_t j = 0; j < a.cols(); ++j) ss += double(a.row(i)[j]) * a.row(i)[j];
    EXPECT_NEAR(ss, 1.0, 1e-5) << i;
  }
  EXPECT_EQ(stats_.truncated, 0);
  EXPECT_EQ(stats_.tokens, 9 + 6 + 3 + 2);  // words (한국어 is one [UNK]) plus [CLS] and [SEP]
}

TEST_F(TinyModel, ASentenceIsTheSameInAnyBatch) {
  make(tiny_spec());
  const std::vector<std::string> texts = {"the cat", "a big red dog sat on the mat", "the small cats", "the cat"};
  EmbedOptions small;
  small.batch_tokens = 12;  // one sequence per batch
  const Matrix together = embed(texts), apart = embed(texts, small), alone = embed({"the cat"});
  for (int64_t j = 0; j < 8; ++j) {
    EXPECT_NEAR(together.row(0)[j], apart.row(0)[j], 1e-6);
    EXPECT_NEAR(together.row(0)[j], alone.row(0)[j], 1e-6);
    EXPECT_EQ(together.row(0)[j], together.row(3)[j]);
  }
}

TEST_F(TinyModel, LongSentencesAreCountedWhenTruncatedAndWholeWhenChunked) {
  make(tiny_spec());
  const std::string long_text = "the cat sat on the mat , the dog sat on a big red mat , a small cat sat";
  const std::vector<std::string> texts = {long_text, "the cat"};
  const Matrix cut = embed(texts);
  EXPECT_EQ(stats_.truncated, 1);
  EXPECT_EQ(stats_.max_seq_length, 12);
  EmbedOptions chunk;
  chunk.long_text = "chunk";
  const Matrix whole = embed(texts, chunk);
  EXPECT_EQ(stats_.truncated, 0);
  EXPECT_EQ(stats_.chunked, 1);
  double dot = 0, ss = 0;
  for (int64_t j = 0; j < 8; ++j) {
    dot += double(cut.row(0)[j]) * whole.row(0)[j];
    ss += double(whole.row(0)[j]) * whole.row(0)[j];
    EXPECT_EQ(cut.row(1)[j], whole.row(1)[j]);  // short texts are not affected
  }
  EXPECT_NEAR(ss, 1.0, 1e-5);
  EXPECT_LT(dot, 0.99999);  // the tail changed the vector
  // The truncated vector is exactly the head alone.
  const Matrix head = embed({"the cat sat on the mat , the dog sat"});
  for (int64_t j = 0; j < 8; ++j) EXPECT_NEAR(cut.row(0)[j], head.row(0)[j], 1e-6);
}

TEST_F(TinyModel, XlmRobertaFoldersStartPositionsAfterPadding) {
  EncoderSpec x = tiny_spec();
  x.arch = "xlm-roberta";
  x.type_vocab = 1;  // as XLM-R checkpoints have it
  x.pad_id = 1;
  x.max_positions = 16;
  make(x);
  const EncoderModel m = load_encoder_model(dir_.string());
  EXPECT_EQ(m.spec.position_offset(), 2);
  EXPECT_EQ(m.max_seq_length, 12);
  const Matrix a = embed({"the cat sat on the mat"});
  // The same weights read as BERT (positions from 0) give another vector.
  json c = json::parse(std::ifstream(dir_ / "config.json"));
  c["architectures"] = {"BertModel"};
  c["model_type"] = "bert";
  write(dir_ / "config.json", c);
  const Matrix b = embed({"the cat sat on the mat"});
  EXPECT_NE(a.storage(), b.storage());
}

TEST(TokenWindows, CoverEveryTokenWithOverlap) {
  EXPECT_EQ(token_windows(5, 10), (std::vector<std::pair<int64_t, int64_t>>{{0, 5}}));
  const auto w = token_windows(25, 8);
  ASSERT_GE(w.size(), 4u);
  EXPECT_EQ(w.front().first, 0);
  EXPECT_EQ(w.back().second, 25);
  for (size_t i = 0; i < w.size(); ++i) {
    EXPECT_EQ(w[i].second - w[i].first, 8);
    if (i) EXPECT_LT(w[i].first, w[i - 1].second);  // overlap
  }
}

TEST_F(TinyModel, PromptsComeFromTheModel) {
  make(tiny_spec());
  EmbedOptions q;
  q.prompt = "query";
  const Matrix with = embed({"the cat"}, q), without = embed({"the cat"}), literal = embed({"query: the cat"});
  for (int64_t j = 0; j < 8; ++j) EXPECT_EQ(with.row(0)[j], literal.row(0)[j]);
  EXPECT_NE(with.storage(), without.storage());
  EmbedOptions bad;
  bad.prompt = "passage";
  const std::string e = error_of<UsageError>([&] { embed({"x"}, bad); });
  EXPECT_NE(e.find("no prompt named 'passage'"), std::string::npos) << e;
  EXPECT_NE(e.find("--prompt none"), std::string::npos) << e;  // says how to go without one
}

TEST_F(TinyModel, BadOptionsAreUsageErrors) {
  make(tiny_spec());
  EmbedOptions o;
  o.long_text = "split";
  EXPECT_THROW(embed({"x"}, o), UsageError);
  o = {};
  o.max_seq_length = 100;  // beyond the 16 positions
  EXPECT_THROW(embed({"x"}, o), UsageError);
  EXPECT_THROW(load_encoder_model("random:no-such-arch"), UsageError);
}

TEST_F(TinyModel, AMissingTensorNamesFileAndTensor) {
  make(tiny_spec(), "encoder.layer.1.output.dense.bias");
  const std::string e = error_of<InputError>([&] { load_encoder_model(dir_.string()); });
  EXPECT_NE(e.find("model.safetensors"), std::string::npos) << e;
  EXPECT_NE(e.find("encoder.layer.1.output.dense.bias"), std::string::npos) << e;
}

TEST_F(TinyModel, AShapeThatDisagreesWithConfigIsAnError) {
  make(tiny_spec(), "", true);
  const std::string e = error_of<InputError>([&] { load_encoder_model(dir_.string()); });
  EXPECT_NE(e.find("encoder.layer.1.intermediate.dense.weight"), std::string::npos) << e;
  EXPECT_NE(e.find("[8, 16]"), std::string::npos) << e;
  EXPECT_NE(e.find("[16, 8]"), std::string::npos) << e;
}

TEST_F(TinyModel, AnUnknownArchitectureIsAnError) {
  make(tiny_spec());
  json c = json::parse(std::ifstream(dir_ / "config.json"));
  c["architectures"] = {"GPT2Model"};
  c["model_type"] = "gpt2";
  write(dir_ / "config.json", c);
  const std::string e = error_of<InputError>([&] { load_encoder_model(dir_.string()); });
  EXPECT_NE(e.find("config.json"), std::string::npos) << e;
}

TEST_F(TinyModel, AnUnsupportedTokenizerIsAnError) {
  make(tiny_spec());
  json t = tokenizer_json();
  t["model"] = {{"type", "BPE"}, {"vocab", json::object()}, {"merges", json::array()}};
  write(dir_ / "tokenizer.json", t);
  const std::string e = error_of<InputError>([&] { load_encoder_model(dir_.string()); });
  EXPECT_NE(e.find("tokenizer.json"), std::string::npos) << e;
  EXPECT_NE(e.find("BPE"), std::string::npos) << e;
}

TEST_F(TinyModel, ATruncatedWeightsFileIsAnError) {
  make(tiny_spec());
  const auto p = dir_ / "model.safetensors";
  fs::resize_file(p, fs::file_size(p) - 100);
  const std::string e = error_of<InputError>([&] { load_encoder_model(dir_.string()); });
  EXPECT_NE(e.find("model.safetensors"), std::string::npos) << e;
}

TEST_F(TinyModel, ExportAndReloadGiveTheSameVectors) {
  make(tiny_spec());
  const std::vector<std::string> texts = {"the cat sat", "a red dog"};
  const Matrix a = embed(texts);
  const fs::path out = dir_.string() + "_export";
  fs::remove_all(out);
  export_encoder_model(load_encoder_model(dir_.string()), out.string());
  EXPECT_THROW(export_encoder_model(load_encoder_model(dir_.string()), out.string()), UsageError);
  fs::remove_all(dir_);
  fs::rename(out, dir_);
  const Matrix b = embed(texts);
  EXPECT_EQ(a.storage(), b.storage());
}

}  // namespace
}  // namespace emb

// ---- chunks, sinks and running out of device memory --------------------------

namespace emb {
namespace {

// Records what an embedder hands over; `have` lists chunks it claims to hold already.
class RecordingSink final : public EmbeddingSink {
 public:
  explicit RecordingSink(int64_t dim, std::vector<int64_t> have = {}) : dim_(dim), have_(std::move(have)) {}
  bool has_chunk(int64_t c) const override { return std::find(have_.begin(), have_.end(), c) != have_.end(); }
  void put_chunk(int64_t c, int64_t first, int64_t rows, const float* data, const EmbedStats& st) override {
    chunks.push_back(c);
    firsts.push_back(first);
    row_counts.push_back(rows);
    tokens += st.tokens;
    for (int64_t i = 0; i < rows * dim_; ++i) values[first * dim_ + i] = data[i];
  }
  std::vector<int64_t> chunks, firsts, row_counts;
  std::map<int64_t, float> values;  // flat index -> value
  int64_t tokens = 0;

 private:
  int64_t dim_;
  std::vector<int64_t> have_;
};

// The CPU ops, running out of "device memory" past a token limit: when scratch is
// allocated for more tokens than alloc_limit, or a batch of more than run_limit
// tokens runs (as a workspace allocation inside an op would). gpu makes the
// embedder overlap tokenizing and storing with encoding, as on a real device.
class TightOps final : public EncoderOps {
 public:
  TightOps(int64_t alloc_limit, int64_t run_limit, bool gpu, int64_t weight_rows_limit = 1 << 30)
      : cpu_(make_cpu_encoder_ops()),
        alloc_limit_(alloc_limit),
        run_limit_(run_limit),
        weight_rows_limit_(weight_rows_limit),
        gpu_(gpu) {}
  std::string name() const override { return "tight"; }
  bool is_gpu() const override { return gpu_; }
  bool supports_head_width(int64_t width) const override { return width != unsupported_width; }
  int64_t unsupported_width = -1;
  TensorPtr alloc(int64_t capacity, int64_t cols) override {
    if (capacity > alloc_limit_) {
      ++ooms;
      throw OutOfMemory("out of memory allocating " + std::to_string(capacity) + " rows");
    }
    return cpu_->alloc(capacity, cols);
  }
  TensorPtr upload_weight(const float* h, int64_t r, int64_t c) override {
    if (r > weight_rows_limit_) throw OutOfMemory("out of memory uploading " + std::to_string(r) + " rows");
    return cpu_->upload_weight(h, r, c);
  }
  void download(const Tensor& t, float* h) override { cpu_->download(t, h); }
  void set_batch(const PackedBatch& b) override { cpu_->set_batch(b); }
  void embed_layernorm(const Tensor& w, const Tensor& p, const Tensor& t, const Tensor& g, const Tensor& b, float eps,
                       Tensor& out) override {
    cpu_->embed_layernorm(w, p, t, g, b, eps, out);
  }
  void linear(const Tensor& x, const Tensor& w, const Tensor* bias, Activation act, Tensor& y) override {
    if (x.rows > run_limit_) {
      ++ooms;
      throw OutOfMemory("out of memory in a batch of " + std::to_string(x.rows) + " tokens");
    }
    max_rows = std::max(max_rows, x.rows);
    cpu_->linear(x, w, bias, act, y);
  }
  void add_layernorm(Tensor& x, const Tensor& r, const Tensor& g, const Tensor& b, float eps) override {
    cpu_->add_layernorm(x, r, g, b, eps);
  }
  void attention(const Tensor& qkv, int heads, Tensor& out) override { cpu_->attention(qkv, heads, out); }
  void pool(const Tensor& x, Pooling mode, bool normalize, Tensor& out) override {
    cpu_->pool(x, mode, normalize, out);
  }
  int ooms = 0;
  int64_t max_rows = 0;

 private:
  std::unique_ptr<EncoderOps> cpu_;
  int64_t alloc_limit_, run_limit_, weight_rows_limit_;
  bool gpu_;
};

const std::vector<std::string> kChunkTexts = {
    "the cat sat on the mat.", "a big red dog", "the small cats sat", "한국어", "the dog sat on a mat",
    "a cat", "the big small red dogs sat on the mats .", "query: the cat", "dog", "the mat , the cat"};

TEST_F(TinyModel, ChunksGiveTheVectorsOfOneRunInOrder) {
  make(tiny_spec());
  const Matrix whole = embed(kChunkTexts);
  const int64_t whole_tokens = stats_.tokens;
  EmbedOptions o;
  o.progress = false;
  TransformerEmbedder e(load_encoder_model(dir_.string()), o);
  auto cpu = make_cpu_backend(1);
  RecordingSink sink(8);
  e.embed_chunks(kChunkTexts, *cpu, 3, sink);
  EXPECT_EQ(sink.chunks, (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(sink.firsts, (std::vector<int64_t>{0, 3, 6, 9}));
  EXPECT_EQ(sink.row_counts, (std::vector<int64_t>{3, 3, 3, 1}));
  EXPECT_EQ(sink.tokens, whole_tokens);
  EXPECT_EQ(e.stats().tokens, whole_tokens);
  ASSERT_EQ(sink.values.size(), kChunkTexts.size() * 8);
  for (int64_t i = 0; i < whole.rows(); ++i)
    for (int64_t j = 0; j < 8; ++j) EXPECT_NEAR(sink.values[i * 8 + j], whole.row(i)[j], 1e-6) << i;
}

TEST_F(TinyModel, ChunksTheSinkHoldsAreNotComputed) {
  make(tiny_spec());
  const Matrix whole = embed(kChunkTexts);
  EmbedOptions o;
  o.progress = false;
  TransformerEmbedder e(load_encoder_model(dir_.string()), o);
  auto cpu = make_cpu_backend(1);
  RecordingSink sink(8, {0, 2});
  e.embed_chunks(kChunkTexts, *cpu, 4, sink);
  EXPECT_EQ(sink.chunks, (std::vector<int64_t>{1}));
  EXPECT_EQ(e.stats().chunks_skipped, 2);
  for (int64_t i = 4; i < 8; ++i)
    for (int64_t j = 0; j < 8; ++j) EXPECT_NEAR(sink.values[i * 8 + j], whole.row(i)[j], 1e-6) << i;
  RecordingSink full(8, {0, 1, 2});
  e.embed_chunks(kChunkTexts, *cpu, 4, full);
  EXPECT_TRUE(full.chunks.empty());
}

TEST_F(TinyModel, RunningOutOfDeviceMemoryHalvesTheBatchesAndKeepsTheVectors) {
  make(tiny_spec());
  const Matrix whole = embed(kChunkTexts);
  for (const bool gpu : {false, true}) {
    EmbedOptions o;
    o.progress = false;
    o.batch_tokens = 64;
    TransformerEmbedder e(load_encoder_model(dir_.string()), o);
    // 64-token scratch does not fit (48 does not either: 32 does); batches over 20
    // tokens fail while running, so the budget ends at 16.
    TightOps ops(40, 20, gpu);
    RecordingSink sink(8);
    e.encode(kChunkTexts, ops, 4, sink);
    EXPECT_EQ(e.stats().batch_tokens, 16) << gpu;
    EXPECT_EQ(e.stats().oom_retries, 2) << gpu;
    EXPECT_EQ(ops.ooms, 2) << gpu;
    EXPECT_LE(ops.max_rows, 16) << gpu;
    EXPECT_EQ(sink.chunks, (std::vector<int64_t>{0, 1, 2})) << gpu;
    ASSERT_EQ(sink.values.size(), kChunkTexts.size() * 8);
    for (int64_t i = 0; i < whole.rows(); ++i)
      for (int64_t j = 0; j < 8; ++j) EXPECT_NEAR(sink.values[i * 8 + j], whole.row(i)[j], 1e-6) << i << " " << gpu;
  }
}

TEST_F(TinyModel, RunningOutOfDeviceMemoryForOneSequenceIsAClearError) {
  make(tiny_spec());
  EmbedOptions o;
  o.progress = false;
  TransformerEmbedder e(load_encoder_model(dir_.string()), o);
  TightOps ops(4, 4, true);  // not even one 12-token sequence fits
  RecordingSink sink(8);
  const std::string what = error_of<RuntimeError>([&] { e.encode(kChunkTexts, ops, 4, sink); });
  EXPECT_NE(what.find("ran out of memory even for batches of one sequence (12 tokens)"), std::string::npos) << what;
  EXPECT_NE(what.find("--device cpu"), std::string::npos) << what;
  EXPECT_TRUE(sink.chunks.empty());
  // Weights that do not fit: one sentence naming the model, before any batch.
  TightOps no_room(1 << 20, 1 << 20, true, 20);  // the word embeddings alone are 23 rows
  const std::string weights = error_of<RuntimeError>([&] { e.encode(kChunkTexts, no_room, 4, sink); });
  EXPECT_NE(weights.find("'s weights ("), std::string::npos) << weights;
  EXPECT_NE(weights.find("do not fit in the free memory of tight"), std::string::npos) << weights;
}

}  // namespace
}  // namespace emb

namespace emb {
namespace {

// A GPU-like backend with nothing but encoder ops (which refuse one head width);
// DispatchBackend sends every other op to the CPU.
class EncoderOnlyBackend final : public Backend {
 public:
  explicit EncoderOnlyBackend(int64_t unsupported_width) : width_(unsupported_width) {}
  std::string name() const override { return "encoder-only"; }
  bool is_gpu() const override { return true; }
  bool supports(Op) const override { return false; }
  void normalize_rows(MatrixView) override { unreachable(); }
  void squared_distances(ConstMatrixView, ConstMatrixView, MatrixView) override { unreachable(); }
  void nearest_centroids(ConstMatrixView, ConstMatrixView, int32_t*, float*) override { unreachable(); }
  void accumulate_centroids(ConstMatrixView, const int32_t*, const float*, BasicMatrixView<double>,
                            double*) override {
    unreachable();
  }
  void k_nearest(ConstMatrixView, ConstMatrixView, int, int32_t*, float*) override { unreachable(); }
  void nearest_other_component(ConstMatrixView, const int32_t*, int64_t, const float*, const int32_t*,
                               const int32_t*, int64_t, int32_t*, float*) override {
    unreachable();
  }
  void covariance(ConstMatrixView, double*, BasicMatrixView<double>) override { unreachable(); }
  void symmetric_eigen(BasicMatrixView<const double>, double*, BasicMatrixView<double>) override { unreachable(); }
  void project(ConstMatrixView, const float*, ConstMatrixView, MatrixView) override { unreachable(); }
  std::unique_ptr<EncoderOps> make_encoder_ops() override {
    if (width_ == 0) throw RuntimeError("no device handle");
    auto ops = std::make_unique<TightOps>(1 << 20, 1 << 20, true);
    ops->unsupported_width = width_;
    return ops;
  }

 private:
  [[noreturn]] static void unreachable() { throw std::logic_error("routed to a backend that does not support it"); }
  int64_t width_;
};

TEST_F(TinyModel, AHeadWidthTheGpuOpsLackOrOpsThatCannotStartRunOnTheCpuWithANote) {
  make(tiny_spec());  // 8 columns in 2 heads: heads of 4
  const Matrix whole = embed(kChunkTexts);
  for (const int64_t lacking : {int64_t{4}, int64_t{16}, int64_t{0}}) {  // 0: the ops cannot start
    DispatchBackend backend(std::make_unique<EncoderOnlyBackend>(lacking), make_cpu_backend(1));
    EmbedOptions o;
    o.progress = false;
    TransformerEmbedder e(load_encoder_model(dir_.string()), o);
    const Matrix m = e.embed(kChunkTexts, backend);
    if (lacking == 4) {
      EXPECT_EQ(e.stats().device.rfind("cpu", 0), 0u) << e.stats().device;
      EXPECT_NE(e.stats().note.find("the encoder runs on the CPU: tight has no attention kernel for heads of 4 columns"),
                std::string::npos)
          << e.stats().note;
    } else if (lacking == 0) {
      EXPECT_EQ(e.stats().device.rfind("cpu", 0), 0u) << e.stats().device;
      EXPECT_NE(e.stats().note.find("the GPU's encoder ops could not start (no device handle)"), std::string::npos)
          << e.stats().note;
    } else {
      EXPECT_EQ(e.stats().device, "tight");
      EXPECT_TRUE(e.stats().note.empty()) << e.stats().note;
    }
    for (int64_t i = 0; i < whole.rows(); ++i)
      for (int64_t j = 0; j < 8; ++j) EXPECT_NEAR(m.row(i)[j], whole.row(i)[j], 1e-6) << i;
  }
}

}  // namespace
}  // namespace emb
