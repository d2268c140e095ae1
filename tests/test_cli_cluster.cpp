// The cluster and predict commands end to end: k-means options, --k auto, --input,
// --init and --weights datasets, non-finite values, and HDBSCAN with its trees and
// predict.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "io/store.hpp"
#include "io/h5.hpp"
#include "tests/cli_test_util.hpp"

using emb::cli_test::Cli;
using emb::cli_test::Result;
using emb::cli_test::slurp;
namespace fs = std::filesystem;

TEST_F(Cli, KAutoScansKAndStoresTheScan) {
  const auto h5 = path("s.h5").string();
  Result r = run("run " + sample() + " -o " + h5 + " --k auto --k-min 2 --k-max 6 --n-init 1");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("k = 6: inertia"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("chose k = "), std::string::npos) << r.err;
  const auto c = emb::io::StoreReader(h5).clustering("kmeans");
  EXPECT_EQ(c.scan_k, (std::vector<int32_t>{2, 3, 4, 5, 6}));
  ASSERT_EQ(c.scan_inertia.size(), 5u);
  ASSERT_EQ(c.scan_silhouette.size(), 5u);
  // The first k of the highest silhouette is the clustering kept.
  const auto best = std::max_element(c.scan_silhouette.begin(), c.scan_silhouette.end()) - c.scan_silhouette.begin();
  EXPECT_EQ(c.n_clusters, c.scan_k[best]);
  EXPECT_DOUBLE_EQ(c.inertia, c.scan_inertia[best]);
  EXPECT_EQ(c.params["k"], c.scan_k[best]);
  EXPECT_EQ(c.params["k_auto"], true);
  EXPECT_EQ(c.params["scan"]["k"].size(), 5u);
  for (double s : c.scan_silhouette) EXPECT_TRUE(s >= -1.0 && s <= 1.0) << s;

  // A plain --k stores no scan, and an integer k in a config file still reads.
  write("c.toml", "k = 3\nn-init = 1\n");
  ASSERT_EQ(run("cluster " + h5 + " --name three --config " + path("c.toml").string()).code, 0);
  const auto three = emb::io::StoreReader(h5).clustering("three");
  EXPECT_EQ(three.n_clusters, 3);
  EXPECT_TRUE(three.scan_k.empty());
  EXPECT_FALSE(three.params.contains("k_auto"));
}

TEST_F(Cli, KAutoRejectsBadRanges) {
  const auto h5 = path("s.h5").string();
  ASSERT_EQ(run("run " + sample() + " -o " + h5 + " --k 2 --dim 64 --n-init 1").code, 0);
  Result r = run("cluster " + h5 + " --k auto --k-min 1");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--k-min must be at least 2"), std::string::npos) << r.err;
  r = run("cluster " + h5 + " --k auto --k-min 5 --k-max 4");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--k-max (4) must not be below --k-min (5)"), std::string::npos) << r.err;
  r = run("cluster " + h5 + " --k auto --k-max 100000");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("--k-max 100000 exceeds"), std::string::npos) << r.err;
  r = run("cluster " + h5 + " --k auto --init " + h5 + ":/clusters/kmeans/centroids");
  EXPECT_EQ(r.code, 2);
  r = run("cluster " + h5 + " --k many");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--k must be a whole number or auto, got 'many'"), std::string::npos) << r.err;
  EXPECT_EQ(run("run " + sample() + " -o " + path("x.h5").string() + " --k auto --k-min 1").code, 2);
  EXPECT_FALSE(fs::exists(path("x.h5")));
}

