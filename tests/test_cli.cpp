// The embclust command end to end: the sample corpus through every stage, each
// bad input with its sentence and exit code, and the atomic write through a
// failure injected mid-write.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <span>
#include <sstream>
#include <string>

#include "io/store.hpp"
#include "io/h5.hpp"
#include "model_test_util.hpp"
#ifdef EMBCLUST_HAVE_CUDA
#include "cuda/cuda_backend.hpp"
#endif

namespace fs = std::filesystem;

namespace {

struct Result {
  int code;
  std::string err;
  std::string out;
};

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("embclust_cli_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  Result run(const std::string& args, const std::string& env = "") {
    const fs::path out = dir_ / "stdout.txt", err = dir_ / "stderr.txt";
    // The fast hashing model unless a case names one: the encoders have tests of their own.
    const std::string model = args.find("--model") == std::string::npos ? " --model hashing" : "";
    const std::string cmd = env + " " EMBCLUST_BINARY " --device cpu " + args + model + " >" + out.string() +
                            " 2>" + err.string() + " </dev/null";
    const int status = std::system(cmd.c_str());
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(err), slurp(out)};
  }
  std::string sample() const { return std::string(EMBCLUST_SOURCE_DIR) + "/tests/data/sample"; }
  fs::path path(const std::string& name) const { return dir_ / name; }
  void write(const std::string& name, const std::string& bytes) {
    std::ofstream(dir_ / name, std::ios::binary) << bytes;
  }
  int files_in_dir() const { return static_cast<int>(std::distance(fs::directory_iterator(dir_), {})); }

  fs::path dir_;
};

TEST_F(Cli, RunOnTheSampleWritesEveryGroup) {
  const auto h5 = path("s.h5").string();
  Result r = run("run " + sample() + " -o " + h5 + " --k 4 --n-init 2");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("using cpu"), std::string::npos) << r.err;
  emb::io::StoreReader s(h5);
  const auto segs = s.segments();
  EXPECT_GT(segs.size(), 100u);
  const auto e = s.embeddings();
  EXPECT_EQ(e.n, static_cast<int64_t>(segs.size()));
  EXPECT_EQ(e.model, "hashing");
  const auto c = s.clustering("kmeans");
  EXPECT_EQ(c.n_clusters, 4);
  EXPECT_EQ(c.labels.size(), segs.size());
  EXPECT_NE(s.attributes().command.find("run"), std::string::npos);

  // Every segment of a text file is exactly its bytes in the file (BOM and CRLF files included).
  const auto docs = s.documents();
  size_t checked = 0;
  for (size_t i = 0; i < segs.size(); ++i) {
    const std::string& p = docs.path[static_cast<size_t>(segs.document[i])];
    if (p.ends_with(".jsonl")) continue;  // offsets there are into the decoded `text` value
    const std::string file = slurp(p);
    ASSERT_LE(segs.offset[i] + segs.length[i], static_cast<int64_t>(file.size()));
    ASSERT_EQ(file.substr(static_cast<size_t>(segs.offset[i]), static_cast<size_t>(segs.length[i])), segs.text[i])
        << p << " segment " << i;
    ++checked;
  }
  EXPECT_GT(checked, 200u);

  Result info = run("info " + h5);
  ASSERT_EQ(info.code, 0) << info.err;
  EXPECT_NE(info.out.find("clustering 'kmeans'"), std::string::npos) << info.out;
  EXPECT_NE(info.out.find("segments"), std::string::npos);
}

