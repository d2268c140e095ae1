// StoreWriter: atomic changes to an embclust file, and embeddings streamed into a
// partial file that a stopped run can resume.
#include "io/store.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <limits>

#include "host/core/error.hpp"
#include "io/h5.hpp"
#include "io/store_internal.hpp"

#ifndef EMBCLUST_VERSION
#define EMBCLUST_VERSION "0.0.0"
#endif

namespace emb::io {
namespace fs = std::filesystem;
using detail::absolute;
using detail::check_clustering_name;
using detail::open_embclust;
using detail::read_embeddings;

namespace {

// Copies the members of group `path` except the dropped paths. A member with a
// dropped path below it is rebuilt member by member; any other is copied whole, so
// nothing dropped (and no space it took) reaches the new file.
void copy_except(hid_t src, hid_t dst, const std::string& path, const std::vector<std::string>& drop) {
  h5::Group group = h5::open_group(src, path);
  for (const auto& name : h5::members(group.get())) {
    const std::string child = path == "/" ? "/" + name : path + "/" + name;
    bool dropped = std::find(drop.begin(), drop.end(), child) != drop.end();
    bool below = std::any_of(drop.begin(), drop.end(), [&](const std::string& d) { return d.starts_with(child + "/"); });
    if (dropped) continue;
    if (below && !h5::is_dataset(src, child)) {
      h5::Group out = h5::create_group(dst, child);
      h5::copy_attributes(h5::open_group(src, child).get(), out.get());
      copy_except(src, dst, child, drop);
    } else {
      h5::copy_object(src, dst, child);
    }
  }
}

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// HDF5 does not fsync: without this a crash after rename could leave an empty file.
void sync_path(const std::string& path, bool directory) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | (directory ? O_DIRECTORY : 0));
  int rc = fd < 0 ? -1 : ::fsync(fd);
  int err = errno;
  if (fd >= 0) ::close(fd);
  // Some file systems cannot sync a directory (EINVAL); there is nothing more to do there.
  if (rc != 0 && !(directory && err == EINVAL))
    throw RuntimeError("could not sync " + path + " to disk: " + std::strerror(err));
}

// Picks `<path>.tmp-<pid>-<n>` not yet taken, so concurrent writers never collide.
std::string temp_name(const std::string& path) {
  static std::atomic<unsigned> counter{0};
  std::error_code ec;
  std::string name;
  do {
    name = path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  } while (fs::exists(name, ec));
  return name;
}

// Deletes the temporary file unless it has been renamed into place.
struct TempFile {
  std::string path;
  bool keep = false;
  ~TempFile() {
    std::error_code ec;
    if (!keep && !path.empty()) fs::remove(path, ec);
  }
};

