#include "host/tokenize/unigram.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <limits>

#include "host/core/error.hpp"
#include "host/tokenize/unicode.hpp"

namespace emb::tok {

Unigram::Unigram(const nlohmann::json& model, const std::string& path) {
  const auto vocab = model.find("vocab");
  EMB_EXPECTS(vocab != model.end() && vocab->is_array() && !vocab->empty(), path,
              ": Unigram model needs a non-empty \"vocab\" list");
  EMB_EXPECTS(vocab->size() < static_cast<size_t>(INT32_MAX), path, ": Unigram vocab is too large");
  scores_.reserve(vocab->size());
  ids_.reserve(vocab->size());
  double min_score = std::numeric_limits<double>::infinity();
  for (const auto& entry : *vocab) {
    EMB_EXPECTS(entry.is_array() && entry.size() == 2 && entry[0].is_string() && entry[1].is_number(), path,
                ": Unigram vocab entry ", scores_.size(), " is not a [piece, score] pair");
    const double score = entry[1].get<double>();
    ids_[entry[0].get<std::string>()] = static_cast<int32_t>(scores_.size());  // a repeated piece keeps its last id
    scores_.push_back(score);
    min_score = std::min(min_score, score);
  }
  unk_score_ = min_score - 10.0;
  const auto unk = model.find("unk_id");
  EMB_EXPECTS(unk != model.end() && unk->is_number_integer() && unk->get<int64_t>() >= 0 &&
                  unk->get<int64_t>() < static_cast<int64_t>(scores_.size()),
              path, ": Unigram model needs an \"unk_id\" inside its vocab");
  unk_id_ = static_cast<int32_t>(unk->get<int64_t>());
  byte_fallback_ = model.value("byte_fallback", false);
  std::vector<std::pair<std::string_view, int32_t>> pieces;
  pieces.reserve(ids_.size());
  for (const auto& [piece, id] : ids_) pieces.emplace_back(piece, id);
  trie_.build(std::move(pieces));
}

int32_t Unigram::token_to_id(std::string_view token) const {
  const auto it = ids_.find(token);
  return it == ids_.end() ? -1 : it->second;
}

void Unigram::push_token(std::string_view piece, std::vector<int32_t>& ids) const {
  if (const int32_t id = token_to_id(piece); id >= 0) {
    ids.push_back(id);
    return;
  }
  if (byte_fallback_) {
    const size_t mark = ids.size();
    char name[8];
    for (char c : piece) {
      std::snprintf(name, sizeof name, "<0x%02X>", static_cast<unsigned char>(c));
      const int32_t id = token_to_id(name);
      if (id < 0) {
        ids.resize(mark);
        ids.push_back(unk_id_);
        return;
      }
      ids.push_back(id);
    }
    return;
  }
  ids.push_back(unk_id_);
}

void Unigram::tokenize(std::string_view word, std::vector<int32_t>& ids) const {
  if (word.empty()) return;
  // best[e]: the best path over word[0, e): its score and last token (start, id).
  struct Node {
    double score = 0;
    int32_t start = -1, id = -1;
  };
  thread_local std::vector<Node> best;  // scratch reused across calls; words are short
  best.assign(word.size() + 1, Node{});
  for (size_t start = 0; start < word.size();) {
    const double base = best[start].score;
    const size_t char_len = utf8_length(static_cast<unsigned char>(word[start]));
    bool has_single_char_piece = false;
    trie_.for_each_prefix(word.substr(start), [&](size_t len, int32_t id) {
      Node& target = best[start + len];
      const double score = scores_[static_cast<size_t>(id)] + base;
      if (target.start < 0 || score > target.score) target = {score, static_cast<int32_t>(start), id};
      has_single_char_piece |= len == char_len;
    });
    if (!has_single_char_piece) {
      Node& target = best[start + char_len];
      const double score = unk_score_ + base;
      if (target.start < 0 || score > target.score) target = {score, static_cast<int32_t>(start), unk_id_};
    }
    start += char_len;
  }
  // Walk back, fusing runs of unk into one token, then emit in order.
  thread_local std::vector<std::pair<size_t, size_t>> tokens;  // [begin, end) of each token, last first
  tokens.clear();
  bool previous_unk = false;
  for (size_t end = word.size(); end > 0;) {
    const Node& node = best[end];
    const auto start = static_cast<size_t>(node.start);
    const bool unk = node.id == unk_id_;
    if (unk && previous_unk) {
      tokens.back().first = start;
    } else {
      tokens.emplace_back(start, end);
    }
    previous_unk = unk;
    end = start;
  }
  for (auto it = tokens.rbegin(); it != tokens.rend(); ++it) {
    const Node& last = best[it->second];
    if (last.id != unk_id_) {
      ids.push_back(last.id);
    } else {
      push_token(word.substr(it->first, it->second - it->first), ids);
    }
  }
}

}  // namespace emb::tok
