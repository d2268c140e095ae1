// HDBSCAN's driver on the CPU backend: the spanning tree against a naive Prim's
// algorithm on both search paths (k-d tree and GEMM tiles), the k-NN-graph tree,
// determinism, the edge cases, and predict on the fitted points.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

#include "host/cluster/hdbscan.hpp"
#include "host/cluster/search_partition.hpp"
#include "host/core/error.hpp"
#include "host/cpu/cpu_backend.hpp"
#include "kmeans_test_helpers.hpp"
#include "test_util.hpp"

namespace emb {
namespace {

using test::adjusted_rand_index;
using test::gaussian_blobs;
using test::random_matrix;

// Prim's algorithm on the complete mutual-reachability graph, in double: O(n^2).
double prim_weight(ConstMatrixView x, int64_t min_samples, Metric metric) {
  const int64_t n = x.rows;
  std::vector<std::vector<double>> d(static_cast<size_t>(n), std::vector<double>(static_cast<size_t>(n)));
  std::vector<float> unit(x.data, x.data + x.size());
  if (metric == Metric::Cosine)
    for (int64_t i = 0; i < n; ++i) {
      double s = 0;
      for (int64_t j = 0; j < x.cols; ++j) s += double(unit[i * x.cols + j]) * unit[i * x.cols + j];
      for (int64_t j = 0; j < x.cols; ++j) unit[i * x.cols + j] = float(unit[i * x.cols + j] / std::sqrt(s));
    }
  const ConstMatrixView u{unit.data(), n, x.cols};
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) d[i][j] = metric_distance(metric, exact_dist2(u, i, j));
  std::vector<double> core(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    std::vector<double> r = d[i];
    std::nth_element(r.begin(), r.begin() + min_samples, r.end());
    core[i] = r[min_samples];
  }
  std::vector<double> best(static_cast<size_t>(n), std::numeric_limits<double>::infinity());
  std::vector<char> in(static_cast<size_t>(n), 0);
  double total = 0;
  int64_t cur = 0;
  in[0] = 1;
  for (int64_t step = 1; step < n; ++step) {
    for (int64_t j = 0; j < n; ++j)
      if (!in[j]) best[j] = std::min(best[j], std::max({core[cur], core[j], d[cur][j]}));
    int64_t next = -1;
    for (int64_t j = 0; j < n; ++j)
      if (!in[j] && (next < 0 || best[j] < best[next])) next = j;
    total += best[next];
    in[next] = 1;
    cur = next;
  }
  return total;
}

HdbscanOptions options(int64_t mcs, int64_t ms = 0) {
  HdbscanOptions o;
  o.min_cluster_size = mcs;
  o.min_samples = ms;
  return o;
}

struct MstCase {
  int64_t n, d;
  int kd_max_dim;  // 0: GEMM tiles and nearest_other_component; 16: the k-d tree
  int knn;
  Metric metric;
};

class HdbscanMst : public ::testing::TestWithParam<MstCase> {};

TEST_P(HdbscanMst, ExactBoruvkaMatchesPrim) {
  const MstCase c = GetParam();
  auto [x, truth] = gaussian_blobs(c.n, c.d, 4, 6.0f, 11 + c.d);
  CpuBackend cpu(2);
  HdbscanOptions o = options(8, 5);
  o.kd_tree_max_dim = c.kd_max_dim;
  o.knn = c.knn;
  o.metric = c.metric;
  o.mst = MstChoice::Exact;
  const HdbscanResult r = hdbscan(cpu, x.view(), o);
  EXPECT_EQ(r.stats.kd_tree, c.kd_max_dim > 0 && c.d <= c.kd_max_dim);
  ASSERT_EQ(r.mst.size(), static_cast<size_t>(3 * (c.n - 1)));
  const double want = prim_weight(x.view(), 5, c.metric);
  EXPECT_NEAR(r.mst_weight(), want, 1e-9 * want);
  // The tree's distances increase and every edge is at least both core distances.
  for (size_t e = 0; e + 1 < r.mst.size() / 3; ++e) EXPECT_LE(r.mst[3 * e + 2], r.mst[3 * e + 5]);
  for (size_t e = 0; e < r.mst.size() / 3; ++e) {
    const auto a = static_cast<size_t>(r.mst[3 * e]), b = static_cast<size_t>(r.mst[3 * e + 1]);
    EXPECT_GE(r.mst[3 * e + 2], std::max(r.core_distances[a], r.core_distances[b]) * (1 - 1e-12));
  }
  // The k-NN-graph tree with exact repair spans too and is never lighter.
  o.mst = MstChoice::Knn;
  const HdbscanResult k = hdbscan(cpu, x.view(), o);
  EXPECT_EQ(k.stats.mst, MstMethod::Knn);
  EXPECT_GT(k.stats.mst_stats.knn_edges, c.n / 2) << "most edges come from the k-NN graph";
  EXPECT_LE(k.stats.mst_stats.knn_edges, c.n - 1);
  EXPECT_GE(k.mst_weight(), want * (1 - 1e-12));
  EXPECT_LE(k.mst_weight(), want * 1.05);
}

INSTANTIATE_TEST_SUITE_P(
    Paths, HdbscanMst,
    ::testing::Values(MstCase{400, 2, 16, 0, Metric::L2}, MstCase{400, 2, 0, 0, Metric::L2},
                      MstCase{600, 10, 16, 0, Metric::L2}, MstCase{600, 10, 0, 0, Metric::L2},
                      MstCase{500, 40, 16, 0, Metric::L2}, MstCase{500, 40, 0, 6, Metric::L2},
                      MstCase{300, 3, 16, 300, Metric::L2}, MstCase{500, 24, 0, 0, Metric::Cosine}));

// The exact tree over GEMM searches, no k-d tree and no partition: what the
// contraction tests run.
HdbscanResult exact_without_partition(ConstMatrixView x, int64_t mcs, int64_t ms) {
  CpuBackend cpu(2);
  HdbscanOptions o = options(mcs, ms);
  o.kd_tree_max_dim = 0;
  o.mst = MstChoice::Exact;
  o.search_parts = 0;
  return hdbscan(cpu, x, o);
}

// The contraction searches pairs of components front rows first and skips pairs
// whose bound says they are already joined: the tree must still be Prim's, with
// far fewer distances than every pair of components in full.
TEST(HdbscanMst, ContractionBoundsKeepTheExactTree) {
  auto [x, truth] = gaussian_blobs(1800, 12, 24, 30.0f, 5);
  const HdbscanResult r = exact_without_partition(x.view(), 10, 5);
  const MstStats& st = r.stats.mst_stats;
  ASSERT_EQ(st.contracted, 1);
  ASSERT_GE(st.contract_components, 12);
  const int64_t c = st.contract_components;
  EXPECT_LT(st.contract_pairs, c * (c - 1) / 2 / 2) << "most pairs of components are never searched";
  EXPECT_NEAR(r.mst_weight(), prim_weight(x.view(), 5, Metric::L2), 1e-9 * r.mst_weight());
  EXPECT_EQ(adjusted_rand_index(r.tree.labels, truth), 1.0);
}

// Blobs in close pairs, the pairs far apart: a component holding two blobs has its
// centre between them, so the contraction splits it at its bridge and pairs the
// pieces. The tree is still Prim's.
TEST(HdbscanMst, ContractionSplitsComponentsOfSeveralBlobs) {
  const int64_t pairs = 8, per = 150, d = 30, n = 2 * pairs * per;
  Matrix x(n, d);
  std::mt19937_64 rng(21);
  std::uniform_real_distribution<float> u(-40.0f, 40.0f);
  std::normal_distribution<float> g(0.0f, 1.0f);
  for (int64_t p = 0; p < pairs; ++p) {
    std::vector<float> centre(static_cast<size_t>(d)), offset(static_cast<size_t>(d));
    for (float& v : centre) v = u(rng);
    double norm = 0;
    for (float& v : offset) norm += double(v = g(rng)) * v;
    for (float& v : offset) v = static_cast<float>(v / std::sqrt(norm) * 14.0);
    for (int64_t t = 0; t < 2 * per; ++t) {
      const int64_t i = p * 2 * per + t;
      for (int64_t j = 0; j < d; ++j) x.row(i)[j] = centre[j] + (t % 2 ? offset[j] : 0.0f) + g(rng);
    }
  }
  const HdbscanResult r = exact_without_partition(x.view(), 20, 5);
  const MstStats& st = r.stats.mst_stats;
  ASSERT_EQ(st.contracted, 1);
  EXPECT_GT(st.contract_pieces, st.contract_components) << "components of two blobs are split";
  EXPECT_NEAR(r.mst_weight(), prim_weight(x.view(), 5, Metric::L2), 1e-9 * r.mst_weight());
}

// Blobs in many dimensions: the ball bounds of the search partition cannot tell
// one far blob from another, so a component that is a whole blob would search
// most rows for its lightest edge. Boruvka leaves such components to the
// contraction; the tree is still Prim's and the one the search over all rows finds.
TEST(HdbscanMst, FarSearchesAreLeftToTheContraction) {
  const Matrix x = gaussian_blobs(2000, 96, 5, 10.0f, 3).first;
  CpuBackend cpu(2);
  HdbscanOptions o = options(20, 5);
  o.kd_tree_max_dim = 0;
  o.mst = MstChoice::Exact;
  o.search_parts = default_partition_parts(x.rows());
  const HdbscanResult r = hdbscan(cpu, x.view(), o);
  const MstStats& st = r.stats.mst_stats;
  EXPECT_GT(st.deferred, 0);
  EXPECT_EQ(st.contracted, 1);
  EXPECT_EQ(r.mst, exact_without_partition(x.view(), 20, 5).mst);
  EXPECT_NEAR(r.mst_weight(), prim_weight(x.view(), 5, Metric::L2), 1e-9 * r.mst_weight());
}

// Components whose centres (nearly) coincide give the axis bound nothing to work
// with: two concentric shells and a blob at their centre. The tree is still exact.
TEST(HdbscanMst, ContractionWithCoincidentCentresIsExact) {
  const int64_t n = 900, d = 3;
  Matrix x(n, d);
  std::mt19937_64 rng(9);
  std::normal_distribution<float> g(0.0f, 1.0f);
  for (int64_t i = 0; i < n; ++i) {
    float v[3] = {g(rng), g(rng), g(rng)};
    const float norm = std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
    const float radius = i % 3 == 0 ? 0.3f * norm / 3.0f : i % 3 == 1 ? 6.0f : 12.0f;
    for (int j = 0; j < 3; ++j) x.row(i)[j] = v[j] / norm * radius;
  }
  const HdbscanResult r = exact_without_partition(x.view(), 10, 4);
  EXPECT_EQ(r.stats.mst_stats.contracted, 1);
  EXPECT_NEAR(r.mst_weight(), prim_weight(x.view(), 4, Metric::L2), 1e-9 * r.mst_weight());
}

TEST(Hdbscan, FindsSeparatedBlobsAndIsDeterministic) {
  auto [x, truth] = gaussian_blobs(1500, 8, 5, 20.0f, 3);
  CpuBackend one(1), two(2);
  const HdbscanResult a = hdbscan(one, x.view(), options(15));
  const HdbscanResult b = hdbscan(two, x.view(), options(15));
  EXPECT_EQ(a.tree.labels, b.tree.labels);
  EXPECT_EQ(a.tree.selected.size(), 5u);
  EXPECT_GT(adjusted_rand_index(a.tree.labels, truth), 0.9);
  HdbscanOptions gemm = options(15);
  gemm.kd_tree_max_dim = 0;
  EXPECT_EQ(hdbscan(two, x.view(), gemm).tree.labels, a.tree.labels);
  // Outputs are consistent with the labels.
  for (size_t i = 0; i < a.tree.labels.size(); ++i) {
    EXPECT_GE(a.tree.probabilities[i], 0.0);
    EXPECT_LE(a.tree.probabilities[i], 1.0);
    if (a.tree.labels[i] < 0) EXPECT_EQ(a.tree.probabilities[i], 0.0);
    EXPECT_GE(a.tree.outlier_scores[i], 0.0);
    EXPECT_LE(a.tree.outlier_scores[i], 1.0);
  }
  ASSERT_EQ(a.tree.exemplar_offsets.size(), a.tree.selected.size() + 1);
  for (size_t c = 0; c < a.tree.selected.size(); ++c)
    for (int64_t e = a.tree.exemplar_offsets[c]; e < a.tree.exemplar_offsets[c + 1]; ++e) {
      EXPECT_EQ(a.tree.labels[a.tree.exemplars[e]], static_cast<int32_t>(c));
      EXPECT_EQ(a.tree.probabilities[a.tree.exemplars[e]], 1.0);
    }
  EXPECT_EQ(a.tree.single_linkage.size(), 4u * 1499);
  // The first Boruvka round is proven from the k-NN lists, whatever min_samples is.
  for (int64_t ms : {5, 15, 25, 40}) {
    const HdbscanResult m = hdbscan(two, x.view(), options(15, ms));
    EXPECT_GT(m.stats.mst_stats.certified, 1500 / 2) << "min_samples " << ms;
    EXPECT_GT(m.stats.knn, ms + 1);
  }
  EXPECT_EQ(a.tree.single_linkage.back(), 1500.0);  // the last merge holds every point
}

TEST(Hdbscan, CosineIgnoresRowLengths) {
  auto [x, truth] = gaussian_blobs(600, 16, 3, 10.0f, 5);
  Matrix scaled = x;
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<float> u(0.5f, 4.0f);
  for (int64_t i = 0; i < scaled.rows(); ++i) {
    const float s = u(rng);
    for (int64_t j = 0; j < scaled.cols(); ++j) scaled.row(i)[j] *= s;
  }
  CpuBackend cpu(2);
  HdbscanOptions o = options(10);
  o.metric = Metric::Cosine;
  const HdbscanResult a = hdbscan(cpu, x.view(), o);
  const HdbscanResult b = hdbscan(cpu, scaled.view(), o);
  EXPECT_EQ(a.tree.labels, b.tree.labels);
  EXPECT_NEAR(a.mst_weight(), b.mst_weight(), 1e-5 * a.mst_weight());
  Matrix zero = x;
  std::fill(zero.row(7), zero.row(7) + zero.cols(), 0.0f);
  try {
    hdbscan(cpu, zero.view(), o);
    FAIL() << "a zero row has no cosine distance";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("row 7"), std::string::npos) << e.what();
  }
}