// 1-D float64 datasets, which the h5 layer does not offer: written and read here
// with the same error sentences.
void write_doubles(hid_t loc, const std::string& path, const std::vector<double>& v) {
  const hsize_t dims[1] = {v.size()};
  h5::Space space(H5Screate_simple(1, dims, nullptr));
  if (!space) h5::fail(loc, path, "create the dataspace of");
  h5::Dataset d(H5Dcreate2(loc, path.c_str(), H5T_IEEE_F64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  if (!d) h5::fail(loc, path, "create dataset");
  if (!v.empty() && H5Dwrite(d.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()) < 0)
    h5::fail(loc, path, "write dataset");
}

}  // namespace

namespace {
// The attributes sit on the dataset: a matrix read alone still says what it is.
void write_embedding_attributes(hid_t dataset, const EmbeddingSet& e) {
  hid_t d = dataset;
  h5::set_string_attr(d, "model", e.model);
  h5::set_int_attr(d, "dim", e.dim);
  h5::set_bool_attr(d, "normalized", e.normalized);
  if (e.max_seq_length > 0) {
    h5::set_int_attr(d, "tokens", e.tokens);
    h5::set_int_attr(d, "truncated", e.truncated);
    h5::set_int_attr(d, "max_seq_length", e.max_seq_length);
    h5::set_string_attr(d, "prompt", e.prompt);
    h5::set_string_attr(d, "long_text", e.long_text);
  }
  if (!e.device.empty()) h5::set_string_attr(d, "device", e.device);
  if (e.seconds > 0) h5::set_double_attr(d, "seconds", e.seconds);
}
}  // namespace

// ---- StoreWriter -----------------------------------------------------------

struct StoreWriter::Impl {
  std::string path;
  std::string command;
  TempFile temp;  // declared before `file`: the file closes before the temp is removed
  h5::File file;
  PartialMode mode = PartialMode::None;
  bool resumed = false;
  std::string note;
  // Streamed embeddings: rows per chunk, and which chunks are stored.
  int64_t n = 0, dim = 0, chunk_rows = 0;
  std::vector<bool> done;
  std::vector<double> progress;  // chunks x kProgressCols, as in the file

  hid_t f() const {
    EMB_EXPECTS(file, "the change to ", path, " has already been committed or abandoned");
    return file.get();
  }
  size_t rows(const std::string& dataset) const {
    return h5::exists(f(), dataset) ? static_cast<size_t>(h5::shape(f(), dataset).at(0)) : 0;
  }
};

namespace {
// /embeddings/progress of a streamed file: one row per chunk.
constexpr int64_t kProgressCols = 5;  // stored (0/1), tokens, truncated, chunked, seconds
const char* const kProgress = "/embeddings/progress";

// Whether a leftover partial file can be continued: it opens, and its embeddings were
// begun (the copy before them may not have finished). Otherwise `why` says why not.
h5::File open_partial(const std::string& partial, std::string* why) {
  try {
    if (!h5::is_hdf5(partial)) {
      *why = partial + " is not an HDF5 file";
      return {};
    }
    h5::File f = h5::open_file_rw(partial);
    bool begun = h5::exists(f.get(), kProgress) && h5::exists(f.get(), "/embeddings/vectors");
    if (begun) {
      h5::Dataset d = h5::open_dataset(f.get(), "/embeddings/vectors");
      begun = h5::has_attr(d.get(), "resume_key");
    }
    if (!begun) {
      *why = partial + " stopped before its first chunk of embeddings";
      return {};
    }
    return f;
  } catch (const Error& e) {
    *why = e.what();
    return {};
  }
}
}  // namespace

namespace {
// Whether another open file description holds a lock on the file, as HDF5 takes one
// (flock) for as long as it has a file open for writing.
bool locked_by_another(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool locked = ::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  ::close(fd);
  return locked;
}
}  // namespace

std::string StoreWriter::partial_path(const std::string& path) { return path + ".partial"; }

StoreWriter::StoreWriter(const std::string& path, const std::vector<std::string>& drop, const std::string& command,
                         PartialMode mode)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.path = path;
  m.command = command;
  m.mode = mode;
  std::error_code ec;
  if (mode != PartialMode::None) {
    const std::string partial = partial_path(path);
    if (fs::exists(partial, ec)) {
      EMB_EXPECTS(!locked_by_another(partial), partial, " is being written by another run (of embclust or of ",
                  "anything else holding it open); wait for it to finish or write elsewhere");
      if (mode == PartialMode::Resume) {
        m.file = open_partial(partial, &m.note);
        if (m.file) {
          m.temp.path = partial;
          m.temp.keep = true;
          m.resumed = true;
          return;
        }
        m.note = "nothing to resume (" + m.note + "); starting afresh";
      } else {
        m.note = "replacing " + partial + ", left by an unfinished run (--resume continues one)";
      }
      fs::remove(partial, ec);
    } else if (mode == PartialMode::Resume) {
      m.note = "nothing to resume (there is no " + partial + "); starting afresh";
    }
  }
  h5::File old;
  if (fs::exists(path, ec)) old = open_embclust(path);

  std::string temp = mode == PartialMode::None ? temp_name(path) : partial_path(path);
  m.file = h5::create_file(temp);
  m.temp.path = temp;  // only now is the file ours to delete

  if (!old) return;
  std::vector<std::string> dropped;
  for (const auto& d : drop) dropped.push_back(absolute(d));
  if (std::find(dropped.begin(), dropped.end(), "/") != dropped.end()) return;
  h5::Group src_root = h5::open_group(old.get(), "/");
  h5::Group dst_root = h5::open_group(m.file.get(), "/");
  h5::copy_attributes(src_root.get(), dst_root.get());
  copy_except(old.get(), m.file.get(), "/", dropped);
}

StoreWriter::~StoreWriter() {
  // A partial file holding stored chunks stays for --resume; one holding none goes.
  if (impl_ && impl_->mode != PartialMode::None && impl_->file && !impl_->temp.path.empty())
    impl_->temp.keep = chunks_stored() > 0 || impl_->resumed;
}

bool StoreWriter::resumed() const { return impl_->resumed; }
const std::string& StoreWriter::note() const { return impl_->note; }

