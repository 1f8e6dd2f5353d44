#include "pmap/map.hpp"
#include "pmap/values_source.hpp"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <limits>
#include <mutex>
#include <thread>

#include "detail/keyed_text.hpp"
#include "pmap/collective.hpp"
#include "pmap/compute.hpp"
#include "pmap/compute_stage.hpp"
#include "pmap/engine.hpp"
#include "pmap/error.hpp"
#include "pmap/stop.hpp"
#include "pmap/stream_sink.hpp"

namespace pmap {
namespace detail {
namespace {

// --- the user's function as a kernel ------------------------------------------------------------

/// A plain adapter: the engine decides each item's outcome (an exception is the item's failure)
/// and hands it to every sink, so the API's values, the stream and the file agree.
class FunctionKernel final : public Kernel {
 public:
  FunctionKernel(const MapCall& call, std::string name, std::vector<std::string> columns)
      : call_(call), name_(std::move(name)), columns_(std::move(columns)) {
    for (const auto& [key, value] : call.args.values()) {
      args_.push_back({key,
                       std::holds_alternative<std::int64_t>(value) ? ArgType::Int
                       : std::holds_alternative<double>(value)     ? ArgType::Double
                       : std::holds_alternative<bool>(value)       ? ArgType::Bool
                                                                   : ArgType::String,
                       value, "bound with pmap::partial"});
    }
  }
  [[nodiscard]] std::string_view name() const override { return name_; }
  [[nodiscard]] std::string_view description() const override {
    return "a C++ function mapped with pmap::map";
  }
  [[nodiscard]] const std::vector<ArgSpec>& arguments() const override { return args_; }
  [[nodiscard]] const std::vector<std::string>& columns() const override { return columns_; }
  void run(const Item& item, const BoundArgs& /*args*/, std::span<double> out,
           const KernelContext& /*ctx*/) const override {
    try {
      call_.eval(call_.bound, item.row, out.data());
    } catch (const std::exception& e) {
      if (*e.what() == '\0') throw ItemError("exception with an empty message");
      throw;
    }
  }