TEST(Hdbscan, DuplicatesAreClustersOfZeroWidth) {
  // Three groups of 40 identical points and 30 scattered ones.
  Matrix x(150, 3);
  std::mt19937_64 rng(2);
  std::uniform_real_distribution<float> u(-50.0f, 50.0f);
  for (int64_t i = 0; i < 150; ++i)
    for (int64_t j = 0; j < 3; ++j) x.row(i)[j] = i < 120 ? 10.0f * static_cast<float>(i / 40) + j : u(rng);
  CpuBackend cpu(2);
  for (int kd : {16, 0}) {
    HdbscanOptions o = options(10);
    o.kd_tree_max_dim = kd;
    const HdbscanResult r = hdbscan(cpu, x.view(), o);
    ASSERT_EQ(r.tree.selected.size(), 3u) << "kd " << kd;
    for (int g = 0; g < 3; ++g)
      for (int i = 1; i < 40; ++i) EXPECT_EQ(r.tree.labels[g * 40 + i], r.tree.labels[g * 40]);
    EXPECT_NE(r.tree.labels[0], r.tree.labels[40]);
    for (int i = 0; i < 120; ++i) EXPECT_EQ(r.core_distances[i], 0.0);
    for (double p : r.tree.persistence) EXPECT_TRUE(std::isfinite(p));
  }
}

