#include "host/tokenize/tokenizer.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include "host/core/error.hpp"
#include "host/tokenize/added_tokens.hpp"
#include "host/tokenize/normalize.hpp"
#include "host/tokenize/pretokenize.hpp"
#include "host/tokenize/unicode.hpp"
#include "host/tokenize/unigram.hpp"
#include "host/tokenize/wordpiece.hpp"

namespace emb {

std::vector<int32_t> Tokenizer::encode(std::string_view text, int max_len, bool* truncated) const {
  std::vector<int32_t> content;
  encode_content(text, content);
  const size_t n_special = (bos_id >= 0 ? 1 : 0) + (eos_id >= 0 ? 1 : 0);
  bool cut = false;
  if (max_len > 0) {
    const size_t keep = static_cast<size_t>(max_len) > n_special ? static_cast<size_t>(max_len) - n_special : 0;
    cut = content.size() > keep;
    if (cut) content.resize(keep);
  }
  if (truncated) *truncated = cut;
  std::vector<int32_t> ids;
  ids.reserve(content.size() + n_special);
  if (bos_id >= 0) ids.push_back(bos_id);
  ids.insert(ids.end(), content.begin(), content.end());
  if (eos_id >= 0) ids.push_back(eos_id);
  return ids;
}

namespace {

using nlohmann::json;
using tok::AddedTokens;

/// added tokens -> normalizer -> (normalized added tokens) -> pre-tokenizer -> model.
class HfTokenizer final : public Tokenizer {
 public:
  std::unique_ptr<tok::Normalizer> normalizer;
  std::unique_ptr<tok::PreTokenizer> pre_tokenizer;
  std::unique_ptr<tok::Model> model;
  AddedTokens raw_tokens;         // matched in the text as given
  AddedTokens normalized_tokens;  // matched in the normalized text
  int32_t max_added_id = -1;

  std::string kind() const override { return model->kind(); }
  int32_t vocab_size() const override { return std::max(model->vocab_size(), max_added_id + 1); }

