#pragma once
// A fresh folder under the system temporary folder for one test (unique per process
// and per instance), removed with everything in it when the test is done.
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

namespace emb::test {

class ScratchDir {
 public:
  explicit ScratchDir(const std::string& prefix) {
    static std::atomic<int> counter{0};
    dir_ = std::filesystem::temp_directory_path() /
           (prefix + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::create_directories(dir_);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::filesystem::path& path() const { return dir_; }
  /// @brief dir/rel as a string.
  std::string path(const std::string& rel) const { return (dir_ / rel).string(); }
  /// @brief Writes bytes to dir/rel (creating folders) and returns its path.
  std::string write(const std::string& rel, const std::string& bytes) const {
    const std::filesystem::path p = dir_ / rel;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << bytes;
    return p.string();
  }

 private:
  std::filesystem::path dir_;
};

}  // namespace emb::test
