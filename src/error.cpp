#include "pmap/error.hpp"

#include <sstream>

namespace pmap {
namespace {

std::string compose(const std::string& subject, const std::string& value,
                    const std::string& detail) {
  if (subject.empty()) return detail;
  return subject + (value.empty() ? "" : " " + value) + ": " + detail;
}

/// A number as a person writes it: 2, 0.5, -1e+30.
std::string number(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

}  // namespace

Error::Error(ExitCode code, const std::string& what)
    : std::runtime_error(what), code_(code), detail_(what) {}

Error::Error(ExitCode code, std::string subject, std::string value, std::string detail)
    : std::runtime_error(compose(subject, value, detail)),
      code_(code),
      subject_(std::move(subject)),
      value_(std::move(value)),
      detail_(std::move(detail)) {}

UsageError UsageError::at_least(std::string subject, std::int64_t value, std::int64_t minimum) {
  return {std::move(subject), std::to_string(value), "must be at least " + std::to_string(minimum)};
}

UsageError UsageError::negative(std::string subject, double value) {
  return {std::move(subject), number(value), "must not be negative"};
}

UsageError UsageError::not_positive(std::string subject, double value) {
  return {std::move(subject), number(value), "must be positive"};
}

UsageError UsageError::no_such_file(std::string subject, std::string path,
                                    const std::string& hint) {
  return {std::move(subject), std::move(path), "no such file" + hint};
}

UsageError UsageError::cannot_open(std::string subject, std::string path, const std::string& reason,
                                   const std::string& hint) {
  return {std::move(subject), std::move(path), "cannot open (" + reason + ")" + hint};
}

UsageError UsageError::file_exists(std::string subject, std::string path) {
  const std::string field = "`" + subject + "`";
  return {std::move(subject), std::move(path),
          "file exists; pass `force` to overwrite it, or choose another " + field +
              " (the existing file was left untouched)"};
}

void throw_error(ExitCode code, std::string subject, std::string value, std::string detail) {
  switch (code) {
    case ExitCode::Usage:
      throw UsageError(std::move(subject), std::move(value), std::move(detail));
    case ExitCode::RunFailed:
      throw RuntimeError(std::move(subject), std::move(value), std::move(detail));
    default:
      throw Error(code, std::move(subject), std::move(value), std::move(detail));
  }
}

}  // namespace pmap