TEST(Hdbscan, EdgeCasesHaveDocumentedAnswers) {
  CpuBackend cpu(1);
  // One point: noise, no tree.
  Matrix one(1, 4, 1.0f);
  HdbscanResult r = hdbscan(cpu, one.view(), options(5));
  EXPECT_EQ(r.tree.labels, std::vector<int32_t>{-1});
  EXPECT_TRUE(r.tree.condensed.parent.empty());
  // Fewer points than min_samples: min_samples is capped at n - 1.
  Matrix few = random_matrix(4, 3, 1);
  r = hdbscan(cpu, few.view(), options(2, 50));
  EXPECT_EQ(r.stats.min_samples, 3);
  EXPECT_EQ(r.tree.labels.size(), 4u);
  // min_cluster_size larger than n: all noise, unless one cluster is allowed.
  auto [x, truth] = gaussian_blobs(100, 2, 1, 0.0f, 4);
  r = hdbscan(cpu, x.view(), options(500));
  EXPECT_TRUE(std::all_of(r.tree.labels.begin(), r.tree.labels.end(), [](int32_t l) { return l == -1; }));
  EXPECT_TRUE(r.tree.selected.empty());
  HdbscanOptions single = options(20);
  single.allow_single_cluster = true;
  r = hdbscan(cpu, x.view(), single);
  ASSERT_EQ(r.tree.selected.size(), 1u);
  EXPECT_EQ(r.tree.selected[0], 100);  // the root; as in the hdbscan package, only the points that
  // leave it last are labelled (the others fall out of the root: noise)
  EXPECT_GT(std::count(r.tree.labels.begin(), r.tree.labels.end(), 0), 0);
  // All points identical: zero distances everywhere, no crash.
  Matrix same(50, 3, 2.0f);
  r = hdbscan(cpu, same.view(), single);
  EXPECT_EQ(r.tree.labels.size(), 50u);
  EXPECT_EQ(r.mst_weight(), 0.0);
  // Bad parameters and data are errors.
  EXPECT_THROW(hdbscan(cpu, x.view(), options(1)), UsageError);
  HdbscanOptions eps = options(5);
  eps.cluster_selection_epsilon = -1.0;
  EXPECT_THROW(hdbscan(cpu, x.view(), eps), UsageError);
  Matrix empty(0, 3);
  EXPECT_THROW(hdbscan(cpu, empty.view(), options(5)), InputError);
  Matrix nan = x;
  nan.row(3)[1] = std::numeric_limits<float>::quiet_NaN();
  try {
    hdbscan(cpu, nan.view(), options(5));
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("row 3, column 1"), std::string::npos) << e.what();
  }
}

