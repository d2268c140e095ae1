#pragma once
// The embclust HDF5 file (schema version 1; docs/hdf5-schema.md).
//
// Reading goes through StoreReader. Every change goes through StoreWriter, which
// builds a temporary file beside the target, copies over what the change keeps,
// writes the new groups and renames the result into place on commit(): a failed
// run never leaves a half-written file and never damages an existing one.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace emb::io {

inline constexpr int kSchemaVersion = 1;

/// @brief /documents: one entry per document.
struct DocumentTable {
  std::vector<std::string> path;
  std::vector<std::string> id;  ///< JSONL ids; empty strings for text files
};

/// @brief /segments: one entry per segment, offsets and lengths in bytes of the source.
struct SegmentTable {
  std::vector<std::string> text;
  std::vector<int32_t> document;
  std::vector<int64_t> offset;
  std::vector<int32_t> length;
  size_t size() const { return text.size(); }
};

/// @brief /embeddings: n x dim float32 vectors, row-major.
struct EmbeddingSet {
  std::vector<float> vectors;
  int64_t n = 0;
  int64_t dim = 0;
  std::string model;
  bool normalized = false;
  // What the run did (attributes; absent from older files and for the hashing model).
  int64_t tokens = 0;          ///< tokens fed to the encoder, special tokens included
  int64_t truncated = 0;       ///< sentences cut at max_seq_length
  int64_t max_seq_length = 0;  ///< the encoder's limit used
  std::string prompt;          ///< text put before every sentence ("query: "), may be empty
  std::string long_text;       ///< "truncate" or "chunk"
  std::string device;          ///< the backend that ran the encoder
  double seconds = 0.0;        ///< wall time of the embedding stage (model load excluded)
};

/// @brief The condensed cluster tree of an HDBSCAN run, one row per edge: the
///        columns of the hdbscan package's condensed_tree_.to_numpy().
struct CondensedTree {
  std::vector<int64_t> parent;      ///< a cluster id (n .. ): the root is n
  std::vector<int64_t> child;       ///< a point (< n) or a cluster id (>= n)
  std::vector<double> lambda_val;   ///< 1 / distance at which the child leaves the parent
  std::vector<int64_t> child_size;  ///< points in the child (1 for a point)
  size_t size() const { return parent.size(); }
};

/// @brief What HDBSCAN stores besides labels (docs/hdf5-schema.md).
struct DensityClustering {
  std::vector<float> outlier_scores;  ///< n: GLOSH
  std::vector<float> core_distances;  ///< n: distance to the min_samples-th nearest other point
  std::vector<double> persistence;    ///< k: cluster persistence (the hdbscan package's cluster_persistence_)
  std::vector<int64_t> selected;      ///< k: condensed-tree id of each cluster
  std::vector<int32_t> exemplars;     ///< rows of the exemplar points, cluster after cluster
  std::vector<int64_t> exemplar_offsets;  ///< k + 1: exemplars of cluster c are [offsets[c], offsets[c+1])
  CondensedTree condensed_tree;
  std::vector<double> single_linkage_tree;     ///< (n-1) x 4: left, right, distance, size
  std::vector<double> minimum_spanning_tree;   ///< (n-1) x 3: from, to, distance (increasing)
  std::vector<float> prediction_core_distances;  ///< n: core distances approximate_predict uses
};

/// @brief A linear reduction applied before clustering (--reduce pca:N):
///        reduced = (x - mean) . components^T.
struct Reduction {
  std::string method = "pca";
  std::vector<float> mean;        ///< d
  std::vector<float> components;  ///< m x d, row-major: unit vectors of decreasing variance
  int64_t dim = 0;                ///< m
  std::vector<double> explained_variance;        ///< m
  std::vector<double> explained_variance_ratio;  ///< m: share of the total variance
};

/// @brief /clusters/<name>: one clustering of the segments.
struct Clustering {
  std::string name;
  std::string method;                 ///< "kmeans", "hdbscan", ...
  nlohmann::json params = nlohmann::json::object();
  std::vector<int32_t> labels;        ///< -1 for noise
  std::vector<float> centroids;       ///< n_clusters x dim, row-major; empty when none
  int64_t n_clusters = 0;
  int64_t centroid_dim = 0;           ///< columns of centroids; 0 when none
  double inertia = 0.0;               ///< NaN when the method has none
  double seconds = 0.0;
  /// A scan over k (--k auto), one entry per k tried; all three empty when there was none.
  std::vector<int32_t> scan_k;
  std::vector<double> scan_inertia;
  std::vector<double> scan_silhouette;
  /// Membership strength of each label (0 for noise): HDBSCAN and its predictions; empty otherwise.
  std::vector<float> probabilities;
  /// HDBSCAN's trees and scores; absent for other methods.
  std::optional<DensityClustering> density;
  /// The reduction the points went through before clustering; absent when none.
  std::optional<Reduction> reduction;
};

/// @brief Root attributes.
struct FileAttributes {
  int schema_version = 0;
  std::string embclust_version;
  std::string created;  ///< ISO 8601 UTC
  std::string command;
};

/// @brief Read access to an embclust file.
class StoreReader {
 public:
  /// @throws emb::InputError if the file is missing, not HDF5, or of another schema version.
  explicit StoreReader(const std::string& path);
  ~StoreReader();
  StoreReader(StoreReader&&) noexcept;
  StoreReader& operator=(StoreReader&&) noexcept;

  const std::string& path() const;
  FileAttributes attributes() const;
  bool has_documents() const;
  bool has_segments() const;
  bool has_embeddings() const;
  /// @throws emb::InputError when the group is missing or malformed.
  DocumentTable documents() const;
  SegmentTable segments() const;
  EmbeddingSet embeddings() const;
  /// @brief Names of the groups under /clusters, sorted.
  std::vector<std::string> clustering_names() const;
  Clustering clustering(const std::string& name) const;

