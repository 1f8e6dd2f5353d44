#include "pmap/compute.hpp"

#include <omp.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <exception>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <optional>
#include <vector>

#include "detail/keyed_text.hpp"
#include "detail/text.hpp"
#include "pmap/error.hpp"
#include "pmap/mpi.hpp"
#include "pmap/results.hpp"
#include "pmap/resume.hpp"
#include "pmap/stop.hpp"
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
  // The other ranks sleep meanwhile: oversubscribed (8 ranks on 2 cores) their spinning would
  // take the cores from rank 0's file work.
  mpi::bcast_sleeping(&code, 1, MPI_INT, 0, comm);
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

/// Gathers every rank's errors on rank 0.
std::vector<ErrorRecord> gather_errors(MPI_Comm comm, const std::vector<ErrorRecord>& mine) {
  std::string buf;
  for (const auto& e : mine)
    detail::append_keyed(buf, static_cast<std::uint64_t>(e.item), e.message);
  std::vector<ErrorRecord> out;
  detail::for_each_keyed(mpi::gather_bytes(comm, buf, 0),
                         [&](std::uint64_t item, std::string_view text) {
                           out.push_back({static_cast<std::int64_t>(item), std::string(text)});
                         });
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
  const std::vector<std::string> columns = kernel.output_columns(job.args);
  const std::size_t k = columns.size();
  const std::uint64_t n = job.space.size();
  if (job.shard_count < 1 || job.shard_index < 0 || job.shard_index >= job.shard_count) {
    throw UsageError("--shard " + std::to_string(job.shard_index) + "/" +
                     std::to_string(job.shard_count) + ": expected I/N with 0 <= I < N");
  }
  if (job.item_timeout < 0 || job.deadline < 0) {
    throw UsageError("--item-timeout and --deadline must not be negative");
  }
  const Chunk window = block(n, job.shard_count, job.shard_index);
  const bool to_file = !job.output.empty();  // else the kernel's side effects are the results
  if (!to_file && job.resume) throw UsageError("--resume needs the results file (--output FILE)");

  // Threads: this rank's share of its node unless told otherwise.
  const mpi::Comm node = mpi::Comm::split_shared(comm);
  const ThreadChoice tc = resolve_threads(job.threads, node_cores(), node.size());
  const int threads = tc.threads;
  ensure_threads(comm, threads, "compute stage");  // a clear error, not libgomp's exit
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

  // What identifies the job: --resume refuses a file written by another one.
  Attrs identity = {{"kernel", std::string(kernel.name())},
                    {"args", job.args.to_json()},
                    {"items", static_cast<std::int64_t>(n)},
                    {"item_kind", std::string(job.space.from_input() ? "input" : "range")},
                    {"items_fnv", job.space.fingerprint()},
                    {"shard_index", std::int64_t{job.shard_index}},
                    {"shard_count", std::int64_t{job.shard_count}}};
  std::vector<std::string> identity_keys;
  for (const auto& [key, value] : identity) identity_keys.push_back(key);

  // Create the file, or plan the resume, on rank 0; nothing is written before every check.
  RowSet rows;
  std::int64_t runs = 1;
  std::vector<ErrorRecord> kept_errors;
  const auto t_create = clock_type::now();
  if (job.resume) {
    std::vector<std::uint64_t> flat;
    on_root_collective(comm, [&] {
      auto plan = plan_resume(job.output, identity, identity_keys, job.retry_failed, window);
      for (const auto& r : plan.todo.ranges()) {
        flat.push_back(r.begin);
        flat.push_back(r.end);
      }
      runs = plan.runs + 1;
      kept_errors = std::move(plan.kept_errors);
    });
    std::uint64_t count = flat.size();
    mpi::check(MPI_Bcast(&count, 1, MPI_UINT64_T, 0, comm), "MPI_Bcast");
    flat.resize(count);
    if (count > 0) {
      mpi::check(MPI_Bcast(flat.data(), static_cast<int>(count), MPI_UINT64_T, 0, comm),
                 "MPI_Bcast");
    }
    std::vector<Chunk> ranges;
    for (std::size_t i = 0; i + 1 < flat.size(); i += 2) ranges.push_back({flat[i], flat[i + 1]});
    rows = RowSet(std::move(ranges));
  } else {
    if (to_file) {
      on_root_collective(
          comm, [&] { check_output_path(job.output, job.force, results_file_bytes(n, k)); });
      on_root_collective(comm, [&] {
        ComputeMeta meta;
        meta.items = n;
        meta.columns = columns;
        meta.root = {{"pmap_version", std::string(kVersion)},
                     {"schema_version", kSchemaVersion},
                     {"created", iso8601_now()},
                     {"command", job.command},
                     {"mpi_ranks", std::int64_t{size}},
                     {"omp_threads", std::int64_t{max_threads}}};
        meta.compute = identity;
        meta.compute.emplace_back("schedule", std::string(to_string(job.schedule)));
        meta.compute.emplace_back("chunk", static_cast<std::int64_t>(job.chunk));
        meta.compute.emplace_back("space",
                                  job.space_spec.empty() ? job.space.describe() : job.space_spec);
        meta.compute.emplace_back("threads_source", tc.source);
        if (!job.space.from_input()) {
          meta.compute.emplace_back("range_start", job.space.range().start);
          meta.compute.emplace_back("range_stop", job.space.range().stop);
          meta.compute.emplace_back("range_step", job.space.range().step);
        }
        try {
          create_results_file(job.output, meta, job.force);
        } catch (...) {
          std::error_code ec;
          std::filesystem::remove(job.output, ec);  // a half-created file helps nobody
          throw;
        }
      });
    }
    rows = RowSet::all(n).intersect(window);
  }
  std::optional<ComputeWriter> writer;
  if (to_file) writer.emplace(job.output, comm);
  const double create_seconds = seconds_since(t_create);
  const std::uint64_t tasks = rows.size();

  std::uint64_t max_failures = job.max_failures;
  if (job.max_failures_fraction > 0) {
    max_failures = std::max<std::uint64_t>(
        1, static_cast<std::uint64_t>(
               std::ceil(job.max_failures_fraction * static_cast<double>(window.size()))));
  }
  DispatchOptions dopt;
  dopt.schedule = job.schedule;
  dopt.items = tasks;
  dopt.chunk = job.chunk;
  dopt.workers = workers;
  dopt.max_failures = max_failures;
  Dispatcher dispatcher(comm, dopt);
  std::unique_ptr<Progress> progress;
  if (rank == 0 && job.progress != ProgressMode::None) {
    progress = std::make_unique<Progress>(job.progress, "compute", tasks);
    const auto interval = progress->mode() == ProgressMode::Bar ? std::chrono::milliseconds(100)
                                                                : std::chrono::milliseconds(500);
    dispatcher.on_tick([p = progress.get()](std::uint64_t done) { p->update(done); }, interval);
  }

  mpi::check(MPI_Barrier(comm), "MPI_Barrier");
  const auto t0 = clock_type::now();
  const auto deadline = job.deadline > 0 ? t0 + std::chrono::duration_cast<clock_type::duration>(
                                                    std::chrono::duration<double>(job.deadline))
                                         : clock_type::time_point::max();
  const auto item_budget = std::chrono::duration_cast<clock_type::duration>(
      std::chrono::duration<double>(job.item_timeout));
  std::atomic<bool> fatal{false};
  std::atomic<bool> deadline_hit{false};
  std::exception_ptr failure;
  std::mutex merge_mutex;
  ThreadTotals totals;

#pragma omp parallel num_threads(threads)
  {
    const int tid = omp_get_thread_num();
    ThreadTotals mine;
    ChunkBuffers buf;
    ChunkSizer sizer(0.1);
    double per_item = 0;  // measured seconds per item of this thread, 0 until known
    try {
      // stopping() also forwards a local signal to rank 0, which stops every rank.
      while (!fatal.load(std::memory_order_relaxed) && !dispatcher.stopping()) {
        // Never start a chunk that cannot finish before the deadline.
        if (deadline != clock_type::time_point::max()) {
          const double expected = per_item * static_cast<double>(sizer.desired());
          const auto left = std::chrono::duration<double>(deadline - clock_type::now()).count();
          if (left <= 0 || (per_item > 0 && expected > left)) {
            deadline_hit = true;
            break;
          }
        }
        const auto chunk = dispatcher.next(sizer.desired());
        if (!chunk) break;
        const auto chunk_start = clock_type::now();
        std::uint64_t chunk_done = 0;
        std::uint64_t chunk_failed = 0;
        bool cut = false;
        for (const Chunk seg : rows.segments(*chunk)) {
          const std::uint64_t count = seg.size();
          buf.resize(count, k);
          std::uint64_t done = 0;  // rows of this segment that completed (a stop cuts the rest)
          for (std::uint64_t j = 0; j < count; ++j) {
            if (stop_requested()) break;
            const std::uint64_t row = seg.begin + j;
            const Item item = job.space.at(row);
            double* out = buf.value.data() + j * k;
            std::fill(out, out + k, 0.0);
            const auto t_item = clock_type::now();
            const KernelContext ctx(stop_flag(), job.item_timeout > 0
                                                     ? t_item + item_budget
                                                     : clock_type::time_point::max());
            auto status = ItemStatus::Ok;
            std::string error;
            try {
              kernel.run(item, job.args, std::span<double>(out, k), ctx);
            } catch (const std::exception& e) {
              status = ItemStatus::Failed;
              error = detail::printable_utf8(e.what());
            }
            const auto t_end = clock_type::now();
            // A stop during the item may have cut it short: leave it "not run" for --resume.
            if (stop_requested()) break;
            if (job.item_timeout > 0 && t_end - t_item > item_budget) {
              status = ItemStatus::TimedOut;
              char text[96];
              std::snprintf(text, sizeof text, "timed out after %.3f s (--item-timeout %g)",
                            std::chrono::duration<double>(t_end - t_item).count(),
                            job.item_timeout);
              error = text;
            }
            if (status != ItemStatus::Ok) {
              std::fill(out, out + k, std::numeric_limits<double>::quiet_NaN());
              if (mine.errors.size() < kMaxErrorsPerRank) {
                mine.errors.push_back({item.value, std::move(error)});
              }
            }
            ++done;
            const double secs = std::chrono::duration<double>(t_end - t_item).count();
            buf.item[j] = item.value;
            buf.status[j] = static_cast<std::int8_t>(status);
            buf.rank[j] = rank;
            buf.thread[j] = tid;
            buf.seconds[j] = secs;
            mine.busy += secs;
            switch (status) {
              case ItemStatus::Ok:
                ++mine.ok;
                mine.checksum += row_checksum(row, out, k);
                break;
              case ItemStatus::TimedOut:
                ++mine.timed_out;
                ++chunk_failed;
                break;
              default:
                ++mine.failed;
                ++chunk_failed;
            }
          }
          if (writer) {
            writer->write(RowBlock{seg.begin, done, k, buf.item.data(), buf.value.data(),
                                   buf.status.data(), buf.rank.data(), buf.thread.data(),
                                   buf.seconds.data()});
          }
          chunk_done += done;
          if (done < count) {
            cut = true;
            break;
          }
        }
        const double chunk_seconds = seconds_since(chunk_start);
        mine.items += chunk_done;
        dispatcher.add_done(chunk_done, chunk_failed);
        sizer.record(chunk_done, chunk_seconds);
        if (chunk_done > 0) per_item = chunk_seconds / static_cast<double>(chunk_done);
        if (cut) {
          dispatcher.request_stop();
          break;
        }
      }
    } catch (...) {
      std::lock_guard lock(merge_mutex);
      if (!failure) failure = std::current_exception();
      fatal = true;
      dispatcher.request_stop();
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
  if (stop_requested()) dispatcher.request_stop();
  dispatcher.finish();
  const double work_wall = seconds_since(t0);
  const std::uint64_t remote_claims = dispatcher.remote_claims();
  int interrupted = stop_requested() ? std::max(stop_signal(), 1) : 0;
  {
    // The first wait for the slowest rank: sleep, not spin, so that oversubscribed ranks that
    // finished leave the cores to those still computing.
    MPI_Request request = MPI_REQUEST_NULL;
    mpi::check(MPI_Iallreduce(MPI_IN_PLACE, &interrupted, 1, MPI_INT, MPI_MAX, comm, &request),
               "MPI_Iallreduce");
    mpi::wait_sleeping(request);
  }
  int hit = deadline_hit.load() ? 1 : 0;
  mpi::check(MPI_Allreduce(MPI_IN_PLACE, &hit, 1, MPI_INT, MPI_MAX, comm), "MPI_Allreduce");

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
  double write_seconds = 0;
  if (writer) {
    writer->close();
    write_seconds = writer->write_seconds() + seconds_since(t_close) + create_seconds;
  }
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
  report.items = window.size();
  report.ran = sums[0];
  report.ok = sums[1];
  report.failed = sums[2];
  report.timed_out = sums[3];
  report.not_run = tasks - std::min<std::uint64_t>(tasks, sums[0]);
  report.checksum = sums[4];
  report.wall_seconds = wall;
  report.busy_seconds = busy_sum;
  report.parallel_efficiency = wall > 0 ? busy_sum / (wall * workers) : 0.0;
  const double busy_mean = busy_sum / size;
  report.load_imbalance = busy_mean > 0 ? busy_max / busy_mean : 1.0;
  report.write_seconds = write_max;
  double rss = peak_rss_mib();
  mpi::check(MPI_Allreduce(&rss, &report.max_rss_mib, 1, MPI_DOUBLE, MPI_MAX, comm),
             "MPI_Allreduce");
  std::uint64_t claims = remote_claims;
  mpi::check(MPI_Bcast(&claims, 1, MPI_UINT64_T, 0, comm), "MPI_Bcast");
  report.remote_claims = claims;
  report.interrupted = interrupted;
  report.resumed = job.resume;
  if (interrupted != 0) {
    report.stop_reason = "signal";
  } else if (max_failures > 0 && report.failed + report.timed_out >= max_failures &&
             report.not_run > 0) {
    report.stop_reason = "max-failures";
  } else if (hit != 0 && report.not_run > 0) {
    report.stop_reason = "deadline";
  }

  // Per-rank table and errors to rank 0, which adds them to the file.
  std::uint64_t file_totals[5] = {0, 0, 0, 0, 0};
  if (to_file) {
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
      if (job.resume) {
        // The file is the union of every run: recount it, keep the errors of rows not rerun.
        const FileTotals t = scan_results(job.output, window);
        file_totals[0] = t.ok;
        file_totals[1] = t.failed;
        file_totals[2] = t.timed_out;
        file_totals[3] = t.not_run;
        file_totals[4] = t.checksum;
        // Keep an earlier error only if its row was not rerun now and still failed.
        std::vector<std::int64_t> fresh;
        for (const auto& e : errors) fresh.push_back(e.item);
        std::sort(fresh.begin(), fresh.end());
        std::vector<ErrorRecord> candidates;
        std::vector<std::uint64_t> candidate_rows;
        for (auto& e : kept_errors) {
          if (std::binary_search(fresh.begin(), fresh.end(), e.item)) continue;
          const auto row = job.space.row_of(e.item);
          if (!row) continue;
          candidate_rows.push_back(*row);
          candidates.push_back(std::move(e));
        }
        const auto status = status_at(job.output, candidate_rows);
        for (std::size_t i = 0; i < candidates.size(); ++i) {
          if (status[i] == 1 || status[i] == 2) errors.push_back(std::move(candidates[i]));
        }
      }
      std::sort(errors.begin(), errors.end(),
                [](const ErrorRecord& a, const ErrorRecord& b) { return a.item < b.item; });
      RunReport file_view = report;
      if (job.resume) {
        file_view.ok = file_totals[0];
        file_view.failed = file_totals[1];
        file_view.timed_out = file_totals[2];
        file_view.not_run = file_totals[3];
        file_view.checksum = file_totals[4];
      }
      Attrs attrs = file_view.attrs();
      attrs.emplace_back("runs", runs);
      attrs.emplace_back("last_command", job.command);
      attrs.emplace_back("columns_joined", join(columns));
      finalize_results_file(job.output, "compute", attrs, ranks, errors);
    });
  }
  if (job.resume) {
    // Every rank reports the file's totals, so the exit code reflects the whole job.
    mpi::check(MPI_Bcast(file_totals, 5, MPI_UINT64_T, 0, comm), "MPI_Bcast");
    report.ok = file_totals[0];
    report.failed = file_totals[1];
    report.timed_out = file_totals[2];
    report.not_run = file_totals[3];
    report.checksum = file_totals[4];
  }
  if (rank == 0 && job.print_summary) {
    std::cout << report.summary() << "  results: " << (to_file ? job.output : "(no file)") << "\n"
              << report.line() << "\n";
    std::cout.flush();
  }
  return report;
}

}  // namespace pmap
