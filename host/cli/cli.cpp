#include "host/cli/cli.hpp"

#include <CLI/CLI.hpp>

#include <unistd.h>

#include <charconv>
#include <csignal>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <limits>
#include <string>
#include <vector>

#include "host/backend/backend.hpp"
#include "host/cli/info.hpp"
#include "host/cli/models.hpp"
#include "host/core/error.hpp"
#include "host/embed/transformer_embedder.hpp"
#include "host/pipeline/stages.hpp"
#include "io/store.hpp"

namespace emb {
namespace {

// Every option of every stage, filled by CLI11 from the command line and --config.
struct Settings {
  std::vector<std::string> inputs;
  std::string output;
  std::string file;
  std::string device = "auto";
  int threads = 0;
  uint64_t seed = 0;
  bool quiet = false;
  std::string invalid_utf8 = "error";
  std::string precision = "fp16";
  bool resume = false;
  int64_t chunk_rows = 0;
  SegmentOptions segment;
  EmbedOptions embed;
  ClusterStageOptions cluster;
  std::string k = "8";  ///< a whole number, or "auto"; see parse_k
  PredictStageOptions predict;
  int examples = 3;
};

std::string shell_quote(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+") ==
                        std::string::npos)
    return s;
  std::string q = "'";
  for (char c : s) q += (c == '\'') ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string command_line(int argc, char** argv) {
  std::string s;
  for (int i = 0; i < argc; ++i) s += (i ? " " : "") + shell_quote(argv[i]);
  return s;
}

// Ctrl-C or a kill while embeddings stream into a partial file: say where the
// finished chunks are, then die of the signal as usual (the file stays as it is).
char g_interrupt_note[1024];
volatile std::sig_atomic_t g_interrupt_len = 0;

extern "C" void on_interrupt(int sig) {
  if (g_interrupt_len > 0) {
    const ssize_t w = ::write(2, g_interrupt_note, static_cast<size_t>(g_interrupt_len));
    (void)w;
  }
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

void arm_interrupt(const std::string& note) {
  const size_t len = std::min(note.size(), sizeof g_interrupt_note);
  std::memcpy(g_interrupt_note, note.data(), len);
  g_interrupt_len = static_cast<std::sig_atomic_t>(len);
  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);
}

void disarm_interrupt() {
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  g_interrupt_len = 0;
}

// Where a stopped run's chunks are; `which` is "the" or "the N".
std::string resume_hint(const std::string& partial, const std::string& which) {
  return which + " chunks of embeddings finished so far are in " + partial +
         ": the same command with --resume continues from there";
}

// The stages on in-memory tables; the subcommands load what they start from and
// save what they produce, each save one atomic StoreWriter change.
class Runner {
 public:
  Runner(const Settings& s, std::string command) : s_(s), command_(std::move(command)) {}

  void segment() {
    SegmentStageOptions so;
    so.read.invalid_utf8 = s_.invalid_utf8 == "replace" ? io::InvalidUtf8::Replace : io::InvalidUtf8::Error;
    so.segment = s_.segment;
    seg_ = run_segment(s_.inputs, so, report());
    have_segments_ = true;
  }
  void load_segments(const std::string& file) { seg_.segments = io::StoreReader(file).segments(); }

