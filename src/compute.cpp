#include "pmap/compute.hpp"

#include <omp.h>
#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <exception>
#include <filesystem>
#include <iostream>
#include <mutex>

#include "detail/file_in_use.hpp"
#include "detail/keyed_text.hpp"
#include "pmap/collective.hpp"
#include "pmap/compute_stage.hpp"
#include "pmap/engine.hpp"
#include "pmap/error.hpp"
#include "pmap/mpi.hpp"
#include "pmap/results.hpp"
#include "pmap/resume.hpp"
#include "pmap/stop.hpp"

namespace pmap {
namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

constexpr std::size_t kHostLen = 64;

/// One rank's row of /compute/ranks, as it travels to rank 0.
struct RankStatsWire {
  std::int64_t items;
  double busy;
  double wall;
  double write;
  std::int32_t threads;
  double rss_mib;
  char host[kHostLen];
};

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

/// The rows to run as bytes ("R" then begin/end pairs), and back.
std::string encode_rows(const RowSet& rows) {
  std::string out = "R";
  for (const Chunk& r : rows.ranges()) {
    out.append(reinterpret_cast<const char*>(&r.begin), sizeof r.begin);
    out.append(reinterpret_cast<const char*>(&r.end), sizeof r.end);
  }
  return out;
}

RowSet decode_rows(const std::string& bytes) {
  std::vector<Chunk> ranges;
  for (std::size_t at = 1; at + 2 * sizeof(std::uint64_t) <= bytes.size();
       at += 2 * sizeof(std::uint64_t)) {
    Chunk c{};
    std::memcpy(&c.begin, bytes.data() + at, sizeof c.begin);
    std::memcpy(&c.end, bytes.data() + at + sizeof c.begin, sizeof c.end);
    ranges.push_back(c);
  }
  return RowSet(std::move(ranges));
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

ComputeStage::ComputeStage(const ComputeJob& job) : job_(job) {}
ComputeStage::~ComputeStage() = default;

void ComputeStage::prepare(MPI_Comm comm) {
  // Checks that need no communication: identical on every rank.
  if (job_.kernel == nullptr) throw UsageError("no kernel given");
  check_shard(job_.shard_index, job_.shard_count);
  if (job_.item_timeout < 0) throw UsageError::negative("item_timeout", job_.item_timeout);
  if (job_.deadline < 0) throw UsageError::negative("deadline", job_.deadline);
  if (job_.output.empty() && job_.resume) {
    throw UsageError("resume", "", "needs the results file to continue: set `output`");
  }
  comm_ = comm;
  check_same_items(comm);
  columns_ = job_.kernel->output_columns(job_.args);
  field_args_ = bind_field_args(*job_.kernel, job_.space.fields());
  job_.kernel->check_fields(job_.args, job_.space.fields());
  window_ = block(job_.space.size(), job_.shard_count, job_.shard_index);
  max_failures_ = job_.max_failures;
  if (job_.max_failures_fraction > 0) {
    max_failures_ = std::max<std::uint64_t>(
        1, static_cast<std::uint64_t>(
               std::ceil(job_.max_failures_fraction * static_cast<double>(window_.size()))));
  }
  // Threads: this rank's share of its node unless told otherwise.
  const mpi::Comm node = mpi::Comm::split_shared(comm);
  threads_ = resolve_threads(job_.threads, node_cores(), node.size());
  ensure_threads(comm, threads_.threads, kComputeThreads);  // a clear error, not libgomp's exit
  start_runners(comm);
  if (!runners_.empty() && !field_args_.empty()) {
    // A batch kernel's process gets its arguments once, at start: a field cannot change them
    // per item, and ignoring it would run every item with the wrong value.
    throw UsageError("fields", field_args_.front().name,
                     "kernel " + std::string(job_.kernel->name()) +
                         " takes its arguments once per worker, not per item; rename the field "
                         "(the item's fields reach the worker as its text)");
  }
  workers_ = all_sum(comm, threads_.threads);
  max_threads_ = all_max(comm, threads_.threads);
  const bool oversubscribed = any_rank(comm, threads_.threads > affinity_cores());
  if (mpi::rank(comm) == 0 && oversubscribed && mpi::size(comm) > 1 && job_.print_summary) {
    std::cerr << "pmap: warning: a rank runs more threads than the cores it is bound to; "
                 "with mpirun, add --bind-to none (or bind each rank to its cores)\n";
  }
}

/// Every rank must see the same items: an input that only one rank can read (stdin, a pipe
/// mpirun forwards to rank 0) left the other ranks' share unrun, and the run "succeeded".
void ComputeStage::check_same_items(MPI_Comm comm) {
  items_fnv_ = job_.space.fingerprint();
  std::array<char, 17> root{};
  items_fnv_.copy(root.data(), root.size() - 1);
  mpi::check(MPI_Bcast(root.data(), static_cast<int>(root.size()), MPI_CHAR, 0, comm),
             "MPI_Bcast items fingerprint");
  if (!any_rank(comm, items_fnv_ != root.data())) return;
  const auto fewest =
      static_cast<std::uint64_t>(-all_max(comm, -static_cast<std::int64_t>(job_.space.size())));
  const auto most = all_max(comm, job_.space.size());
  throw UsageError("items", job_.space_spec.empty() ? job_.space.describe() : job_.space_spec,
                   "the ranks do not see the same items (" + std::to_string(fewest) + " to " +
                       std::to_string(most) +
                       " of them): every rank reads the items itself, so they must come from a "
                       "file all ranks read alike, not stdin or a pipe (only one rank gets those)"
                       " nor anything that differs between ranks or nodes");
}

/// Kernels that keep processes between items start them now, one per thread, before anything
/// is written: one that cannot start is bad usage on every rank (the first failing rank's
/// message).
void ComputeStage::start_runners(MPI_Comm comm) {
  std::exception_ptr error;
  try {
    runners_ = job_.kernel->start_runners(job_.args, job_.space, threads_.threads);
  } catch (...) {
    error = std::current_exception();
  }
  agree_on_first_error(comm, error);
}

/// Tells the batch runners of this rank that the work is over, all at once: worker processes
/// end while the rank reduces and writes; the stage's destructor waits for them (briefly).
void ComputeStage::stop_runners() noexcept {
  for (auto& r : runners_) r->begin_shutdown();
}

/// What identifies the job: --resume refuses a file written by another one.
Attrs ComputeStage::identity() const { return compute_identity(job_, items_fnv_); }

Attrs compute_identity(const ComputeJob& job, const std::string& items_fnv) {
  // An argument the items' fields give is recorded as such, not as its unused bound value.
  BoundArgs args = job.args;
  for (const FieldArg& f : bind_field_args(*job.kernel, job.space.fields()))
    args.set(f.name, "<field " + f.name + ">");
  return {{"kernel", std::string(job.kernel->name())},
          {"args", args.to_json()},
          {"items", static_cast<std::int64_t>(job.space.size())},
          {"item_kind", job.space.kind()},
          {"items_fnv", items_fnv.empty() ? job.space.fingerprint() : items_fnv},
          {"shard_index", std::int64_t{job.shard_index}},
          {"shard_count", std::int64_t{job.shard_count}}};
}

ComputeMeta make_compute_meta(const ComputeJob& job, const std::vector<std::string>& columns,
                              const std::string& threads_source, const Attrs& root) {
  ComputeMeta meta;
  meta.items = job.space.size();
  meta.columns = columns;
  meta.fields = job.space.fields();
  if (const FieldSource* source = job.space.source()) meta.params = source->attributes();
  meta.root = root;
  meta.compute = compute_identity(job);
  meta.compute.emplace_back("schedule", std::string(to_string(job.schedule)));
  meta.compute.emplace_back("chunk", static_cast<std::int64_t>(job.chunk));
  meta.compute.emplace_back("space",
                            job.space_spec.empty() ? job.space.describe() : job.space_spec);
  meta.compute.emplace_back("threads_source", threads_source);
  if (job.space.kind() == "range") {
    meta.compute.emplace_back("range_start", job.space.range().start);
    meta.compute.emplace_back("range_stop", job.space.range().stop);
    meta.compute.emplace_back("range_step", job.space.range().step);
  }
  for (const auto& [key, value] : job.extra_attrs) meta.compute.emplace_back(key, value);
  return meta;
}

void ComputeStage::preflight() const {
  std::uint64_t param_bytes = 0;
  for (const FieldSpec& f : job_.space.fields())
    param_bytes += f.type == FieldType::String ? f.width : 8;
  check_output_path(job_.output, job_.force,
                    results_file_bytes(job_.space.size(), columns_.size(), param_bytes));
}

void ComputeStage::create(const Attrs& root) {
  const auto t0 = clock_type::now();
  const ComputeMeta meta = make_compute_meta(job_, columns_, threads_.source, root);
  try {
    create_results_file(job_.output, meta, job_.force);
  } catch (...) {
    // A half-created file helps nobody, but a file another process holds is not ours.
    std::error_code ec;
    if (!detail::file_in_use(job_.output)) std::filesystem::remove(job_.output, ec);
    throw;
  }
  write_seconds_ += seconds_since(t0);
}

std::string ComputeStage::plan_resume() {
  std::vector<std::string> keys;
  const Attrs expected = identity();
  for (const auto& [key, value] : expected) keys.push_back(key);
  ResumePlan plan = pmap::plan_resume(job_.output, expected, keys, job_.retry_failed, window_);
  runs_ = plan.runs + 1;
  kept_errors_ = std::move(plan.kept_errors);
  return encode_rows(plan.todo);
}

void ComputeStage::adopt(const std::string& plan) {
  rows_ = plan.empty() ? RowSet::all(job_.space.size()).intersect(window_) : decode_rows(plan);
}

void ComputeStage::open(MPI_Comm comm) {
  if (job_.output.empty()) return;
  const auto t0 = clock_type::now();
  file_ = std::make_unique<FileSink>(job_.output, comm);
  write_seconds_ += seconds_since(t0);
}

void ComputeStage::work(Channel& channel) {
  DispatchOptions dopt;
  dopt.schedule = job_.schedule;
  dopt.items = rows_.size();
  dopt.chunk = job_.chunk;
  dopt.workers = workers_;
  dopt.claim_ahead = max_failures_ == 0;  // claims only when needed, so the limit holds exactly
  dopt.stop = channel.stop_flag();
  Dispatcher dispatcher(comm_, dopt);
  SinkSet sinks;
  sinks.add(file_.get());
  sinks.add(&error_sink_);
  for (RowSink* s : extra_) sinks.add(s);

  mpi::check(MPI_Barrier(comm_), "MPI_Barrier");
  t0_ = clock_type::now();
  WorkPlan plan{job_.kernel,      &job_.args,        &job_.space, &rows_,     columns_.size(),
                mpi::rank(comm_), job_.item_timeout, runners_,    field_args_};
  if (job_.deadline > 0) {
    plan.deadline = t0_ + std::chrono::duration_cast<clock_type::duration>(
                              std::chrono::duration<double>(job_.deadline));
  }
  std::exception_ptr failure;
  std::mutex mutex;
#pragma omp parallel num_threads(threads_.threads)
  {
    WorkerTotals mine;
    try {
      mine = run_worker(plan, omp_get_thread_num(), dispatcher, channel, sinks);
    } catch (...) {
      const std::lock_guard lock(mutex);
      if (!failure) failure = std::current_exception();
      channel.request_stop(StopCause::Error);
    }
    const std::lock_guard lock(mutex);
    totals_ += mine;
  }
  // This rank's own time, before the finish protocol waits for the slowest rank.
  own_seconds_ = seconds_since(t0_);
  stop_runners();
  dispatcher.finish();
  remote_claims_ = dispatcher.remote_claims();
  coordinator_seconds_ = dispatcher.coordinator_seconds();
  if (failure) std::rethrow_exception(failure);
}

void ComputeStage::reduce(MPI_Comm comm, const Ending& ending) {
  if (file_) {
    const auto t_close = clock_type::now();
    file_->close();
    write_seconds_ += file_->write_seconds() + seconds_since(t_close);
  }
  errors_ = error_sink_.take();
  fill_report(comm, ending);
  if (file_) gather_for_file(comm);
}

/// The job's figures, identical on every rank.
void ComputeStage::fill_report(MPI_Comm comm, const Ending& ending) {
  const int size = mpi::size(comm);
  const StatusTally ran = totals_.tally.reduce(comm);
  const double busy_sum = all_sum(comm, totals_.busy);
  const double busy_max = all_max(comm, totals_.busy);
  RunReport& r = report_;
  r.kernel = std::string(job_.kernel->name());
  r.schedule = std::string(to_string(job_.schedule));
  r.chunk = job_.chunk;
  r.ranks = size;
  r.threads = max_threads_;
  r.workers = workers_;
  r.items = window_.size();
  r.ran = ran.ran();
  r.ok = ran.ok;
  r.failed = ran.failed;
  r.timed_out = ran.timed_out;
  r.not_run = rows_.size() - std::min<std::uint64_t>(rows_.size(), ran.ran());
  r.checksum = ran.checksum;
  r.wall_seconds = all_max(comm, seconds_since(t0_));
  r.busy_seconds = busy_sum;
  r.parallel_efficiency = r.wall_seconds > 0 ? busy_sum / (r.wall_seconds * workers_) : 0.0;
  const double busy_mean = busy_sum / size;
  r.load_imbalance = busy_mean > 0 ? busy_max / busy_mean : 1.0;
  r.write_seconds = all_max(comm, write_seconds_);
  r.max_rss_mib = all_max(comm, peak_rss_mib());
  std::uint64_t claims = remote_claims_;
  mpi::check(MPI_Bcast(&claims, 1, MPI_UINT64_T, 0, comm), "MPI_Bcast");
  r.remote_claims = claims;
  double coordinator = coordinator_seconds_;
  mpi::check(MPI_Bcast(&coordinator, 1, MPI_DOUBLE, 0, comm), "MPI_Bcast");
  r.coordinator_seconds = coordinator;
  r.interrupted = ending.interrupted;
  r.resumed = job_.resume;
  if (job_.resume) {
    // The file is the union of every run: its counts are the job's.
    std::array<std::uint64_t, 5> f{};
    on_root(comm, [&] {
      const auto t = scan_results(job_.output, window_);
      f = {t.ok, t.failed, t.timed_out, t.not_run, t.checksum};
    });
    mpi::check(MPI_Bcast(f.data(), 5, MPI_UINT64_T, 0, comm), "MPI_Bcast");
    r.ok = f[0];
    r.failed = f[1];
    r.timed_out = f[2];
    r.not_run = f[3];
    r.checksum = f[4];
  }
  const bool deadline_hit = any_rank(comm, totals_.deadline_hit);
  if (r.interrupted != 0) {
    r.stop_reason = "signal";
  } else if (max_failures_ > 0 && r.failed + r.timed_out >= max_failures_ && r.not_run > 0) {
    r.stop_reason = "max-failures";
  } else if (deadline_hit && r.not_run > 0) {
    r.stop_reason = "deadline";
  }
}

/// Every rank's row of /compute/ranks and its errors, to rank 0.
void ComputeStage::gather_for_file(MPI_Comm comm) {
  RankStatsWire me{};
  me.items = static_cast<std::int64_t>(totals_.tally.ran());
  me.busy = totals_.busy;
  me.wall = own_seconds_;
  me.write = write_seconds_;
  me.threads = threads_.threads;
  me.rss_mib = peak_rss_mib();
  std::strncpy(me.host, mpi::host_name().c_str(), kHostLen - 1);
  const bool root = mpi::rank(comm) == 0;
  std::vector<RankStatsWire> all(root ? static_cast<std::size_t>(mpi::size(comm)) : 0);
  mpi::check(MPI_Gather(&me, sizeof me, MPI_BYTE, all.data(), sizeof me, MPI_BYTE, 0, comm),
             "MPI_Gather");
  for (const auto& w : all) {
    rank_table_.push_back({w.items, w.busy, w.wall, w.write, w.threads, w.rss_mib,
                           std::string(w.host, strnlen(w.host, kHostLen))});
  }
  std::string buf;
  for (const auto& e : errors_)
    detail::append_keyed(buf, static_cast<std::uint64_t>(e.item), e.message);
  detail::for_each_keyed(
      mpi::gather_bytes(comm, buf, 0), [&](std::uint64_t item, std::string_view text) {
        all_errors_.push_back({static_cast<std::int64_t>(item), std::string(text)});
      });
}

void ComputeStage::finalize() {
  std::vector<ErrorRecord> errors = std::move(all_errors_);
  if (job_.resume) {
    // Keep an earlier error only if its row was not rerun now and still failed.
    std::vector<std::int64_t> fresh;
    for (const auto& e : errors) fresh.push_back(e.item);
    std::sort(fresh.begin(), fresh.end());
    std::vector<ErrorRecord> candidates;
    std::vector<std::uint64_t> candidate_rows;
    for (auto& e : kept_errors_) {
      if (std::binary_search(fresh.begin(), fresh.end(), e.item)) continue;
      const auto row = job_.space.row_of(e.item);
      if (!row) continue;
      candidate_rows.push_back(*row);
      candidates.push_back(std::move(e));
    }
    const auto status = status_at(job_.output, candidate_rows);
    for (std::size_t i = 0; i < candidates.size(); ++i) {
      const auto s = static_cast<ItemStatus>(status[i]);
      if (s == ItemStatus::Failed || s == ItemStatus::TimedOut) {
        errors.push_back(std::move(candidates[i]));
      }
    }
  }
  std::sort(errors.begin(), errors.end(),
            [](const ErrorRecord& a, const ErrorRecord& b) { return a.item < b.item; });
  Attrs attrs = report_attrs(report_);
  attrs.emplace_back("runs", runs_);
  attrs.emplace_back("last_command", job_.command);
  attrs.emplace_back("columns_joined", join(columns_));
  finalize_results_file(job_.output, "compute", attrs, rank_table_, errors);
}

void ComputeStage::print_summary(std::ostream& out) const {
  out << report_.summary() << "  results: " << (file_ ? job_.output : "(no file)") << "\n"
      << report_.line() << "\n";
}

RunReport run_compute(const ComputeJob& job, MPI_Comm comm) {
  ComputeStage stage(job);
  Engine(comm, engine_options(job)).run(stage);
  return stage.report();
}

}  // namespace pmap