 private:
  const MapCall& call_;
  std::string name_;
  std::vector<std::string> columns_;
  std::vector<ArgSpec> args_;
};

// --- helpers ------------------------------------------------------------------------------------

/// The item space: a Range when the items are evenly spaced integers (or not integers: then
/// the index), else a table of the integer values (line_number), up to kMaxItemTable items.
constexpr std::uint64_t kMaxItemTable = std::uint64_t{1} << 22;

ItemSpace make_space(const MapCall& call, std::string& spec) {
  const std::uint64_t n = call.n;
  if (n > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    throw UsageError("pmap::map: too many items");
  }
  const auto index_space = [&] {
    spec = "map over " + std::to_string(n) + " " + call.item_type + " (item = index)";
    return ItemSpace(Range{0, static_cast<std::int64_t>(n), 1});
  };
  if (call.item_value == nullptr || n == 0) return index_space();
  const std::int64_t first = call.item_value(call.bound, 0);
  bool even = true;
  std::int64_t step = 1;
  if (n > 1) {
    const std::int64_t second = call.item_value(call.bound, 1);
    if (__builtin_sub_overflow(second, first, &step) || step == 0) even = false;
    std::int64_t expect = second;
    for (std::uint64_t i = 2; even && i < n; ++i) {
      if (__builtin_add_overflow(expect, step, &expect) ||
          call.item_value(call.bound, i) != expect) {
        even = false;
      }
    }
  }
  if (even) {
    std::int64_t stop = 0;
    if (!__builtin_mul_overflow(static_cast<std::int64_t>(n), step, &stop) &&
        !__builtin_add_overflow(first, stop, &stop)) {
      const Range r{first, stop, step};
      if (r.size() == n) {
        spec = "map over " + std::to_string(n) + " integers " + std::to_string(first) + ":" +
               std::to_string(stop) + ":" + std::to_string(step);
        return ItemSpace(r);
      }
    }
  }
  if (n > kMaxItemTable) return index_space();
  InputLines lines;
  lines.text.resize(n);
  lines.line_number.resize(n);
  for (std::uint64_t i = 0; i < n; ++i) lines.line_number[i] = call.item_value(call.bound, i);
  spec = "map over " + std::to_string(n) + " integers (item = value)";
  return ItemSpace(std::move(lines));
}

/// Gathers every rank's collected rows into `values`/`status` (every rank or rank 0).
void exchange(MPI_Comm comm, std::size_t k, bool every_rank, std::vector<double>& values,
              std::vector<std::int8_t>& status) {
  const int size = mpi::size(comm);
  const int rank = mpi::rank(comm);
  const std::uint64_t n = status.size();
  std::vector<std::uint64_t> rows;
  for (std::uint64_t i = 0; i < n; ++i) {
    if (status[i] != static_cast<std::int8_t>(ItemStatus::NotRun)) rows.push_back(i);
  }
  if (rows.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    throw RuntimeError("pmap::map: too many results per rank to gather; use Collect::None");
  }
  std::vector<double> mine_values(rows.size() * k);
  std::vector<std::int8_t> mine_status(rows.size());
  for (std::size_t j = 0; j < rows.size(); ++j) {
    std::copy_n(values.data() + rows[j] * k, k, mine_values.data() + j * k);
    mine_status[j] = status[rows[j]];
  }
  const int count = static_cast<int>(rows.size());
  std::vector<int> counts(static_cast<std::size_t>(size)), displs(static_cast<std::size_t>(size));
  if (every_rank) {
    mpi::check(MPI_Allgather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, comm), "MPI_Allgather");
  } else {
    mpi::check(MPI_Gather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, comm), "MPI_Gather");
  }
  std::uint64_t total = 0;
  for (int r = 0; r < size; ++r) {
    if (total > static_cast<std::uint64_t>(std::numeric_limits<int>::max())) {
      throw RuntimeError("pmap::map: too many results to gather; use Collect::None");
    }
    displs[static_cast<std::size_t>(r)] = static_cast<int>(total);
    total += static_cast<std::uint64_t>(counts[static_cast<std::size_t>(r)]);
  }
  const bool receives = every_rank || rank == 0;
  std::vector<std::uint64_t> all_rows(receives ? total : 0);
  std::vector<std::int8_t> all_status(receives ? total : 0);
  std::vector<double> all_values(receives ? total * k : 0);
  MPI_Datatype row_type = MPI_DATATYPE_NULL;
  mpi::check(MPI_Type_contiguous(static_cast<int>(k), MPI_DOUBLE, &row_type),
             "MPI_Type_contiguous");
  mpi::check(MPI_Type_commit(&row_type), "MPI_Type_commit");
  struct TypeGuard {
    MPI_Datatype* t;
    ~TypeGuard() { MPI_Type_free(t); }
  } guard{&row_type};
  if (every_rank) {
    mpi::check(MPI_Allgatherv(rows.data(), count, MPI_UINT64_T, all_rows.data(), counts.data(),
                              displs.data(), MPI_UINT64_T, comm),
               "MPI_Allgatherv");
    mpi::check(MPI_Allgatherv(mine_status.data(), count, MPI_INT8_T, all_status.data(),
                              counts.data(), displs.data(), MPI_INT8_T, comm),
               "MPI_Allgatherv");
    mpi::check(MPI_Allgatherv(mine_values.data(), count, row_type, all_values.data(), counts.data(),
                              displs.data(), row_type, comm),
               "MPI_Allgatherv");
  } else {
    mpi::check(MPI_Gatherv(rows.data(), count, MPI_UINT64_T, all_rows.data(), counts.data(),
                           displs.data(), MPI_UINT64_T, 0, comm),
               "MPI_Gatherv");
    mpi::check(MPI_Gatherv(mine_status.data(), count, MPI_INT8_T, all_status.data(), counts.data(),
                           displs.data(), MPI_INT8_T, 0, comm),
               "MPI_Gatherv");
    mpi::check(MPI_Gatherv(mine_values.data(), count, row_type, all_values.data(), counts.data(),
                           displs.data(), row_type, 0, comm),
               "MPI_Gatherv");
  }
  if (!receives) {
    values.clear();
    values.shrink_to_fit();
    status.clear();
    status.shrink_to_fit();
    return;
  }
  for (std::size_t j = 0; j < total; ++j) {
    const std::uint64_t row = all_rows[j];
    status[row] = all_status[j];
    std::copy_n(all_values.data() + j * k, k, values.data() + row * k);
  }
}

/// Every rank's failures on every rank, sorted by index.
std::vector<ItemFailure> allgather_failures(MPI_Comm comm, const std::vector<RowError>& mine) {
  std::string buf;
  for (const auto& f : mine) detail::append_keyed(buf, f.row, f.message);
  std::vector<ItemFailure> out;
  detail::for_each_keyed(mpi::gather_bytes(comm, buf, -1),
                         [&](std::uint64_t index, std::string_view text) {
                           out.push_back({index, std::string(text)});
                         });
  std::sort(out.begin(), out.end(),
            [](const ItemFailure& a, const ItemFailure& b) { return a.index < b.index; });
  return out;
}

/// The options' own checks, before any communication: identical on every rank. Returns the
/// column names.
std::vector<std::string> checked_columns(const MapCall& call, const MapOptions& options) {
  std::vector<std::string> columns = options.columns.empty() ? call.columns : options.columns;
  if (columns.size() != call.columns.size()) {
    throw UsageError("pmap::MapOptions::columns has " + std::to_string(columns.size()) +
                     " names but the function returns " + std::to_string(call.columns.size()) +
                     " numbers");
  }
  for (const auto& c : columns) {
    if (c.empty()) throw UsageError("pmap::MapOptions::columns: a column name is empty");
  }
  if (options.threads && *options.threads < 1) {
    throw UsageError("pmap::MapOptions::threads must be at least 1");
  }
  if (options.resume && options.collect != Collect::None) {
    throw UsageError(
        "pmap::MapOptions::resume needs collect = Collect::None: rows done by an earlier run are "
        "only in the file");
  }
  if (options.resume && options.output.empty()) {
    throw UsageError("pmap::MapOptions::resume needs the output file to continue");
  }
  if (options.name.empty()) throw UsageError("pmap::MapOptions::name must not be empty");
  return columns;
}

/// The compute job of a map call: the same job the CLI builds from its flags.
ComputeJob map_job(Session& session, const MapCall& call, const MapOptions& options,
                   const Kernel& kernel) {
  ComputeJob job;
  job.kernel = &kernel;
  job.args = call.args;
  if (options.field_names.empty()) {
    job.space = make_space(call, job.space_spec);
  } else {
    job.space = ItemSpace(values_source(call, options.field_names));
    job.space_spec = job.space.describe();
  }
  job.schedule = options.schedule;
  job.chunk = options.chunk;
  job.threads = options.threads ? options.threads : session.options().threads;
  job.progress = options.progress;
  job.print_summary = options.summary;
  job.command = session.command();
  job.resume = options.resume;
  job.max_failures = options.max_failures;
  job.output = options.output;  // empty: no file, the results live in memory only
  job.force = options.force;
  return job;
}

}  // namespace

