#pragma once
// What the command-line tests share: a fixture that runs the embclust binary in a
// fresh folder and returns its exit code, stderr and stdout.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

namespace emb::cli_test {

namespace fs = std::filesystem;


struct Result {
  int code;
  std::string err;
  std::string out;
};

inline std::string slurp(const fs::path& p) {
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

}  // namespace emb::cli_test
