#include "host/embed/hashing_embedder.hpp"

#include <omp.h>
#include <utf8proc.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <unordered_map>

#include "host/core/error.hpp"
#include "host/core/progress.hpp"

namespace emb {
namespace {

// Distinct seeds keep a word from colliding with the identical character n-gram.
constexpr uint64_t kWordSeed = 0x9e3779b97f4a7c15ull;
constexpr uint64_t kGramSeed = 0xc2b2ae3d27d4eb4full;

uint64_t mix(uint64_t h) {  // splitmix64 finalizer: spreads FNV's weak low bits
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  return h ^ (h >> 31);
}

uint64_t hash_codepoints(const int32_t* cp, size_t n, uint64_t seed) {
  uint64_t h = 0xcbf29ce484222325ull ^ seed;
  for (size_t i = 0; i < n; ++i) {
    h ^= static_cast<uint32_t>(cp[i]);
    h *= 0x100000001b3ull;
  }
  return mix(h);
}

bool is_word_char(int32_t c) {
  switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
      return true;
    default:
      return false;
  }
}

// NFKC + case fold into code points; invalid input cannot reach here (the reader checked).
std::vector<int32_t> normalize(std::string_view text) {
  const auto opts = static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT |
                                                   UTF8PROC_CASEFOLD | UTF8PROC_IGNORE);
  utf8proc_uint8_t* out = nullptr;
  const auto len = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                                static_cast<utf8proc_ssize_t>(text.size()), &out, opts);
  std::vector<int32_t> cps;
  if (len < 0) return cps;
  std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> guard(out, &std::free);
  cps.reserve(static_cast<size_t>(len));
  for (utf8proc_ssize_t i = 0; i < len;) {
    utf8proc_int32_t c;
    const auto n = utf8proc_iterate(out + i, len - i, &c);
    if (n <= 0) break;
    cps.push_back(c);
    i += n;
  }
  return cps;
}

}  // namespace

HashedFeatures hash_features(std::string_view text) {
  const std::vector<int32_t> cps = normalize(text);
  std::vector<uint64_t> ids;
  ids.reserve(cps.size() * 4);
  for (size_t i = 0; i < cps.size();) {
    if (!is_word_char(cps[i])) { ++i; continue; }
    size_t j = i;
    while (j < cps.size() && is_word_char(cps[j])) ++j;
    ids.push_back(hash_codepoints(&cps[i], j - i, kWordSeed));
    for (size_t a = i; a < j; ++a)
      for (size_t n = 1; n <= 3 && a + n <= j; ++n) ids.push_back(hash_codepoints(&cps[a], n, kGramSeed + n));
    i = j;
  }
  std::sort(ids.begin(), ids.end());
  HashedFeatures f;
  for (size_t i = 0; i < ids.size();) {
    size_t j = i;
    while (j < ids.size() && ids[j] == ids[i]) ++j;
    f.id.push_back(ids[i]);
    f.count.push_back(static_cast<float>(j - i));
    i = j;
  }
  return f;
}

HashingEmbedder::HashingEmbedder(int dim, bool progress) : dim_(dim), progress_(progress) {
  EMB_USAGE(dim >= 2 && dim <= (1 << 20), "--dim must be between 2 and 1048576 for the hashing model, got ", dim);
}

void HashingEmbedder::embed_chunks(const std::vector<std::string>& texts, Backend& backend, int64_t chunk_rows,
                                   EmbeddingSink& sink) {
  EMB_USAGE(chunk_rows > 0, "--chunk-rows must be positive, got ", chunk_rows);
  const int64_t n = static_cast<int64_t>(texts.size());
  // Pass 1: document frequency of every feature, per thread then merged.
  std::unordered_map<uint64_t, int32_t> df;
  Progress progress("hashing", 2 * n, progress_);
  int64_t done = 0;
#pragma omp parallel
  {
    std::unordered_map<uint64_t, int32_t> local;
#pragma omp for schedule(dynamic, 64) nowait
    for (int64_t i = 0; i < n; ++i) {
      for (uint64_t id : hash_features(texts[static_cast<size_t>(i)]).id) ++local[id];
      if (omp_get_thread_num() == 0) progress.update(done += omp_get_num_threads());
    }
#pragma omp critical
    for (const auto& [id, c] : local) df[id] += c;
  }
  // Pass 2, chunk by chunk: sublinear tf x smoothed idf, hashed with a sign into dim
  // buckets, then L2-normalized.
  const double n1 = static_cast<double>(n) + 1.0;
  Matrix out;
  for (int64_t c = 0, first = 0; first < n; ++c, first += chunk_rows) {
    const int64_t rows = std::min(chunk_rows, n - first);
    if (sink.has_chunk(c)) continue;
    out = Matrix(rows, dim_);
#pragma omp parallel for schedule(dynamic, 64)
    for (int64_t r = 0; r < rows; ++r) {
      const HashedFeatures f = hash_features(texts[static_cast<size_t>(first + r)]);
      float* row = out.row(r);
      for (size_t t = 0; t < f.id.size(); ++t) {
        const uint64_t h = f.id[t];
        const double idf = std::log(n1 / (1.0 + df.at(h))) + 1.0;
        const double w = (1.0 + std::log(static_cast<double>(f.count[t]))) * idf;
        const size_t bucket = static_cast<size_t>((h >> 1) % static_cast<uint64_t>(dim_));
        row[bucket] += static_cast<float>((h & 1) ? w : -w);
      }
    }
    backend.normalize_rows(out.view());
    sink.put_chunk(c, first, rows, out.row(0), EmbedStats{});
    progress.update(n + first + rows);
  }
  progress.finish();
}


}  // namespace emb
