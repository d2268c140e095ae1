#include "host/pipeline/stages.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <system_error>

#include "host/cluster/hdbscan.hpp"
#include "host/cluster/k_scan.hpp"
#include "host/cluster/kmeans.hpp"
#include "host/cluster/minibatch_kmeans.hpp"
#include "host/cluster/pca.hpp"
#include "host/core/error.hpp"
#include "host/core/progress.hpp"

namespace emb {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string fmt(const char* f, auto... args) {
  char buf[512];
  std::snprintf(buf, sizeof buf, f, args...);
  return buf;
}

}  // namespace

SegmentStageResult run_segment(const std::vector<std::string>& inputs, const SegmentStageOptions& opts,
                               const Report& report) {
  EMB_USAGE(opts.segment.min_chars >= 0, "--min-chars must be 0 or more, got ", opts.segment.min_chars);
  EMB_USAGE(opts.segment.max_chars >= 16, "--max-chars must be at least 16, got ", opts.segment.max_chars);
  EMB_USAGE(opts.segment.min_chars <= opts.segment.max_chars, "--min-chars (", opts.segment.min_chars,
            ") must not exceed --max-chars (", opts.segment.max_chars, ")");
  io::ReadStats rs;
  const std::vector<io::Document> docs = io::read_corpus(inputs, opts.read, &rs);

  SegmentStageResult r;
  SegmentStats st;
  for (size_t d = 0; d < docs.size(); ++d) {
    const io::Document& doc = docs[d];
    r.documents.path.push_back(doc.path);
    r.documents.id.push_back(doc.id);
    for (const Span& s : segment_text(doc.text, opts.segment, &st)) {
      const int64_t begin = doc.source_offset(s.offset);
      const int64_t end = doc.source_offset(s.offset + s.length);
      r.segments.text.emplace_back(doc.text.substr(static_cast<size_t>(s.offset), static_cast<size_t>(s.length)));
      r.segments.document.push_back(static_cast<int32_t>(d));
      r.segments.offset.push_back(begin);  // source_offset counts from the first byte of the file
      r.segments.length.push_back(static_cast<int32_t>(end - begin));
    }
  }
  report(fmt("read %lld documents from %lld files (%.1f KB)%s", (long long)rs.documents, (long long)rs.files,
             rs.bytes / 1024.0,
             rs.replaced_bytes ? fmt("; replaced %lld invalid UTF-8 bytes", (long long)rs.replaced_bytes).c_str()
                               : ""));
  report(fmt("segmented into %lld sentences (%lld shorter than %d characters dropped, %lld pieces from splitting "
             "sentences longer than %d)",
             (long long)r.segments.size(), (long long)st.dropped_short, opts.segment.min_chars,
             (long long)st.split_long, opts.segment.max_chars));
  EMB_EXPECTS(r.segments.size() > 0, "no sentence of at least ", opts.segment.min_chars,
              " characters was found in the input");
  return r;
}

namespace {

// FNV-1a over the texts, each ended by a 0 byte: a resumed run must embed the same ones.
std::string texts_hash(const std::vector<std::string>& texts) {
  uint64_t h = 0xcbf29ce484222325ull;
  auto mix = [&](unsigned char c) { h = (h ^ c) * 0x100000001b3ull; };
  for (const std::string& t : texts) {
    for (unsigned char c : t) mix(c);
    mix(0);
  }
  return fmt("%016llx", (unsigned long long)h);
}

// Hands each chunk to the file as it finishes, timing each.
class StoreSink final : public EmbeddingSink {
 public:
  StoreSink(io::StoreWriter& out, std::vector<bool> done) : out_(out), done_(std::move(done)) {}
  bool has_chunk(int64_t c) const override { return done_[static_cast<size_t>(c)]; }
  void put_chunk(int64_t c, int64_t, int64_t, const float* data, const EmbedStats& st) override {
    const auto now = std::chrono::steady_clock::now();
    out_.write_embedding_chunk(c, data, {st.tokens, st.truncated, st.chunked,
                                         std::chrono::duration<double>(now - last_).count()});
    last_ = now;
  }

