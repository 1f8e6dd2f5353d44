// pmap — typed errors that carry their process exit code.
#pragma once

#include <stdexcept>
#include <string>

namespace pmap {

/// Process exit codes of the pmap CLI (see README, "Exit codes").
enum class ExitCode : int { Ok = 0, ItemsFailed = 1, Usage = 2, Interrupted = 75 };

/// Base of every pmap exception; `code()` is the exit code the CLI maps it to.
class Error : public std::runtime_error {
 public:
  Error(ExitCode code, const std::string& what) : std::runtime_error(what), code_(code) {}
  [[nodiscard]] ExitCode code() const noexcept { return code_; }

 private:
  ExitCode code_;
};

/// Bad usage or bad input: nothing was written; exit code 2.
class UsageError : public Error {
 public:
  explicit UsageError(const std::string& what) : Error(ExitCode::Usage, what) {}
};

/// A failure of the environment during a run (I/O, MPI, HDF5); exit code 1.
class RuntimeError : public Error {
 public:
  explicit RuntimeError(const std::string& what) : Error(ExitCode::ItemsFailed, what) {}
};

/// A per-item failure raised by a kernel; becomes status 1 and a row of /compute/errors.
class ItemError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace pmap