TEST(Hdbscan, SelectionOptionsChangeTheClusters) {
  // Two pairs of nearby blobs: eom keeps the pairs or the blobs, leaf the blobs,
  // a large epsilon merges up to the pairs, max_cluster_size forbids the pairs.
  Matrix x(800, 2);
  std::mt19937_64 rng(9);
  std::normal_distribution<float> g(0.0f, 1.0f);
  const float cx[4] = {0, 8, 100, 108};
  for (int64_t i = 0; i < 800; ++i) {
    x.row(i)[0] = cx[i / 200] + g(rng);
    x.row(i)[1] = g(rng);
  }
  CpuBackend cpu(2);
  HdbscanOptions leaf = options(20);
  leaf.selection = ClusterSelection::Leaf;
  const HdbscanResult l = hdbscan(cpu, x.view(), leaf);
  EXPECT_GE(l.tree.selected.size(), 4u);
  HdbscanOptions capped = options(20);
  capped.max_cluster_size = 300;
  const HdbscanResult c = hdbscan(cpu, x.view(), capped);
  for (size_t k = 0; k < c.tree.selected.size(); ++k)
    EXPECT_LE(std::count(c.tree.labels.begin(), c.tree.labels.end(), static_cast<int32_t>(k)), 300);
  HdbscanOptions eps = leaf;
  eps.cluster_selection_epsilon = 30.0;  // above the gap inside a pair (8), below the gap between pairs (92)
  const HdbscanResult e = hdbscan(cpu, x.view(), eps);
  ASSERT_EQ(e.tree.selected.size(), 2u);
  EXPECT_EQ(e.tree.labels[10], e.tree.labels[210]);
  EXPECT_EQ(e.tree.labels[410], e.tree.labels[610]);
  EXPECT_NE(e.tree.labels[10], e.tree.labels[410]);
}