nlohmann::json StoreWriter::resume_key() const {
  if (!impl_->resumed) return nlohmann::json::object();
  h5::Dataset d = h5::open_dataset(impl_->f(), "/embeddings/vectors");
  nlohmann::json key = nlohmann::json::parse(h5::string_attr(d.get(), "resume_key"), nullptr, false);
  return key.is_object() ? key : nlohmann::json::object();
}

std::vector<bool> StoreWriter::begin_embeddings(int64_t n, int64_t dim, int64_t chunk_rows,
                                                const nlohmann::json& key) {
  Impl& m = *impl_;
  hid_t f = m.f();
  EMB_EXPECTS(m.mode != PartialMode::None, "cannot stream embeddings into ", m.path, " without a partial file");
  EMB_EXPECTS(n >= 0 && dim > 0 && chunk_rows > 0, "cannot write embeddings: ", n, " x ", dim, " in chunks of ",
              chunk_rows);
  m.n = n;
  m.dim = dim;
  m.chunk_rows = chunk_rows;
  const int64_t chunks = (n + chunk_rows - 1) / chunk_rows;
  if (m.resumed) {
    h5::Dataset d = h5::open_dataset(f, "/embeddings/vectors");
    const nlohmann::json was = nlohmann::json::parse(h5::string_attr(d.get(), "resume_key"), nullptr, false);
    for (const auto& [k, v] : key.items()) {
      const bool same = was.is_object() && was.contains(k) && was[k] == v;
      EMB_EXPECTS(same, "cannot resume ", m.temp.path, ": it was started with ", k, " ",
                  was.is_object() && was.contains(k) ? was[k].dump() : std::string("unset"), ", and this run has ",
                  v.dump(), "; run without --resume to start afresh");
    }
    const std::vector<hsize_t> shape = h5::shape(f, "/embeddings/vectors");
    int64_t rows = 0, cols = 0;
    m.progress = h5::read_doubles(f, kProgress, &rows, &cols);
    EMB_EXPECTS(shape.size() == 2 && static_cast<int64_t>(shape[0]) == n && static_cast<int64_t>(shape[1]) == dim &&
                    rows == chunks && cols == kProgressCols,
                "cannot resume ", m.temp.path, ": its embeddings are not ", n, " x ", dim, " in ", chunks,
                " chunks; run without --resume to start afresh");
    m.done.assign(static_cast<size_t>(chunks), false);
    for (int64_t c = 0; c < chunks; ++c) m.done[static_cast<size_t>(c)] = m.progress[c * kProgressCols] == 1.0;
    return m.done;
  }
  if (h5::exists(f, "/segments/text")) {
    const size_t segments = m.rows("/segments/text");
    EMB_EXPECTS(static_cast<size_t>(n) == segments, "cannot write embeddings: ", n, " vectors for ", segments,
                " segments");
  }
  h5::remove(f, "/embeddings");
  h5::create_group(f, "/embeddings");
  h5::create_rows_matrix(f, "/embeddings/vectors", n, dim, false);
  {
    h5::Dataset d = h5::open_dataset(f, "/embeddings/vectors");
    h5::set_string_attr(d.get(), "resume_key", key.dump());
  }
  h5::create_rows_matrix(f, kProgress, chunks, kProgressCols, true);
  m.progress.assign(static_cast<size_t>(chunks * kProgressCols), 0.0);
  if (chunks > 0) h5::write_rows(f, kProgress, 0, chunks, m.progress.data());
  // From here on only raw rows are written until finish_embeddings(): a run killed at
  // any moment leaves a file that opens, with its stored chunks intact.
  h5::flush(f);
  sync_path(m.temp.path, false);
  m.done.assign(static_cast<size_t>(chunks), false);
  return m.done;
}

void StoreWriter::write_embedding_chunk(int64_t chunk, const float* rows, const ChunkCounts& counts) {
  Impl& m = *impl_;
  hid_t f = m.f();
  const int64_t chunks = static_cast<int64_t>(m.done.size());
  EMB_EXPECTS(chunk >= 0 && chunk < chunks, "cannot write chunk ", chunk, " of ", chunks);
  const int64_t first = chunk * m.chunk_rows;
  h5::write_rows(f, "/embeddings/vectors", first, std::min(m.chunk_rows, m.n - first), rows);
  // The rows reach the disk before the mark that says they are there.
  h5::flush(f);
  sync_path(m.temp.path, false);
  double* p = m.progress.data() + chunk * kProgressCols;
  p[0] = 1.0;
  p[1] = static_cast<double>(counts.tokens);
  p[2] = static_cast<double>(counts.truncated);
  p[3] = static_cast<double>(counts.chunked);
  p[4] = counts.seconds;
  h5::write_rows(f, kProgress, chunk, 1, p);
  h5::flush(f);
  m.done[static_cast<size_t>(chunk)] = true;
  testing::chunk_stored();
}

