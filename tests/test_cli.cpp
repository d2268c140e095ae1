// The embclust command end to end: the sample corpus through every stage, each
// bad input with its sentence and exit code, and the atomic write through a
// failure injected mid-write.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <string>
#include <vector>

#include "io/store.hpp"
#include "model_test_util.hpp"
#include "tests/cli_test_util.hpp"
#ifdef EMBCLUST_HAVE_CUDA
#include "cuda/cuda_backend.hpp"
#endif

using emb::cli_test::Cli;
using emb::cli_test::Result;
using emb::cli_test::slurp;
namespace fs = std::filesystem;

namespace {

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

}  // namespace

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