  void encode_content(std::string_view text, std::vector<int32_t>& ids) const override {
    ids.clear();
    // Scratch reused across calls (one set per thread): short texts are the common case.
    thread_local std::string storage, normalized, arena;
    thread_local std::vector<AddedTokens::Segment> segments, pieces;
    thread_local std::vector<tok::Span> words;
    text = tok::valid_utf8(text, storage);
    raw_tokens.split(text, segments);
    // Bytes of the first normalized segment that come from the text's first character,
    // for Metaspace's prepend_scheme "first".
    size_t first_origin = 0;
    if (pre_tokenizer && pre_tokenizer->uses_origin() && segments[0].id < 0 && segments[0].end > 0) {
      first_origin = tok::utf8_length(static_cast<unsigned char>(text[0]));
      if (normalizer) first_origin = normalizer->origin_bytes(text.substr(0, segments[0].end), first_origin);
    }
    for (const auto& seg : segments) {
      if (seg.id >= 0) {
        ids.push_back(seg.id);
        continue;
      }
      const std::string_view part = text.substr(seg.begin, seg.end - seg.begin);
      if (normalizer) {
        normalizer->normalize(part, normalized);
      } else {
        normalized.assign(part);
      }
      normalized_tokens.split(normalized, pieces);
      for (const auto& piece : pieces) {
        if (piece.id >= 0) {
          ids.push_back(piece.id);
          continue;
        }
        const std::string_view sub = std::string_view(normalized).substr(piece.begin, piece.end - piece.begin);
        const size_t origin = seg.begin == 0 && piece.begin < first_origin ? first_origin - piece.begin : 0;
        arena.clear();
        words.clear();
        if (pre_tokenizer) {
          pre_tokenizer->split(sub, origin, arena, words);
        } else if (!sub.empty()) {
          arena.assign(sub);
          words.push_back({0, arena.size(), origin});
        }
        for (const auto& w : words) model->tokenize(std::string_view(arena).substr(w.begin, w.end - w.begin), ids);
      }
    }
  }
};

int32_t special_id(const json& pair, const char* key, const std::string& path) {
  const auto it = pair.find(key);
  EMB_EXPECTS(it != pair.end() && it->is_array() && it->size() == 2 && (*it)[1].is_number_integer(), path,
              ": post_processor needs \"", key, "\" as [token, id]");
  return (*it)[1].get<int32_t>();
}

/// bos/eos from TemplateProcessing "single" (specials around $A), BertProcessing or RobertaProcessing.
void read_post_processor(const json& spec, const std::string& path, Tokenizer& t) {
  if (spec.is_null()) return;
  EMB_EXPECTS(spec.is_object() && spec.contains("type") && spec["type"].is_string(), path,
              ": \"post_processor\" must be null or an object with a \"type\"");
  const std::string type = spec["type"].get<std::string>();
  if (type == "BertProcessing" || type == "RobertaProcessing") {
    t.bos_id = special_id(spec, "cls", path);
    t.eos_id = special_id(spec, "sep", path);
    return;
  }
  EMB_EXPECTS(type == "TemplateProcessing", path, ": unsupported post_processor type \"", type, "\"");
  const auto single = spec.find("single");
  EMB_EXPECTS(single != spec.end() && single->is_array(), path, ": TemplateProcessing needs a \"single\" template");
  const auto id_of = [&](const json& item) {
    const std::string name = item.at("SpecialToken").at("id").get<std::string>();
    const auto& ids = spec.at("special_tokens").at(name).at("ids");
    EMB_EXPECTS(ids.is_array() && ids.size() == 1, path, ": TemplateProcessing special token \"", name,
                "\" must have exactly one id");
    return ids[0].get<int32_t>();
  };
  bool seen_a = false;
  for (const auto& item : *single) {
    if (item.contains("Sequence")) {
      EMB_EXPECTS(!seen_a && item["Sequence"].value("id", std::string()) == "A", path,
                  ": unsupported TemplateProcessing single template (only [special] $A [special])");
      seen_a = true;
    } else {
      EMB_EXPECTS(item.contains("SpecialToken"), path, ": unsupported TemplateProcessing item ", item.dump());
      int32_t& slot = seen_a ? t.eos_id : t.bos_id;
      EMB_EXPECTS(slot < 0, path, ": unsupported TemplateProcessing single template (only [special] $A [special])");
      slot = id_of(item);
    }
  }
  EMB_EXPECTS(seen_a, path, ": TemplateProcessing single template has no $A");
}

/// Added tokens get their ids as tokenizers assigns them on loading (the "id" fields are
/// not read): special tokens first, then the others; a token in the model's vocab keeps
/// that id, any other takes the next id past the vocab and the tokens added so far.
void read_added_tokens(const json& spec, const std::string& path, HfTokenizer& t) {
  if (spec.is_null()) return;
  EMB_EXPECTS(spec.is_array(), path, ": \"added_tokens\" must be a list");
  std::vector<const json*> order;
  for (const auto& entry : spec) {
    if (entry.value("special", false)) order.push_back(&entry);
  }
  for (const auto& entry : spec) {
    if (!entry.value("special", false)) order.push_back(&entry);
  }
  const int32_t model_size = t.model->vocab_size();
  std::vector<std::pair<tok::AddedToken, bool>> tokens;  // token, normalized
  std::unordered_map<std::string, size_t> index;         // content -> position in tokens
  for (const json* entry : order) {
    tok::AddedToken token;
    token.content = entry->at("content").get<std::string>();
    if (token.content.empty()) continue;
    token.single_word = entry->value("single_word", false);
    token.lstrip = entry->value("lstrip", false);
    token.rstrip = entry->value("rstrip", false);
    // Special tokens are never normalized; others by default are, and match the normalized text.
    const bool normalized = entry->value("normalized", !entry->value("special", false));
    if (const auto it = index.find(token.content); it != index.end()) {  // a repeat: its options win
      token.id = tokens[it->second].first.id;
      tokens[it->second] = {std::move(token), normalized};
      continue;
    }
    token.id = t.model->token_to_id(token.content);
    if (token.id < 0) token.id = t.max_added_id < 0 ? model_size : std::max(t.max_added_id + 1, model_size);
    t.max_added_id = std::max(t.max_added_id, token.id);
    index[token.content] = tokens.size();
    tokens.emplace_back(std::move(token), normalized);
  }
  for (auto& [token, normalized] : tokens) {
    if (normalized) {
      if (t.normalizer) {
        std::string n;
        t.normalizer->normalize(token.content, n);
        token.content = std::move(n);
      }
      t.normalized_tokens.add(std::move(token));
    } else {
      t.raw_tokens.add(std::move(token));
    }
  }
}

std::unique_ptr<Tokenizer> build(const json& j, const std::string& path) {
  EMB_EXPECTS(j.is_object(), path, ": a tokenizer.json must hold a JSON object");
  const auto model = j.find("model");
  EMB_EXPECTS(model != j.end() && model->is_object(), path, ": no \"model\" object");
  const std::string type = model->value("type", std::string());
  auto t = std::make_unique<HfTokenizer>();
  if (type == "WordPiece") {
    t->model = std::make_unique<tok::WordPiece>(*model, path);
  } else if (type == "Unigram") {
    t->model = std::make_unique<tok::Unigram>(*model, path);
  } else {
    throw InputError(detail::concat(path, ": unsupported model type \"", type, "\" (only WordPiece and Unigram)"));
  }
  t->normalizer = tok::make_normalizer(j.value("normalizer", json()), path);
  t->pre_tokenizer = tok::make_pre_tokenizer(j.value("pre_tokenizer", json()), path);
  read_added_tokens(j.value("added_tokens", json()), path, *t);
  read_post_processor(j.value("post_processor", json()), path, *t);
  t->unk_id = t->model->unk_id();
  const json padding = j.value("padding", json());
  if (padding.is_object() && padding.contains("pad_id")) {
    t->pad_id = padding["pad_id"].get<int32_t>();
  } else {
    for (const char* name : {"<pad>", "[PAD]"}) {
      if (const int32_t id = t->model->token_to_id(name); id >= 0) {
        t->pad_id = id;
        break;
      }
    }
  }
  return t;
}

}  // namespace

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EMB_EXPECTS(in.is_open(), path, ": cannot open tokenizer file");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  EMB_EXPECTS(!in.bad(), path, ": cannot read tokenizer file");
  json j;
  try {
    j = json::parse(buffer.str());
  } catch (const json::exception& e) {
    throw InputError(detail::concat(path, ": not valid JSON (", e.what(), ")"));
  }
  try {
    return build(j, path);
  } catch (const json::exception& e) {  // a field of the wrong JSON type
    throw InputError(detail::concat(path, ": unexpected tokenizer.json content (", e.what(), ")"));
  }
}

}  // namespace emb