TEST(Hdbscan, PredictPutsFittedPointsInTheirClusters) {
  auto [x, truth] = gaussian_blobs(900, 5, 3, 25.0f, 8);
  CpuBackend cpu(2);
  const HdbscanOptions o = options(15);
  const HdbscanResult r = hdbscan(cpu, x.view(), o);
  std::vector<float> pcore(r.prediction_core_distances.begin(), r.prediction_core_distances.end());
  const HdbscanPrediction p =
      hdbscan_predict(cpu, x.view(), x.view(), r.tree.condensed, r.tree.selected, pcore, 15, Metric::L2);
  int64_t same = 0, clustered = 0;
  for (size_t i = 0; i < p.labels.size(); ++i)
    if (r.tree.labels[i] >= 0) {
      ++clustered;
      same += p.labels[i] == r.tree.labels[i];
    }
  EXPECT_GT(clustered, 800);
  EXPECT_GE(same, clustered * 99 / 100);
  // A point far from everything is noise.
  Matrix far(1, 5, 1e4f);
  const HdbscanPrediction q =
      hdbscan_predict(cpu, x.view(), far.view(), r.tree.condensed, r.tree.selected, pcore, 15, Metric::L2);
  EXPECT_EQ(q.labels[0], -1);
  EXPECT_EQ(q.probabilities[0], 0.0);
}


