// Embeddings streamed into a store's partial file: rows read back as written, a
// failed run's chunks kept for --resume, other settings refused, a file in use left
// alone.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "host/core/error.hpp"
#include "io/store.hpp"
#include "store_test_util.hpp"

namespace fs = std::filesystem;
using namespace emb::io;
using namespace emb::io::store_test;

namespace {

const nlohmann::json kKey = {{"model", "minilm-l6"}, {"prompt", ""}};

// Streams sample_embeddings(n, dim) chunk by chunk through w, `only` chunks if given.
void stream(StoreWriter& w, const EmbeddingSet& e, int64_t chunk_rows, std::vector<int64_t> only = {}) {
  const std::vector<bool> done = w.begin_embeddings(e.n, e.dim, chunk_rows, kKey);
  for (int64_t c = 0; c * chunk_rows < e.n; ++c) {
    if (done[static_cast<size_t>(c)]) continue;
    if (!only.empty() && std::find(only.begin(), only.end(), c) == only.end()) continue;
    w.write_embedding_chunk(c, e.vectors.data() + c * chunk_rows * e.dim, {10 * (c + 1), c, 0, 0.5});
  }
}

}  // namespace

TEST_F(StoreTest, StreamedEmbeddingsReadBackAsWritten) {
  const EmbeddingSet e = sample_embeddings(4, 5);
  {
    StoreWriter w(path_, {}, "embclust embed", PartialMode::Fresh);
    EXPECT_EQ(w.temp_path(), path_ + ".partial");
    EXPECT_FALSE(w.resumed());
    w.write_documents(sample_documents());
    w.write_segments(sample_segments());
    stream(w, e, 3);
    EXPECT_EQ(w.chunks_stored(), 2);
    const ChunkCounts c = w.embedding_counts();
    EXPECT_EQ(c.tokens, 30);
    EXPECT_EQ(c.truncated, 1);
    EXPECT_EQ(w.embeddings().vectors, e.vectors);
    EXPECT_THROW(w.commit(), emb::InputError);  // not finished
    EmbeddingSet meta = e;
    meta.vectors.clear();
    meta.tokens = c.tokens;
    meta.max_seq_length = 128;
    w.finish_embeddings(meta);
    w.commit();
  }
  EXPECT_EQ(dir_entries(), std::set<std::string>{"store.h5"});
  {
    StoreReader r(path_);
    const EmbeddingSet got = r.embeddings();
    EXPECT_EQ(got.vectors, e.vectors);
    EXPECT_EQ(got.tokens, 30);
    EXPECT_EQ(got.model, "minilm-l6");
  }
  // Nothing of the streaming is left in the finished file.
  hid_t f = H5Fopen(path_.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  EXPECT_EQ(H5Lexists(f, "/embeddings/progress", H5P_DEFAULT), 0);
  hid_t d = H5Dopen2(f, "/embeddings/vectors", H5P_DEFAULT);
  EXPECT_EQ(H5Aexists(d, "resume_key"), 0);
  H5Dclose(d);
  H5Fclose(f);
}

TEST_F(StoreTest, AFailedStreamKeepsItsChunksForResume) {
  write_full("before");
  const std::string before = read_bytes(path_);
  const EmbeddingSet e = sample_embeddings(4, 5);
  {
    StoreWriter w(path_, {"/embeddings", "/clusters"}, "embclust embed", PartialMode::Fresh);
    stream(w, e, 2, {1});  // chunk 1 only, then the run "fails"
  }
  EXPECT_EQ(read_bytes(path_), before);  // the file itself is untouched
  EXPECT_EQ(dir_entries(), (std::set<std::string>{"store.h5", "store.h5.partial"}));
  {
    StoreWriter w(path_, {"/embeddings", "/clusters"}, "embclust embed --resume", PartialMode::Resume);
    EXPECT_TRUE(w.resumed());
    const std::vector<bool> done = w.begin_embeddings(4, 5, 2, kKey);
    EXPECT_EQ(done, (std::vector<bool>{false, true}));
    EXPECT_EQ(w.chunks_stored(), 1);
    w.write_embedding_chunk(0, e.vectors.data(), {7, 0, 0, 0.0});
    EXPECT_EQ(w.embedding_counts().tokens, 7 + 20);
    EmbeddingSet meta = e;
    meta.vectors.clear();
    w.finish_embeddings(meta);
    w.commit();
  }
  EXPECT_EQ(dir_entries(), std::set<std::string>{"store.h5"});
  StoreReader r(path_);
  EXPECT_EQ(r.embeddings().vectors, e.vectors);
  EXPECT_EQ(r.segments().text, sample_segments().text);  // copied by the first run
  EXPECT_TRUE(r.clustering_names().empty());
  EXPECT_EQ(r.attributes().command, "embclust embed --resume");
}

TEST_F(StoreTest, AStreamWithNoChunkStoredLeavesNothing) {
  {
    StoreWriter w(path_, {}, "x", PartialMode::Fresh);
    w.begin_embeddings(4, 5, 2, kKey);
  }
  EXPECT_TRUE(dir_entries().empty());
}

TEST_F(StoreTest, ResumeRefusesOtherSettingsAndKeepsThePartialFile) {
  const EmbeddingSet e = sample_embeddings(4, 5);
  {
    StoreWriter w(path_, {}, "x", PartialMode::Fresh);
    stream(w, e, 2, {0});
  }
  const std::string partial = read_bytes(path_ + ".partial");
  {
    StoreWriter w(path_, {}, "x", PartialMode::Resume);
    try {
      w.begin_embeddings(4, 5, 2, {{"model", "e5-small"}, {"prompt", ""}});
      ADD_FAILURE() << "no error";
    } catch (const emb::InputError& err) {
      const std::string what = err.what();
      EXPECT_NE(what.find("store.h5.partial: it was started with model \"minilm-l6\", and this run has "
                          "\"e5-small\"; run without --resume"),
                std::string::npos)
          << what;
    }
  }
  {
    StoreWriter w(path_, {}, "x", PartialMode::Resume);
    EXPECT_THROW(w.begin_embeddings(6, 5, 2, kKey), emb::InputError);  // another shape
  }
  EXPECT_TRUE(fs::exists(path_ + ".partial"));
  EXPECT_EQ(read_bytes(path_ + ".partial").size(), partial.size());
  // Without --resume the partial file is replaced, and the writer says so.
  {
    StoreWriter w(path_, {}, "x", PartialMode::Fresh);
    EXPECT_FALSE(w.resumed());
    EXPECT_NE(w.note().find("replacing " + path_ + ".partial"), std::string::npos) << w.note();
    EXPECT_EQ(w.begin_embeddings(4, 5, 2, kKey), (std::vector<bool>{false, false}));
  }
  EXPECT_TRUE(dir_entries().empty());
}

TEST_F(StoreTest, ResumeWithoutAPartialFileStartsAfresh) {
  StoreWriter w(path_, {}, "x", PartialMode::Resume);
  EXPECT_FALSE(w.resumed());
  EXPECT_NE(w.note().find("nothing to resume"), std::string::npos) << w.note();
  // A partial file that is not HDF5 (cut short while being set up) is replaced too.
  std::ofstream(path_ + "2.partial") << "not hdf5";
  StoreWriter w2(path_ + "2", {}, "x", PartialMode::Resume);
  EXPECT_FALSE(w2.resumed());
  EXPECT_NE(w2.note().find("not an HDF5 file"), std::string::npos) << w2.note();
}

TEST_F(StoreTest, APartialFileInUseIsLeftAlone) {
  StoreWriter first(path_, {}, "x", PartialMode::Fresh);
  stream(first, sample_embeddings(4, 5), 2, {0});
  for (const PartialMode mode : {PartialMode::Fresh, PartialMode::Resume}) {
    try {
      StoreWriter second(path_, {}, "y", mode);
      ADD_FAILURE() << "a second writer took the partial file";
    } catch (const emb::InputError& e) {
      EXPECT_NE(std::string(e.what()).find("store.h5.partial is being written by another run"), std::string::npos)
          << e.what();
    }
  }
  EXPECT_EQ(first.chunks_stored(), 1);
  EXPECT_EQ(first.embeddings().n, 4);  // still the first writer's file
}