int64_t StoreWriter::chunks_stored() const {
  return std::count(impl_->done.begin(), impl_->done.end(), true);
}

ChunkCounts StoreWriter::embedding_counts() const {
  const Impl& m = *impl_;
  ChunkCounts c;
  for (size_t i = 0; i < m.done.size(); ++i) {
    const double* p = m.progress.data() + i * kProgressCols;
    if (p[0] != 1.0) continue;
    c.tokens += static_cast<int64_t>(p[1]);
    c.truncated += static_cast<int64_t>(p[2]);
    c.chunked += static_cast<int64_t>(p[3]);
    c.seconds += p[4];
  }
  return c;
}

void StoreWriter::finish_embeddings(const EmbeddingSet& e) {
  Impl& m = *impl_;
  hid_t f = m.f();
  const auto missing = std::count(m.done.begin(), m.done.end(), false);
  EMB_EXPECTS(missing == 0, "cannot finish the embeddings of ", m.path, ": ", missing, " of ", m.done.size(),
              " chunks are missing");
  EMB_EXPECTS(e.n == m.n && e.dim == m.dim, "cannot finish the embeddings of ", m.path, ": they are ", m.n, " x ",
              m.dim, ", not ", e.n, " x ", e.dim);
  h5::remove(f, kProgress);
  h5::Dataset d = h5::open_dataset(f, "/embeddings/vectors");
  write_embedding_attributes(d.get(), e);
  H5Adelete(d.get(), "resume_key");
}

EmbeddingSet StoreWriter::embeddings() const { return read_embeddings(impl_->f(), impl_->temp.path); }

bool StoreWriter::exists(const std::string& h5path) const { return h5::exists(impl_->f(), absolute(h5path)); }

void StoreWriter::write_documents(const DocumentTable& d) {
  hid_t f = impl_->f();
  EMB_EXPECTS(d.path.size() == d.id.size(), "cannot write documents: ", d.path.size(), " paths but ", d.id.size(),
              " ids");
  h5::remove(f, "/documents");
  h5::create_group(f, "/documents");
  h5::write_strings(f, "/documents/path", d.path);
  h5::write_strings(f, "/documents/id", d.id);
}

void StoreWriter::write_segments(const SegmentTable& s) {
  hid_t f = impl_->f();
  const size_t n = s.size();
  EMB_EXPECTS(s.document.size() == n && s.offset.size() == n && s.length.size() == n,
              "cannot write segments: the columns differ in length (text ", n, ", document ", s.document.size(),
              ", offset ", s.offset.size(), ", length ", s.length.size(), ")");
  const size_t docs = impl_->rows("/documents/path");
  for (size_t i = 0; i < n; ++i) {
    EMB_EXPECTS(s.document[i] >= 0 && (docs == 0 || static_cast<size_t>(s.document[i]) < docs),
                "cannot write segments: segment ", i, " refers to document ", s.document[i], " of ", docs);
    EMB_EXPECTS(s.offset[i] >= 0 && s.length[i] >= 0, "cannot write segments: segment ", i,
                " has a negative offset or length");
  }
  h5::remove(f, "/segments");
  h5::create_group(f, "/segments");
  h5::write_strings(f, "/segments/text", s.text);
  h5::write_vector(f, "/segments/document", std::span<const int32_t>(s.document));
  h5::write_vector(f, "/segments/offset", std::span<const int64_t>(s.offset));
  h5::write_vector(f, "/segments/length", std::span<const int32_t>(s.length));
}

void StoreWriter::write_embeddings(const EmbeddingSet& e) {
  hid_t f = impl_->f();
  EMB_EXPECTS(e.dim > 0 && e.n >= 0 && e.vectors.size() == static_cast<size_t>(e.n * e.dim),
              "cannot write embeddings: ", e.vectors.size(), " values do not make ", e.n, " vectors of dimension ",
              e.dim);
  if (h5::exists(f, "/segments/text")) {
    const size_t segments = impl_->rows("/segments/text");
    EMB_EXPECTS(static_cast<size_t>(e.n) == segments, "cannot write embeddings: ", e.n, " vectors for ", segments,
                " segments");
  }
  h5::remove(f, "/embeddings");
  h5::create_group(f, "/embeddings");
  h5::write_matrix(f, "/embeddings/vectors", e.vectors.data(), e.n, e.dim);
  h5::Dataset d = h5::open_dataset(f, "/embeddings/vectors");
  write_embedding_attributes(d.get(), e);
}


