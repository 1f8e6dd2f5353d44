#include "pmap/results_file.hpp"

#include <filesystem>
#include <vector>

#include "detail/file_in_use.hpp"
#include "detail/url_file.hpp"
#include "pmap/columns.hpp"
#include "pmap/compute.hpp"

namespace pmap {
namespace {

/// The schema a pmap file says it has (0 when it is not a pmap file).
std::int64_t schema_of(const h5::File& f) {
  if (!f.has_attr("schema_version") || !f.has_attr("pmap_version")) return 0;
  return h5::read_attr_int(f.get(), "schema_version");
}

/// Decodes every attribute message of `obj`: asking for a name no object has makes HDF5 walk
/// them all, so a damaged one fails here, before a run relies on the file, not when it ends
/// and rewrites the attributes. (Opening attributes by index instead crashed inside libhdf5
/// 1.10 on a damaged message: H5A__attr_release_table.)
void decode_attributes(hid_t obj, const std::string& what) {
  if (H5Aexists(obj, "pmap: no attribute has this name") < 0) {
    h5::check(-1, "read the attributes of " + what);
  }
}

/// Checks the metadata pmap reads or rewrites: the attributes of the root and of each stage,
/// and the header of each of a stage's datasets and tables.
void check_metadata(const ResultsFile& r) {
  decode_attributes(r.file.get(), "/");
  const auto check_group = [&](const char* stage, auto columns, std::vector<const char*> tables) {
    const h5::Group g = r.file.group(stage);
    decode_attributes(g.get(), std::string("/") + stage);
    for (const Column& c : columns) tables.push_back(c.name);
    for (const char* name : tables) {
      if (g.has(name)) h5::Dataset::open(g.get(), name);
    }
  };
  if (r.compute) check_group("compute", kComputeColumns, {"errors", "ranks"});
  if (r.urls) check_group("urls", detail::kUrlColumns, {detail::kUrlListRowColumn.name});
}

/// Opens `path`; a file another process holds (HDF5's file lock) is said so, not "damaged".
h5::File open_file(const std::string& path, const std::string& where, h5::Access access) {
  try {
    return h5::File::open(path, access);
  } catch (const RuntimeError& e) {
    if (std::string(e.what()).find("unable to lock the file") == std::string::npos) throw;
    const auto holder = detail::file_in_use(path);
    throw UsageError(where + "in use by " + holder.value_or("another process") +
                     " (a pmap run still writing it?): wait for it to end");
  }
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
    r.file = open_file(path, where, access);
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
    check_metadata(r);
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