  /// Loads the model and checks it, before any other work.
  void prepare_embedder() {
    EmbedOptions eo = s_.embed;
    eo.progress = !s_.quiet;
    eo.seed = s_.seed;
    embedder_ = make_embedder(eo);
  }
  /// Embeds the segments into `file`'s partial file, chunk by chunk (--resume
  /// continues one an earlier run left); save() commits it. With `keep`, the vectors
  /// are read back for the clustering that follows.
  void embed(const std::string& file, bool keep) {
    if (!embedder_) prepare_embedder();
    std::vector<std::string> drop = {"/embeddings", "/clusters"};
    if (have_segments_) drop = {"/documents", "/segments", "/embeddings", "/clusters"};
    writer_ = std::make_unique<io::StoreWriter>(file, drop, command_,
                                                s_.resume ? io::PartialMode::Resume : io::PartialMode::Fresh);
    if (!writer_->note().empty()) say(writer_->note());
    if (have_segments_ && !writer_->resumed()) {
      writer_->write_documents(seg_.documents);
      writer_->write_segments(seg_.segments);
    }
    partial_ = writer_->temp_path();
    arm_interrupt("embclust: interrupted; " + resume_hint(partial_, "the") + "\n");
    EmbedStageOptions eo;
    eo.chunk_rows = s_.chunk_rows;
    eo.key = embed_key();
    run_embed(seg_.segments, *embedder_, backend(), *writer_, eo, report());
    if (keep) emb_ = writer_->embeddings();
  }
  /// After a failure: where the finished chunks are, when there are any.
  std::string partial_hint() const {
    if (!writer_ || writer_->chunks_stored() == 0) return "";
    return resume_hint(partial_, "the " + std::to_string(writer_->chunks_stored()));
  }
  void load_embeddings(const std::string& file) {
    emb_ = io::StoreReader(file).embeddings();
    check_finite_points(emb_, file + ":/embeddings/vectors");
  }
  /// --input: a 2-D float dataset of any HDF5 file instead of the /embeddings of
  /// `file`, which keeps the labels (and is created when missing); checked against
  /// its row count before any work.
  void load_input(const std::string& file, const std::string& spec) {
    const std::optional<DatasetRef> ref = parse_dataset_ref(spec);
    EMB_USAGE(ref, "--input must name a dataset as FILE.h5:/path, got '", spec, "'");
    emb_ = read_dataset(*ref);
    std::error_code ec;
    if (!std::filesystem::exists(file, ec)) return;  // a new file holds only the clustering
    const io::StoreReader target(file);
    if (target.has_embeddings()) {
      const int64_t rows = target.embeddings().n;
      EMB_EXPECTS(emb_.n == rows, "--input ", spec, " has ", emb_.n, " rows but ", file, " has ", rows,
                  " embeddings, and a clustering stores one label per embedding");
    } else if (target.has_segments()) {
      const auto rows = static_cast<int64_t>(target.segments().size());
      EMB_EXPECTS(emb_.n == rows, "--input ", spec, " has ", emb_.n, " rows but ", file, " has ", rows,
                  " segments, and a clustering stores one label per segment");
    }
  }

  void predict() {
    PredictStageOptions po = s_.predict;
    po.out_name = s_.cluster.name;
    clustering_ = run_predict(emb_, po, backend(), report());
  }

  void cluster() {
    ClusterStageOptions co = s_.cluster;
    co.seed = s_.seed;
    co.progress = !s_.quiet;
    clustering_ = run_cluster(emb_, co, backend(), report());
  }

  /// The backend, created on first use (a missing GPU fails here, before any work).
  Backend& backend() {
    if (!backend_) {
      std::string notice;
      backend_ = make_backend({parse_device(s_.device), s_.threads, parse_precision(s_.precision)}, &notice);
      say(notice);
    }
    return *backend_;
  }

  /// Writes what this run produced; groups downstream of a new one are stale and dropped.
  void save(const std::string& file) {
    if (!writer_) {
      std::vector<std::string> drop;
      if (have_segments_) drop = {"/documents", "/segments", "/embeddings", "/clusters"};
      else if (clustering_) drop = {"/clusters/" + clustering_->name};
      writer_ = std::make_unique<io::StoreWriter>(file, drop, command_);
      if (have_segments_) {
        writer_->write_documents(seg_.documents);
        writer_->write_segments(seg_.segments);
      }
    }
    if (clustering_) writer_->write_clustering(*clustering_);
    writer_->commit();
    disarm_interrupt();
    say("wrote " + file + (clustering_ ? " (clustering '" + clustering_->name + "')" : ""));
  }

