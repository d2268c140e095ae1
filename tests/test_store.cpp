// The HDF5 store: round trips, replacing and dropping groups, the layout other
// readers (h5py) see, and the atomic-write guarantee under injected failures.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <cctype>
#include <cmath>
#include <filesystem>
#include <set>

#include "host/core/error.hpp"
#include "io/store.hpp"
#include "store_test_util.hpp"

namespace fs = std::filesystem;
using namespace emb::io;
using namespace emb::io::store_test;

namespace {

// YYYY-MM-DDTHH:MM:SSZ
bool is_utc_timestamp(const std::string& s) {
  const std::string form = "dddd-dd-ddTdd:dd:ddZ";
  if (s.size() != form.size()) return false;
  for (size_t i = 0; i < s.size(); ++i)
    if (form[i] == 'd' ? !std::isdigit(static_cast<unsigned char>(s[i])) : s[i] != form[i]) return false;
  return true;
}

void expect_same_clustering(const Clustering& a, const Clustering& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.method, b.method);
  EXPECT_EQ(a.params, b.params);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_EQ(a.centroids, b.centroids);
  EXPECT_EQ(a.n_clusters, b.n_clusters);
  EXPECT_EQ(a.centroid_dim, b.centroid_dim);
  if (std::isnan(a.inertia)) {
    EXPECT_TRUE(std::isnan(b.inertia));
  } else {
    EXPECT_EQ(a.inertia, b.inertia);
  }
  EXPECT_EQ(a.seconds, b.seconds);
}

TEST_F(StoreTest, RoundTripsEveryTable) {
  write_full();
  StoreReader r(path_);
  EXPECT_EQ(r.path(), path_);
  ASSERT_TRUE(r.has_documents() && r.has_segments() && r.has_embeddings());

  DocumentTable d = r.documents();
  EXPECT_EQ(d.path, sample_documents().path);
  EXPECT_EQ(d.id, sample_documents().id);

  SegmentTable s = r.segments(), want = sample_segments();
  EXPECT_EQ(s.text, want.text);
  EXPECT_EQ(s.document, want.document);
  EXPECT_EQ(s.offset, want.offset);
  EXPECT_EQ(s.length, want.length);

  EmbeddingSet e = r.embeddings(), we = sample_embeddings();
  EXPECT_EQ(e.n, we.n);
  EXPECT_EQ(e.dim, we.dim);
  EXPECT_EQ(e.vectors, we.vectors);
  EXPECT_EQ(e.model, we.model);
  EXPECT_TRUE(e.normalized);

  EXPECT_EQ(r.clustering_names(), (std::vector<std::string>{"hdbscan", "kmeans"}));
  expect_same_clustering(sample_kmeans("kmeans"), r.clustering("kmeans"));
  expect_same_clustering(sample_hdbscan("hdbscan"), r.clustering("hdbscan"));
}

TEST_F(StoreTest, RoundTripsEmptyTables) {
  {
    StoreWriter w(path_, {}, "embclust segment empty/");
    w.write_documents({});
    w.write_segments({});
    w.write_embeddings({{}, 0, 8, "m", false});
    w.commit();
  }
  StoreReader r(path_);
  EXPECT_TRUE(r.documents().path.empty());
  EXPECT_EQ(r.segments().size(), 0u);
  EmbeddingSet e = r.embeddings();
  EXPECT_EQ(e.n, 0);
  EXPECT_EQ(e.dim, 8);
  EXPECT_TRUE(r.clustering_names().empty());
}

TEST_F(StoreTest, RootAttributesArePresent) {
  write_full("embclust cluster store.h5 --k 2");
  FileAttributes a = StoreReader(path_).attributes();
  EXPECT_EQ(a.schema_version, kSchemaVersion);
  EXPECT_FALSE(a.embclust_version.empty());
  EXPECT_TRUE(is_utc_timestamp(a.created)) << a.created;
  EXPECT_EQ(a.command, "embclust cluster store.h5 --k 2");
}

TEST_F(StoreTest, ReplacingOneClusteringKeepsTheOthers) {
  write_full();
  {
    StoreWriter w(path_, {}, "embclust cluster again");
    EXPECT_TRUE(w.exists("/clusters/kmeans"));
    w.write_clustering(sample_kmeans("kmeans", 1));
    w.write_clustering(sample_kmeans("kmeans-k2-seed7", 1));
    w.commit();
  }
  StoreReader r(path_);
  EXPECT_EQ(r.clustering_names(), (std::vector<std::string>{"hdbscan", "kmeans", "kmeans-k2-seed7"}));
  expect_same_clustering(sample_kmeans("kmeans", 1), r.clustering("kmeans"));
  expect_same_clustering(sample_hdbscan("hdbscan"), r.clustering("hdbscan"));
  EXPECT_EQ(r.segments().text, sample_segments().text);
  EXPECT_EQ(r.attributes().command, "embclust cluster again");
}

