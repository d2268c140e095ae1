#pragma once
// Mini-batch k-means (Sculley, 2010) for data too large for full Lloyd passes:
// each step assigns a random batch and moves the centres towards it with a
// per-centre learning rate of 1 / (mass seen so far).
#include <cstdint>

#include "host/cluster/kmeans.hpp"

namespace emb {

/// @brief Clusters the rows of x with mini-batches of batch_size rows.
///
/// Start: kmeans() (opts.init, opts.n_init, opts.metric) on a random sample of
/// max(3 batch_size, 10 k) rows. Then steps of one batch each, drawn without
/// replacement within the batch, up to opts.max_iter passes' worth of rows
/// (max_iter * n / batch_size steps); stops early when the smoothed batch inertia
/// has not improved for 10 steps, or when the centres move by no more than
/// opts.tol_shift (when set). A last full pass over x gives labels and inertia.
/// Sample weights are honoured everywhere. Deterministic for a given seed.
/// @throws emb::UsageError for batch_size < 1 and the option errors of kmeans();
///         emb::InputError for the data errors of kmeans().
KMeansResult minibatch_kmeans(Backend& backend, ConstMatrixView x, const KMeansOptions& opts, int64_t batch_size);

}  // namespace emb
