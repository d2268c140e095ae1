// StoreReader, and the readers of datasets in any HDF5 file.
#include <algorithm>
#include <filesystem>
#include <limits>

#include "host/core/error.hpp"
#include "io/h5.hpp"
#include "io/store.hpp"
#include "io/store_internal.hpp"

namespace emb::io {
namespace fs = std::filesystem;

namespace detail {

// "segments", "/segments/" -> "/segments": drop lists and lookups compare exact strings.
std::string absolute(std::string p) {
  if (!p.starts_with('/')) p.insert(0, 1, '/');
  while (p.size() > 1 && p.ends_with('/')) p.pop_back();
  return p;
}

void check_clustering_name(const std::string& name) {
  EMB_EXPECTS(!name.empty() && name.find('/') == std::string::npos && !name.starts_with('.'),
              "invalid clustering name '", name, "': it must be non-empty, without '/', and not start with '.'");
}

// Opens an existing file and checks that it is an embclust file this version reads.
h5::File open_embclust(const std::string& path) {
  std::error_code ec;
  EMB_EXPECTS(fs::exists(path, ec), "cannot read ", path, ": no such file");
  EMB_EXPECTS(h5::is_hdf5(path), path, " is not an HDF5 file");
  h5::File f = h5::open_file(path);
  h5::Group root = h5::open_group(f.get(), "/");
  EMB_EXPECTS(h5::has_attr(root.get(), "schema_version"), path,
              " is not an embclust file (it has no schema_version attribute)");
  int64_t version = h5::int_attr(root.get(), "schema_version");
  EMB_EXPECTS(version == kSchemaVersion, path, " has schema version ", version, "; this embclust reads version ",
              kSchemaVersion);
  return f;
}

}  // namespace detail

using detail::absolute;
using detail::check_clustering_name;
using detail::open_embclust;
using detail::read_embeddings;

namespace {

std::vector<double> read_doubles(hid_t loc, const std::string& path) {
  const std::vector<hsize_t> dims = h5::shape(loc, path);
  h5::Dataset d = h5::open_dataset(loc, path);
  h5::Type t(H5Dget_type(d.get()));
  if (dims.size() != 1 || H5Tget_class(t.get()) != H5T_FLOAT)
    throw InputError(path + " in " + h5::file_name(loc) + " is not a 1-D float dataset");
  std::vector<double> v(dims[0]);
  if (!v.empty() && H5Dread(d.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()) < 0)
    h5::fail(loc, path, "read dataset");
  return v;
}

}  // namespace

// ---- StoreReader -----------------------------------------------------------

struct StoreReader::Impl {
  std::string path;
  h5::File file;