TEST_F(Cli, StagesOneByOneAndSeveralClusterings) {
  const auto h5 = path("s.h5").string();
  ASSERT_EQ(run("segment " + sample() + " -o " + h5).code, 0);
  EXPECT_FALSE(emb::io::StoreReader(h5).has_embeddings());
  ASSERT_EQ(run("embed " + h5 + " --dim 128").code, 0);
  ASSERT_EQ(run("cluster " + h5 + " --k 3 --name three").code, 0);
  ASSERT_EQ(run("cluster " + h5 + " --k 5 --name five").code, 0);
  ASSERT_EQ(run("cluster " + h5 + " --k 2 --name three").code, 0);  // replaces only its own group
  emb::io::StoreReader s(h5);
  EXPECT_EQ(s.embeddings().dim, 128);
  EXPECT_EQ(s.clustering_names(), (std::vector<std::string>{"five", "three"}));
  EXPECT_EQ(s.clustering("three").n_clusters, 2);
  EXPECT_EQ(s.clustering("five").n_clusters, 5);
}

TEST_F(Cli, ConfigFileSetsOptionsAndCommandLineWins) {
  write("c.toml", "k = 3\ndim = 64\nn-init = 1\n");
  const auto h5 = path("s.h5").string();
  ASSERT_EQ(run("run " + sample() + " -o " + h5 + " --config " + path("c.toml").string()).code, 0);
  EXPECT_EQ(emb::io::StoreReader(h5).clustering("kmeans").n_clusters, 3);
  EXPECT_EQ(emb::io::StoreReader(h5).embeddings().dim, 64);
  ASSERT_EQ(run("run " + sample() + " -o " + h5 + " --config " + path("c.toml").string() + " --k 5").code, 0);
  EXPECT_EQ(emb::io::StoreReader(h5).clustering("kmeans").n_clusters, 5);
}

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

TEST_F(Cli, UsageErrorsExitWithTwo) {
  EXPECT_EQ(run("").code, 2);
  Result r = run("run " + sample() + " -o " + path("x.h5").string() + " --no-such-option");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("no-such-option"), std::string::npos) << r.err;
  r = run("run " + sample() + " -o " + path("x.h5").string() + " --k 0");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("k must be at least 1"), std::string::npos) << r.err;
  r = run("run " + sample() + " -o " + path("x.h5").string() + " --model nope");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("nope"), std::string::npos) << r.err;
  EXPECT_EQ(run("run " + sample()).code, 2);  // no -o
  EXPECT_FALSE(fs::exists(path("x.h5")));
  EXPECT_EQ(run("--help").code, 0);
}

TEST_F(Cli, BadInputsFailWithOneSentence) {
  Result r = run("run " + path("missing.txt").string() + " -o " + path("x.h5").string());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("missing.txt"), std::string::npos) << r.err;

  write("bad.txt", "Hello there, this is fine.\nBut this \xff is not UTF-8.\n");
  r = run("run " + path("bad.txt").string() + " -o " + path("x.h5").string());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("bad.txt"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("36"), std::string::npos) << "byte offset of the bad byte: " << r.err;
  r = run("run " + path("bad.txt").string() + " -o " + path("x.h5").string() + " --invalid-utf8 replace --k 1");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("replaced"), std::string::npos) << r.err;

  fs::create_directories(dir_ / "empty");
  r = run("run " + (dir_ / "empty").string() + " -o " + path("y.h5").string());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("empty"), std::string::npos) << r.err;

  r = run("run " + sample() + " -o " + path("y.h5").string() + " --k 100000");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("larger than the number of points"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(path("y.h5")));

  write("notes.h5", "not an HDF5 file");
  r = run("info " + path("notes.h5").string());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("notes.h5"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one sentence: " << r.err;
}

TEST_F(Cli, DeviceCudaWithoutGpuIsAClearError) {
  bool have_gpu = false;
#ifdef EMBCLUST_HAVE_CUDA
  have_gpu = emb::cuda::device_count() > 0;
#endif
  const fs::path out = dir_ / "stdout.txt", err = dir_ / "stderr.txt";
  const std::string cmd = std::string(EMBCLUST_BINARY) + " run " + sample() + " -o " + path("g.h5").string() +
                          " --k 2 --device cuda 2>" + err.string();
  const int status = std::system(cmd.c_str());
  const std::string msg = slurp(err);
  if (have_gpu) {
    EXPECT_EQ(WEXITSTATUS(status), 0) << msg;
    EXPECT_NE(msg.find("cuda:0"), std::string::npos) << msg;
  } else {
    EXPECT_EQ(WEXITSTATUS(status), 1) << msg;
    EXPECT_NE(msg.find("--device cuda"), std::string::npos) << msg;
    EXPECT_FALSE(fs::exists(path("g.h5")));
  }
}

