#pragma once
// The pipeline stages, each a plain function from tables to tables: the CLI
// composes them and owns the file. Every stage reports what it did through
// `Report` so the CLI decides what the user sees.
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

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

struct EmbedStageOptions {
  /// Segments per stored chunk; 0 = the resumed file's, else default_chunk_rows().
  int64_t chunk_rows = 0;
  /// The settings that decide the vectors (model, prompt, ...): a resumed file must
  /// have been begun with the same. The stage adds the model name, the segment count
  /// and a hash of their texts, and the chunk size.
  nlohmann::json key = nlohmann::json::object();
};

/// @brief Embeds every segment text with an embedder made (and its model checked)
///        beforehand by make_embedder, into `out` chunk by chunk: host memory holds a
///        chunk, not the corpus, and chunks a resumed file has are not computed again.
///        Finishes /embeddings (its attributes count every chunk) but does not commit.
/// @returns the description of the embeddings, with no vectors.
io::EmbeddingSet run_embed(const io::SegmentTable& segments, Embedder& embedder, Backend& backend,
                           io::StoreWriter& out, const EmbedStageOptions& opts, const Report& report);

struct ClusterStageOptions {
  std::string method = "kmeans";
  std::string name;  ///< group name under /clusters; defaults to method
  int k = 8;
  bool k_auto = false;          ///< scan k in [k_min, k_max] and keep the best silhouette (scan_k)
  int k_min = 2;
  int k_max = 20;
  int silhouette_sample = 2000; ///< rows the silhouette of each k is computed on
  int max_iter = 300;
  double tol = 1e-4;
  double tol_shift = 0.0;  ///< KMeansOptions::tol_shift; 0 = off
  bool bounds = true;      ///< KMeansOptions::bounds
  int n_init = 3;
  uint64_t seed = 0;
  std::string metric = "l2";       ///< l2, or cosine (spherical k-means)
  std::string init = "k-means++";  ///< k-means++, random, or FILE.h5:/dataset holding k x d starting centres
  std::string input;               ///< FILE.h5:/dataset the points came from, for the record; empty: /embeddings
  bool progress = true;
  int64_t batch_size = 0;  ///< mini-batch k-means with batches of this many rows; 0: full Lloyd
  std::string weights;     ///< FILE.h5:/dataset of one sample weight per row; empty: all 1
  std::string reduce;      ///< "pca:N": cluster the points projected on their top N principal axes; empty: none
  // HDBSCAN (HdbscanOptions):
  int64_t min_cluster_size = 5;
  int64_t min_samples = 0;             ///< 0: min_cluster_size
  std::string cluster_selection = "eom";  ///< eom or leaf
  double cluster_selection_epsilon = 0.0;
  double cluster_selection_epsilon_max = std::numeric_limits<double>::infinity();
  bool allow_single_cluster = false;
  int64_t max_cluster_size = 0;        ///< 0: no limit
  std::string mst = "auto";            ///< auto, exact or knn
  int knn = 0;                         ///< neighbours kept per point; 0: automatic
  int64_t search_parts = -1;           ///< HDBSCAN's search partition: -1 automatic, 0 none
};

/// @brief Clusters the embeddings. An --init dataset is read here (one run from
///        those centres; n_init is then 1). With k_auto, k-means runs for every k
///        in [k_min, k_max], the k of the highest sampled silhouette is kept, and
///        the scan goes into the clustering (params and the scan_* vectors).
/// @throws emb::UsageError for a bad method or parameter (an --init dataset with
///         k_auto among them), emb::InputError for data it cannot cluster, an
///         --init dataset that cannot be read or has the wrong shape.
io::Clustering run_cluster(const io::EmbeddingSet& embeddings, const ClusterStageOptions& opts, Backend& backend,
                           const Report& report);

/// @brief What run_predict is asked to do.
struct PredictStageOptions {
  std::string fit;           ///< the embclust file holding the HDBSCAN clustering
  std::string name = "hdbscan";  ///< that clustering's name
  std::string out_name;      ///< name of the predicted clustering; defaults to name
};

/// @brief approximate_predict: labels and probabilities of `points` against the
///        HDBSCAN clustering `opts.name` of `opts.fit` (its fitted points are read
///        from that file, or from the dataset its params name as input), as a
///        clustering with method "hdbscan-predict".
/// @throws emb::InputError when the fit cannot be read, is not HDBSCAN, or the
///         dimensions differ.
io::Clustering run_predict(const io::EmbeddingSet& points, const PredictStageOptions& opts, Backend& backend,
                           const Report& report);

/// @brief A dataset of an HDF5 file, written FILE.h5:/path on the command line.
struct DatasetRef {
  std::string file;
  std::string path;  ///< HDF5 path inside file, starting with '/'
};

/// @brief Splits "FILE.h5:/path" at the first ":/" whose left part is an existing
///        file (at the first ":/" when none is), so file names may contain ':'.
/// @returns nullopt when s has no ":/" after a non-empty file name.
std::optional<DatasetRef> parse_dataset_ref(const std::string& s);

/// @brief Reads a 2-D float dataset (float16, float32 or float64, read as float32) of
///        any HDF5 file (io::read_float_matrix).
/// @throws emb::InputError for a missing file, a file that is not HDF5, a path
///         that is not a 2-D float dataset, or a value that is not finite (or
///         overflows float32), naming the file, the dataset, the row and the column.
io::EmbeddingSet read_dataset(const DatasetRef& ref);

/// @brief Throws emb::InputError naming `source`, the row and the column of the
///        first value of `points` that is NaN or infinite.
void check_finite_points(const io::EmbeddingSet& points, const std::string& source);

}  // namespace emb
