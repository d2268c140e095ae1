#include "host/cluster/hdbscan.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>

#include "host/cluster/kd_tree.hpp"
#include "host/cluster/search_partition.hpp"
#include "host/core/error.hpp"

namespace emb {
namespace {

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void check_finite(ConstMatrixView x, const char* what) {
  for (int64_t i = 0; i < x.rows; ++i)
    for (int64_t j = 0; j < x.cols; ++j)
      if (!std::isfinite(x.row(i)[j]))
        throw InputError(std::string(what) + " row " + std::to_string(i) + ", column " + std::to_string(j) +
                         " is not a finite number");
}

// The rows the distances are computed on: x itself for L2, unit-length copies for Cosine.
const float* working_rows(Backend& backend, ConstMatrixView x, Metric metric, std::vector<float>& copy,
                          const char* what) {
  if (metric != Metric::Cosine) return x.data;
  for (int64_t i = 0; i < x.rows; ++i) {
    const float* r = x.row(i);
    if (std::all_of(r, r + x.cols, [](float v) { return v == 0.0f; }))
      throw InputError(std::string(what) + " row " + std::to_string(i) +
                       " is all zeros: it has no direction, so no cosine distance");
  }
  copy.assign(x.data, x.data + x.size());
  backend.normalize_rows({copy.data(), x.rows, x.cols});
  return copy.data();
}

// Below this many rows a search of all rows is cheap: no partition by default. A
// GPU searches all rows so fast that the partition pays only from more rows (at
// 100000 x 384 on an H100 the search of all rows was the faster).
constexpr int64_t kPartitionMinRows = 4096;
constexpr int64_t kGpuPartitionMinRows = 262144;

bool use_kd_tree(const Backend& backend, int64_t cols, int max_dim) {
  return !backend.is_gpu() && max_dim > 0 && cols <= max_dim;
}

}  // namespace

TreeOptions tree_options(const HdbscanOptions& o) {
  TreeOptions t;
  t.min_cluster_size = o.min_cluster_size;
  t.selection = o.selection;
  t.cluster_selection_epsilon = o.cluster_selection_epsilon;
  t.cluster_selection_epsilon_max = o.cluster_selection_epsilon_max;
  t.allow_single_cluster = o.allow_single_cluster;
  t.max_cluster_size = o.max_cluster_size;
  return t;
}

double metric_distance(Metric metric, double d2) { return metric == Metric::Cosine ? 0.5 * d2 : std::sqrt(d2); }

double HdbscanResult::mst_weight() const {
  double s = 0.0;
  for (size_t i = 2; i < mst.size(); i += 3) s += mst[i];
  return s;
}

HdbscanResult hdbscan(Backend& backend, ConstMatrixView x, const HdbscanOptions& opts) {
  EMB_USAGE(opts.min_cluster_size >= 2, "min_cluster_size must be at least 2, got ", opts.min_cluster_size,
            " (a cluster of one point is noise)");
  EMB_USAGE(opts.min_samples >= 0, "min_samples must be 0 (= min_cluster_size) or more, got ", opts.min_samples);
  EMB_USAGE(opts.knn >= 0, "the k-NN graph size must be 0 (automatic) or more, got ", opts.knn);
  EMB_USAGE(opts.cluster_selection_epsilon >= 0.0, "cluster_selection_epsilon must be at least 0, got ",
            opts.cluster_selection_epsilon);
  EMB_USAGE(opts.cluster_selection_epsilon_max >= opts.cluster_selection_epsilon,
            "cluster_selection_epsilon_max must not be below cluster_selection_epsilon");
  EMB_USAGE(opts.max_cluster_size >= 0, "max_cluster_size must be 0 (no limit) or more, got ", opts.max_cluster_size);
  EMB_EXPECTS(x.rows > 0 && x.cols > 0, "HDBSCAN needs at least one point of at least one dimension, got ", x.rows,
              " x ", x.cols);
  check_finite(x, "HDBSCAN input:");
  const int64_t n = x.rows;
  const TreeOptions to = tree_options(opts);

  HdbscanResult r;
  HdbscanStats& st = r.stats;
  const int64_t asked = opts.min_samples > 0 ? opts.min_samples : opts.min_cluster_size;
  st.min_samples = std::max<int64_t>(1, std::min(n - 1, asked));
  if (n == 1) {  // one point: noise, with no tree
    r.tree = hdbscan_tree({}, 1, to);
    r.core_distances.assign(1, 0.0);
    r.prediction_core_distances.assign(1, 0.0);
    return r;
  }

  std::vector<float> unit;
  const ConstMatrixView w{working_rows(backend, x, opts.metric, unit, "HDBSCAN input:"), x.rows, x.cols};
  const int ms = static_cast<int>(st.min_samples);
  // A list no longer than min_samples + 1 proves nothing: its last distance is the core distance.
  const int64_t want = opts.knn > 0 ? opts.knn : std::max(24, ms + 8);
  st.knn = static_cast<int>(std::min<int64_t>(n, std::max<int64_t>(want, ms + 1)));
  st.kd_tree = use_kd_tree(backend, x.cols, opts.kd_tree_max_dim);
  auto progress = [&](const char* stage, double f) {
    if (opts.on_progress) opts.on_progress(stage, f);
  };

  auto t0 = std::chrono::steady_clock::now();
  std::unique_ptr<KdTree> tree;
  if (st.kd_tree) tree = std::make_unique<KdTree>(w);
  const int64_t parts = st.kd_tree                ? 0
                        : opts.search_parts >= 0 ? std::min(opts.search_parts, n)
                        : n >= (backend.is_gpu() ? kGpuPartitionMinRows : kPartitionMinRows) ? default_partition_parts(n)
                                                 : 0;
  SearchPartition sp;
  std::unique_ptr<PartitionSearch> search;
  if (parts > 0) {
    sp = make_search_partition(backend, w, parts, opts.seed);
    search = std::make_unique<PartitionSearch>(sp, w);
    st.search_parts = sp.parts();
  }
  // Held from here (the partition's k-means holds its own sample while it runs):
  // the searches gather their rows from the device copy.
  HeldMatrix held(backend, w);
  const KnnGraph knn = knn_graph(
      backend, w, st.knn, tree.get(),
      [&](int64_t done) { progress("k-NN graph", static_cast<double>(done) / static_cast<double>(n)); },
      search.get(), &st.knn_pairs);
  std::vector<double> core2(static_cast<size_t>(n));
  r.core_distances.resize(static_cast<size_t>(n));
  r.prediction_core_distances.resize(static_cast<size_t>(n));
  // approximate_predict's core distance counts the point itself among min_samples.
  const int pred_pos = static_cast<int>(std::clamp<int64_t>(asked - 1, 0, st.knn - 1));
  for (int64_t i = 0; i < n; ++i) {
    core2[i] = knn.row_dist2(i)[ms];
    r.core_distances[i] = metric_distance(opts.metric, core2[i]);
    r.prediction_core_distances[i] = metric_distance(opts.metric, knn.row_dist2(i)[pred_pos]);
  }
  st.knn_seconds = since(t0);

  t0 = std::chrono::steady_clock::now();
  st.mst = opts.mst == MstChoice::Exact ? MstMethod::Exact
           : opts.mst == MstChoice::Knn ? MstMethod::Knn
           : n <= opts.exact_mst_max_rows ? MstMethod::Exact
                                          : MstMethod::Knn;
  std::vector<MstEdge> edges =
      mutual_reachability_mst(backend, w, knn, core2, st.mst, tree.get(), &st.mst_stats, [&](int64_t components) {
        progress("spanning tree", 1.0 - std::log(static_cast<double>(components)) / std::log(static_cast<double>(n)));
      }, search.get());
  for (MstEdge& e : edges) e.weight = metric_distance(opts.metric, e.weight);
  std::stable_sort(edges.begin(), edges.end(), [](const MstEdge& a, const MstEdge& b) { return a.weight < b.weight; });
  r.mst.reserve(edges.size() * 3);
  for (const MstEdge& e : edges) r.mst.insert(r.mst.end(), {double(e.a), double(e.b), e.weight});
  st.mst_seconds = since(t0);

  t0 = std::chrono::steady_clock::now();
  r.tree = hdbscan_tree(std::move(edges), n, to);
  st.tree_seconds = since(t0);
  return r;
}

HdbscanPrediction hdbscan_predict(Backend& backend, ConstMatrixView fitted, ConstMatrixView points,
                                  const io::CondensedTree& tree, const std::vector<int64_t>& selected,
                                  const std::vector<float>& prediction_core_distances, int64_t min_samples,
                                  Metric metric) {
  EMB_EXPECTS(points.cols == fitted.cols, "the new points have ", points.cols, " dimensions but the fit had ",
              fitted.cols);
  EMB_EXPECTS(static_cast<int64_t>(prediction_core_distances.size()) == fitted.rows, "the fit stores ",
              prediction_core_distances.size(), " core distances for ", fitted.rows, " points");
  EMB_USAGE(min_samples >= 1, "min_samples must be at least 1, got ", min_samples);
  check_finite(points, "new point");
  HdbscanPrediction p;
  p.labels.assign(static_cast<size_t>(points.rows), -1);
  p.probabilities.assign(static_cast<size_t>(points.rows), 0.0);
  if (points.rows == 0 || selected.empty()) return p;  // no clusters: every new point is noise

  std::vector<float> unit_fit, unit_new;
  const ConstMatrixView f{working_rows(backend, fitted, metric, unit_fit, "fitted point"), fitted.rows, fitted.cols};
  const ConstMatrixView q{working_rows(backend, points, metric, unit_new, "new point"), points.rows, points.cols};
  const int k = static_cast<int>(std::min<int64_t>(2 * min_samples, fitted.rows));
  std::unique_ptr<KdTree> kd;
  if (use_kd_tree(backend, fitted.cols, 16)) kd = std::make_unique<KdTree>(f);
  const KnnGraph g = knn_query(backend, q, f, k, kd.get());
  const TreePredictor predictor(tree, selected, fitted.rows);
  std::vector<double> dist(static_cast<size_t>(k));
  for (int64_t i = 0; i < points.rows; ++i) {
    for (int t = 0; t < k; ++t) dist[t] = metric_distance(metric, g.row_dist2(i)[t]);
    p.labels[i] = predictor.predict(g.row_idx(i), dist.data(), k, static_cast<int>(min_samples),
                                    prediction_core_distances.data(), &p.probabilities[i]);
  }
  return p;
}

}  // namespace emb