 private:
  io::StoreWriter& out_;
  std::vector<bool> done_;
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

}  // namespace

io::EmbeddingSet run_embed(const io::SegmentTable& segments, Embedder& embedder, Backend& backend,
                           io::StoreWriter& out, const EmbedStageOptions& opts, const Report& report) {
  EMB_EXPECTS(segments.size() > 0, "there are no segments to embed");
  EMB_USAGE(opts.chunk_rows >= 0, "--chunk-rows must be positive, got ", opts.chunk_rows);
  const auto n = static_cast<int64_t>(segments.size());
  const int64_t dim = embedder.dim();
  int64_t chunk_rows = opts.chunk_rows;
  if (chunk_rows == 0) {
    // A resumed file keeps its chunks, whichever machine began it.
    const nlohmann::json was = out.resume_key();
    chunk_rows = was.contains("chunk_rows") && was["chunk_rows"].is_number_integer()
                     ? was["chunk_rows"].get<int64_t>()
                     : default_chunk_rows(dim, backend.is_gpu());
  }
  nlohmann::json key = opts.key;
  key["model_name"] = embedder.model_name();
  key["sentences"] = n;
  key["text hash of the sentences"] = texts_hash(segments.text);
  key["chunk_rows"] = chunk_rows;
  const std::vector<bool> done = out.begin_embeddings(n, dim, chunk_rows, key);
  const auto stored = std::count(done.begin(), done.end(), true);
  int64_t rows = n;  // to embed in this run
  for (size_t c = 0; c < done.size(); ++c)
    if (done[c]) rows -= std::min(chunk_rows, n - static_cast<int64_t>(c) * chunk_rows);
  if (out.resumed())
    report(fmt("resuming %s: %lld of %lld chunks (%lld segments each) are stored; embedding the rest",
               out.temp_path().c_str(), (long long)stored, (long long)done.size(), (long long)chunk_rows));
  StoreSink sink(out, done);
  const auto t0 = std::chrono::steady_clock::now();
  embedder.embed_chunks(segments.text, backend, chunk_rows, sink);
  const EmbedStats st = embedder.stats();
  const double secs = st.seconds > 0 ? st.seconds : seconds_since(t0);
  const io::ChunkCounts all = out.embedding_counts();

  io::EmbeddingSet e;
  e.n = n;
  e.dim = dim;
  e.model = embedder.model_name();
  e.normalized = embedder.normalized();
  e.tokens = all.tokens;
  e.truncated = all.truncated;
  e.max_seq_length = st.max_seq_length;
  e.prompt = st.prompt;
  e.long_text = st.long_text;
  e.device = st.device;
  e.seconds = secs;
  out.finish_embeddings(e);

  if (!st.note.empty()) report(st.note);
  report(fmt("embedded %lld sentences with %s (dim %lld) in %.2f s (%.0f sentences/s)", (long long)rows,
             embedder.model_name().c_str(), (long long)dim, secs, secs > 0 ? rows / secs : 0.0));
  if (st.max_seq_length > 0) {
    report(fmt("%lld tokens (%.0f tokens/s) on %s, batches of up to %lld tokens", (long long)st.tokens,
               secs > 0 ? st.tokens / secs : 0.0, st.device.c_str(), (long long)st.batch_tokens));
    if (st.oom_retries > 0)
      report(fmt("the GPU ran out of memory %lld times; batches were cut to %lld tokens", (long long)st.oom_retries,
                 (long long)st.batch_tokens));
    if (all.truncated > 0)
      report(fmt("%lld sentences were longer than %lld tokens and were truncated (--long-text chunk embeds them whole)",
                 (long long)all.truncated, (long long)st.max_seq_length));
    if (all.chunked > 0)
      report(fmt("%lld sentences longer than %lld tokens were embedded as overlapping windows",
                 (long long)all.chunked, (long long)st.max_seq_length));
  }
  return e;
}

namespace {

const char* mst_name(MstMethod m) { return m == MstMethod::Exact ? "exact" : "knn"; }

io::Clustering run_kmeans(ConstMatrixView x, int64_t n, const ClusterStageOptions& opts, Backend& backend,
                          const Report& report);

io::Clustering run_hdbscan(ConstMatrixView x, const ClusterStageOptions& opts, Backend& backend,
                           const Report& report) {
  EMB_USAGE(opts.cluster_selection == "eom" || opts.cluster_selection == "leaf",
            "--cluster-selection must be eom or leaf, got '", opts.cluster_selection, "'");
  EMB_USAGE(opts.mst == "auto" || opts.mst == "exact" || opts.mst == "knn", "--mst must be auto, exact or knn, got '",
            opts.mst, "'");
  EMB_USAGE(opts.weights.empty(), "--weights applies to k-means only");
  HdbscanOptions ho;
  ho.min_cluster_size = opts.min_cluster_size;
  ho.min_samples = opts.min_samples;
  ho.metric = opts.metric == "cosine" ? Metric::Cosine : Metric::L2;
  ho.selection = opts.cluster_selection == "leaf" ? ClusterSelection::Leaf : ClusterSelection::Eom;
  ho.cluster_selection_epsilon = opts.cluster_selection_epsilon;
  ho.cluster_selection_epsilon_max = opts.cluster_selection_epsilon_max;
  ho.allow_single_cluster = opts.allow_single_cluster;
  ho.max_cluster_size = opts.max_cluster_size;
  ho.mst = opts.mst == "exact" ? MstChoice::Exact : opts.mst == "knn" ? MstChoice::Knn : MstChoice::Auto;
  ho.knn = opts.knn;
  ho.search_parts = opts.search_parts;
  ho.seed = opts.seed;
  Progress knn_progress("k-NN graph", x.rows, opts.progress);
  Progress mst_progress("spanning tree", 1000, opts.progress);
  ho.on_progress = [&](const std::string& stage, double f) {
    if (stage == "k-NN graph") knn_progress.update(static_cast<int64_t>(f * static_cast<double>(x.rows)));
    else mst_progress.update(static_cast<int64_t>(f * 1000.0));
  };
  const auto t0 = std::chrono::steady_clock::now();
  HdbscanResult h = hdbscan(backend, x, ho);
  const double secs = seconds_since(t0);
  knn_progress.finish();
  mst_progress.finish();

  TreeResult& t = h.tree;
  const HdbscanStats& st = h.stats;
  io::Clustering c;
  c.name = opts.name.empty() ? opts.method : opts.name;
  c.method = opts.method;
  c.labels = std::move(t.labels);
  c.n_clusters = static_cast<int64_t>(t.selected.size());
  c.inertia = std::numeric_limits<double>::quiet_NaN();
  c.seconds = secs;
  c.probabilities.assign(t.probabilities.begin(), t.probabilities.end());
  io::DensityClustering d;
  d.outlier_scores.assign(t.outlier_scores.begin(), t.outlier_scores.end());
  d.core_distances.assign(h.core_distances.begin(), h.core_distances.end());
  d.prediction_core_distances.assign(h.prediction_core_distances.begin(), h.prediction_core_distances.end());
  d.persistence = std::move(t.persistence);
  d.selected = std::move(t.selected);
  d.exemplars = std::move(t.exemplars);
  d.exemplar_offsets = std::move(t.exemplar_offsets);
  d.condensed_tree = std::move(t.condensed);
  d.single_linkage_tree = std::move(t.single_linkage);
  const double mst_weight = h.mst_weight();
  d.minimum_spanning_tree = std::move(h.mst);
  c.density = std::move(d);
  int64_t noise = 0;
  for (int32_t l : c.labels) noise += l < 0;
  c.params = {{"min_cluster_size", opts.min_cluster_size},
              {"min_samples", opts.min_samples > 0 ? opts.min_samples : opts.min_cluster_size},
              {"min_samples_used", st.min_samples},
              {"metric", opts.metric},
              {"cluster_selection_method", opts.cluster_selection},
              {"cluster_selection_epsilon", opts.cluster_selection_epsilon},
              {"allow_single_cluster", opts.allow_single_cluster},
              {"max_cluster_size", opts.max_cluster_size},
              {"mst", mst_name(st.mst)},
              {"knn", st.knn},
              {"kd_tree", st.kd_tree},
              {"input", opts.input.empty() ? std::string("/embeddings/vectors") : opts.input},
              {"reduce", opts.reduce},
              {"mst_weight", mst_weight},
              {"noise", noise},
              {"boruvka", {{"rounds", st.mst_stats.rounds},
                           {"certified", st.mst_stats.certified},
                           {"searched", st.mst_stats.searched},
                           {"knn_edges", st.mst_stats.knn_edges},
                           {"pairs", st.mst_stats.pairs},
                           {"deferred", st.mst_stats.deferred},
                           {"contracted", st.mst_stats.contracted},
                           {"contract_components", st.mst_stats.contract_components},
                           {"contract_pieces", st.mst_stats.contract_pieces},
                           {"contract_pairs", st.mst_stats.contract_pairs}}},
              {"search_parts", st.search_parts},
              {"knn_pairs", st.knn_pairs},
              {"timings", {{"knn", st.knn_seconds}, {"mst", st.mst_seconds}, {"tree", st.tree_seconds}}},
              {"backend", backend.name()}};
  if (std::isfinite(opts.cluster_selection_epsilon_max))
    c.params["cluster_selection_epsilon_max"] = opts.cluster_selection_epsilon_max;
  if (x.cols > 64 && opts.reduce.empty())
    report(fmt("note: density in %lld dimensions is hard to tell from noise (distances concentrate); "
               "--reduce pca:32 often finds denser clusters, and runs faster",
               (long long)x.cols));
  report(fmt("hdbscan (%s, min_cluster_size %lld, min_samples %lld): %lld clusters, %lld noise points (%.1f%%) in "
             "%.2f s (k-NN graph %.2f s, %s spanning tree %.2f s in %d rounds, tree %.2f s)",
             opts.metric.c_str(), (long long)opts.min_cluster_size, (long long)st.min_samples,
             (long long)c.n_clusters, (long long)noise, 100.0 * static_cast<double>(noise) / static_cast<double>(x.rows),
             secs, st.knn_seconds, mst_name(st.mst), st.mst_seconds, st.mst_stats.rounds, st.tree_seconds));
  return c;
}

}  // namespace

io::Clustering run_cluster(const io::EmbeddingSet& embeddings, const ClusterStageOptions& opts, Backend& backend,
                           const Report& report) {
  EMB_USAGE(opts.method == "kmeans" || opts.method == "hdbscan", "--method must be kmeans or hdbscan, got '",
            opts.method, "'");
  EMB_USAGE(opts.metric == "l2" || opts.metric == "cosine", "--metric must be l2 or cosine, got '", opts.metric,
            "'");
  std::optional<io::Reduction> reduction;
  Matrix reduced;
  ConstMatrixView points{embeddings.vectors.data(), embeddings.n, embeddings.dim};
  if (!opts.reduce.empty()) {
    const int64_t m = parse_reduce(opts.reduce);
    const auto t0 = std::chrono::steady_clock::now();
    reduction = pca_fit(backend, points, m);
    reduced = reduce(backend, *reduction, points);
    points = reduced.view();
    double kept = 0.0;
    for (double r : reduction->explained_variance_ratio) kept += r;
    report(fmt("PCA to %lld of %lld dimensions: %.1f%% of the variance kept (first axis %.1f%%) in %.2f s",
               (long long)m, (long long)embeddings.dim, 100.0 * kept, 100.0 * reduction->explained_variance_ratio[0],
               seconds_since(t0)));
  }
  io::Clustering c = opts.method == "hdbscan" ? run_hdbscan(points, opts, backend, report)
                                              : run_kmeans(points, embeddings.n, opts, backend, report);
  if (reduction) {
    double kept = 0.0;
    for (double r : reduction->explained_variance_ratio) kept += r;
    c.params["explained_variance"] = kept;
    c.reduction = std::move(reduction);
  }
  return c;
}

namespace {

io::Clustering run_kmeans(ConstMatrixView x, int64_t n, const ClusterStageOptions& opts, Backend& backend,
                          const Report& report) {
  const bool named_init = opts.init == "k-means++" || opts.init == "k-means||" || opts.init == "random";
  const std::optional<DatasetRef> init_ref = named_init ? std::nullopt : parse_dataset_ref(opts.init);
  EMB_USAGE(named_init || init_ref, "--init must be k-means++, k-means||, random or FILE.h5:/dataset, got '",
            opts.init, "'");
  EMB_USAGE(opts.batch_size >= 0, "--batch-size must be 0 (full batches) or more, got ", opts.batch_size);
  EMB_USAGE(opts.batch_size == 0 || !init_ref, "--batch-size cannot start from --init ", opts.init);
  if (opts.k_auto) {
    EMB_USAGE(!init_ref, "--k auto cannot start from --init ", opts.init, ": a dataset of centres fixes k");
    EMB_USAGE(opts.k_min >= 2, "--k-min must be at least 2 (a silhouette needs two clusters), got ", opts.k_min);
    EMB_USAGE(opts.k_max >= opts.k_min, "--k-max (", opts.k_max, ") must not be below --k-min (", opts.k_min, ")");
    EMB_USAGE(opts.silhouette_sample >= 2, "--silhouette-sample must be at least 2, got ", opts.silhouette_sample);
    EMB_EXPECTS(opts.k_max <= n, "--k-max ", opts.k_max, " exceeds the ", n, " points to cluster");
  }
  std::vector<float> weights;
  if (!opts.weights.empty()) {
    const std::optional<DatasetRef> ref = parse_dataset_ref(opts.weights);
    EMB_USAGE(ref, "--weights must name a dataset as FILE.h5:/path, got '", opts.weights, "'");
    weights = io::read_float_vector(ref->file, ref->path);
    EMB_EXPECTS(static_cast<int64_t>(weights.size()) == n, "--weights ", opts.weights, " has ", weights.size(),
                " values but there are ", n, " points to cluster");
    double total = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      EMB_EXPECTS(std::isfinite(weights[i]) && weights[i] >= 0.0f, "--weights ", opts.weights, ": row ", i, " is ",
                  weights[i], " (counting from 0); weights must be finite and non-negative");
      total += weights[i];
    }
    EMB_EXPECTS(total > 0.0, "--weights ", opts.weights, ": the weights sum to 0; at least one must be positive");
  }