  /// @brief Reads any 2-D float32/float16 dataset (for --input FILE.h5:/path).
  EmbeddingSet matrix(const std::string& dataset_path) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// @brief Reads a 2-D float32 or float16 dataset of any HDF5 file (not only embclust
///        files), e.g. embeddings made by another tool, as float32.
/// @throws emb::InputError naming the file and dataset when either is missing or the
///         dataset is not a 2-D float array.
EmbeddingSet read_float_matrix(const std::string& file, const std::string& dataset_path);

/// @brief Reads a 1-D numeric dataset of any HDF5 file (e.g. sample weights) as float32.
/// @throws emb::InputError naming the file and dataset when either is missing or the
///         dataset is not a 1-D numeric array.
std::vector<float> read_float_vector(const std::string& file, const std::string& dataset_path);

/// @brief How a StoreWriter keeps its temporary file (see StoreWriter).
enum class PartialMode {
  None,    ///< `<path>.tmp-<pid>-<n>`, deleted unless committed
  Fresh,   ///< `<path>.partial`, replacing any left there; kept when a failed run stored chunks
  Resume,  ///< continue `<path>.partial` when one is there (else as Fresh)
};

/// @brief What one stored chunk of embeddings took.
struct ChunkCounts {
  int64_t tokens = 0;
  int64_t truncated = 0;
  int64_t chunked = 0;
  double seconds = 0.0;
};

/// @brief An atomic change to an embclust file.
///
/// The constructor creates `<path>.tmp-<pid>-<n>` beside `path` and copies into it every
/// object of the existing file (if any) except the paths in `drop` (for example
/// "/embeddings", "/clusters/kmeans"). write_* then add groups; commit() stamps
/// the root attributes, flushes, fsyncs and renames over `path`. Destroying an
/// uncommitted writer deletes the temporary file and leaves `path` untouched.
class StoreWriter {
 public:
  /// @throws emb::RuntimeError if the temporary file cannot be created;
  ///         emb::InputError if an existing `path` is not a valid embclust file.
  ///
  /// With a PartialMode other than None the temporary file is `<path>.partial`, and
  /// embeddings may be streamed into it chunk by chunk (begin_embeddings). A run that
  /// fails or is killed after storing chunks leaves it behind; a later writer with
  /// PartialMode::Resume opens it as it is (no copy: resumed() is true) and the
  /// stored chunks are not computed again. Only commit() puts anything at `path`.
  StoreWriter(const std::string& path, const std::vector<std::string>& drop, const std::string& command,
              PartialMode mode = PartialMode::None);
  ~StoreWriter();

  /// @brief `<path>.partial`.
  static std::string partial_path(const std::string& path);
  /// @brief Whether this writer continues a partial file left by an earlier run.
  bool resumed() const;
  /// @brief The key a resumed file's embeddings were begun with (an empty object when
  ///        this writer did not resume one).
  nlohmann::json resume_key() const;
  /// @brief One line about the partial file worth telling the user ("" when none).
  const std::string& note() const;

  /// @brief Streamed embeddings: creates /embeddings/vectors as n x dim, to be filled
  ///        chunk by chunk (chunk c is rows [c * chunk_rows, ...)) and made durable
  ///        chunk by chunk. In a resumed file, checks that it was begun with the same
  ///        `key` (every member equal: model, input, options) and the same shape.
  /// @returns for each chunk, whether it is stored already.
  /// @throws emb::InputError naming the first member of `key` that differs.
  std::vector<bool> begin_embeddings(int64_t n, int64_t dim, int64_t chunk_rows, const nlohmann::json& key);
  /// @brief Stores chunk `chunk` (its rows x dim floats) and, once they are on the
  ///        disk, marks it stored with its counts.
  void write_embedding_chunk(int64_t chunk, const float* rows, const ChunkCounts& counts);
  /// @brief Chunks of embeddings stored in the partial file, by this run or earlier ones.
  int64_t chunks_stored() const;
  /// @brief The counts summed over every stored chunk, this run's and earlier ones'.
  ChunkCounts embedding_counts() const;
  /// @brief Writes the attributes of the streamed embeddings (e.vectors is not used)
  ///        once every chunk is stored.
  void finish_embeddings(const EmbeddingSet& e);
  /// @brief Reads /embeddings back from the new file.
  EmbeddingSet embeddings() const;
  StoreWriter(const StoreWriter&) = delete;
  StoreWriter& operator=(const StoreWriter&) = delete;

  /// @brief Whether the object at an HDF5 path (e.g. "/segments") is in the new file.
  bool exists(const std::string& h5path) const;

  void write_documents(const DocumentTable& docs);
  void write_segments(const SegmentTable& segs);
  void write_embeddings(const EmbeddingSet& emb);
  void write_clustering(const Clustering& c);

  /// @brief Finishes the file and renames it into place.
  /// @throws emb::RuntimeError on any failure; `path` is then unchanged.
  void commit();

  /// @brief Path of the temporary file (for tests).
  const std::string& temp_path() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

namespace testing {
/// @brief Fault injection for tests: after `n` more dataset writes, the next one throws
///        emb::RuntimeError as if the disk had failed; n < 0 disables. Also settable
///        with the environment variable EMBCLUST_FAIL_AFTER_WRITES=n.
void fail_after_writes(int n);
/// @brief Called when a chunk of embeddings is durably stored. With the environment
///        variable EMBCLUST_KILL_AFTER_CHUNKS=n, the n-th call kills the process
///        (SIGKILL), as a crash or a lost machine would, for the resume tests.
void chunk_stored();
}  // namespace testing

}  // namespace emb::io
