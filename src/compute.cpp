#include "pmap/compute.hpp"

#include <omp.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <ctime>
#include <exception>
#include <iostream>
#include <mutex>
#include <vector>

#include "pmap/error.hpp"
#include "pmap/mpi.hpp"
#include "pmap/results.hpp"
#include "pmap/threads.hpp"

namespace pmap {
namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

/// Runs `fn` on rank 0; a UsageError or RuntimeError there is rethrown on every rank.
template <typename Fn>
void on_root_collective(MPI_Comm comm, Fn&& fn) {
  std::string message;
  int code = 0;
  if (mpi::rank(comm) == 0) {
    try {
      fn();
    } catch (const Error& e) {
      message = e.what();
      code = static_cast<int>(e.code());
    } catch (const std::exception& e) {
      message = e.what();
      code = static_cast<int>(ExitCode::ItemsFailed);
    }
  }
  mpi::check(MPI_Bcast(&code, 1, MPI_INT, 0, comm), "MPI_Bcast");
  if (code == 0) return;
  message = mpi::bcast_string(comm, message);
  if (code == static_cast<int>(ExitCode::Usage)) throw UsageError(message);
  throw RuntimeError(message);
}

/// Per-thread buffers of one chunk.
struct ChunkBuffers {
  std::vector<std::int64_t> item;
  std::vector<double> value;
  std::vector<std::int8_t> status;
  std::vector<std::int32_t> rank;
  std::vector<std::int32_t> thread;
  std::vector<double> seconds;
  void resize(std::uint64_t n, std::size_t k) {
    item.resize(n);
    value.resize(n * k);
    status.resize(n);
    rank.resize(n);
    thread.resize(n);
    seconds.resize(n);
  }
};

/// What one thread accumulates; merged per rank after the parallel region.
struct ThreadTotals {
  std::uint64_t items = 0, ok = 0, failed = 0, timed_out = 0;
  double busy = 0;
  std::uint64_t checksum = 0;
  std::vector<ErrorRecord> errors;
};

constexpr std::size_t kMaxErrorsPerRank = 100000;
constexpr std::size_t kHostLen = 64;

struct RankStatsWire {
  std::int64_t items;
  double busy;
  double wall;
  double write;
  std::int32_t threads;
  double rss_mib;
  char host[kHostLen];
};

/// Gathers every rank's errors on rank 0 (serialised as item, length, bytes).
std::vector<ErrorRecord> gather_errors(MPI_Comm comm, const std::vector<ErrorRecord>& mine) {
  std::string buf;
  for (const auto& e : mine) {
    const std::uint64_t len = e.message.size();
    buf.append(reinterpret_cast<const char*>(&e.item), sizeof e.item);
    buf.append(reinterpret_cast<const char*>(&len), sizeof len);
    buf.append(e.message);
  }
  const int size = mpi::size(comm);
  const int rank = mpi::rank(comm);
  int n = static_cast<int>(buf.size());
  std::vector<int> counts(static_cast<std::size_t>(size)), displs(static_cast<std::size_t>(size));
  mpi::check(MPI_Gather(&n, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, comm), "MPI_Gather");
  std::string all;
  if (rank == 0) {
    int total = 0;
    for (int r = 0; r < size; ++r) {
      displs[static_cast<std::size_t>(r)] = total;
      total += counts[static_cast<std::size_t>(r)];
    }
    all.resize(static_cast<std::size_t>(total));
  }
  mpi::check(MPI_Gatherv(buf.data(), n, MPI_CHAR, all.data(), counts.data(), displs.data(),
                         MPI_CHAR, 0, comm),
             "MPI_Gatherv");
  std::vector<ErrorRecord> out;
  std::size_t pos = 0;
  while (pos + 16 <= all.size()) {
    ErrorRecord e;
    std::uint64_t len = 0;
    std::memcpy(&e.item, all.data() + pos, 8);
    std::memcpy(&len, all.data() + pos + 8, 8);
    e.message = all.substr(pos + 16, len);
    pos += 16 + len;
    out.push_back(std::move(e));
  }
  return out;
}

/// Peak resident set size of this process.
double peak_rss_mib() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;  // KiB on Linux
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
  return s;
}

}  // namespace

