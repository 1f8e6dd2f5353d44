// pmap — libFuzzer target: results files as pmap reads them back (`pmap inspect`, --resume).
//
// Input: the bytes of a results file (written to a memfd, opened by path); seeds are real
// results files, so mutations are damaged copies. inspect(), read_errors() and scan_results()
// over the first rows may only return or throw UsageError (a damaged file is bad input, exit 2)
// whose message names the file; any other exception, a crash or a leak is a finding.
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>

#include "fuzz_support.hpp"
#include "pmap/error.hpp"
#include "pmap/inspect.hpp"
#include "pmap/resume.hpp"

namespace {

/// Runs `read`; only success or a UsageError naming `path` is allowed.
template <typename F>
void only_usage_errors(const std::string& path, const char* what, F&& read) {
  try {
    read();
  } catch (const pmap::UsageError& e) {
    PMAP_FUZZ_CHECK(std::string(e.what()).find(path) != std::string::npos,
                    std::string(what) + ": the message does not name the file: " + e.what());
  } catch (const std::exception& e) {
    PMAP_FUZZ_CHECK(false, std::string(what) + " threw something else than UsageError: " +
                               e.what());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static pmap::fuzz::MemFile file;
  const std::string& path = file.write(data, size);
  only_usage_errors(path, "inspect", [&] { (void)pmap::inspect(path); });
  only_usage_errors(path, "read_errors", [&] { (void)pmap::read_errors(path); });
  only_usage_errors(path, "scan_results", [&] { (void)pmap::scan_results(path, {0, 16}); });
  return 0;
}
