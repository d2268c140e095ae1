#pragma once
// What the store's tests share: sample tables and a fixture with a fresh folder.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "io/store.hpp"
#include "tests/scratch_dir.hpp"

namespace emb::io::store_test {

namespace fs = std::filesystem;

inline std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline DocumentTable sample_documents() {
  return {{"notes/a.txt", "말뭉치/한국어 문서.md", "records.jsonl"}, {"", "", "문서-7"}};
}

inline SegmentTable sample_segments() {
  SegmentTable s;
  s.text = {"Hello world.", "안녕하세요. 반갑습니다.", "", "세 번째 문장"};
  s.document = {0, 1, 1, 2};
  s.offset = {0, 3, 40, 5'000'000'000LL};  // beyond 32 bits on purpose
  s.length = {12, 33, 0, 17};
  return s;
}

inline EmbeddingSet sample_embeddings(int64_t n = 4, int64_t dim = 5) {
  EmbeddingSet e{std::vector<float>(static_cast<size_t>(n * dim)), n, dim, "minilm-l6", true};
  for (size_t i = 0; i < e.vectors.size(); ++i) e.vectors[i] = std::sin(0.37f * static_cast<float>(i)) - 0.25f;
  return e;
}

inline Clustering sample_kmeans(const std::string& name, int32_t shift = 0) {
  Clustering c;
  c.name = name;
  c.method = "kmeans";
  c.params = {{"k", 2}, {"seed", 42 + shift}, {"init", "k-means++"}};
  c.labels = {0, 1, (1 + shift) % 2, 0};
  c.n_clusters = 2;
  c.centroid_dim = 5;
  for (int i = 0; i < 10; ++i) c.centroids.push_back(0.5f * static_cast<float>(i + shift));
  c.inertia = 3.25;
  c.seconds = 0.125;
  return c;
}

inline Clustering sample_hdbscan(const std::string& name) {
  Clustering c;
  c.name = name;
  c.method = "hdbscan";
  c.params = {{"min_cluster_size", 2}};
  c.labels = {-1, 0, 0, -1};
  c.n_clusters = 1;
  c.inertia = std::nan("");
  c.seconds = 1.5;
  return c;
}

class StoreTest : public ::testing::Test {
 protected:
  void TearDown() override { emb::io::testing::fail_after_writes(-1); }

  // A complete file: documents, segments, embeddings and two clusterings.
  void write_full(const std::string& command = "embclust run corpus/") {
    StoreWriter w(path_, {}, command);
    w.write_documents(sample_documents());
    w.write_segments(sample_segments());
    w.write_embeddings(sample_embeddings());
    w.write_clustering(sample_kmeans("kmeans"));
    w.write_clustering(sample_hdbscan("hdbscan"));
    w.commit();
  }

  std::set<std::string> dir_entries() const {
    std::set<std::string> names;
    for (const auto& e : fs::directory_iterator(dir_)) names.insert(e.path().filename().string());
    return names;
  }

  emb::test::ScratchDir scratch_{"embclust_store"};
  fs::path dir_ = scratch_.path();
  std::string path_ = scratch_.path("store.h5");
};

}  // namespace emb::io::store_test
