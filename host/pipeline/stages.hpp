#pragma once
// The pipeline stages, each a plain function from tables to tables: the CLI
// composes them and owns the file. Every stage reports what it did through
// `Report` so the CLI decides what the user sees.
#include <functional>
#include <string>
#include <vector>

#include "host/backend/backend.hpp"
#include "host/embed/embedder.hpp"
#include "host/segment/segmenter.hpp"
#include "io/corpus.hpp"
#include "io/store.hpp"

namespace emb {

/// @brief Receives one line per notable event ("read 5 documents ...").
using Report = std::function<void(const std::string&)>;

struct SegmentStageOptions {
  io::ReadOptions read;
  SegmentOptions segment;
};

struct SegmentStageResult {
  io::DocumentTable documents;
  io::SegmentTable segments;
};

/// @brief Reads the inputs and cuts them into sentences.
/// @throws emb::InputError for bad inputs, or when no segment is left.
SegmentStageResult run_segment(const std::vector<std::string>& inputs, const SegmentStageOptions& opts,
                               const Report& report);

/// @brief Embeds every segment text.
io::EmbeddingSet run_embed(const io::SegmentTable& segments, const EmbedOptions& opts, Backend& backend,
                           const Report& report);

struct ClusterStageOptions {
  std::string method = "kmeans";
  std::string name;  ///< group name under /clusters; defaults to method
  int k = 8;
  int max_iter = 300;
  double tol = 1e-4;
  int n_init = 3;
  uint64_t seed = 0;
  bool progress = true;
};

/// @brief Clusters the embeddings.
/// @throws emb::UsageError for a bad method or parameter, emb::InputError for data it cannot cluster.
io::Clustering run_cluster(const io::EmbeddingSet& embeddings, const ClusterStageOptions& opts, Backend& backend,
                           const Report& report);

}  // namespace emb
