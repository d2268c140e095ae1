#include "host/cli/info.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "io/store.hpp"

namespace emb {
namespace {

std::string shorten(const std::string& s, size_t max_bytes) {
  if (s.size() <= max_bytes) return s;
  size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;  // stay on a UTF-8 boundary
  return s.substr(0, cut) + "…";
}

void print_clustering(const io::Clustering& c, const io::SegmentTable* segs, const io::EmbeddingSet* emb,
                      int examples, std::FILE* out) {
  std::fprintf(out, "\nclustering '%s': %s, %lld clusters", c.name.c_str(), c.method.c_str(),
               static_cast<long long>(c.n_clusters));
  if (std::isfinite(c.inertia)) std::fprintf(out, ", inertia %.6g", c.inertia);
  std::fprintf(out, ", %.2f s\n  params: %s\n", c.seconds, c.params.dump().c_str());

  int32_t max_label = -1;
  for (int32_t l : c.labels) max_label = std::max(max_label, l);
  std::vector<int64_t> size(static_cast<size_t>(max_label + 1), 0);
  int64_t noise = 0;
  for (int32_t l : c.labels) (l < 0 ? noise : size[static_cast<size_t>(l)])++;
  std::vector<int32_t> order(size.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return size[a] > size[b]; });
  if (noise) std::fprintf(out, "  noise: %lld segments\n", static_cast<long long>(noise));

  const bool can_rank = emb && !c.centroids.empty() && c.centroid_dim == emb->dim &&
                        static_cast<int64_t>(c.labels.size()) == emb->n;
  for (int32_t l : order) {
    std::fprintf(out, "  cluster %d: %lld segments\n", l, static_cast<long long>(size[l]));
    if (!segs || examples <= 0 || segs->size() != c.labels.size()) continue;
    // Examples: the members nearest the centre when there is one, else the most
    // probable members (HDBSCAN), else the first members.
    const bool by_probability = !can_rank && c.probabilities.size() == c.labels.size();
    std::vector<std::pair<float, size_t>> members;
    for (size_t i = 0; i < c.labels.size(); ++i) {
      if (c.labels[i] != l) continue;
      float d = 0;
      if (by_probability) d = -c.probabilities[i];
      if (can_rank) {
        const float* x = emb->vectors.data() + i * emb->dim;
        const float* m = c.centroids.data() + static_cast<size_t>(l) * c.centroid_dim;
        for (int64_t j = 0; j < emb->dim; ++j) d += (x[j] - m[j]) * (x[j] - m[j]);
      }
      members.emplace_back(d, i);
    }
    const size_t shown = std::min(members.size(), static_cast<size_t>(examples));
    std::partial_sort(members.begin(), members.begin() + shown, members.end());
    for (size_t e = 0; e < shown; ++e) {
      std::string t = shorten(segs->text[members[e].second], 160);
      std::replace(t.begin(), t.end(), '\n', ' ');
      std::replace(t.begin(), t.end(), '\r', ' ');
      std::fprintf(out, "    - %s\n", t.c_str());
    }
  }
}

}  // namespace

void print_info(const std::string& path, int examples, std::FILE* out) {
  io::StoreReader r(path);
  const io::FileAttributes a = r.attributes();
  std::fprintf(out, "%s: embclust file, schema %d, written by embclust %s at %s\n", path.c_str(), a.schema_version,
               a.embclust_version.c_str(), a.created.c_str());
  std::fprintf(out, "  command: %s\n", a.command.c_str());
  io::SegmentTable segs;
  if (r.has_documents()) {
    const io::DocumentTable d = r.documents();
    std::fprintf(out, "documents: %zu\n", d.path.size());
    if (r.has_segments()) {
      segs = r.segments();
      std::vector<int64_t> per_doc(d.path.size(), 0);
      for (int32_t doc : segs.document)
        if (doc >= 0 && static_cast<size_t>(doc) < per_doc.size()) ++per_doc[static_cast<size_t>(doc)];
      for (size_t i = 0; i < d.path.size(); ++i)
        std::fprintf(out, "  %s%s%s: %lld segments\n", d.path[i].c_str(), d.id[i].empty() ? "" : " #",
                     d.id[i].c_str(), static_cast<long long>(per_doc[i]));
    }
  }
  if (r.has_segments()) {
    int64_t bytes = 0;
    for (int32_t len : segs.length) bytes += len;
    std::fprintf(out, "segments: %zu (mean %.0f bytes)\n", segs.size(), segs.size() ? double(bytes) / segs.size() : 0.0);
  }
  io::EmbeddingSet emb;
  const bool has_emb = r.has_embeddings();
  if (has_emb) {
    emb = r.embeddings();
    std::fprintf(out, "embeddings: %lld x %lld, model %s, %s\n", static_cast<long long>(emb.n),
                 static_cast<long long>(emb.dim), emb.model.c_str(), emb.normalized ? "normalized" : "not normalized");
  }
  const auto names = r.clustering_names();
  if (names.empty()) std::fprintf(out, "clusterings: none\n");
  for (const auto& name : names)
    print_clustering(r.clustering(name), r.has_segments() ? &segs : nullptr, has_emb ? &emb : nullptr, examples, out);
}

}  // namespace emb