  KMeansOptions ko;
  ko.weights = weights.empty() ? nullptr : weights.data();
  ko.k = opts.k;
  ko.max_iter = opts.max_iter;
  ko.tol = opts.tol;
  ko.tol_shift = opts.tol_shift;
  ko.bounds = opts.bounds;
  ko.n_init = init_ref ? 1 : opts.n_init;
  ko.seed = opts.seed;
  ko.init = opts.init == "random"      ? KMeansInit::Random
            : opts.init == "k-means||" ? KMeansInit::Parallel
                                       : KMeansInit::PlusPlus;
  ko.metric = opts.metric == "cosine" ? Metric::Cosine : Metric::L2;

  io::EmbeddingSet start;
  if (init_ref) {
    start = read_dataset(*init_ref);
    EMB_EXPECTS(start.n == opts.k && start.dim == x.cols, "--init ", opts.init, " is ", start.n, " x ", start.dim,
                " but the starting centres must be k x d = ", opts.k, " x ", x.cols);
  }
  // A scan counts its k-means runs one after another on one progress line.
  const int steps = opts.k_auto ? opts.k_max - opts.k_min + 1 : 1;
  int step = 0;
  Progress progress("k-means", static_cast<int64_t>(steps) * ko.n_init * opts.max_iter, opts.progress);
  ko.on_iteration = [&](int init, int iter, double) {
    progress.update((static_cast<int64_t>(step) * ko.n_init + init) * opts.max_iter + iter);
  };
  const auto t0 = std::chrono::steady_clock::now();
  KMeansResult km;
  KScanResult scan;
  if (opts.k_auto) {
    KScanOptions so;
    so.k_min = opts.k_min;
    so.k_max = opts.k_max;
    so.sample = opts.silhouette_sample;
    so.kmeans = ko;
    so.on_k = [&](int, double, double) { ++step; };
    scan = scan_k(backend, x, so);
    km = std::move(scan.best);
  } else {
    km = init_ref               ? kmeans_from(backend, x, {start.vectors.data(), start.n, start.dim}, ko)
         : opts.batch_size > 0 ? minibatch_kmeans(backend, x, ko, opts.batch_size)
                               : kmeans(backend, x, ko);
  }
  const double secs = seconds_since(t0);
  progress.finish();
  const int k = opts.k_auto ? scan.best_k : opts.k;

