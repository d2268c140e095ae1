#include "host/tokenize/wordpiece.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <utility>
#include <vector>

#include "host/core/error.hpp"

namespace emb::tok {
namespace {

bool is_continuation_byte(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

}  // namespace

WordPiece::WordPiece(const nlohmann::json& model, const std::string& path) {
  const auto vocab = model.find("vocab");
  EMB_EXPECTS(vocab != model.end() && vocab->is_object() && !vocab->empty(), path,
              ": WordPiece model needs a non-empty \"vocab\" object");
  const std::string prefix = model.value("continuing_subword_prefix", std::string("##"));
  const std::string unk = model.value("unk_token", std::string("[UNK]"));
  if (const auto m = model.find("max_input_chars_per_word"); m != model.end() && m->is_number_unsigned())
    max_chars_ = m->get<size_t>();
  vocab_.reserve(vocab->size());
  for (const auto& [token, id] : vocab->items()) {
    EMB_EXPECTS(id.is_number_integer() && id.get<int64_t>() >= 0 && id.get<int64_t>() <= INT32_MAX, path,
                ": WordPiece vocab entry \"", token, "\" has no valid id");
    vocab_[token] = static_cast<int32_t>(id.get<int64_t>());
  }
  std::vector<std::pair<std::string_view, int32_t>> whole, continued;
  for (const auto& [token, id] : vocab_) {
    whole.emplace_back(token, id);
    if (token.size() > prefix.size() && token.compare(0, prefix.size(), prefix) == 0)
      continued.emplace_back(std::string_view(token).substr(prefix.size()), id);
  }
  start_.build(std::move(whole));
  continuation_.build(std::move(continued));
  unk_id_ = token_to_id(unk);
  EMB_EXPECTS(unk_id_ >= 0, path, ": WordPiece unk_token \"", unk, "\" is not in the vocab");
}

int32_t WordPiece::token_to_id(std::string_view token) const {
  const auto it = vocab_.find(token);
  return it == vocab_.end() ? -1 : it->second;
}

void WordPiece::tokenize(std::string_view word, std::vector<int32_t>& ids) const {
  const size_t n_chars = static_cast<size_t>(std::count_if(word.begin(), word.end(), [](char c) { return !is_continuation_byte(c); }));
  if (n_chars > max_chars_) {
    ids.push_back(unk_id_);
    return;
  }
  // The longest entry that prefixes the rest is the one tokenizers' shrinking search finds first.
  const size_t mark = ids.size();
  for (size_t start = 0; start < word.size();) {
    const auto [len, id] = (start == 0 ? start_ : continuation_).longest_prefix(word.substr(start));
    if (id < 0) {  // an unmatchable rest makes the whole word unknown
      ids.resize(mark);
      ids.push_back(unk_id_);
      return;
    }
    ids.push_back(id);
    start += len;
  }
}

}  // namespace emb::tok