TEST_F(Cli, CosineRunStoresItsParameters) {
  const auto h5 = path("s.h5").string();
  Result r = run("run " + sample() + " -o " + h5 + " --k 4 --dim 128 --metric cosine --init random --tol-shift 1e-6");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto c = emb::io::StoreReader(h5).clustering("kmeans");
  EXPECT_EQ(c.params["metric"], "cosine");
  EXPECT_EQ(c.params["init"], "random");
  EXPECT_EQ(c.params["tol_shift"], 1e-6);
  EXPECT_EQ(c.params["input"], "/embeddings/vectors");
  ASSERT_EQ(c.centroids.size(), 4u * 128u);
  for (int j = 0; j < 4; ++j) {
    double norm = 0.0;
    for (int t = 0; t < 128; ++t) norm += static_cast<double>(c.centroids[j * 128 + t]) * c.centroids[j * 128 + t];
    EXPECT_NEAR(norm, 1.0, 1e-5) << "centre " << j;
  }
  EXPECT_GT(c.inertia, 0.0);
  EXPECT_LT(c.inertia, 2.0 * static_cast<double>(c.labels.size()));  // 2 - 2 cos, below 2 for nearest centres
  ASSERT_EQ(run("run " + sample() + " -o " + h5 + " --k 4 --dim 128").code, 0);
  EXPECT_EQ(emb::io::StoreReader(h5).clustering("kmeans").params["metric"], "l2");
  EXPECT_EQ(emb::io::StoreReader(h5).clustering("kmeans").params["init"], "k-means++");
}

TEST_F(Cli, InitFromADatasetOfCentres) {
  const auto h5 = path("s.h5").string();
  // --tol 0: the kept run ends on a fixed point, which a run started from its centres keeps.
  ASSERT_EQ(run("run " + sample() + " -o " + h5 + " --k 3 --dim 128 --tol 0").code, 0);
  const std::string before = slurp(h5);
  const std::string centres = h5 + ":/clusters/kmeans/centroids";

  Result r = run("cluster " + h5 + " --k 4 --name other --init " + centres);
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("is 3 x 128"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("k x d = 4 x 128"), std::string::npos) << r.err;
  EXPECT_EQ(slurp(h5), before);
  r = run("cluster " + h5 + " --k 3 --name other --init " + h5 + ":/no/such");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("/no/such"), std::string::npos) << r.err;

  r = run("cluster " + h5 + " --k 3 --name again --n-init 5 --tol 0 --init " + centres);
  ASSERT_EQ(r.code, 0) << r.err;
  emb::io::StoreReader s(h5);
  const auto first = s.clustering("kmeans"), again = s.clustering("again");
  EXPECT_EQ(again.params["init"], centres);
  EXPECT_EQ(again.params["n_init"], 1);
  EXPECT_EQ(again.labels, first.labels);
  EXPECT_EQ(again.centroids, first.centroids);
  EXPECT_EQ(again.inertia, first.inertia);
}

TEST_F(Cli, InputClustersAnotherDataset) {
  const auto h5 = path("s.h5").string();
  ASSERT_EQ(run("run " + sample() + " -o " + h5 + " --k 3 --dim 64").code, 0);
  Result r = run("cluster " + h5 + " --k 3 --name same --input " + h5 + ":/embeddings/vectors");
  ASSERT_EQ(r.code, 0) << r.err;
  {
    emb::io::StoreReader s(h5);
    EXPECT_EQ(s.clustering("same").labels, s.clustering("kmeans").labels);
    EXPECT_EQ(s.clustering("same").params["input"], h5 + ":/embeddings/vectors");
  }
  const std::string before = slurp(h5);
  r = run("cluster " + h5 + " --k 2 --name wrong --input " + h5 + ":/clusters/kmeans/centroids");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("has 3 rows"), std::string::npos) << r.err;
  EXPECT_EQ(slurp(h5), before);
  r = run("cluster " + h5 + " --k 2 --input " + h5);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("FILE.h5:/path"), std::string::npos) << r.err;
}