  hid_t f() const { return file.get(); }
  void require(const std::string& p) const { EMB_EXPECTS(h5::exists(f(), p), path, " has no ", p); }
  [[noreturn]] void malformed(const std::string& what) const { throw InputError(path + ": " + what); }
};

StoreReader::StoreReader(const std::string& path) : impl_(std::make_unique<Impl>()) {
  impl_->path = path;
  impl_->file = open_embclust(path);
}
StoreReader::~StoreReader() = default;
StoreReader::StoreReader(StoreReader&&) noexcept = default;
StoreReader& StoreReader::operator=(StoreReader&&) noexcept = default;

const std::string& StoreReader::path() const { return impl_->path; }

FileAttributes StoreReader::attributes() const {
  h5::Group root = h5::open_group(impl_->f(), "/");
  auto str = [&](const char* name) { return h5::has_attr(root.get(), name) ? h5::string_attr(root.get(), name) : ""; };
  return {static_cast<int>(h5::int_attr(root.get(), "schema_version")), str("embclust_version"), str("created"),
          str("command")};
}

bool StoreReader::has_documents() const { return h5::exists(impl_->f(), "/documents"); }
bool StoreReader::has_segments() const { return h5::exists(impl_->f(), "/segments"); }
bool StoreReader::has_embeddings() const { return h5::exists(impl_->f(), "/embeddings"); }

DocumentTable StoreReader::documents() const {
  const Impl& m = *impl_;
  m.require("/documents/path");
  m.require("/documents/id");
  DocumentTable d{h5::read_strings(m.f(), "/documents/path"), h5::read_strings(m.f(), "/documents/id")};
  if (d.path.size() != d.id.size()) m.malformed("/documents/path and /documents/id differ in length");
  return d;
}

SegmentTable StoreReader::segments() const {
  const Impl& m = *impl_;
  for (const char* p : {"/segments/text", "/segments/document", "/segments/offset", "/segments/length"})
    m.require(p);
  SegmentTable s;
  s.text = h5::read_strings(m.f(), "/segments/text");
  s.document = h5::read_vector<int32_t>(m.f(), "/segments/document");
  s.offset = h5::read_vector<int64_t>(m.f(), "/segments/offset");
  s.length = h5::read_vector<int32_t>(m.f(), "/segments/length");
  if (s.document.size() != s.size() || s.offset.size() != s.size() || s.length.size() != s.size())
    m.malformed("the columns of /segments differ in length");
  return s;
}

namespace detail {
// /embeddings/vectors and its attributes; `where` names the file in errors.
EmbeddingSet read_embeddings(hid_t f, const std::string& where) {
  EMB_EXPECTS(h5::exists(f, "/embeddings/vectors"), where, " has no /embeddings/vectors");
  h5::FloatMatrix x = h5::read_matrix(f, "/embeddings/vectors");
  h5::Dataset d = h5::open_dataset(f, "/embeddings/vectors");
  EmbeddingSet e;
  e.vectors = std::move(x.data);
  e.n = x.rows;
  e.dim = x.cols;
  if (h5::has_attr(d.get(), "model")) e.model = h5::string_attr(d.get(), "model");
  if (h5::has_attr(d.get(), "normalized")) e.normalized = h5::bool_attr(d.get(), "normalized");
  if (h5::has_attr(d.get(), "tokens")) e.tokens = h5::int_attr(d.get(), "tokens");
  if (h5::has_attr(d.get(), "truncated")) e.truncated = h5::int_attr(d.get(), "truncated");
  if (h5::has_attr(d.get(), "max_seq_length")) e.max_seq_length = h5::int_attr(d.get(), "max_seq_length");
  if (h5::has_attr(d.get(), "prompt")) e.prompt = h5::string_attr(d.get(), "prompt");
  if (h5::has_attr(d.get(), "long_text")) e.long_text = h5::string_attr(d.get(), "long_text");
  if (h5::has_attr(d.get(), "device")) e.device = h5::string_attr(d.get(), "device");
  if (h5::has_attr(d.get(), "seconds")) e.seconds = h5::double_attr(d.get(), "seconds");
  if (h5::has_attr(d.get(), "dim") && h5::int_attr(d.get(), "dim") != e.dim)
    throw InputError(where + ": the dim attribute of /embeddings/vectors disagrees with its shape");
  return e;
}
}  // namespace detail

EmbeddingSet StoreReader::embeddings() const { return read_embeddings(impl_->f(), impl_->path); }

std::vector<std::string> StoreReader::clustering_names() const {
  if (!h5::exists(impl_->f(), "/clusters")) return {};
  h5::Group g = h5::open_group(impl_->f(), "/clusters");
  std::vector<std::string> names;
  for (auto& name : h5::members(g.get()))
    if (!h5::is_dataset(g.get(), name)) names.push_back(std::move(name));
  std::sort(names.begin(), names.end());
  return names;
}

Clustering StoreReader::clustering(const std::string& name) const {
  const Impl& m = *impl_;
  check_clustering_name(name);
  const std::string group = "/clusters/" + name;
  EMB_EXPECTS(h5::exists(m.f(), group), m.path, " has no clustering named '", name, "'");
  m.require(group + "/labels");
  h5::Group g = h5::open_group(m.f(), group);
  EMB_EXPECTS(h5::has_attr(g.get(), "method") && h5::has_attr(g.get(), "n_clusters"), m.path, ": ", group,
              " lacks its method or n_clusters attribute");
  Clustering c;
  c.name = name;
  c.method = h5::string_attr(g.get(), "method");
  c.n_clusters = h5::int_attr(g.get(), "n_clusters");
  c.labels = h5::read_vector<int32_t>(m.f(), group + "/labels");
  if (h5::has_attr(g.get(), "params")) {
    c.params = nlohmann::json::parse(h5::string_attr(g.get(), "params"), nullptr, false);
    if (c.params.is_discarded()) m.malformed("the params attribute of " + group + " is not JSON");
  }
  c.inertia = h5::has_attr(g.get(), "inertia") ? h5::double_attr(g.get(), "inertia")
                                                 : std::numeric_limits<double>::quiet_NaN();
  c.seconds = h5::has_attr(g.get(), "seconds") ? h5::double_attr(g.get(), "seconds") : 0.0;
  if (h5::exists(m.f(), group + "/centroids")) {
    h5::FloatMatrix x = h5::read_matrix(m.f(), group + "/centroids");
    if (x.rows != c.n_clusters) m.malformed(group + "/centroids has a row count other than n_clusters");
    c.centroids = std::move(x.data);
    c.centroid_dim = x.cols;
  }
  if (h5::exists(m.f(), group + "/scan_k")) {
    m.require(group + "/scan_inertia");
    m.require(group + "/scan_silhouette");
    c.scan_k = h5::read_vector<int32_t>(m.f(), group + "/scan_k");
    c.scan_inertia = read_doubles(m.f(), group + "/scan_inertia");
    c.scan_silhouette = read_doubles(m.f(), group + "/scan_silhouette");
    if (c.scan_inertia.size() != c.scan_k.size() || c.scan_silhouette.size() != c.scan_k.size())
      m.malformed("the scan datasets of " + group + " differ in length");
  }
  if (h5::exists(m.f(), group + "/probabilities")) {
    c.probabilities = h5::read_vector<float>(m.f(), group + "/probabilities");
    if (c.probabilities.size() != c.labels.size()) m.malformed(group + "/probabilities does not match its labels");
  }
  if (h5::exists(m.f(), group + "/condensed_tree")) {
    for (const char* name : {"/outlier_scores", "/core_distances", "/persistence", "/selected",
                             "/exemplars", "/exemplar_offsets", "/single_linkage_tree", "/minimum_spanning_tree"})
      m.require(group + name);
    DensityClustering d;
    d.outlier_scores = h5::read_vector<float>(m.f(), group + "/outlier_scores");
    d.core_distances = h5::read_vector<float>(m.f(), group + "/core_distances");
    d.persistence = read_doubles(m.f(), group + "/persistence");
    d.selected = h5::read_vector<int64_t>(m.f(), group + "/selected");
    d.exemplars = h5::read_vector<int32_t>(m.f(), group + "/exemplars");
    d.exemplar_offsets = h5::read_vector<int64_t>(m.f(), group + "/exemplar_offsets");
    const std::string ct = group + "/condensed_tree";
    d.condensed_tree.parent = h5::read_table_ints(m.f(), ct, "parent");
    d.condensed_tree.child = h5::read_table_ints(m.f(), ct, "child");
    d.condensed_tree.lambda_val = h5::read_table_doubles(m.f(), ct, "lambda_val");
    d.condensed_tree.child_size = h5::read_table_ints(m.f(), ct, "child_size");
    d.single_linkage_tree = h5::read_doubles(m.f(), group + "/single_linkage_tree");
    d.minimum_spanning_tree = h5::read_doubles(m.f(), group + "/minimum_spanning_tree");
    m.require(group + "/prediction_core_distances");
    d.prediction_core_distances = h5::read_vector<float>(m.f(), group + "/prediction_core_distances");
    const size_t n = c.labels.size(), k = static_cast<size_t>(c.n_clusters);
    if (d.outlier_scores.size() != n || d.core_distances.size() != n ||
        d.persistence.size() != k || d.selected.size() != k || d.exemplar_offsets.size() != k + 1 ||
        d.prediction_core_distances.size() != n)
      m.malformed("the HDBSCAN datasets of " + group + " do not match its labels and n_clusters");
    c.density = std::move(d);
  }
  if (h5::exists(m.f(), group + "/reduction")) {
    const std::string rg = group + "/reduction";
    for (const char* name : {"/mean", "/components", "/explained_variance", "/explained_variance_ratio"})
      m.require(rg + name);
    Reduction r;
    h5::Group g2 = h5::open_group(m.f(), rg);
    if (h5::has_attr(g2.get(), "method")) r.method = h5::string_attr(g2.get(), "method");
    r.mean = h5::read_vector<float>(m.f(), rg + "/mean");
    h5::FloatMatrix comp = h5::read_matrix(m.f(), rg + "/components");
    r.components = std::move(comp.data);
    r.dim = comp.rows;
    r.explained_variance = read_doubles(m.f(), rg + "/explained_variance");
    r.explained_variance_ratio = read_doubles(m.f(), rg + "/explained_variance_ratio");
    if (comp.cols != static_cast<int64_t>(r.mean.size()) || r.explained_variance_ratio.size() != size_t(r.dim))
      m.malformed("the reduction datasets of " + group + " do not match");
    c.reduction = std::move(r);
  }
  return c;
}

namespace {
// A float dataset read as an embedding set; `model` records where it came from.
EmbeddingSet matrix_set(h5::FloatMatrix&& x, const std::string& model) {
  EmbeddingSet e;
  e.vectors = std::move(x.data);
  e.n = x.rows;
  e.dim = x.cols;
  e.model = model;
  return e;
}

}  // namespace

EmbeddingSet StoreReader::matrix(const std::string& dataset_path) const {
  const Impl& m = *impl_;
  const std::string p = absolute(dataset_path);
  EMB_EXPECTS(p != "/" && h5::exists(m.f(), p) && h5::is_dataset(m.f(), p), m.path, " has no dataset ", p);
  h5::FloatMatrix x = h5::read_matrix(m.f(), p);
  return matrix_set(std::move(x), p);
}

namespace {
// Any HDF5 file that holds dataset_path; returns the open file and the absolute path.
std::pair<h5::File, std::string> open_foreign_dataset(const std::string& file, const std::string& dataset_path) {
  std::error_code ec;
  EMB_EXPECTS(fs::exists(file, ec), "cannot read ", file, ": no such file");
  EMB_EXPECTS(h5::is_hdf5(file), file, " is not an HDF5 file");
  h5::File f = h5::open_file(file);
  std::string p = absolute(dataset_path);
  EMB_EXPECTS(p != "/" && h5::exists(f.get(), p) && h5::is_dataset(f.get(), p), file, " has no dataset ", p);
  return {std::move(f), std::move(p)};
}
}  // namespace

EmbeddingSet read_float_matrix(const std::string& file, const std::string& dataset_path) {
  auto [f, p] = open_foreign_dataset(file, dataset_path);
  h5::FloatMatrix x = h5::read_matrix(f.get(), p);
  return matrix_set(std::move(x), p);
}

std::vector<float> read_float_vector(const std::string& file, const std::string& dataset_path) {
  auto [f, p] = open_foreign_dataset(file, dataset_path);
  return h5::read_vector<float>(f.get(), p);
}

}  // namespace emb::io
