#pragma once
// Progress on stderr for long work: items done, rate and time left, redrawn in
// place at most a few times a second, and only when stderr is a terminal (batch
// logs stay quiet).
#include <chrono>
#include <cstdint>
#include <string>

namespace emb {

class Progress {
 public:
  /// @param label what is counted ("embedding", "k-means")
  /// @param total expected items (0 when unknown)
  /// @param enabled false for --quiet; output also needs stderr to be a terminal
  Progress(std::string label, int64_t total, bool enabled);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  /// @brief Sets the items done so far (thread-compatible: call from one thread).
  void update(int64_t done);
  /// @brief Clears the line.
  void finish();

  /// @brief Whether lines will be drawn at all.
  bool active() const { return active_; }

 private:
  void draw(int64_t done);
  std::string label_;
  int64_t total_;
  bool active_;
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace emb
