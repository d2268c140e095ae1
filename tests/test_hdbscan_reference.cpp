// HDBSCAN against the hdbscan package on the committed reference cases
// (tests/data/hdbscan/reference.h5, made by scripts/make_hdbscan_fixtures.py):
//  - the tree half on the package's own condensed tree gives its labels,
//    probabilities, GLOSH scores, persistence and exemplars exactly;
//  - approximate_predict on the package's tree gives its predictions;
//  - the whole fit gives its core distances and spanning-tree weight to 1e-5 and,
//    on every point whose answer does not depend on how tied distances are ordered
//    (the fixture's tie_sensitive mask), its labels (adjusted Rand index 1),
//    probabilities and outlier scores to 1e-4.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>

#include "host/cluster/hdbscan.hpp"
#include "host/cpu/cpu_backend.hpp"
#include "io/h5.hpp"
#include "test_util.hpp"

namespace emb {
namespace {

namespace h5 = io::h5;

const std::string kFile = std::string(EMBCLUST_SOURCE_DIR) + "/tests/data/hdbscan/reference.h5";

struct Case {
  std::string name;
  Matrix x;
  HdbscanOptions opts;
  bool exact = true;
  bool stable_k = true, stable_persistence = true;
  int64_t n_clusters = 0;
  double mst_weight = 0.0;
  std::vector<int32_t> labels;
  std::vector<double> probabilities, outlier_scores, persistence, core;
  std::vector<int32_t> exemplars;
  std::vector<int64_t> exemplar_offsets;
  io::CondensedTree tree;
  std::vector<int64_t> prediction_clusters;
  std::vector<double> prediction_core;
  Matrix predict_x;
  std::vector<int32_t> predict_labels;
  std::vector<double> predict_probabilities;
  std::vector<int32_t> sensitive;
};

std::vector<std::string> case_names() {
  h5::File f = h5::open_file(kFile);
  return h5::members(f.get());
}

Case load(const std::string& name) {
  h5::File f = h5::open_file(kFile);
  const std::string g = "/" + name + "/";
  h5::Group grp = h5::open_group(f.get(), "/" + name);
  Case c;
  c.name = name;
  h5::FloatMatrix x = h5::read_matrix(f.get(), g + "X");
  c.x = Matrix::from(std::move(x.data), x.rows, x.cols);
  c.opts.min_cluster_size = h5::int_attr(grp.get(), "min_cluster_size");
  c.opts.min_samples = h5::int_attr(grp.get(), "min_samples");
  c.opts.metric = h5::string_attr(grp.get(), "metric") == "cosine" ? Metric::Cosine : Metric::L2;
  c.opts.selection =
      h5::string_attr(grp.get(), "cluster_selection_method") == "leaf" ? ClusterSelection::Leaf : ClusterSelection::Eom;
  c.opts.cluster_selection_epsilon = h5::double_attr(grp.get(), "cluster_selection_epsilon");
  c.opts.allow_single_cluster = h5::int_attr(grp.get(), "allow_single_cluster") != 0;
  c.opts.max_cluster_size = h5::int_attr(grp.get(), "max_cluster_size");
  c.opts.mst = MstChoice::Exact;
  c.exact = h5::int_attr(grp.get(), "exact") != 0;
  c.stable_k = h5::int_attr(grp.get(), "ties_stable_n_clusters") != 0;
  c.stable_persistence = h5::int_attr(grp.get(), "ties_stable_persistence") != 0;
  c.n_clusters = h5::int_attr(grp.get(), "n_clusters");
  c.mst_weight = h5::double_attr(grp.get(), "mst_weight");
  c.labels = h5::read_vector<int32_t>(f.get(), g + "labels");
  c.probabilities = h5::read_doubles(f.get(), g + "probabilities");
  c.outlier_scores = h5::read_doubles(f.get(), g + "outlier_scores");
  c.persistence = h5::read_doubles(f.get(), g + "persistence");
  c.core = h5::read_doubles(f.get(), g + "core_distances");
  c.exemplars = h5::read_vector<int32_t>(f.get(), g + "exemplars");
  c.exemplar_offsets = h5::read_vector<int64_t>(f.get(), g + "exemplar_offsets");
  c.tree.parent = h5::read_vector<int64_t>(f.get(), g + "condensed_tree_parent");
  c.tree.child = h5::read_vector<int64_t>(f.get(), g + "condensed_tree_child");
  c.tree.lambda_val = h5::read_doubles(f.get(), g + "condensed_tree_lambda");
  c.tree.child_size = h5::read_vector<int64_t>(f.get(), g + "condensed_tree_size");
  c.prediction_clusters = h5::read_vector<int64_t>(f.get(), g + "prediction_clusters");
  c.sensitive = h5::read_vector<int32_t>(f.get(), g + "tie_sensitive");
  if (h5::exists(f.get(), g + "predict_X")) {
    h5::FloatMatrix p = h5::read_matrix(f.get(), g + "predict_X");
    c.predict_x = Matrix::from(std::move(p.data), p.rows, p.cols);
    c.predict_labels = h5::read_vector<int32_t>(f.get(), g + "predict_labels");
    c.predict_probabilities = h5::read_doubles(f.get(), g + "predict_probabilities");
    if (h5::exists(f.get(), g + "prediction_core_distances"))
      c.prediction_core = h5::read_doubles(f.get(), g + "prediction_core_distances");
  }
  return c;
}

class HdbscanReference : public ::testing::TestWithParam<std::string> {};

TEST_P(HdbscanReference, TreeHalfOnThePackagesTreeGivesItsAnswers) {
  const Case c = load(GetParam());
  const int64_t n = c.x.rows();
  const TreeResult r = extract_clusters(c.tree, n, tree_options(c.opts));
  EXPECT_EQ(static_cast<int64_t>(r.selected.size()), c.n_clusters);
  EXPECT_EQ(r.labels, c.labels);
  for (int64_t i = 0; i < n; ++i) {
    EXPECT_NEAR(r.probabilities[i], c.probabilities[i], 1e-12) << "point " << i;
    if (std::isnan(c.outlier_scores[i])) EXPECT_TRUE(std::isnan(r.outlier_scores[i]));
    else EXPECT_NEAR(r.outlier_scores[i], c.outlier_scores[i], 1e-12) << "point " << i;
  }
  ASSERT_EQ(r.persistence.size(), c.persistence.size());
  for (size_t k = 0; k < c.persistence.size(); ++k) EXPECT_NEAR(r.persistence[k], c.persistence[k], 1e-9);
  // The package's exemplars belong to the clusters its PredictionData picks, which
  // are ours except where it ignores epsilon or max_cluster_size.
  if (r.selected == c.prediction_clusters) {
    EXPECT_EQ(r.exemplars, c.exemplars);
    EXPECT_EQ(r.exemplar_offsets, c.exemplar_offsets);
  }
}

TEST_P(HdbscanReference, PredictOnThePackagesTreeGivesItsPredictions) {
  const Case c = load(GetParam());
  if (c.predict_x.rows() == 0 || c.prediction_core.empty()) GTEST_SKIP() << c.name << " has no prediction data";
  CpuBackend cpu(2);
  const int64_t ms = c.opts.min_samples > 0 ? c.opts.min_samples : c.opts.min_cluster_size;
  const HdbscanResult fit = hdbscan(cpu, c.x.view(), c.opts);
  for (size_t i = 0; i < c.prediction_core.size(); ++i)
    EXPECT_NEAR(fit.prediction_core_distances[i], c.prediction_core[i], 1e-5 * std::max(1.0, c.prediction_core[i]));
  std::vector<float> pcore(c.prediction_core.begin(), c.prediction_core.end());
  const HdbscanPrediction p = hdbscan_predict(cpu, c.x.view(), c.predict_x.view(), c.tree, c.prediction_clusters,
                                              pcore, ms, c.opts.metric);
  EXPECT_EQ(p.labels, c.predict_labels);
  for (size_t i = 0; i < p.probabilities.size(); ++i)
    EXPECT_NEAR(p.probabilities[i], c.predict_probabilities[i], 1e-4) << "new point " << i;
}

TEST_P(HdbscanReference, FitMatchesThePackage) {
  const Case c = load(GetParam());
  const int64_t n = c.x.rows();
  for (int threads : {1, 2}) {
    CpuBackend cpu(threads);
    for (int kd : {16, 0}) {  // the k-d tree and the GEMM search
      HdbscanOptions o = c.opts;
      o.kd_tree_max_dim = kd;
      const HdbscanResult r = hdbscan(cpu, c.x.view(), o);
      SCOPED_TRACE(c.name + ", threads " + std::to_string(threads) + ", kd " + std::to_string(kd));
      for (int64_t i = 0; i < n; ++i)
        ASSERT_NEAR(r.core_distances[i], c.core[i], 1e-5 * std::max(c.core[i], 1e-3)) << "point " << i;
      EXPECT_NEAR(r.mst_weight(), c.mst_weight, 1e-5 * c.mst_weight);
      if (c.stable_k) EXPECT_EQ(static_cast<int64_t>(r.tree.selected.size()), c.n_clusters);
      // tie_sensitive bits: 1 label, 2 probability, 4 outlier score.
      std::vector<int32_t> ours, theirs;
      for (int64_t i = 0; i < n; ++i)
        if (!(c.sensitive[i] & 1)) {
          ours.push_back(r.tree.labels[i]);
          theirs.push_back(c.labels[i]);
        }
      EXPECT_GE(ours.size(), static_cast<size_t>(n) / 2) << "most labels do not depend on ties";
      EXPECT_DOUBLE_EQ(test::adjusted_rand_index(ours, theirs), 1.0);
      if (!c.exact) continue;
      for (int64_t i = 0; i < n; ++i) {
        if (!(c.sensitive[i] & 2)) EXPECT_NEAR(r.tree.probabilities[i], c.probabilities[i], 1e-4) << "point " << i;
        if (!(c.sensitive[i] & 4)) EXPECT_NEAR(r.tree.outlier_scores[i], c.outlier_scores[i], 1e-4) << "point " << i;
      }
      if (c.stable_persistence && c.stable_k) {
        // Persistence per cluster, matched through the labels.
        std::map<int32_t, int32_t> to_theirs;
        for (int64_t i = 0; i < n; ++i)
          if (!(c.sensitive[i] & 1) && r.tree.labels[i] >= 0) to_theirs[r.tree.labels[i]] = c.labels[i];
        for (auto [mine, ref] : to_theirs)
          if (ref >= 0) EXPECT_NEAR(r.tree.persistence[mine], c.persistence[ref], 1e-4) << "cluster " << mine;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, HdbscanReference, ::testing::ValuesIn(case_names()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace emb