TEST_F(Cli, FailedWriteLeavesTheOldFileIntact) {
  const auto h5 = path("s.h5").string();
  ASSERT_EQ(run("run " + sample() + " -o " + h5 + " --k 3").code, 0);
  const std::string before = slurp(h5);
  const int files_before = files_in_dir();
  for (const char* n : {"0", "1"}) {
    Result r = run("cluster " + h5 + " --k 4 --name other", std::string("EMBCLUST_FAIL_AFTER_WRITES=") + n);
    EXPECT_EQ(r.code, 1) << r.err;
    EXPECT_NE(r.err.find("injected"), std::string::npos) << r.err;
    EXPECT_EQ(slurp(h5), before) << "the existing file changed";
    EXPECT_EQ(files_in_dir(), files_before) << "a temporary file was left behind";
  }
  Result r = run("run " + sample() + " -o " + h5 + " --k 5", "EMBCLUST_FAIL_AFTER_WRITES=3");
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(slurp(h5), before);
}

TEST_F(Cli, BadMetricOrInitValueExitsWithTwo) {
  Result r = run("run " + sample() + " -o " + path("x.h5").string() + " --metric euclid");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--metric"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("euclid"), std::string::npos) << r.err;
  r = run("run " + sample() + " -o " + path("x.h5").string() + " --init kmeans");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--init must be k-means++, k-means||, random or FILE.h5:/dataset"), std::string::npos) << r.err;
  r = run("run " + sample() + " -o " + path("x.h5").string() + " --tol-shift -1");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--tol-shift"), std::string::npos) << r.err;
  r = run("run " + sample() + " -o " + path("x.h5").string() + " --input " + path("x.h5").string() + ":/a");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--input applies only to 'embclust cluster'"), std::string::npos) << r.err;
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

}  // namespace

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