TEST_F(Cli, NonFiniteValuesAreNamedWithTheirFileDatasetRowAndColumn) {
  const auto bad = path("bad.h5").string(), out = path("out.h5").string();
  {
    emb::io::EmbeddingSet e{std::vector<float>(40, 0.5f), 10, 4, "m", false};
    for (int i = 0; i < 40; ++i) e.vectors[i] = static_cast<float>(i % 7);
    e.vectors[6 * 4 + 3] = std::numeric_limits<float>::quiet_NaN();
    e.vectors[8 * 4 + 1] = -std::numeric_limits<float>::infinity();
    emb::io::StoreWriter w(bad, {}, "test");
    w.write_embeddings(e);
    w.commit();
  }
  const std::string before = slurp(bad);
  for (const std::string method : {"kmeans --k 2", "hdbscan --min-cluster-size 2"}) {
    // The points of the file itself, another dataset as --input, and the centres of --init.
    Result r = run("cluster " + bad + " --method " + method);
    EXPECT_EQ(r.code, 1) << method;
    EXPECT_NE(r.err.find(bad + ":/embeddings/vectors: row 6, column 3 is NaN"), std::string::npos) << r.err;
    r = run("cluster " + out + " --method " + method + " --input " + bad + ":/embeddings/vectors");
    EXPECT_EQ(r.code, 1) << method;
    EXPECT_NE(r.err.find(bad + ":/embeddings/vectors: row 6, column 3 is NaN"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(out)) << method;
  }
  EXPECT_EQ(slurp(bad), before);
  ASSERT_EQ(run("run " + sample() + " -o " + out + " --k 10 --dim 4").code, 0);
  const Result r = run("cluster " + out + " --k 10 -q --init " + bad + ":/embeddings/vectors");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("row 6, column 3 is NaN"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST_F(Cli, ParallelSeedingAndMiniBatchFromTheCommandLine) {
  const auto h5 = path("s.h5").string();
  ASSERT_EQ(run("run " + sample() + " -o " + h5 + " --k 4 --init 'k-means||'").code, 0);
  auto c = emb::io::StoreReader(h5).clustering("kmeans");
  EXPECT_EQ(c.n_clusters, 4);
  EXPECT_EQ(c.params["init"], "k-means||");
  Result r = run("cluster " + h5 + " --k 4 --batch-size 64 --name mb");
  ASSERT_EQ(r.code, 0) << r.err;
  c = emb::io::StoreReader(h5).clustering("mb");
  EXPECT_EQ(c.params["batch_size"], 64);
  EXPECT_EQ(c.n_clusters, 4);
  EXPECT_EQ(run("cluster " + h5 + " --k 4 --batch-size -3").code, 2);
  EXPECT_EQ(run("cluster " + h5 + " --k 4 --init kmeans-parallel").code, 2);
}

TEST_F(Cli, SampleWeightsFromADataset) {
  const auto h5 = path("w.h5").string();
  ASSERT_EQ(run("run " + sample() + " -o " + h5 + " --k 4 --dim 64 --n-init 2").code, 0);
  const int64_t n = emb::io::StoreReader(h5).embeddings().n;
  auto write_weights = [&](const std::string& file, std::vector<float> w) {
    emb::io::h5::File f = emb::io::h5::create_file(file);
    emb::io::h5::write_vector(f.get(), "/w", std::span<const float>(w));
  };
  // Doubling every weight changes the partition in nothing and doubles the inertia.
  write_weights(path("one.h5").string(), std::vector<float>(static_cast<size_t>(n), 1.0f));
  write_weights(path("two.h5").string(), std::vector<float>(static_cast<size_t>(n), 2.0f));
  Result r = run("cluster " + h5 + " --k 4 --n-init 2 --name ones --weights " + path("one.h5").string() + ":/w");
  ASSERT_EQ(r.code, 0) << r.err;
  r = run("cluster " + h5 + " --k 4 --n-init 2 --name twos --weights " + path("two.h5").string() + ":/w");
  ASSERT_EQ(r.code, 0) << r.err;
  {
    emb::io::StoreReader s(h5);
    const auto ones = s.clustering("ones"), twos = s.clustering("twos");
    EXPECT_EQ(ones.labels, twos.labels);
    EXPECT_NEAR(twos.inertia, 2.0 * ones.inertia, 1e-6 * ones.inertia);
    EXPECT_EQ(twos.params["weights"], path("two.h5").string() + ":/w");
  }
  // Weight on the first 20 points only: the centres sit among them.
  std::vector<float> few(static_cast<size_t>(n), 0.0f);
  for (int i = 0; i < 20; ++i) few[static_cast<size_t>(i)] = 1.0f;
  write_weights(path("few.h5").string(), few);
  r = run("cluster " + h5 + " --k 4 --n-init 1 --name few --weights " + path("few.h5").string() + ":/w");
  ASSERT_EQ(r.code, 0) << r.err;
  {
    const auto c = emb::io::StoreReader(h5).clustering("few");
    std::vector<int> used(4, 0);
    for (int i = 0; i < 20; ++i) used[static_cast<size_t>(c.labels[static_cast<size_t>(i)])] = 1;
    EXPECT_EQ(std::count(used.begin(), used.end(), 1), 4);  // every centre serves weighted points
  }
  // Wrong length and zero sum are clear errors that leave the file alone.
  const std::string before = slurp(h5);
  write_weights(path("short.h5").string(), std::vector<float>(5, 1.0f));
  r = run("cluster " + h5 + " --k 4 --name bad --weights " + path("short.h5").string() + ":/w");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("has 5 values"), std::string::npos) << r.err;
  write_weights(path("zero.h5").string(), std::vector<float>(static_cast<size_t>(n), 0.0f));
  r = run("cluster " + h5 + " --k 4 --name bad --weights " + path("zero.h5").string() + ":/w");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find(path("zero.h5").string() + ":/w: the weights sum to 0"), std::string::npos) << r.err;
  // A NaN or negative weight: its dataset and row named.
  for (const float v : {std::numeric_limits<float>::quiet_NaN(), -1.0f}) {
    std::vector<float> w(static_cast<size_t>(n), 1.0f);
    w[7] = v;
    const std::string odd = path(std::isnan(v) ? "nan.h5" : "negative.h5").string();
    write_weights(odd, w);
    r = run("cluster " + h5 + " --k 4 --name bad --weights " + odd + ":/w");
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find(odd + ":/w: row 7 is "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("finite and non-negative"), std::string::npos) << r.err;
  }
  EXPECT_EQ(slurp(h5), before);
}

TEST_F(Cli, HdbscanWritesItsTreesAndPredictAssignsNewPoints) {
  const auto h5 = path("s.h5").string();
  Result r = run("run " + sample() + " -o " + h5 + " --dim 64 --method hdbscan --min-cluster-size 4");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("hdbscan (l2, min_cluster_size 4, min_samples 4)"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("--reduce pca:32 often"), std::string::npos) << "64 dimensions need no note";
  r = run("cluster " + h5 + " --method hdbscan --min-cluster-size 4 --metric cosine --reduce pca:8 --name small");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("PCA to 8 of 64 dimensions"), std::string::npos) << r.err;
  const auto wide = path("wide.h5").string();
  r = run("run " + sample() + " -o " + wide + " --dim 128 --method hdbscan --min-cluster-size 4");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("note: density in 128 dimensions"), std::string::npos) << r.err;
  int64_t n = 0;
  {
    emb::io::StoreReader s(h5);
    const emb::io::Clustering c = s.clustering("hdbscan");
    n = static_cast<int64_t>(c.labels.size());
    ASSERT_TRUE(c.density);
    EXPECT_EQ(c.method, "hdbscan");
    EXPECT_EQ(c.probabilities.size(), c.labels.size());
    EXPECT_EQ(c.density->minimum_spanning_tree.size(), static_cast<size_t>(3 * (n - 1)));
    EXPECT_EQ(c.density->single_linkage_tree.size(), static_cast<size_t>(4 * (n - 1)));
    EXPECT_EQ(c.density->condensed_tree.parent.front(), n);  // the root
    EXPECT_EQ(c.density->selected.size(), static_cast<size_t>(c.n_clusters));
    EXPECT_EQ(c.params["min_cluster_size"], 4);
    EXPECT_TRUE(c.params["timings"].contains("mst"));
    const emb::io::Clustering p = s.clustering("small");
    ASSERT_TRUE(p.reduction);
    EXPECT_EQ(p.reduction->dim, 8);
    EXPECT_EQ(p.params["metric"], "cosine");
  }
  // The search partition changes the work, not the answer; --search-parts -2 is refused.
  r = run("cluster " + h5 + " --method hdbscan --min-cluster-size 4 --search-parts 6 --name parts");
  ASSERT_EQ(r.code, 0) << r.err;
  {
    emb::io::StoreReader s(h5);
    const emb::io::Clustering all = s.clustering("hdbscan"), parts = s.clustering("parts");
    EXPECT_EQ(all.params["search_parts"], 0) << "the sample is below 4096 points";
    EXPECT_GE(parts.params["search_parts"], 1);
    EXPECT_LE(parts.params["search_parts"], 6);
    EXPECT_EQ(parts.labels, all.labels);
    EXPECT_EQ(parts.density->minimum_spanning_tree, all.density->minimum_spanning_tree);
  }
  r = run("cluster " + h5 + " --method hdbscan --search-parts -2 --name bad");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("--search-parts"), std::string::npos) << r.err;
  // info shows the noise and, per cluster, its most probable members first.
  r = run("info " + h5 + " --examples 1");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("clustering 'hdbscan': hdbscan"), std::string::npos) << r.out;
  {
    emb::io::StoreReader s(h5);
    const emb::io::Clustering c = s.clustering("hdbscan");
    if (c.n_clusters > 0) {
      size_t best = 0;
      for (size_t i = 0; i < c.labels.size(); ++i)
        if (c.labels[i] == 0 && (c.labels[best] != 0 || c.probabilities[i] > c.probabilities[best])) best = i;
      std::string text = s.segments().text[best].substr(0, 40);
      EXPECT_NE(r.out.find(text), std::string::npos) << "the most probable member of cluster 0: " << text;
    }
  }
  // Predicting the fitted points themselves gives back (nearly all) their labels.
  const auto other = path("other.h5").string();
  fs::copy_file(h5, other);
  r = run("predict " + other + " --fit " + h5 + " --clustering small --name again");
  ASSERT_EQ(r.code, 0) << r.err;
  {
    emb::io::StoreReader s(other);
    const auto fit = s.clustering("small").labels, again = s.clustering("again").labels;
    ASSERT_EQ(again.size(), fit.size());
    int64_t same = 0;
    for (size_t i = 0; i < fit.size(); ++i) same += fit[i] == again[i];
    EXPECT_GE(same, n * 9 / 10);
    EXPECT_EQ(s.clustering("again").method, "hdbscan-predict");
  }
  // A k-means clustering cannot be predicted against; bad HDBSCAN options are usage errors.
  ASSERT_EQ(run("cluster " + h5 + " --k 3").code, 0);
  const std::string before = slurp(other);
  r = run("predict " + other + " --fit " + h5 + " --clustering kmeans");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("not hdbscan"), std::string::npos) << r.err;
  EXPECT_EQ(slurp(other), before);
  r = run("cluster " + h5 + " --method hdbscan --min-cluster-size 1");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("min_cluster_size must be at least 2"), std::string::npos) << r.err;
  r = run("cluster " + h5 + " --method hdbscan --reduce pca:0");
  EXPECT_EQ(r.code, 2);
  r = run("cluster " + h5 + " --method hdbscan --reduce pca:65");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("1 <= N <= 64"), std::string::npos) << r.err;
  r = run("predict " + other);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--fit"), std::string::npos) << r.err;
}
