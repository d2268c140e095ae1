#pragma once
// Two tiers of errors (see docs/architecture.md):
//  * caller mistakes and bad input throw one of the exceptions below, with one
//    sentence that names the file, line or value at fault;
//  * broken internal invariants are assert()s: they are bugs, not user errors.
#include <sstream>
#include <stdexcept>
#include <string>

namespace emb {

/// @brief Base of every error embclust reports to its user.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// @brief A bad command line or option value (exit code 2).
class UsageError : public Error {
 public:
  using Error::Error;
};

/// @brief Input data that cannot be processed: a file, a value, a shape (exit code 1).
class InputError : public Error {
 public:
  using Error::Error;
};

/// @brief A failure of the machine or a library: I/O, HDF5, CUDA (exit code 1).
class RuntimeError : public Error {
 public:
  using Error::Error;
};

/// @brief A device allocation that did not fit (GPU memory). Callers that can work in
///        smaller pieces catch it and retry; anywhere else it is a RuntimeError.
class OutOfMemory : public RuntimeError {
 public:
  using RuntimeError::RuntimeError;
};

namespace detail {
template <class... Args>
std::string concat(Args&&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
}  // namespace detail

}  // namespace emb

/// @brief Throws emb::InputError with the streamed message when cond is false.
#define EMB_EXPECTS(cond, ...)                                        \
  do {                                                                \
    if (!(cond)) throw ::emb::InputError(::emb::detail::concat(__VA_ARGS__)); \
  } while (0)

/// @brief Throws emb::UsageError with the streamed message when cond is false.
#define EMB_USAGE(cond, ...)                                          \
  do {                                                                \
    if (!(cond)) throw ::emb::UsageError(::emb::detail::concat(__VA_ARGS__)); \
  } while (0)