// ---- the search partition ---------------------------------------------------

TEST(SearchPartition, BoundsNeverExceedTheExactDistances) {
  auto [x, truth] = gaussian_blobs(1200, 12, 6, 15.0f, 5);
  CpuBackend cpu(2);
  const SearchPartition sp = make_search_partition(cpu, x.view(), 20, 3);
  ASSERT_GE(sp.parts(), 1);
  ASSERT_LE(sp.parts(), 20);
  ASSERT_EQ(sp.start.back(), 1200);
  std::vector<int> seen(1200, 0);
  for (int64_t c = 0; c < sp.parts(); ++c) {
    ASSERT_GT(sp.size(c), 0) << "empty parts are dropped";
    for (int64_t t = 0; t < sp.size(c); ++t) {
      const int32_t r = sp.rows(c)[t];
      ++seen[r];
      EXPECT_EQ(sp.part_of[r], c);
      if (t > 0) EXPECT_LT(sp.rows(c)[t - 1], r) << "rows increase within a part";
      EXPECT_LE(std::sqrt(exact_dist2(x.row(r), sp.centres.row(c), 12)), sp.radius[c]);
    }
  }
  EXPECT_EQ(std::count(seen.begin(), seen.end(), 1), 1200) << "every row in exactly one part";
  PartitionSearch search(sp, x.view());
  std::vector<int32_t> rows(1200);
  std::iota(rows.begin(), rows.end(), 0);
  std::vector<double> lb;
  search.lower_bounds(cpu, rows.data(), 1200, lb);
  int64_t useful = 0;
  for (int64_t i = 0; i < 1200; ++i)
    for (int64_t c = 0; c < sp.parts(); ++c) {
      const double b = lb[i * sp.parts() + c];
      useful += b > 0.0;
      for (int64_t t = 0; t < sp.size(c); ++t) ASSERT_LE(b, exact_dist2(x.view(), i, sp.rows(c)[t])) << i << " " << c;
    }
  EXPECT_GT(useful, 1200 * sp.parts() / 2) << "separated blobs: most parts are provably far";
  std::vector<char> take(static_cast<size_t>(sp.parts()), 0);
  take[0] = take[sp.parts() - 1] = 1;
  std::vector<int32_t> u;
  search.union_rows(take, u);
  std::vector<int32_t> want(sp.rows(0), sp.rows(0) + sp.size(0));
  if (sp.parts() > 1) want.insert(want.end(), sp.rows(sp.parts() - 1), sp.rows(sp.parts() - 1) + sp.size(sp.parts() - 1));
  std::sort(want.begin(), want.end());
  EXPECT_EQ(u, want);
}

struct PartitionCase {
  const char* name;
  // 0: separated blobs, 1: uniform, 2: small integers (ties, duplicates), 3: blobs,
  // cosine, 4: blobs that touch (parts searched together need different parts)
  int data;
  int64_t n, d;
};

class HdbscanSearchPartition : public ::testing::TestWithParam<PartitionCase> {};