TEST_F(StoreTest, DroppingOneClusteringKeepsItsSiblings) {
  write_full();
  {
    StoreWriter w(path_, {"/clusters/kmeans", "/not/there"}, "drop");
    EXPECT_FALSE(w.exists("/clusters/kmeans"));
    EXPECT_TRUE(w.exists("clusters/hdbscan/"));
    w.commit();
  }
  StoreReader r(path_);
  EXPECT_EQ(r.clustering_names(), std::vector<std::string>{"hdbscan"});
  expect_same_clustering(sample_hdbscan("hdbscan"), r.clustering("hdbscan"));
  EXPECT_EQ(r.embeddings().vectors, sample_embeddings().vectors);
  EXPECT_EQ(r.documents().id, sample_documents().id);
}

TEST_F(StoreTest, DroppedGroupsLeaveNoSpaceBehind) {
  {
    StoreWriter w(path_, {}, "big");
    w.write_embeddings(sample_embeddings(4000, 64));  // about 1 MiB
    w.commit();
  }
  const auto big = fs::file_size(path_);
  {
    StoreWriter w(path_, {"/embeddings", "/clusters"}, "drop");
    w.write_documents(sample_documents());
    w.commit();
  }
  StoreReader r(path_);
  EXPECT_FALSE(r.has_embeddings());
  EXPECT_TRUE(r.clustering_names().empty());
  EXPECT_TRUE(r.has_documents());
  EXPECT_LT(fs::file_size(path_), big / 10);
}