MapRaw run_map(Session& session, const MapCall& call, const MapOptions& options) {
  MPI_Comm comm = session.comm();
  const std::vector<std::string> columns = checked_columns(call, options);
  const std::size_t k = columns.size();
  FunctionKernel kernel(call, options.name, columns);
  const ComputeJob job = map_job(session, call, options, kernel);

  ComputeStage stage(job);
  // Collect::Root: every rank keeps its own rows until they are gathered on rank 0.
  std::optional<MemorySink> memory;
  if (options.collect != Collect::None) stage.add_sink(&memory.emplace(call.n, k));
  // The callback may be set on rank 0 only: whether to stream is agreed collectively.
  std::optional<StreamSink> stream;
  if (any_rank(comm, static_cast<bool>(options.on_result))) {
    stage.add_sink(&stream.emplace(comm, k, session.rank() == 0 ? options.on_result : nullptr,
                                   options.stream_interval));
  }
  try {
    Engine(comm, engine_options(job)).run(stage);
  } catch (...) {
    if (stream) stream->finish();  // every rank throws (the engine's errors are collective)
    throw;
  }
  MapRaw raw;
  raw.report = stage.report();
  if (stream) {
    stream->finish();
    const std::string message = mpi::bcast_string(comm, stream->callback_error());
    if (!message.empty()) throw RuntimeError("pmap::map: the on_result callback threw: " + message);
  }
  if (memory) {
    if (session.size() > 1) {
      exchange(comm, k, options.collect == Collect::EveryRank, memory->values, memory->status);
    }
    raw.values = std::move(memory->values);
    raw.status = std::move(memory->status);
  }
  raw.failures = allgather_failures(comm, stage.errors());
  raw.output = job.output;
  return raw;
}

}  // namespace detail
}  // namespace pmap