namespace {
void write_density(hid_t f, const std::string& group, const Clustering& c, const std::string& why) {
  const DensityClustering& d = *c.density;
  const size_t n = c.labels.size(), k = static_cast<size_t>(c.n_clusters);
  EMB_EXPECTS(d.outlier_scores.size() == n && d.core_distances.size() == n, why,
              "outlier scores and core distances need one value per label");
  EMB_EXPECTS(d.persistence.size() == k && d.selected.size() == k && d.exemplar_offsets.size() == k + 1, why,
              "persistence, selected and exemplar_offsets need one value per cluster (offsets: one more)");
  EMB_EXPECTS(d.exemplar_offsets.back() == static_cast<int64_t>(d.exemplars.size()), why,
              "the last exemplar offset is not the number of exemplars");
  const CondensedTree& t = d.condensed_tree;
  EMB_EXPECTS(t.child.size() == t.size() && t.lambda_val.size() == t.size() && t.child_size.size() == t.size(), why,
              "the condensed tree's columns differ in length");
  EMB_EXPECTS(d.single_linkage_tree.size() % 4 == 0 && d.minimum_spanning_tree.size() % 3 == 0, why,
              "the single-linkage tree needs 4 columns and the spanning tree 3");
  h5::write_vector(f, group + "/outlier_scores", std::span<const float>(d.outlier_scores));
  h5::write_vector(f, group + "/core_distances", std::span<const float>(d.core_distances));
  write_doubles(f, group + "/persistence", d.persistence);
  h5::write_vector(f, group + "/selected", std::span<const int64_t>(d.selected));
  h5::write_vector(f, group + "/exemplars", std::span<const int32_t>(d.exemplars));
  h5::write_vector(f, group + "/exemplar_offsets", std::span<const int64_t>(d.exemplar_offsets));
  h5::write_table(f, group + "/condensed_tree", static_cast<int64_t>(t.size()),
                  {{"parent", t.parent.data(), nullptr},
                   {"child", t.child.data(), nullptr},
                   {"lambda_val", nullptr, t.lambda_val.data()},
                   {"child_size", t.child_size.data(), nullptr}});
  h5::write_double_matrix(f, group + "/single_linkage_tree", d.single_linkage_tree.data(),
                          static_cast<int64_t>(d.single_linkage_tree.size() / 4), 4);
  h5::write_double_matrix(f, group + "/minimum_spanning_tree", d.minimum_spanning_tree.data(),
                          static_cast<int64_t>(d.minimum_spanning_tree.size() / 3), 3);
  EMB_EXPECTS(d.prediction_core_distances.size() == n, why, "prediction core distances need one value per label");
  h5::write_vector(f, group + "/prediction_core_distances", std::span<const float>(d.prediction_core_distances));
}

void write_reduction(hid_t f, const std::string& group, const Reduction& r, const std::string& why) {
  const size_t d = r.mean.size(), m = static_cast<size_t>(r.dim);
  EMB_EXPECTS(d > 0 && r.components.size() == m * d && r.explained_variance_ratio.size() == m &&
                  r.explained_variance.size() == m,
              why, "the reduction's mean, components and explained variance do not match");
  const std::string g = group + "/reduction";
  h5::Group rg = h5::create_group(f, g);
  h5::set_string_attr(rg.get(), "method", r.method);
  h5::write_vector(f, g + "/mean", std::span<const float>(r.mean));
  h5::write_matrix(f, g + "/components", r.components.data(), r.dim, static_cast<int64_t>(d));
  write_doubles(f, g + "/explained_variance", r.explained_variance);
  write_doubles(f, g + "/explained_variance_ratio", r.explained_variance_ratio);
}
}  // namespace