// The partition only skips rows that cannot be answers: the k-NN graph (core
// distances), the spanning tree and the labels are those of the search over all rows.
TEST_P(HdbscanSearchPartition, SameResultAsSearchingAllRows) {
  const PartitionCase c = GetParam();
  Matrix x;
  if (c.data == 0 || c.data == 3) x = gaussian_blobs(c.n, c.d, 8, 30.0f, 7).first;
  if (c.data == 1) x = random_matrix(c.n, c.d, 9);
  if (c.data == 2) x = test::integer_matrix(c.n, c.d, 13, -2, 2);
  if (c.data == 4) x = gaussian_blobs(c.n, c.d, 6, 2.0f, 7).first;
  CpuBackend cpu(2);
  for (MstChoice mst : {MstChoice::Exact, MstChoice::Knn}) {
    HdbscanOptions o = options(20, 6);
    o.kd_tree_max_dim = 0;
    o.mst = mst;
    o.metric = c.data == 3 ? Metric::Cosine : Metric::L2;
    o.search_parts = 0;
    const HdbscanResult all = hdbscan(cpu, x.view(), o);
    EXPECT_EQ(all.stats.search_parts, 0);
    for (int64_t parts : {int64_t{1}, int64_t{7}, default_partition_parts(c.n)}) {
      SCOPED_TRACE(::testing::Message() << "parts " << parts << (mst == MstChoice::Exact ? " exact" : " knn"));
      o.search_parts = parts;
      const HdbscanResult r = hdbscan(cpu, x.view(), o);
      EXPECT_GE(r.stats.search_parts, 1);
      EXPECT_EQ(r.core_distances, all.core_distances);
      EXPECT_EQ(r.prediction_core_distances, all.prediction_core_distances);
      ASSERT_EQ(r.mst.size(), all.mst.size());
      EXPECT_EQ(r.mst, all.mst) << "the same edges, in the same order";
      EXPECT_EQ(r.tree.labels, all.tree.labels);
      EXPECT_EQ(r.tree.probabilities, all.tree.probabilities);
      if (c.data == 0 && parts > 7) {
        // Separated blobs: each k-NN search covers little more than its own blob,
        // and the tree searches each pair of points at most once.
        const double n2 = static_cast<double>(c.n) * static_cast<double>(c.n);
        EXPECT_LT(r.stats.knn_pairs, 0.4 * n2);
        EXPECT_LE(r.stats.mst_stats.pairs, 0.5 * n2);
      }
    }
  }
}

// Most points equal: the partition keeps them in one part, larger than the k-NN
// graph's largest group, which is then searched as a whole. The same result.
TEST(HdbscanSearchPartition, OnePartLargerThanAGroup) {
  const int64_t n = 9300, d = 4;
  Matrix x = random_matrix(n, d, 23);
  for (int64_t i = 0; i < 8400; ++i) std::fill_n(x.row(i), d, 0.25f);
  CpuBackend cpu(2);
  HdbscanOptions o = options(20, 6);
  o.kd_tree_max_dim = 0;
  o.search_parts = 0;
  const HdbscanResult all = hdbscan(cpu, x.view(), o);
  o.search_parts = default_partition_parts(n);
  const HdbscanResult r = hdbscan(cpu, x.view(), o);
  EXPECT_EQ(r.core_distances, all.core_distances);
  EXPECT_EQ(r.mst, all.mst);
  EXPECT_EQ(r.tree.labels, all.tree.labels);
}

// The drivers' GPU paths (the k-NN graph's first searches through k_nearest_among,
// larger Boruvka blocks) on the CPU's ops: the same result as the CPU's paths.
TEST(HdbscanSearchPartition, GpuPathsGiveTheCpuResult) {
  const Matrix x = gaussian_blobs(3000, 8, 6, 2.0f, 7).first;
  HdbscanOptions o = options(20, 6);
  o.kd_tree_max_dim = 0;
  o.mst = MstChoice::Exact;
  o.search_parts = default_partition_parts(x.rows());
  CpuBackend cpu(2);
  kmtest::CountingBackend gpu_shaped(true);
  const HdbscanResult want = hdbscan(cpu, x.view(), o);
  const HdbscanResult got = hdbscan(gpu_shaped, x.view(), o);
  EXPECT_EQ(got.stats.search_parts, want.stats.search_parts);
  EXPECT_EQ(got.core_distances, want.core_distances);
  EXPECT_EQ(got.mst, want.mst);
  EXPECT_EQ(got.tree.labels, want.tree.labels);
}

INSTANTIATE_TEST_SUITE_P(Data, HdbscanSearchPartition,
                         ::testing::Values(PartitionCase{"blobs", 0, 3000, 24}, PartitionCase{"uniform", 1, 1500, 6},
                                           PartitionCase{"near_blobs", 4, 3000, 8},
                                           PartitionCase{"integers", 2, 1800, 3},
                                           PartitionCase{"blobs_cosine", 3, 2000, 16}),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace emb