// What h5py reports as dtypes: fixed sizes and signedness, UTF-8 vlen strings.
TEST_F(StoreTest, LayoutMatchesTheDocumentedTypes) {
  write_full();
  hid_t f = H5Fopen(path_.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  auto dataset_type = [&](const char* path, H5T_class_t cls, size_t size, H5T_sign_t sign = H5T_SGN_ERROR) {
    hid_t d = H5Dopen2(f, path, H5P_DEFAULT);
    ASSERT_GE(d, 0) << path;
    hid_t t = H5Dget_type(d);
    EXPECT_EQ(H5Tget_class(t), cls) << path;
    if (cls == H5T_STRING) {
      EXPECT_GT(H5Tis_variable_str(t), 0) << path;
      EXPECT_EQ(H5Tget_cset(t), H5T_CSET_UTF8) << path;
    } else {
      EXPECT_EQ(H5Tget_size(t), size) << path;
      if (sign != H5T_SGN_ERROR) {
        EXPECT_EQ(H5Tget_sign(t), sign) << path;
      }
    }
    H5Tclose(t);
    H5Dclose(d);
  };
  dataset_type("/documents/path", H5T_STRING, 0);
  dataset_type("/documents/id", H5T_STRING, 0);
  dataset_type("/segments/text", H5T_STRING, 0);
  dataset_type("/segments/document", H5T_INTEGER, 4, H5T_SGN_2);
  dataset_type("/segments/offset", H5T_INTEGER, 8, H5T_SGN_2);
  dataset_type("/segments/length", H5T_INTEGER, 4, H5T_SGN_2);
  dataset_type("/embeddings/vectors", H5T_FLOAT, 4);
  dataset_type("/clusters/kmeans/labels", H5T_INTEGER, 4, H5T_SGN_2);
  dataset_type("/clusters/kmeans/centroids", H5T_FLOAT, 4);
  EXPECT_EQ(H5Lexists(f, "/clusters/hdbscan/centroids", H5P_DEFAULT), 0);

  hid_t d = H5Dopen2(f, "/embeddings/vectors", H5P_DEFAULT);
  hid_t dcpl = H5Dget_create_plist(d);
  EXPECT_EQ(H5Pget_layout(dcpl), H5D_CHUNKED);
  H5Pclose(dcpl);
  H5Dclose(d);

  auto attr_type = [&](const char* obj, const char* name, H5T_class_t cls, size_t size) {
    hid_t a = H5Aopen_by_name(f, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    ASSERT_GE(a, 0) << obj << " " << name;
    hid_t t = H5Aget_type(a);
    EXPECT_EQ(H5Tget_class(t), cls) << name;
    if (cls == H5T_STRING) {
      EXPECT_GT(H5Tis_variable_str(t), 0) << name;
    } else {
      EXPECT_EQ(H5Tget_size(t), size) << name;
    }
    H5Tclose(t);
    H5Aclose(a);
  };
  attr_type("/", "schema_version", H5T_INTEGER, 8);
  attr_type("/", "embclust_version", H5T_STRING, 0);
  attr_type("/", "created", H5T_STRING, 0);
  attr_type("/", "command", H5T_STRING, 0);
  attr_type("/embeddings/vectors", "model", H5T_STRING, 0);
  attr_type("/embeddings/vectors", "dim", H5T_INTEGER, 8);
  attr_type("/embeddings/vectors", "normalized", H5T_INTEGER, 1);
  attr_type("/clusters/kmeans", "method", H5T_STRING, 0);
  attr_type("/clusters/kmeans", "params", H5T_STRING, 0);
  attr_type("/clusters/kmeans", "inertia", H5T_FLOAT, 8);
  attr_type("/clusters/kmeans", "n_clusters", H5T_INTEGER, 8);
  attr_type("/clusters/kmeans", "seconds", H5T_FLOAT, 8);
  H5Fclose(f);
}

TEST_F(StoreTest, MatrixReadsFloat32AndFloat16Datasets) {
  write_full();
  {
    // A float16 matrix as numpy writes it (IEEE half precision).
    hid_t f = H5Fopen(path_.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    ASSERT_GE(f, 0);
    hid_t half = H5Tcopy(H5T_IEEE_F32LE);
    H5Tset_fields(half, 15, 10, 5, 0, 10);
    H5Tset_size(half, 2);
    H5Tset_ebias(half, 15);
    hsize_t dims[2] = {3, 2};
    hid_t space = H5Screate_simple(2, dims, nullptr);
    hid_t d = H5Dcreate2(f, "/half", half, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const float values[6] = {0.5f, -1.25f, 2.0f, 0.0f, 1024.0f, -0.125f};
    ASSERT_GE(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values), 0);
    H5Dclose(d);
    H5Sclose(space);
    H5Tclose(half);
    H5Fclose(f);
  }
  StoreReader r(path_);
  EmbeddingSet h = r.matrix("/half");
  EXPECT_EQ(h.n, 3);
  EXPECT_EQ(h.dim, 2);
  EXPECT_EQ(h.model, "/half");
  EXPECT_EQ(h.vectors, (std::vector<float>{0.5f, -1.25f, 2.0f, 0.0f, 1024.0f, -0.125f}));

  EmbeddingSet v = r.matrix("embeddings/vectors");
  EXPECT_EQ(v.model, "/embeddings/vectors");
  EXPECT_EQ(v.vectors, sample_embeddings().vectors);

  for (const char* bad : {"/segments/offset", "/segments", "/nope/none"}) {
    try {
      r.matrix(bad);
      ADD_FAILURE() << bad << " was read as a matrix";
    } catch (const emb::InputError& e) {
      EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
    }
  }
}

TEST_F(StoreTest, InjectedFailureLeavesTheOldFileUntouched) {
  write_full();
  const std::string before = read_bytes(path_);
  try {
    StoreWriter w(path_, {"/segments", "/embeddings", "/clusters"}, "embclust segment again");
    emb::io::testing::fail_after_writes(2);  // text and document succeed, offset fails
    w.write_segments(sample_segments());
    ADD_FAILURE() << "no injected failure";
  } catch (const emb::RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find("injected write failure"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("/segments/offset"), std::string::npos) << e.what();
  }
  EXPECT_EQ(read_bytes(path_), before);
  EXPECT_EQ(dir_entries(), std::set<std::string>{"store.h5"});
  // The failure is injected once: the next change goes through.
  write_full("after");
  EXPECT_EQ(StoreReader(path_).attributes().command, "after");
}

TEST_F(StoreTest, FailedCommitRemovesTheTemporaryFile) {
  StoreWriter w(path_, {}, "x");
  w.write_documents(sample_documents());
  fs::create_directory(path_);  // rename() cannot replace a directory with a file
  EXPECT_THROW(w.commit(), emb::RuntimeError);
  EXPECT_FALSE(fs::exists(w.temp_path()));
  EXPECT_TRUE(fs::is_directory(path_));
  EXPECT_EQ(dir_entries(), std::set<std::string>{"store.h5"});
  EXPECT_THROW(w.write_documents(sample_documents()), emb::InputError);
}

TEST_F(StoreTest, UncommittedWriterLeavesNothing) {
  {
    StoreWriter w(path_, {}, "x");
    EXPECT_TRUE(fs::exists(w.temp_path()));
    EXPECT_EQ(fs::path(w.temp_path()).parent_path(), fs::path(path_).parent_path());
    w.write_documents(sample_documents());
    w.write_segments(sample_segments());
  }
  EXPECT_TRUE(dir_entries().empty());

  write_full();
  const std::string before = read_bytes(path_);
  {
    StoreWriter w(path_, {"/clusters"}, "x");
    w.write_embeddings(sample_embeddings());
  }
  EXPECT_EQ(read_bytes(path_), before);
  EXPECT_EQ(dir_entries(), std::set<std::string>{"store.h5"});
}

TEST_F(StoreTest, ReaderKeepsItsViewWhileTheFileIsReplaced) {
  write_full();
  StoreReader r(path_);
  {
    StoreWriter w(path_, {"/clusters"}, "replace");
    w.commit();
  }
  EXPECT_EQ(r.clustering_names().size(), 2u);
  EXPECT_TRUE(StoreReader(path_).clustering_names().empty());
}

TEST_F(StoreTest, NonHdf5FileIsAnInputErrorAndUntouched) {
  { std::ofstream(path_) << "not an HDF5 file\n"; }
  const std::string before = read_bytes(path_);
  try {
    StoreWriter w(path_, {}, "x");
    ADD_FAILURE() << "opened a text file";
  } catch (const emb::InputError& e) {
    EXPECT_NE(std::string(e.what()).find(path_), std::string::npos) << e.what();
  }
  EXPECT_THROW(StoreReader{path_}, emb::InputError);
  EXPECT_EQ(read_bytes(path_), before);
  EXPECT_EQ(dir_entries(), std::set<std::string>{"store.h5"});
}

TEST_F(StoreTest, OtherHdf5FilesAreInputErrors) {
  const std::string plain = (dir_ / "plain.h5").string(), newer = (dir_ / "newer.h5").string();
  H5Fclose(H5Fcreate(plain.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
  hid_t f = H5Fcreate(newer.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hid_t space = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(f, "schema_version", H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT);
  const int64_t two = 2;
  H5Awrite(a, H5T_NATIVE_INT64, &two);
  H5Aclose(a);
  H5Sclose(space);
  H5Fclose(f);
  for (const auto& p : {plain, newer}) {
    EXPECT_THROW(StoreReader{p}, emb::InputError) << p;
    EXPECT_THROW(StoreWriter(p, {}, "x"), emb::InputError) << p;
  }
}

TEST_F(StoreTest, MissingFileNamesThePath) {
  const std::string missing = (dir_ / "missing.h5").string();
  try {
    StoreReader r(missing);
    ADD_FAILURE() << "opened a missing file";
  } catch (const emb::InputError& e) {
    EXPECT_NE(std::string(e.what()).find(missing), std::string::npos) << e.what();
  }
}

TEST_F(StoreTest, WritesCheckShapesAndNames) {
  StoreWriter w(path_, {}, "x");
  SegmentTable s = sample_segments();
  s.length.pop_back();
  EXPECT_THROW(w.write_segments(s), emb::InputError);
  EXPECT_THROW(w.write_documents({{"a", "b"}, {""}}), emb::InputError);
  EXPECT_THROW(w.write_embeddings({std::vector<float>(7), 2, 4, "m", false}), emb::InputError);

  w.write_documents(sample_documents());
  s = sample_segments();
  s.document[0] = 3;  // only three documents
  EXPECT_THROW(w.write_segments(s), emb::InputError);
  w.write_segments(sample_segments());
  EXPECT_THROW(w.write_embeddings(sample_embeddings(5, 5)), emb::InputError);  // four segments
  w.write_embeddings(sample_embeddings());

  for (const char* name : {"", "a/b", ".hidden"}) EXPECT_THROW(w.write_clustering(sample_kmeans(name)), emb::InputError);
  Clustering c = sample_kmeans("k");
  c.labels.clear();
  EXPECT_THROW(w.write_clustering(c), emb::InputError);
  c = sample_kmeans("k");
  c.centroids.pop_back();
  EXPECT_THROW(w.write_clustering(c), emb::InputError);
  c = sample_kmeans("k");
  c.labels[0] = 2;  // n_clusters is 2
  EXPECT_THROW(w.write_clustering(c), emb::InputError);
  c = sample_kmeans("k");
  c.labels.push_back(0);  // five labels for four vectors
  EXPECT_THROW(w.write_clustering(c), emb::InputError);

  w.write_clustering(sample_kmeans("k"));
  w.commit();
  EXPECT_THROW(w.commit(), emb::InputError);
  EXPECT_EQ(StoreReader(path_).clustering_names(), std::vector<std::string>{"k"});
}

}  // namespace