  io::Clustering c;
  c.name = opts.name.empty() ? opts.method : opts.name;
  c.method = opts.method;
  c.params = {{"k", k},
              {"max_iter", opts.max_iter},
              {"tol", opts.tol},
              {"tol_shift", opts.tol_shift},
              {"bounds", opts.bounds},
              {"n_init", ko.n_init},
              {"seed", opts.seed},
              {"init", opts.init},
              {"batch_size", opts.batch_size},
              {"metric", opts.metric},
              {"input", opts.input.empty() ? std::string("/embeddings/vectors") : opts.input},
              {"weights", opts.weights},
              {"iterations", km.iterations},
              {"best_init", km.best_init},
              {"reseeded_empty", km.reseeded_empty},
              {"proven", km.proven},
              {"backend", backend.name()}};
  if (opts.k_auto) {
    const auto best = static_cast<size_t>(scan.best_k - opts.k_min);
    const int64_t sampled = std::min<int64_t>(opts.silhouette_sample, n);
    c.params["k_auto"] = true;
    c.params["k_min"] = opts.k_min;
    c.params["k_max"] = opts.k_max;
    c.params["silhouette_sample"] = sampled;
    c.params["silhouette"] = scan.silhouette[best];
    c.params["scan"] = {{"k", scan.k}, {"inertia", scan.inertia}, {"silhouette", scan.silhouette}};
    c.scan_k.assign(scan.k.begin(), scan.k.end());
    c.scan_inertia = scan.inertia;
    c.scan_silhouette = scan.silhouette;
    for (size_t i = 0; i < scan.k.size(); ++i)
      report(fmt("k = %d: inertia %.6g, silhouette %.4f", scan.k[i], scan.inertia[i], scan.silhouette[i]));
    report(fmt("chose k = %d: the highest silhouette (%.4f, on %lld sampled points; ties go to the smaller k)",
               scan.best_k, scan.silhouette[best], (long long)sampled));
  }
  c.labels = std::move(km.labels);
  c.n_clusters = km.centroids.rows();
  c.centroid_dim = km.centroids.cols();
  c.centroids = std::move(km.centroids.storage());
  c.inertia = km.inertia;
  c.seconds = secs;
  if (opts.batch_size > 0)
    report(fmt("mini-batch k-means (%s, batches of %lld): k = %d, inertia %.6g after %d steps in %.2f s",
               opts.metric.c_str(), (long long)opts.batch_size, k, km.inertia, km.iterations, secs));
  else
    report(fmt("k-means (%s, %s): k = %d, inertia %.6g after %d iterations (%s) in %.2f s", opts.metric.c_str(),
               init_ref ? "given centres" : opts.init.c_str(), k, km.inertia, km.iterations,
               init_ref ? "one run" : fmt("best of %d", opts.n_init).c_str(), secs));
  return c;
}

}  // namespace

