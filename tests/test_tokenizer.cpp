// Hugging Face tokenizers in C++: token ids identical to the Python `tokenizers` package
// (tests/data/tokenizer/fixture.json, from scripts/make_tokenizer_fixtures.py) for the
// installed models, plus small handwritten tokenizer.json files that need no model.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "host/core/error.hpp"
#include "host/tokenize/tokenizer.hpp"
#include "model_test_util.hpp"

namespace emb {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Ids = std::vector<int32_t>;

const json& fixture() {
  static const json j = [] {
    std::ifstream in(std::string(EMBCLUST_SOURCE_DIR) + "/tests/data/tokenizer/fixture.json");
    return json::parse(in);
  }();
  return j;
}

/// One tokenizer per model, loaded once (the XLM-R file is 17 MB).
const Tokenizer& cached(const std::string& path) {
  static std::map<std::string, std::unique_ptr<Tokenizer>> loaded;
  auto& t = loaded[path];
  if (!t) t = load_tokenizer(path);
  return *t;
}

std::string ids_text(const Ids& ids) {
  std::ostringstream os;
  os << '[';
  for (size_t i = 0; i < ids.size(); ++i) os << (i ? "," : "") << ids[i];
  return os.str() + ']';
}

/// A scratch folder for handwritten tokenizer files, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::temp_directory_path() / ("embclust_tok_" + std::string(info->name()) + "_" + std::to_string(::getpid()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string write(const std::string& name, const std::string& text) const {
    const std::string p = (path_ / name).string();
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }

 private:
  fs::path path_;
};

template <class F>
std::string input_error(F&& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no InputError)";
}

// ---- the installed models against the Python package -------------------------

class TokenizerFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(TokenizerFixture, IdsMatchPythonTokenizers) {
  const std::string name = GetParam();
  EMB_MODEL_FILE_OR_SKIP(path, name, "tokenizer.json");
  const Tokenizer& tok = cached(path);
  const json& fx = fixture();
  const auto& sentences = fx.at("sentences");
  const auto& want = fx.at("models").at(name);
  ASSERT_EQ(sentences.size(), want.size());
  ASSERT_GE(sentences.size(), 520u);
  size_t matches = 0;
  bool reported = false;
  for (size_t i = 0; i < sentences.size(); ++i) {
    const std::string s = sentences[i].get<std::string>();
    const Ids expected = want[i].get<Ids>();
    const Ids got = tok.encode(s);
    if (got == expected) {
      ++matches;
    } else if (!reported) {
      reported = true;
      ADD_FAILURE() << name << ": first mismatch at sentence " << i << " " << json(s).dump() << "\n  tokenizers "
                    << fx.at("tokenizers_version").get<std::string>() << ": " << ids_text(expected)
                    << "\n  embclust:   " << ids_text(got);
    }
  }
  EXPECT_EQ(matches, sentences.size()) << name << ": " << matches << " of " << sentences.size() << " sentences match";
  RecordProperty("sentences_matching", std::to_string(matches) + "/" + std::to_string(sentences.size()));
}

TEST_P(TokenizerFixture, TruncationKeepsTheHead) {
  const std::string name = GetParam();
  EMB_MODEL_FILE_OR_SKIP(path, name, "tokenizer.json");
  const Tokenizer& tok = cached(path);
  std::string text;  // the longest sentence: a paragraph of well over 40 tokens
  for (const auto& s : fixture().at("sentences")) {
    if (s.get_ref<const std::string&>().size() > text.size()) text = s.get<std::string>();
  }
  bool truncated = false;
  const Ids full = tok.encode(text, 0, &truncated);
  EXPECT_FALSE(truncated);
  ASSERT_GT(full.size(), 40u);

  const Ids cut = tok.encode(text, 16, &truncated);
  EXPECT_TRUE(truncated);
  ASSERT_EQ(cut.size(), 16u);
  EXPECT_EQ(cut.front(), tok.bos_id);
  EXPECT_EQ(cut.back(), tok.eos_id);
  EXPECT_TRUE(std::equal(cut.begin(), cut.end() - 1, full.begin())) << "the head of the content is kept";

  EXPECT_EQ(tok.encode(text, static_cast<int>(full.size()), &truncated), full);
  EXPECT_FALSE(truncated) << "exactly max_len tokens need no cut";
  EXPECT_EQ(tok.encode(text, static_cast<int>(full.size()) - 1, &truncated).size(), full.size() - 1);
  EXPECT_TRUE(truncated);
  EXPECT_EQ(tok.encode(text, 2, &truncated), (Ids{tok.bos_id, tok.eos_id}));
  EXPECT_TRUE(truncated);
}

