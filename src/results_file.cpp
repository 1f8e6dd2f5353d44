#include "pmap/results_file.hpp"

#include <filesystem>

#include "pmap/compute.hpp"

namespace pmap {
namespace {

/// The schema a pmap file says it has (0 when it is not a pmap file).
std::int64_t schema_of(const h5::File& f) {
  if (!f.has_attr("schema_version") || !f.has_attr("pmap_version")) return 0;
  return h5::read_attr_int(f.get(), "schema_version");
}

}  // namespace

ResultsFile open_results_file(const std::string& path, std::string_view use,
                              const std::string& hint, h5::Access access) {
  const std::string where = std::string(use) + " " + path + ": ";
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw UsageError(where + "no such file" + hint);
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw UsageError(where + "not a regular file" + hint);
  }
  if (!h5::is_hdf5(path)) throw UsageError(where + "not an HDF5 file" + hint);
  return read_results(path, use, [&] {
    ResultsFile r;
    r.file = h5::File::open(path, access);
    r.schema = schema_of(r.file);
    if (r.schema == 0) {
      throw UsageError(where + "an HDF5 file, but not a pmap results file (no schema_version)" +
                       hint);
    }
    if (r.schema < kOldestReadableSchema || r.schema > kSchemaVersion) {
      throw UsageError(where + "schema_version " + std::to_string(r.schema) +
                       ", this pmap reads " + std::to_string(kOldestReadableSchema) + " to " +
                       std::to_string(kSchemaVersion) + " (written by pmap " +
                       h5::attr_text(r.file.get(), "pmap_version") + ")" + hint);
    }
    r.compute = r.file.has("compute");
    r.urls = r.file.has("urls");
    return r;
  });
}

Attrs root_attributes(const std::string& command, int ranks, int threads) {
  return {{"pmap_version", std::string(kVersion)},
          {"schema_version", kSchemaVersion},
          {"created", iso8601_now()},
          {"command", command},
          {"mpi_ranks", std::int64_t{ranks}},
          {"omp_threads", std::int64_t{threads}}};
}

}  // namespace pmap
