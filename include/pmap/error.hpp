// pmap — typed errors that carry their process exit code and, for bad input, what they are about.
//
//   try {
//     pmap::parse_range("1:x");
//   } catch (const pmap::Error& e) {
//     // e.what() == "range 1:x: 'x' is not an integer (START must be a 64-bit integer)"
//     // e.subject() == "range", e.value() == "1:x", e.code() == pmap::ExitCode::Usage
//   }
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>

namespace pmap {

/// Process exit codes of the pmap CLI (see README, "Exit codes").
enum class ExitCode : int {
  Ok = 0,           ///< every item ok
  ItemsFailed = 1,  ///< the run finished, some items failed (the file says which)
  Usage = 2,        ///< bad usage or bad input, nothing written
  RunFailed = 3,    ///< the run itself failed: I/O, MPI, HDF5, a full disk (not an item's fault)
  Interrupted = 75  ///< stopped early after a clean checkpoint; resume it
};

/// Base of every pmap exception; `code()` is the exit code the CLI maps it to.
///
/// A message about one setting of the job names the setting by its field, the subject, followed
/// by the value given: what() is "subject value: detail", e.g. "shard 3/2: expected I/N with
/// 0 <= I < N". Subjects are ComputeJob's field names ("range", "input", "args", "shard",
/// "output", "item_timeout", ...), and UrlJob's (with its UrlOptions) as "urls.<field>"
/// ("urls.input", "urls.threads"). Other settings the detail refers to are written between
/// backquotes ("pass `force` to overwrite it"). A front end says the same in its own words: the
/// pmap CLI prints "--shard 3/2: ..." and "--force". Recurring messages come from the named
/// constructors of UsageError.
class Error : public std::runtime_error {
 public:
  /// A message about no single setting.
  Error(ExitCode code, const std::string& what);
  /// "subject value: detail" ("subject: detail" without a value, "detail" without a subject).
  Error(ExitCode code, std::string subject, std::string value, std::string detail);

  [[nodiscard]] ExitCode code() const noexcept { return code_; }
  /// The job field the message is about ("shard"); empty when it is about no single setting.
  [[nodiscard]] const std::string& subject() const noexcept { return subject_; }
  /// The value given for the subject ("3/2"); may be empty.
  [[nodiscard]] const std::string& value() const noexcept { return value_; }
  /// What is wrong, without "subject value: " (the whole message when there is no subject).
  [[nodiscard]] const std::string& detail() const noexcept { return detail_; }

 private:
  ExitCode code_;
  std::string subject_;
  std::string value_;
  std::string detail_;
};

/// Bad usage or bad input: nothing was written; exit code 2.
class UsageError : public Error {
 public:
  explicit UsageError(const std::string& what) : Error(ExitCode::Usage, what) {}
  /// "subject value: detail", e.g. UsageError("range", "1:x", "'x' is not an integer").
  UsageError(std::string subject, std::string value, std::string detail)
      : Error(ExitCode::Usage, std::move(subject), std::move(value), std::move(detail)) {}

  /// "subject value: must be at least minimum".
  static UsageError at_least(std::string subject, std::int64_t value, std::int64_t minimum);
  /// "subject value: must not be negative" (a number of seconds, a count).
  static UsageError negative(std::string subject, double value);
  /// "subject value: must be positive".
  static UsageError not_positive(std::string subject, double value);
  /// "subject path: no such file" + hint ("; run once without `resume` first").
  static UsageError no_such_file(std::string subject, std::string path, const std::string& hint);
  /// "subject path: cannot open (reason)" + hint, for a file that exists but cannot be read.
  static UsageError cannot_open(std::string subject, std::string path, const std::string& reason,
                                const std::string& hint);
  /// "subject path: file exists; pass `force` to overwrite it, or choose another `subject` (the
  /// existing file was left untouched)".
  static UsageError file_exists(std::string subject, std::string path);
};

/// A failure of the run itself, not of an item (I/O, MPI, HDF5, a full disk); exit code 3.
class RuntimeError : public Error {
 public:
  explicit RuntimeError(const std::string& what) : Error(ExitCode::RunFailed, what) {}
  /// "subject value: detail", e.g. RuntimeError("output", path, "No space left on device").
  RuntimeError(std::string subject, std::string value, std::string detail)
      : Error(ExitCode::RunFailed, std::move(subject), std::move(value), std::move(detail)) {}
};

/// Throws the error type that `code` belongs to: UsageError (Usage), RuntimeError (RunFailed),
/// else Error; with another Error's code, subject, value and detail it throws that error again,
/// e.g. on every rank after rank 0 broadcast it (pmap::mpi::agree_on_error).
[[noreturn]] void throw_error(ExitCode code, std::string subject, std::string value,
                              std::string detail);

/// A per-item failure raised by a kernel; becomes status 1 and a row of /compute/errors.
class ItemError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace pmap