TEST_P(TokenizerFixture, ContentIsEncodingWithoutSpecialTokens) {
  const std::string name = GetParam();
  EMB_MODEL_FILE_OR_SKIP(path, name, "tokenizer.json");
  const Tokenizer& tok = cached(path);
  Ids content{42, 42, 42};  // overwritten, not appended to
  tok.encode_content("Hello, world! 안녕하세요.", content);
  Ids full = tok.encode("Hello, world! 안녕하세요.");
  ASSERT_EQ(full.size(), content.size() + 2);
  EXPECT_EQ(Ids(full.begin() + 1, full.end() - 1), content);
  tok.encode_content("", content);
  EXPECT_TRUE(content.empty());
  EXPECT_EQ(tok.encode(""), (Ids{tok.bos_id, tok.eos_id}));
}

TEST_P(TokenizerFixture, ConcurrentEncodesAgree) {
  const std::string name = GetParam();
  EMB_MODEL_FILE_OR_SKIP(path, name, "tokenizer.json");
  const Tokenizer& tok = cached(path);
  const auto& sentences = fixture().at("sentences");
  std::vector<Ids> serial;
  for (const auto& s : sentences) serial.push_back(tok.encode(s.get<std::string>()));
  std::vector<std::vector<Ids>> parallel(4);
  std::vector<std::thread> threads;
  for (auto& out : parallel) {
    threads.emplace_back([&] {
      for (const auto& s : sentences) out.push_back(tok.encode(s.get<std::string>()));
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& out : parallel) EXPECT_EQ(out, serial);
}

INSTANTIATE_TEST_SUITE_P(Models, TokenizerFixture, ::testing::Values("all-MiniLM-L6-v2", "multilingual-e5-small"),
                         [](const auto& info) { return info.param == "all-MiniLM-L6-v2" ? "MiniLM" : "E5Small"; });

TEST(Tokenizer, SpecialTokensOfTheInstalledModels) {
  EMB_MODEL_FILE_OR_SKIP(minilm, "all-MiniLM-L6-v2", "tokenizer.json");
  EMB_MODEL_FILE_OR_SKIP(e5, "multilingual-e5-small", "tokenizer.json");
  const Tokenizer& bert = cached(minilm);
  EXPECT_EQ(bert.kind(), "wordpiece");
  EXPECT_EQ(bert.vocab_size(), 30522);
  EXPECT_EQ(bert.bos_id, 101);
  EXPECT_EQ(bert.eos_id, 102);
  EXPECT_EQ(bert.pad_id, 0);
  EXPECT_EQ(bert.unk_id, 100);
  const Tokenizer& xlmr = cached(e5);
  EXPECT_EQ(xlmr.kind(), "unigram");
  EXPECT_EQ(xlmr.vocab_size(), 250002);
  EXPECT_EQ(xlmr.bos_id, 0);
  EXPECT_EQ(xlmr.eos_id, 2);
  EXPECT_EQ(xlmr.pad_id, 1);
  EXPECT_EQ(xlmr.unk_id, 3);
}

// ---- handwritten tokenizer.json files (no model needed) ------------------------

const char* kTinyWordPiece = R"({"version": "1.0", "truncation": null, "padding": null,
 "added_tokens": [
  {"id": 0, "content": "[PAD]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
  {"id": 1, "content": "[UNK]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
  {"id": 2, "content": "[CLS]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
  {"id": 3, "content": "[SEP]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}],
 "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": null, "lowercase": true},
 "pre_tokenizer": {"type": "BertPreTokenizer"},
 "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]},
 "decoder": null,
 "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 12,
  "vocab": {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "un": 4, "##aff": 5, "##able": 6, "cafe": 7, "!": 8,
            "\u4e2d": 9, "a": 10, "##a": 11, "##b": 12}}})";

const char* kTinyUnigram = R"({"version": "1.0", "truncation": null, "padding": null,
 "added_tokens": [
  {"id": 0, "content": "<s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
  {"id": 1, "content": "<pad>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
  {"id": 2, "content": "</s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
  {"id": 3, "content": "<unk>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}],
 "normalizer": {"type": "Sequence", "normalizers": [{"type": "NFKC"}, {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}]},
 "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "WhitespaceSplit"},
   {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": true}]},
 "post_processor": {"type": "RobertaProcessing", "sep": ["</s>", 2], "cls": ["<s>", 0], "trim_offsets": true, "add_prefix_space": true},
 "decoder": null,
 "model": {"type": "Unigram", "unk_id": 3, "byte_fallback": false,
  "vocab": [["<s>", 0.0], ["<pad>", 0.0], ["</s>", 0.0], ["<unk>", 0.0], ["\u2581", -2.0], ["a", -3.0], ["b", -3.0],
            ["ab", -4.5], ["\u2581ab", -4.0], ["\u2581a", -3.5], ["c", -3.0], ["abc", -7.0]]}})";

// Expected ids come from tokenizers 0.23.3 on the same files.
TEST(Tokenizer, TinyWordPiece) {
  TempDir dir;
  const auto tok = load_tokenizer(dir.write("tokenizer.json", kTinyWordPiece));
  EXPECT_EQ(tok->kind(), "wordpiece");
  EXPECT_EQ(tok->vocab_size(), 13);
  EXPECT_EQ(tok->pad_id, 0);
  EXPECT_EQ(tok->unk_id, 1);
  EXPECT_EQ(tok->encode("unaffable"), (Ids{2, 4, 5, 6, 3}));
  EXPECT_EQ(tok->encode("UNAFFABLE!"), (Ids{2, 4, 5, 6, 8, 3}));   // lowercased; ! isolated
  EXPECT_EQ(tok->encode("caf\u00e9"), (Ids{2, 7, 3}));              // accent stripped
  EXPECT_EQ(tok->encode("\u4e2d\u4e2d"), (Ids{2, 9, 9, 3}));        // CJK split apart
  EXPECT_EQ(tok->encode("aaaaaaaaaaaa").size(), 14u);                // 12 chars: a ##a x 11
  EXPECT_EQ(tok->encode("aaaaaaaaaaaaa"), (Ids{2, 1, 3}));          // 13 > max_input_chars_per_word
  EXPECT_EQ(tok->encode("unx"), (Ids{2, 1, 3}));                    // an unmatchable rest: whole word unknown
  EXPECT_EQ(tok->encode("a [SEP] b"), (Ids{2, 10, 3, 1, 3}));       // added tokens are found in the text
  EXPECT_EQ(tok->encode("ab\xFF" "ab"), (Ids{2, 10, 12, 11, 12, 3}));  // a bad byte reads as U+FFFD, dropped
}

TEST(Tokenizer, TinyUnigram) {
  TempDir dir;
  const auto tok = load_tokenizer(dir.write("tokenizer.json", kTinyUnigram));
  EXPECT_EQ(tok->kind(), "unigram");
  EXPECT_EQ(tok->vocab_size(), 12);
  EXPECT_EQ(tok->pad_id, 1);
  EXPECT_EQ(tok->encode("ab"), (Ids{0, 8, 2}));
  EXPECT_EQ(tok->encode("abc"), (Ids{0, 8, 10, 2}));    // best path: \u2581ab + c
  EXPECT_EQ(tok->encode("ab  ab"), (Ids{0, 8, 8, 2}));
  EXPECT_EQ(tok->encode("xyz"), (Ids{0, 4, 3, 2}));     // unknown characters fused into one unk
  EXPECT_EQ(tok->encode("abxyzc"), (Ids{0, 8, 3, 10, 2}));
  EXPECT_EQ(tok->encode("\uff41\uff42"), (Ids{0, 8, 2}));  // NFKC: fullwidth ab
  EXPECT_EQ(tok->encode("<s>ab"), (Ids{0, 0, 8, 2}));
}

TEST(Tokenizer, MissingFileNamesIt) {
  const std::string path = "/nonexistent/embclust/tokenizer.json";
  EXPECT_NE(input_error([&] { load_tokenizer(path); }).find(path), std::string::npos);
}

TEST(Tokenizer, BadJsonNamesTheFile) {
  TempDir dir;
  const std::string path = dir.write("tokenizer.json", "{\"model\": {\"type\": \"WordPiece\",");
  const std::string msg = input_error([&] { load_tokenizer(path); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("JSON"), std::string::npos) << msg;
}

TEST(Tokenizer, UnsupportedTypesAreNamed) {
  TempDir dir;
  const std::string bpe = R"({"version": "1.0", "added_tokens": [], "normalizer": null, "pre_tokenizer": null,
    "post_processor": null, "decoder": null,
    "model": {"type": "BPE", "dropout": null, "unk_token": null, "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}})";
  const std::string path = dir.write("bpe.json", bpe);
  std::string msg = input_error([&] { load_tokenizer(path); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("BPE"), std::string::npos) << msg;

  // Swap one stage of the tiny WordPiece file for a type we do not implement.
  const auto with = [&](const char* key, json value) {
    json j = json::parse(kTinyWordPiece);
    j[key] = std::move(value);
    const std::string p = dir.write(std::string(key) + ".json", j.dump());
    const std::string m = input_error([&] { load_tokenizer(p); });
    EXPECT_NE(m.find(p), std::string::npos) << m;
    return m;
  };
  EXPECT_NE(with("normalizer", {{"type", "Prepend"}, {"prepend", "x"}}).find("Prepend"), std::string::npos);
  EXPECT_NE(with("pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}}).find("ByteLevel"), std::string::npos);
  EXPECT_NE(with("post_processor", {{"type", "ByteLevel"}, {"trim_offsets", true}}).find("ByteLevel"), std::string::npos);
  EXPECT_NE(with("model", {{"type", "WordLevel"}, {"vocab", {{"a", 0}}}, {"unk_token", "a"}}).find("WordLevel"),
            std::string::npos);
  EXPECT_NE(with("normalizer", {{"type", "Replace"}, {"pattern", {{"Regex", "\\s+"}}}, {"content", " "}}).find("\\s+"),
            std::string::npos);
}

}  // namespace
}  // namespace emb