std::string iso8601_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

RunReport run_compute(const ComputeJob& job, MPI_Comm comm) {
  if (job.kernel == nullptr) throw UsageError("no kernel given");
  const Kernel& kernel = *job.kernel;
  const int rank = mpi::rank(comm);
  const int size = mpi::size(comm);
  const std::size_t k = kernel.columns().size();
  const std::uint64_t n = job.space.size();

  // Threads: this rank's share of its node unless told otherwise.
  const mpi::Comm node = mpi::Comm::split_shared(comm);
  const ThreadChoice tc = resolve_threads(job.threads, node_cores(), node.size());
  const int threads = tc.threads;
  int workers = 0;
  int max_threads = 0;
  int oversubscribed = threads > affinity_cores() ? 1 : 0;
  mpi::check(MPI_Allreduce(&threads, &workers, 1, MPI_INT, MPI_SUM, comm), "MPI_Allreduce");
  mpi::check(MPI_Allreduce(&threads, &max_threads, 1, MPI_INT, MPI_MAX, comm), "MPI_Allreduce");
  mpi::check(MPI_Allreduce(MPI_IN_PLACE, &oversubscribed, 1, MPI_INT, MPI_MAX, comm),
             "MPI_Allreduce");
  if (rank == 0 && oversubscribed != 0 && size > 1 && job.print_summary) {
    std::cerr << "pmap: warning: a rank runs more threads than the cores it is bound to; "
                 "with mpirun, add --bind-to none (or bind each rank to its cores)\n";
  }

  // Create the file on rank 0 (nothing is written before every check passed).
  on_root_collective(comm, [&] { check_output_path(job.output, job.force); });
  const auto t_create = clock_type::now();
  on_root_collective(comm, [&] {
    ComputeMeta meta;
    meta.items = n;
    meta.columns = kernel.columns();
    meta.root = {{"pmap_version", std::string(kVersion)},
                 {"schema_version", kSchemaVersion},
                 {"created", iso8601_now()},
                 {"command", job.command},
                 {"mpi_ranks", std::int64_t{size}},
                 {"omp_threads", std::int64_t{max_threads}}};
    meta.compute = {{"kernel", std::string(kernel.name())},
                    {"args", job.args.to_json()},
                    {"schedule", std::string(to_string(job.schedule))},
                    {"chunk", static_cast<std::int64_t>(job.chunk)},
                    {"items", static_cast<std::int64_t>(n)},
                    {"space", job.space_spec.empty() ? job.space.describe() : job.space_spec},
                    {"item_kind", std::string(job.space.from_input() ? "input" : "range")},
                    {"threads_source", tc.source}};
    if (!job.space.from_input()) {
      meta.compute.emplace_back("range_start", job.space.range().start);
      meta.compute.emplace_back("range_stop", job.space.range().stop);
      meta.compute.emplace_back("range_step", job.space.range().step);
    }
    create_results_file(job.output, meta, job.force);
  });
  ComputeWriter writer(job.output, comm);
  double create_seconds = seconds_since(t_create);

  DispatchOptions dopt;
  dopt.schedule = job.schedule;
  dopt.items = n;
  dopt.chunk = job.chunk;
  dopt.workers = workers;
  Dispatcher dispatcher(comm, dopt);
  std::unique_ptr<Progress> progress;
  if (rank == 0 && job.progress != ProgressMode::None) {
    progress = std::make_unique<Progress>(job.progress, "compute", n);
    const auto interval = progress->mode() == ProgressMode::Bar ? std::chrono::milliseconds(100)
                                                                : std::chrono::milliseconds(500);
    dispatcher.on_tick([p = progress.get()](std::uint64_t done) { p->update(done); }, interval);
  }

  mpi::check(MPI_Barrier(comm), "MPI_Barrier");
  const auto t0 = clock_type::now();
  std::atomic<bool> stop{false};
  std::exception_ptr failure;
  std::mutex merge_mutex;
  ThreadTotals totals;

#pragma omp parallel num_threads(threads)
  {
    const int tid = omp_get_thread_num();
    ThreadTotals mine;
    ChunkBuffers buf;
    ChunkSizer sizer(0.1);
    const KernelContext ctx(&stop, clock_type::time_point::max());
    try {
      while (!stop.load(std::memory_order_relaxed)) {
        const auto chunk = dispatcher.next(sizer.desired());
        if (!chunk) break;
        const std::uint64_t count = chunk->size();
        buf.resize(count, k);
        const auto chunk_start = clock_type::now();
        for (std::uint64_t j = 0; j < count; ++j) {
          const std::uint64_t row = chunk->begin + j;
          const Item item = job.space.at(row);
          double* out = buf.value.data() + j * k;
          std::fill(out, out + k, 0.0);
          const auto t_item = clock_type::now();
          std::int8_t status = static_cast<std::int8_t>(ItemStatus::Ok);
          try {
            kernel.run(item, job.args, std::span<double>(out, k), ctx);
          } catch (const std::exception& e) {
            status = static_cast<std::int8_t>(ItemStatus::Failed);
            std::fill(out, out + k, std::numeric_limits<double>::quiet_NaN());
            if (mine.errors.size() < kMaxErrorsPerRank) mine.errors.push_back({item.value, e.what()});
          }
          const double secs = std::chrono::duration<double>(clock_type::now() - t_item).count();
          buf.item[j] = item.value;
          buf.status[j] = status;
          buf.rank[j] = rank;
          buf.thread[j] = tid;
          buf.seconds[j] = secs;
          mine.busy += secs;
          if (status == 0) {
            ++mine.ok;
            mine.checksum += row_checksum(row, out, k);
          } else {
            ++mine.failed;
          }
        }
        const double chunk_seconds = seconds_since(chunk_start);
        writer.write(RowBlock{chunk->begin, count, k, buf.item.data(), buf.value.data(),
                              buf.status.data(), buf.rank.data(), buf.thread.data(),
                              buf.seconds.data()});
        mine.items += count;
        dispatcher.add_done(count);
        sizer.record(count, chunk_seconds);
      }
    } catch (...) {
      std::lock_guard lock(merge_mutex);
      if (!failure) failure = std::current_exception();
      stop = true;
    }
    std::lock_guard lock(merge_mutex);
    totals.items += mine.items;
    totals.ok += mine.ok;
    totals.failed += mine.failed;
    totals.timed_out += mine.timed_out;
    totals.busy += mine.busy;
    totals.checksum += mine.checksum;
    for (auto& e : mine.errors) {
      if (totals.errors.size() < kMaxErrorsPerRank) totals.errors.push_back(std::move(e));
    }
  }
  dispatcher.finish();
  const double work_wall = seconds_since(t0);
  const std::uint64_t remote_claims = dispatcher.remote_claims();

  // A failure on any rank fails the run on every rank, with the first failing rank's message.
  int failed_rank = failure ? rank : size;
  mpi::check(MPI_Allreduce(MPI_IN_PLACE, &failed_rank, 1, MPI_INT, MPI_MIN, comm), "MPI_Allreduce");
  if (failed_rank < size) {
    std::string message;
    if (failure) {
      try {
        std::rethrow_exception(failure);
      } catch (const std::exception& e) {
        message = e.what();
      } catch (...) {
        message = "unknown error";
      }
    }
    message = mpi::bcast_string(comm, message, failed_rank);
    throw RuntimeError("rank " + std::to_string(failed_rank) + ": " + message);
  }

  const auto t_close = clock_type::now();
  writer.close();
  const double write_seconds = writer.write_seconds() + seconds_since(t_close) + create_seconds;
  if (progress) progress->finish(dispatcher.done_total());

  // Reduce the figures.
  std::uint64_t sums[5] = {totals.items, totals.ok, totals.failed, totals.timed_out,
                           totals.checksum};
  mpi::check(MPI_Allreduce(MPI_IN_PLACE, sums, 5, MPI_UINT64_T, MPI_SUM, comm), "MPI_Allreduce");
  double busy_sum = 0, busy_max = 0, write_max = 0;
  mpi::check(MPI_Allreduce(&totals.busy, &busy_sum, 1, MPI_DOUBLE, MPI_SUM, comm), "MPI_Allreduce");
  mpi::check(MPI_Allreduce(&totals.busy, &busy_max, 1, MPI_DOUBLE, MPI_MAX, comm), "MPI_Allreduce");
  mpi::check(MPI_Allreduce(&write_seconds, &write_max, 1, MPI_DOUBLE, MPI_MAX, comm),
             "MPI_Allreduce");
  double wall = seconds_since(t0);
  mpi::check(MPI_Allreduce(MPI_IN_PLACE, &wall, 1, MPI_DOUBLE, MPI_MAX, comm), "MPI_Allreduce");

  RunReport report;
  report.kernel = std::string(kernel.name());
  report.schedule = std::string(to_string(job.schedule));
  report.chunk = job.chunk;
  report.ranks = size;
  report.threads = max_threads;
  report.workers = workers;
  report.items = n;
  report.ok = sums[1];
  report.failed = sums[2];
  report.timed_out = sums[3];
  report.not_run = n - std::min<std::uint64_t>(n, sums[0]);
  report.checksum = sums[4];
  report.wall_seconds = wall;
  report.busy_seconds = busy_sum;
  report.parallel_efficiency = wall > 0 ? busy_sum / (wall * workers) : 0.0;
  const double busy_mean = busy_sum / size;
  report.load_imbalance = busy_mean > 0 ? busy_max / busy_mean : 1.0;
  report.write_seconds = write_max;
  double rss = peak_rss_mib();
  mpi::check(MPI_Allreduce(&rss, &report.max_rss_mib, 1, MPI_DOUBLE, MPI_MAX, comm), "MPI_Allreduce");
  std::uint64_t claims = remote_claims;
  mpi::check(MPI_Bcast(&claims, 1, MPI_UINT64_T, 0, comm), "MPI_Bcast");
  report.remote_claims = claims;

  // Per-rank table and errors to rank 0, which adds them to the file.
  RankStatsWire me{};
  me.items = static_cast<std::int64_t>(totals.items);
  me.busy = totals.busy;
  me.wall = work_wall;
  me.write = write_seconds;
  me.threads = threads;
  me.rss_mib = peak_rss_mib();
  std::strncpy(me.host, mpi::host_name().c_str(), kHostLen - 1);
  std::vector<RankStatsWire> all(rank == 0 ? static_cast<std::size_t>(size) : 0);
  mpi::check(MPI_Gather(&me, sizeof me, MPI_BYTE, all.data(), sizeof me, MPI_BYTE, 0, comm),
             "MPI_Gather");
  auto errors = gather_errors(comm, totals.errors);
  on_root_collective(comm, [&] {
    std::vector<RankRecord> ranks;
    for (const auto& r : all) {
      ranks.push_back({r.items, r.busy, r.wall, r.write, r.threads, r.rss_mib,
                       std::string(r.host, strnlen(r.host, kHostLen))});
    }
    std::sort(errors.begin(), errors.end(),
              [](const ErrorRecord& a, const ErrorRecord& b) { return a.item < b.item; });
    Attrs attrs = report.attrs();
    attrs.emplace_back("columns_joined", join(kernel.columns()));
    finalize_results_file(job.output, "compute", attrs, ranks, errors);
  });
  if (rank == 0 && job.print_summary) {
    std::cout << report.summary() << "  results: " << job.output << "\n" << report.line() << "\n";
    std::cout.flush();
  }
  return report;
}

}  // namespace pmap