void StoreWriter::write_clustering(const Clustering& c) {
  hid_t f = impl_->f();
  check_clustering_name(c.name);
  const std::string why = "cannot write clustering " + c.name + ": ";
  EMB_EXPECTS(!c.labels.empty(), why, "it has no labels");
  EMB_EXPECTS(c.n_clusters >= 0 && c.centroid_dim >= 0, why, "negative n_clusters or centroid_dim");
  for (size_t i = 0; i < c.labels.size(); ++i)
    EMB_EXPECTS(c.labels[i] >= -1 && c.labels[i] < c.n_clusters, why, "label ", c.labels[i], " of segment ", i,
                " is outside [-1, ", c.n_clusters, ")");
  EMB_EXPECTS(c.centroids.size() == static_cast<size_t>(c.n_clusters * c.centroid_dim), why, c.centroids.size(),
              " centroid values for ", c.n_clusters, " x ", c.centroid_dim);
  if (h5::exists(f, "/embeddings/vectors")) {
    const size_t vectors = impl_->rows("/embeddings/vectors");
    EMB_EXPECTS(c.labels.size() == vectors, why, c.labels.size(), " labels for ", vectors, " embeddings");
  }
  EMB_EXPECTS(c.scan_inertia.size() == c.scan_k.size() && c.scan_silhouette.size() == c.scan_k.size(), why,
              "the scan has ", c.scan_k.size(), " values of k, ", c.scan_inertia.size(), " inertias and ",
              c.scan_silhouette.size(), " silhouettes");
  std::string params;
  try {
    params = c.params.dump();
  } catch (const nlohmann::json::exception& e) {
    throw InputError(why + "its parameters cannot be written as JSON: " + e.what());
  }
  const std::string group = "/clusters/" + c.name;
  h5::remove(f, group);
  h5::Group g = h5::create_group(f, group);
  h5::write_vector(f, group + "/labels", std::span<const int32_t>(c.labels));
  if (!c.centroids.empty()) h5::write_matrix(f, group + "/centroids", c.centroids.data(), c.n_clusters, c.centroid_dim);
  if (!c.scan_k.empty()) {
    h5::write_vector(f, group + "/scan_k", std::span<const int32_t>(c.scan_k));
    write_doubles(f, group + "/scan_inertia", c.scan_inertia);
    write_doubles(f, group + "/scan_silhouette", c.scan_silhouette);
  }
  if (!c.probabilities.empty()) {
    EMB_EXPECTS(c.probabilities.size() == c.labels.size(), why, "probabilities need one value per label");
    h5::write_vector(f, group + "/probabilities", std::span<const float>(c.probabilities));
  }
  if (c.density) write_density(f, group, c, why);
  if (c.reduction) write_reduction(f, group, *c.reduction, why);
  h5::set_string_attr(g.get(), "method", c.method);
  h5::set_string_attr(g.get(), "params", params);
  h5::set_double_attr(g.get(), "inertia", c.inertia);
  h5::set_int_attr(g.get(), "n_clusters", c.n_clusters);
  h5::set_double_attr(g.get(), "seconds", c.seconds);
}

void StoreWriter::commit() {
  Impl& m = *impl_;
  hid_t f = m.f();
  EMB_EXPECTS(!h5::exists(f, kProgress), "cannot commit ", m.path, ": its streamed embeddings were not finished");
  try {
    {
      h5::Group root = h5::open_group(f, "/");
      h5::set_int_attr(root.get(), "schema_version", kSchemaVersion);
      h5::set_string_attr(root.get(), "embclust_version", EMBCLUST_VERSION);
      h5::set_string_attr(root.get(), "created", utc_now());
      h5::set_string_attr(root.get(), "command", m.command);
    }
    if (H5Fflush(f, H5F_SCOPE_GLOBAL) < 0) h5::fail(m.temp.path, "", "flush");
    if (m.file.close() < 0) h5::fail(m.temp.path, "", "close");
    sync_path(m.temp.path, false);
    if (std::rename(m.temp.path.c_str(), m.path.c_str()) != 0)
      throw RuntimeError("could not rename " + m.temp.path + " to " + m.path + ": " + std::strerror(errno));
  } catch (...) {
    m.file.close();
    std::error_code ec;
    fs::remove(m.temp.path, ec);
    throw;
  }
  m.temp.keep = true;
  std::string dir = fs::path(m.path).parent_path().string();
  sync_path(dir.empty() ? "." : dir, true);
}

const std::string& StoreWriter::temp_path() const { return impl_->temp.path; }

namespace testing {
void fail_after_writes(int n) { h5::set_write_budget(n); }

void chunk_stored() {
  static std::atomic<long> left{[] {
    const char* env = std::getenv("EMBCLUST_KILL_AFTER_CHUNKS");
    if (!env || !*env) return -1L;
    char* end = nullptr;
    const long n = std::strtol(env, &end, 10);
    return *end == '\0' && n > 0 ? n : -1L;
  }()};
  if (left.load() > 0 && --left == 0) std::raise(SIGKILL);
}
}  // namespace testing

}  // namespace emb::io