TEST_F(Cli, ModelsListsExportsAndBadModelsFailBeforeAnyWork) {
  // random:minilm-l6 borrows the installed MiniLM tokenizer.
  EMB_MODEL_FILE_OR_SKIP(tokenizer, "all-MiniLM-L6-v2", "tokenizer.json");
  const fs::path models = path("models");
  Result r = run("models --export random:minilm-l6 --to " + (models / "tiny").string() + " --seed 3");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(fs::exists(models / "tiny" / "model.safetensors"));
  r = run("models --export random:minilm-l6 --to " + (models / "tiny").string());
  EXPECT_EQ(r.code, 2);  // never overwrites
  EXPECT_NE(r.err.find("already exists"), std::string::npos) << r.err;

  r = run("models", "EMBCLUST_MODELS=" + models.string());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("tiny"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("BertModel"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("384"), std::string::npos) << r.out;

  // By name from the models folder: the file records the model and the run.
  const auto h5 = path("e.h5").string();
  r = run("run " + sample() + " -o " + h5 + " --k 3 --n-init 1 --model tiny --max-seq-length 64",
          "EMBCLUST_MODELS=" + models.string());
  ASSERT_EQ(r.code, 0) << r.err;
  const auto e = emb::io::StoreReader(h5).embeddings();
  EXPECT_EQ(e.model, "tiny");
  EXPECT_EQ(e.dim, 384);
  EXPECT_EQ(e.max_seq_length, 64);
  EXPECT_GT(e.tokens, e.n * 2);

  // A damaged weights file: one sentence naming it, exit 1, before reading the corpus.
  const auto st = models / "tiny" / "model.safetensors";
  fs::resize_file(st, fs::file_size(st) / 2);
  r = run("run " + sample() + " -o " + path("bad.h5").string() + " --model " + (models / "tiny").string());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("model.safetensors"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("segmented"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(path("bad.h5")));

  // A name that is not installed says how to install it.
  r = run("run " + sample() + " -o " + path("bad.h5").string() + " --model no-such-model",
          "EMBCLUST_MODELS=" + models.string());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("fetch_model.sh no-such-model"), std::string::npos) << r.err;
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

namespace {

std::vector<float> vectors_of(const std::string& h5) { return emb::io::StoreReader(h5).embeddings().vectors; }

}  // namespace

TEST_F(Cli, AKilledRunResumesFromItsStoredChunks) {
  const auto whole = path("whole.h5").string(), h5 = path("r.h5").string();
  ASSERT_EQ(run("run " + sample() + " -o " + whole + " --k 4 --chunk-rows 40").code, 0);
  // Killed (SIGKILL: no clean-up at all) right after its third chunk is stored.
  Result r = run("run " + sample() + " -o " + h5 + " --k 4 --chunk-rows 40", "EMBCLUST_KILL_AFTER_CHUNKS=3");
  EXPECT_EQ(r.code, 128 + SIGKILL) << r.err;  // as the shell reports a killed command
  EXPECT_FALSE(fs::exists(h5));
  ASSERT_TRUE(fs::exists(h5 + ".partial"));
  // Other settings are refused, naming the one that differs; the partial file stays.
  r = run("run " + sample() + " -o " + h5 + " --k 4 --chunk-rows 40 --resume --dim 512");
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("it was started with dim 1024, and this run has 512; run without --resume"), std::string::npos)
      << r.err;
  r = run("run " + sample() + " -o " + h5 + " --k 4 --resume --min-chars 20");  // other sentences
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("it was started with sentences 330, and this run has"), std::string::npos) << r.err;
  ASSERT_TRUE(fs::exists(h5 + ".partial"));
  // Without --chunk-rows the resumed run keeps the file's chunks.
  r = run("run " + sample() + " -o " + h5 + " --k 4 --resume");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("3 of 9 chunks (40 segments each) are stored; embedding the rest"), std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(h5 + ".partial"));
  EXPECT_EQ(vectors_of(h5), vectors_of(whole));
  EXPECT_EQ(emb::io::StoreReader(h5).clustering("kmeans").labels,
            emb::io::StoreReader(whole).clustering("kmeans").labels);
  EXPECT_EQ(files_in_dir(), 4) << "whole.h5, r.h5, stdout.txt, stderr.txt";
}

TEST_F(Cli, EmbedResumesTooAndSaysWhereTheChunksAreWhenItFails) {
  const auto h5 = path("e.h5").string();
  ASSERT_EQ(run("segment " + sample() + " -o " + h5).code, 0);
  const std::string segmented = slurp(h5);
  // A write failure after two chunks: the error, then where the chunks are.
  Result r = run("embed " + h5 + " --chunk-rows 100", "EMBCLUST_FAIL_AFTER_WRITES=6");
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("injected write failure"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("chunks of embeddings finished so far are in " + h5 +
                       ".partial: the same command with --resume continues from there"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(slurp(h5), segmented) << "the file itself must not change";
  r = run("embed " + h5 + " --chunk-rows 100 --resume");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("resuming"), std::string::npos) << r.err;
  const auto fresh = path("f.h5").string();
  ASSERT_EQ(run("segment " + sample() + " -o " + fresh).code, 0);
  ASSERT_EQ(run("embed " + fresh).code, 0);
  EXPECT_EQ(vectors_of(h5), vectors_of(fresh));
  // --resume belongs to the commands that embed.
  r = run("cluster " + h5 + " --k 3 --resume");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--resume applies only to 'embclust run' and 'embclust embed'"), std::string::npos) << r.err;
}
