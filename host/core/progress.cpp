#include "host/core/progress.hpp"

#include <unistd.h>

#include <cstdio>

namespace emb {

Progress::Progress(std::string label, int64_t total, bool enabled)
    : label_(std::move(label)), total_(total), active_(enabled && isatty(STDERR_FILENO)) {
  start_ = last_ = std::chrono::steady_clock::now();
}

Progress::~Progress() { finish(); }

void Progress::update(int64_t done) {
  if (!active_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_ < std::chrono::milliseconds(200) && done != total_) return;
  last_ = now;
  draw(done);
}

void Progress::draw(int64_t done) {
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = secs > 0 ? static_cast<double>(done) / secs : 0.0;
  if (total_ > 0) {
    const double left = rate > 0 ? static_cast<double>(total_ - done) / rate : 0.0;
    std::fprintf(stderr, "\r%s: %lld/%lld (%.0f%%), %.0f/s, %.0fs left   ", label_.c_str(),
                 static_cast<long long>(done), static_cast<long long>(total_), 100.0 * done / total_, rate, left);
  } else {
    std::fprintf(stderr, "\r%s: %lld, %.0f/s   ", label_.c_str(), static_cast<long long>(done), rate);
  }
  std::fflush(stderr);
}

void Progress::finish() {
  if (!active_) return;
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
  active_ = false;
}

}  // namespace emb