 private:
  Report report() const {
    return [this](const std::string& line) { say(line); };
  }
  // The settings that decide the vectors, beyond what the embedding stage adds.
  nlohmann::json embed_key() const {
    const EmbedOptions& e = s_.embed;
    nlohmann::json k = {{"model", e.model}, {"prompt", e.prompt}, {"max_seq_length", e.max_seq_length},
                        {"long_text", e.long_text}};
    if (e.model == "hashing") k["dim"] = e.dim;
    if (e.model.rfind("random:", 0) == 0) k["seed"] = s_.seed;
    return k;
  }
  void say(const std::string& line) const {
    if (!s_.quiet) std::fprintf(stderr, "embclust: %s\n", line.c_str());
  }

  const Settings& s_;
  std::string command_;
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<Embedder> embedder_;
  SegmentStageResult seg_;
  io::EmbeddingSet emb_;
  std::optional<io::Clustering> clustering_;
  std::unique_ptr<io::StoreWriter> writer_;  // the change being built, once one is begun
  std::string partial_;
  bool have_segments_ = false;
};

void add_options(CLI::App& app, Settings& s) {
  app.set_config("--config", "", "Read options from a TOML file (keys are the long option names)");
  app.add_option("--device", s.device, "Where to compute: auto (a GPU when present), cpu or cuda")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}))->capture_default_str();
  app.add_option("--threads", s.threads, "CPU threads (0 = all cores)")->check(CLI::NonNegativeNumber);
  app.add_option("--seed", s.seed, "Random seed")->capture_default_str();
  app.add_flag("-q,--quiet", s.quiet, "Print only errors");

  const char* seg = "Segmenting";
  app.add_option("--min-chars", s.segment.min_chars, "Drop sentences shorter than this (code points)")
      ->group(seg)->capture_default_str();
  app.add_option("--max-chars", s.segment.max_chars, "Split sentences longer than this (code points)")
      ->group(seg)->capture_default_str();
  app.add_option("--invalid-utf8", s.invalid_utf8, "Invalid UTF-8 in an input: error, or replace with U+FFFD")
      ->check(CLI::IsMember({"error", "replace"}))->group(seg)->capture_default_str();

  const char* em = "Embedding";
  app.add_option("--model", s.embed.model,
                 "Embedding model: hashing, a model NAME installed in the models folder (see 'embclust models'), "
                 "a model folder, or random:ARCH")
      ->group(em)
      ->capture_default_str();
  app.add_option("--dim", s.embed.dim, "Output dimension of the hashing model")->group(em)->capture_default_str();
  app.add_option("--long-text", s.embed.long_text,
                 "Sentences longer than the model's max_seq_length: truncate (and count them) or chunk "
                 "(overlapping windows averaged by tokens)")
      ->group(em)
      ->capture_default_str();
  app.add_option("--prompt", s.embed.prompt,
                 "Prompt put before every sentence: a prompt name from the model's config (e5: query, passage), "
                 "or none; default: the model's default prompt")
      ->group(em);
  app.add_option("--max-seq-length", s.embed.max_seq_length,
                 "Tokens per sentence, special tokens included (default: the model's)")
      ->group(em);
  app.add_option("--batch-tokens", s.embed.batch_tokens,
                 "Tokens per encoder batch (default 8192 on the CPU, 65536 on a GPU; halved while the GPU runs "
                 "out of memory)")
      ->group(em);
  app.add_option("--precision", s.precision,
                 "GPU encoder GEMM operands: fp16 (fast; float32 accumulation) or fp32 (for checking: "
                 "batch-invariant bit for bit); the CPU always computes in fp32")
      ->check(CLI::IsMember({"fp16", "fp32"}))->group(em)->capture_default_str();
  app.add_option("--chunk-rows", s.chunk_rows,
                 "Segments per chunk: embeddings are saved chunk by chunk to OUT.h5.partial, which becomes OUT.h5 "
                 "when complete (default: 8192 on the CPU, about 64 MiB of vectors on a GPU; --resume keeps the "
                 "file's)")
      ->check(CLI::PositiveNumber)->group(em);
  app.add_flag("--resume", s.resume,
               "Continue the OUT.h5.partial an interrupted run of the same command left: its finished chunks are "
               "not embedded again")
      ->group(em);

  const char* cl = "Clustering";
  app.add_option("--method", s.cluster.method, "Clustering method: kmeans or hdbscan")
      ->check(CLI::IsMember({"kmeans", "hdbscan"}))->group(cl)->capture_default_str();
  app.add_option("--name", s.cluster.name, "Name of the clustering in the file (default: the method)")->group(cl);
  app.add_option("--k", s.k, "Number of clusters, or auto: scan --k-min..--k-max and keep the best silhouette")
      ->group(cl)->capture_default_str();
  app.add_option("--k-min", s.cluster.k_min, "Smallest k of --k auto (at least 2)")->group(cl)->capture_default_str();
  app.add_option("--k-max", s.cluster.k_max, "Largest k of --k auto")->group(cl)->capture_default_str();
  app.add_option("--silhouette-sample", s.cluster.silhouette_sample,
                 "Points the silhouette of each k is computed on (--k auto; all points when fewer)")
      ->group(cl)->capture_default_str();
  app.add_option("--n-init", s.cluster.n_init, "k-means restarts; the best is kept")->group(cl)->capture_default_str();
  app.add_option("--max-iter", s.cluster.max_iter, "Most Lloyd iterations per restart")->group(cl)->capture_default_str();
  app.add_option("--tol", s.cluster.tol, "Stop when inertia changes by less than this, relatively")
      ->group(cl)->capture_default_str();
  app.add_flag("!--no-bounds", s.cluster.bounds,
               "k-means on the CPU: search every row in every Lloyd iteration instead of skipping rows whose "
               "centre provably stays nearest (the same result, slower once the centres settle)")
      ->group(cl);
  app.add_option("--tol-shift", s.cluster.tol_shift,
                 "Also stop when no centre moves (squared) more than this times the mean squared centre "
                 "norm (0 = off)")
      ->check(CLI::NonNegativeNumber)->group(cl)->capture_default_str();
  app.add_option("--metric", s.cluster.metric,
                 "Distance: l2, or cosine (k-means: spherical, on unit-length rows, inertia sums 2 - 2 cos; "
                 "hdbscan: 1 - cos)")
      ->check(CLI::IsMember({"l2", "cosine"}))->group(cl)->capture_default_str();
  app.add_option("--init", s.cluster.init,
                 "Starting centres: k-means++, k-means|| (a few passes over the points, for large n), random "
                 "(k distinct rows), or FILE.h5:/dataset (k x d float, in any HDF5 file; one run)")
      ->group(cl)->capture_default_str();
  app.add_option("--batch-size", s.cluster.batch_size,
                 "Mini-batch k-means with batches of this many points (0 = full Lloyd iterations)")
      ->check(CLI::NonNegativeNumber)->group(cl)->capture_default_str();
  app.add_option("--weights", s.cluster.weights,
                 "k-means sample weights: a 1-D dataset FILE.h5:/path with one value per point (default all 1)")
      ->group(cl);
  app.add_option("--reduce", s.cluster.reduce,
                 "pca:N: cluster the points projected on their top N principal axes (reports the variance kept)")
      ->group(cl);
  const char* hd = "HDBSCAN (--method hdbscan)";
  app.add_option("--min-cluster-size", s.cluster.min_cluster_size, "Fewest points a cluster may have (at least 2)")
      ->group(hd)->capture_default_str();
  app.add_option("--min-samples", s.cluster.min_samples,
                 "Neighbours (the point itself not counted, as in the hdbscan package) that make a point a core "
                 "point; 0 = --min-cluster-size")
      ->check(CLI::NonNegativeNumber)->group(hd)->capture_default_str();
  app.add_option("--cluster-selection", s.cluster.cluster_selection,
                 "How clusters are chosen from the tree: eom (excess of mass) or leaf")
      ->check(CLI::IsMember({"eom", "leaf"}))->group(hd)->capture_default_str();
  app.add_option("--cluster-selection-epsilon", s.cluster.cluster_selection_epsilon,
                 "Merge clusters split below this distance")
      ->check(CLI::NonNegativeNumber)->group(hd)->capture_default_str();
  app.add_option("--cluster-selection-epsilon-max", s.cluster.cluster_selection_epsilon_max,
                 "eom: never select a cluster born above this distance (default: no limit)")
      ->group(hd);
  app.add_flag("--allow-single-cluster", s.cluster.allow_single_cluster,
               "Allow the whole data set as the one cluster")
      ->group(hd);
  app.add_option("--max-cluster-size", s.cluster.max_cluster_size, "eom: split clusters larger than this (0 = no limit)")
      ->check(CLI::NonNegativeNumber)->group(hd)->capture_default_str();
  app.add_option("--mst", s.cluster.mst,
                 "Spanning tree: exact (Boruvka), knn (k-NN graph, components joined exactly; for very large n), "
                 "or auto (exact up to 200000 points)")
      ->check(CLI::IsMember({"auto", "exact", "knn"}))->group(hd)->capture_default_str();
  app.add_option("--knn", s.cluster.knn,
                 "Neighbours kept per point in the k-NN graph (0 = max(24, min-samples + 8); at least min-samples + 1)")
      ->check(CLI::NonNegativeNumber)->group(hd)->capture_default_str();
  app.add_option("--search-parts", s.cluster.search_parts,
                 "Parts of the partition that lets exact neighbour searches skip far rows (-1 = about sqrt(n) from "
                 "4096 points up, 262144 on a GPU; 0 = search all rows; the result is the same)")
      ->check(CLI::Range(int64_t{-1}, std::numeric_limits<int64_t>::max()))->group(hd)->capture_default_str();
  app.add_option("--fit", s.predict.fit, "For predict: the embclust file holding the HDBSCAN clustering")->group(hd);
  app.add_option("--clustering", s.predict.name, "For predict: the name of that clustering")
      ->group(hd)->capture_default_str();
  app.add_option("--input", s.cluster.input,
                 "For cluster and predict: the points are FILE.h5:/dataset (2-D float32/float16, in any HDF5 "
                 "file, one row per segment) instead of /embeddings")
      ->group(cl);
  app.add_option("--examples", s.examples, "Sentences shown per cluster by info")->group("Info")->capture_default_str();
}

