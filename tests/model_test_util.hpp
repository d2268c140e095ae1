#pragma once
// Tests that need an installed model (tokenizer.json, weights): find it in the models
// folder, and skip where it is missing, or fail where EMBCLUST_REQUIRE_MODELS=1 (as
// scripts/test.sh sets) so a full run cannot pass by skipping.
#include <gtest/gtest.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "host/core/error.hpp"
#include "io/model_files.hpp"

namespace emb::test {

/// @brief The models folder: $EMBCLUST_MODELS, else ${XDG_DATA_HOME:-$HOME/.local/share}/embclust/models.
/// @throws emb::UsageError when none of those variables is set.
inline std::string models_dir() { return io::models_dir(); }

/// @brief Whether a missing model fails the test instead of skipping it.
inline bool models_required() {
  const char* v = std::getenv("EMBCLUST_REQUIRE_MODELS");
  return v != nullptr && std::string(v) == "1";
}

/// @brief Path of `file` inside installed model `name`, or "" with `why` saying what is
///        missing and how to install it.
inline std::string model_file(const std::string& name, const std::string& file, std::string& why) {
  std::string dir;
  try {
    dir = models_dir();
  } catch (const Error& e) {
    why = std::string(e.what()) + "; run scripts/fetch_model.sh " + name;
    return "";
  }
  const std::filesystem::path path = std::filesystem::path(dir) / name / file;
  std::error_code ec;
  if (std::filesystem::is_regular_file(path, ec)) return path.string();
  why = "model " + name + " is not installed in " + dir + " (no " + file + "); run scripts/fetch_model.sh " + name;
  return "";
}

/// @brief A model name as a test name (GoogleTest allows only letters, digits and '_').
inline std::string model_test_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string s = info.param;
  for (char& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return s;
}

}  // namespace emb::test

/// @brief Declares `std::string var`, the path of FILE in installed model NAME; when it is
///        missing the test is skipped, or fails where EMBCLUST_REQUIRE_MODELS=1.
///        Use it in a test body (or SetUp), as it returns from the function.
#define EMB_MODEL_FILE_OR_SKIP(var, name, file)                                   \
  std::string var;                                                                \
  if (std::string why_; (var = ::emb::test::model_file((name), (file), why_)).empty()) { \
    if (::emb::test::models_required()) {                                         \
      FAIL() << why_;                                                             \
    } else {                                                                      \
      GTEST_SKIP() << why_;                                                       \
    }                                                                             \
  }