io::Clustering run_predict(const io::EmbeddingSet& points, const PredictStageOptions& opts, Backend& backend,
                           const Report& report) {
  const io::StoreReader fit_file(opts.fit);
  const io::Clustering fit = fit_file.clustering(opts.name);
  EMB_EXPECTS(fit.method == "hdbscan" && fit.density, opts.fit, ": clustering '", opts.name, "' is ", fit.method,
              ", not hdbscan; predict assigns new points to an HDBSCAN clustering");
  const std::string input = fit.params.value("input", std::string("/embeddings/vectors"));
  io::EmbeddingSet fitted;
  if (input == "/embeddings/vectors") {
    fitted = fit_file.embeddings();
  } else {
    const std::optional<DatasetRef> ref = parse_dataset_ref(input);
    EMB_EXPECTS(ref, opts.fit, ": clustering '", opts.name, "' records its input as '", input,
                "', which is not FILE.h5:/dataset");
    fitted = read_dataset(*ref);
  }
  EMB_EXPECTS(fitted.n == static_cast<int64_t>(fit.labels.size()), opts.fit, ": clustering '", opts.name, "' has ",
              fit.labels.size(), " labels but its input ", input, " has ", fitted.n, " points");
  EMB_EXPECTS(points.dim == fitted.dim, "the new points have ", points.dim, " dimensions but clustering '", opts.name,
              "' of ", opts.fit, " was fitted on ", fitted.dim);
  const std::string metric_name = fit.params.value("metric", std::string("l2"));
  const Metric metric = metric_name == "cosine" ? Metric::Cosine : Metric::L2;
  const int64_t min_samples = fit.params.value("min_samples", int64_t{5});
  const auto t0 = std::chrono::steady_clock::now();
  ConstMatrixView f{fitted.vectors.data(), fitted.n, fitted.dim};
  ConstMatrixView q{points.vectors.data(), points.n, points.dim};
  Matrix rf, rq;
  if (fit.reduction) {
    rf = reduce(backend, *fit.reduction, f);
    rq = reduce(backend, *fit.reduction, q);
    f = rf.view();
    q = rq.view();
  }
  const HdbscanPrediction p = hdbscan_predict(backend, f, q, fit.density->condensed_tree, fit.density->selected,
                                              fit.density->prediction_core_distances, min_samples, metric);
  io::Clustering c;
  c.name = opts.out_name.empty() ? opts.name : opts.out_name;
  c.method = "hdbscan-predict";
  c.labels = p.labels;
  c.probabilities.assign(p.probabilities.begin(), p.probabilities.end());
  c.n_clusters = fit.n_clusters;
  c.inertia = std::numeric_limits<double>::quiet_NaN();
  c.seconds = seconds_since(t0);
  int64_t noise = 0;
  for (int32_t l : c.labels) noise += l < 0;
  c.params = {{"fit", opts.fit}, {"clustering", opts.name}, {"metric", metric_name}, {"min_samples", min_samples},
              {"noise", noise}, {"backend", backend.name()}};
  report(fmt("predicted %lld points against '%s' of %s (%lld clusters): %lld noise in %.2f s", (long long)points.n,
             opts.name.c_str(), opts.fit.c_str(), (long long)fit.n_clusters, (long long)noise, c.seconds));
  return c;
}