// --k: a whole number (range checked by k-means), or auto for a scan of k.
void parse_k(const std::string& text, ClusterStageOptions& c) {
  if (text == "auto") {
    c.k_auto = true;
    return;
  }
  int k = 0;
  const char* end = text.data() + text.size();
  const auto [p, ec] = std::from_chars(text.data(), end, k);
  EMB_USAGE(!text.empty() && ec == std::errc() && p == end, "--k must be a whole number or auto, got '", text, "'");
  c.k = k;
}

int fail(const char* kind, const std::string& what, int code) {
  std::fprintf(stderr, "embclust: %s%s\n", kind, what.c_str());
  return code;
}

}  // namespace

int run_cli(int argc, char** argv) {
  Settings s;
  CLI::App app{"embclust: sentence embeddings and clusters of a text corpus, on the GPU or the CPU", "embclust"};
  app.set_version_flag("--version", EMBCLUST_VERSION);
  app.require_subcommand(1);
  add_options(app, s);
  app.footer("Options may stand before or after the subcommand; each stage uses those it needs.");

  auto* run = app.add_subcommand("run", "Segment, embed and cluster INPUT... into OUT.h5");
  run->add_option("inputs", s.inputs, "Files or folders (.txt, .md, .jsonl)")->required();
  run->add_option("-o,--output", s.output, "The HDF5 file to write")->required();
  auto* segment = app.add_subcommand("segment", "Read INPUT... and write their sentences to OUT.h5");
  segment->add_option("inputs", s.inputs, "Files or folders (.txt, .md, .jsonl)")->required();
  segment->add_option("-o,--output", s.output, "The HDF5 file to write")->required();
  auto* embed = app.add_subcommand("embed", "Embed the sentences of FILE.h5");
  embed->add_option("file", s.file, "An embclust file with /segments")->required();
  auto* cluster = app.add_subcommand("cluster", "Cluster the embeddings of FILE.h5");
  cluster->add_option("file", s.file, "An embclust file with /embeddings (or see --input)")->required();
  auto* predict = app.add_subcommand(
      "predict", "Assign the embeddings of FILE.h5 to the HDBSCAN clusters of --fit (approximate_predict)");
  predict->add_option("file", s.file, "An embclust file with /embeddings (or see --input); gets the labels")
      ->required();
  auto* info = app.add_subcommand("info", "Summarize FILE.h5");
  info->add_option("file", s.file, "An embclust file")->required();
  auto* models = app.add_subcommand("models", "List the models installed in the models folder");
  std::string export_model, export_dir;
  models->add_option("--export", export_model,
                     "Write MODEL (e.g. random:minilm-l6 with --seed) as a model folder that "
                     "sentence-transformers loads too");
  models->add_option("--to", export_dir, "The folder --export creates");
  for (auto* sub : {run, segment, embed, cluster, predict, info, models}) sub->fallthrough();

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return fail("", std::string(e.what()) + " (run 'embclust --help' for usage)", 2);
  }

  Runner r(s, command_line(argc, argv));
  // An error's sentence, then where the finished chunks of embeddings are, if any.
  auto fail_run = [&](const char* kind, const std::string& what, int code) {
    const int rc = fail(kind, what, code);
    const std::string hint = r.partial_hint();
    if (!hint.empty()) std::fprintf(stderr, "embclust: %s\n", hint.c_str());
    return rc;
  };
  try {
    EMB_USAGE(!s.resume || run->parsed() || embed->parsed(), "--resume applies only to 'embclust run' and 'embclust embed'");
    EMB_USAGE(s.cluster.input.empty() || cluster->parsed() || predict->parsed(),
              "--input applies only to 'embclust cluster' and 'embclust predict'");
    EMB_USAGE(s.predict.fit.empty() || predict->parsed(), "--fit applies only to 'embclust predict'");
    parse_k(s.k, s.cluster);
    if (run->parsed()) {
      r.backend();
      r.prepare_embedder();
      r.segment();
      r.embed(s.output, true);
      r.cluster();
      r.save(s.output);
    } else if (segment->parsed()) {
      r.segment();
      r.save(s.output);
    } else if (embed->parsed()) {
      r.backend();
      r.prepare_embedder();
      r.load_segments(s.file);
      r.embed(s.file, false);
      r.save(s.file);
    } else if (cluster->parsed()) {
      r.backend();
      if (s.cluster.input.empty()) r.load_embeddings(s.file);
      else r.load_input(s.file, s.cluster.input);
      r.cluster();
      r.save(s.file);
    } else if (predict->parsed()) {
      EMB_USAGE(!s.predict.fit.empty(), "predict needs --fit FILE.h5, the file holding the HDBSCAN clustering");
      r.backend();
      if (s.cluster.input.empty()) r.load_embeddings(s.file);
      else r.load_input(s.file, s.cluster.input);
      r.predict();
      r.save(s.file);
    } else if (info->parsed()) {
      print_info(s.file, s.examples, stdout);
    } else if (models->parsed()) {
      EMB_USAGE(export_model.empty() == export_dir.empty(), "--export and --to go together");
      if (export_model.empty()) {
        print_models(stdout);
      } else {
        export_encoder_model(load_encoder_model(export_model, s.seed), export_dir);
        if (!s.quiet) std::fprintf(stderr, "embclust: wrote %s to %s\n", export_model.c_str(), export_dir.c_str());
      }
    }
  } catch (const UsageError& e) {
    return fail_run("", e.what(), 2);
  } catch (const Error& e) {
    return fail_run("", e.what(), 1);
  } catch (const std::bad_alloc&) {
    return fail_run("", "out of memory", 1);
  } catch (const std::exception& e) {
    return fail_run("internal error: ", e.what(), 1);
  }
  return 0;
}

}  // namespace emb
