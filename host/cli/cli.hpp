#pragma once
// The embclust command line: `run`, `segment`, `embed`, `cluster`, `info`.
namespace emb {

/// @brief Parses argv, runs the command, and returns the process exit code:
///        0 on success, 2 for usage errors, 1 for failures (one sentence on stderr).
int run_cli(int argc, char** argv);

}  // namespace emb
