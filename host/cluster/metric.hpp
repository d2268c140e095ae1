#pragma once
// The distances the clustering methods offer.

namespace emb {

/// @brief The distance a clustering method works with.
enum class Metric {
  L2,      ///< Euclidean distance (k-means minimises its square)
  Cosine,  ///< through unit vectors: k-means is spherical, HDBSCAN uses 1 - cos
};

}  // namespace emb