std::optional<DatasetRef> parse_dataset_ref(const std::string& s) {
  const size_t first = s.find(":/");
  if (first == std::string::npos || first == 0) return std::nullopt;
  for (size_t p = first; p != std::string::npos; p = s.find(":/", p + 1)) {
    std::error_code ec;
    if (std::filesystem::is_regular_file(s.substr(0, p), ec)) return DatasetRef{s.substr(0, p), s.substr(p + 1)};
  }
  return DatasetRef{s.substr(0, first), s.substr(first + 1)};
}

io::EmbeddingSet read_dataset(const DatasetRef& ref) {
  io::EmbeddingSet e = io::read_float_matrix(ref.file, ref.path);
  check_finite_points(e, ref.file + ":" + ref.path);
  return e;
}

void check_finite_points(const io::EmbeddingSet& points, const std::string& source) {
  const auto size = static_cast<int64_t>(points.vectors.size());
  int64_t first = size;
#pragma omp parallel for reduction(min : first) schedule(static)
  for (int64_t i = 0; i < size; ++i)
    if (!std::isfinite(points.vectors[i])) first = std::min(first, i);
  if (first == size) return;
  const float v = points.vectors[first];
  throw InputError(detail::concat(source, ": row ", first / points.dim, ", column ", first % points.dim, " is ",
                                  std::isnan(v) ? "NaN" : v > 0 ? "+inf" : "-inf",
                                  " (counting from 0); clustering needs finite values"));
}

}  // namespace emb
