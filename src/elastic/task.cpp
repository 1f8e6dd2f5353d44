#include "elastic/task.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "detail/fnv.hpp"
#include "pmap/collective.hpp"
#include "pmap/compute_stage.hpp"
#include "pmap/error.hpp"
#include "pmap/mpi.hpp"
#include "pmap/results_file.hpp"
#include "pmap/resume.hpp"
#include "pmap/stop.hpp"

namespace pmap::elastic {
namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

/// Touches the task's heartbeat every `interval` seconds until destroyed (rank 0).
class Heartbeat {
 public:
  Heartbeat(const Ledger& ledger, Owner me, double interval)
      : ledger_(ledger), me_(std::move(me)), interval_(interval) {
    ledger_.heartbeat(me_);
    thread_ = std::thread([this] { loop(); });
  }
  ~Heartbeat() {
    {
      const std::lock_guard lock(mutex_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  Heartbeat(const Heartbeat&) = delete;
  Heartbeat& operator=(const Heartbeat&) = delete;

 private:
  void loop() noexcept {
    std::unique_lock lock(mutex_);
    while (!cv_.wait_for(lock, std::chrono::duration<double>(interval_), [&] { return done_; })) {
      try {
        ledger_.heartbeat(me_);
      } catch (...) {  // a missed beat is retried at the next one
      }
    }
  }
  const Ledger& ledger_;
  Owner me_;
  double interval_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

/// A claim as it travels from rank 0 to the other ranks.
struct ClaimWire {
  std::int32_t has = 0, generation = 0, takeover = 0, resume = 0;
  std::uint64_t block = 0;
};

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

/// The job of one block: the rows of the block, into the block's own file.
ComputeJob block_job(const ComputeJob& whole, const Ledger& ledger, std::uint64_t b, bool resume,
                     double deadline) {
  ComputeJob job = whole;
  const Chunk rows = ledger.rows(b);
  job.space = whole.space.slice(rows.begin, rows.end);
  job.space_spec = (whole.space_spec.empty() ? whole.space.describe() : whole.space_spec) +
                   " rows " + std::to_string(rows.begin) + ":" + std::to_string(rows.end);
  job.output = ledger.partial_path(b);
  job.resume = resume;
  job.force = !resume;
  job.retry_failed = false;
  job.shard_index = 0;
  job.shard_count = 1;
  job.print_summary = false;
  job.progress = ProgressMode::None;
  job.deadline = deadline;
  job.extra_attrs = whole.extra_attrs;
  job.extra_attrs.emplace_back(kBlockJobFnv, whole.space.fingerprint());
  job.extra_attrs.emplace_back(kBlockBegin, std::to_string(rows.begin));
  job.extra_attrs.emplace_back(kBlockEnd, std::to_string(rows.end));
  job.extra_attrs.emplace_back("elastic_block", std::to_string(b));
  return job;
}

}  // namespace

Ledger ledger_for(const ComputeJob& job, const std::string& folder, std::uint64_t block_rows) {
  const std::uint64_t n = job.space.size();
  if (n == 0) throw UsageError("elastic: the job has no items; give a non-empty range or input");
  if (block_rows == 0) block_rows = std::max<std::uint64_t>(1, (n + 63) / 64);
  if (exists(folder + "/ledger/plan")) {
    Ledger l = Ledger::open(folder);
    if (l.items() != n || l.fingerprint() != job.space.fingerprint()) {
      throw UsageError("elastic: " + folder + " holds the ledger of another job (" +
                       std::to_string(l.items()) + " items, fingerprint " + l.fingerprint() +
                       "; this job: " + std::to_string(n) + " items, fingerprint " +
                       job.space.fingerprint() + "); give the same run arguments, or a new folder");
    }
    return l;
  }
  return Ledger::create(folder, n, block_rows, job.space.fingerprint());
}

namespace {

/// What running one block gave: rows run, rows kept from an earlier owner, failed rows, and
/// whether it stopped early (then the block is given back).
struct BlockOutcome {
  std::uint64_t ran = 0, kept = 0, failed = 0;
  bool interrupted = false;
  std::string why;
};

/// The loop's state on every rank: the ledger, who this task is, what it did so far.
struct TaskState {
  const TaskOptions& options;
  MPI_Comm comm;
  bool root;
  Owner me;
  std::optional<Ledger> ledger;
  TaskReport report;

  /// A line on rank 0's stdout.
  void say(const std::string& line) const {
    if (!root) return;
    std::cout << "pmap elastic: " << line << "\n";
    std::cout.flush();
  }
};

/// Seconds left before the job's deadline (0: none); nullopt when it has passed.
std::optional<double> time_left(double job_deadline, clock_type::time_point t0) {
  if (job_deadline <= 0) return 0.0;
  const double left = job_deadline - seconds_since(t0);
  if (left <= 0) return std::nullopt;
  return left;
}

/// Rank 0 claims the next block; every rank learns it (has == 0: nothing left to claim).
ClaimWire claim_next(TaskState& st, std::optional<Claim>& claim) {
  ClaimWire wire;
  on_root(st.comm, [&] {
    claim = st.ledger->claim(st.me, st.options.alive);
    if (claim) {
      wire = {1, claim->generation, claim->takeover ? 1 : 0,
              exists(st.ledger->partial_path(claim->block)) ? 1 : 0, claim->block};
    }
  });
  wire = mpi::bcast_value(st.comm, wire);
  if (wire.has != 0 && st.root) {
    const Chunk rows = st.ledger->rows(wire.block);
    st.say("block " + std::to_string(wire.block) + " rows " + std::to_string(rows.begin) + ":" +
           std::to_string(rows.end) +
           (claim->takeover ? " taken over from " + claim->from
                            : (claim->from.empty() ? "" : " given back by " + claim->from)) +
           (wire.resume ? " (resuming its file)" : ""));
  }
  return wire;
}

/// Runs the claimed block; a dead task's file that cannot be resumed (damaged by the kill) is
/// kept aside and the block runs from the start.
template <class RunBlock>
BlockOutcome run_claimed(TaskState& st, const ClaimWire& wire, double deadline,
                         RunBlock& run_block) {
  try {
    return run_block(*st.ledger, wire.block, wire.resume != 0, deadline);
  } catch (const UsageError& e) {
    if (!wire.resume) throw;
    on_root(st.comm, [&] {
      const std::string part = st.ledger->partial_path(wire.block);
      const std::string aside = part + ".damaged-" + st.me.task;
      std::filesystem::rename(part, aside);
      std::cerr << "pmap elastic: block " << wire.block << ": " << e.what() << "; kept as " << aside
                << ", running the block again\n";
    });
    return run_block(*st.ledger, wire.block, false, deadline);
  }
}

/// The task's one-line report (rank 0), for logs and the benchmark.
void print_task_report(const TaskReport& report, const Ledger& ledger) {
  std::ostringstream os;
  os.precision(6);
  os << "pmap-elastic task=" << report.task << " blocks=" << report.blocks
     << " rows=" << report.rows << " failed=" << report.failed << " takeovers=" << report.takeovers
     << " resumed_rows=" << report.resumed_rows << " stopped=" << (report.stopped ? 1 : 0)
     << " gave_back=" << (report.gave_back ? 1 : 0) << " wall=" << report.wall
     << " busy=" << report.busy << " idle=" << report.wall - report.busy
     << " claims=" << report.claims << " claim_seconds=" << report.claim_seconds
     << " claim_ms=" << (report.claims ? 1000.0 * report.claim_seconds / report.claims : 0.0)
     << " remaining_blocks=" << ledger.remaining();
  std::cout << os.str() << "\n";
  std::cout.flush();
}

/// The task loop of both stages: claim, run the block (`run_block(block, resume, deadline)`),
/// finish or give back, until no block is left or the task must stop.
template <class OpenLedger, class RunBlock>
TaskReport task_loop(const TaskOptions& options, double job_deadline, MPI_Comm comm,
                     OpenLedger&& open_ledger, RunBlock&& run_block) {
  const auto t0 = clock_type::now();
  TaskState st{options, comm, mpi::rank(comm) == 0, Owner::self(), std::nullopt, {}};
  on_root(comm, [&] { st.ledger.emplace(open_ledger()); });
  // Every rank needs the plan (rows of a block, paths): open it after rank 0 made it.
  if (!st.root) st.ledger.emplace(Ledger::open(options.folder));
  TaskReport& report = st.report;
  report.task = st.me.task;
  std::optional<Heartbeat> beat;
  if (st.root) beat.emplace(*st.ledger, st.me, options.heartbeat);
  st.say("task " + st.me.task + " on " + st.me.host + ", job folder " + options.folder + ": " +
         std::to_string(st.ledger->items()) + " items in " + std::to_string(st.ledger->blocks()) +
         " blocks of " + std::to_string(st.ledger->block_rows()));
  while (true) {
    const std::optional<double> deadline = time_left(job_deadline, t0);
    if (any_rank(comm, stop_requested()) || !deadline) {
      report.stopped = true;
      break;
    }
    std::optional<Claim> claim;
    const ClaimWire wire = claim_next(st, claim);
    if (wire.has == 0) break;
    report.takeovers += wire.takeover ? 1 : 0;
    const auto b0 = clock_type::now();
    const BlockOutcome r = run_claimed(st, wire, *deadline, run_block);
    report.busy += seconds_since(b0);
    report.resumed_rows += r.kept;
    if (r.interrupted) {
      on_root(comm, [&] {
        report.gave_back = st.ledger->release(*claim, st.me);
        st.say("stopped (" + r.why + "): block " + std::to_string(wire.block) +
               " given back with " + std::to_string(r.ran + r.kept) + " of " +
               std::to_string(st.ledger->rows(wire.block).size()) +
               " rows written (the next task resumes it)");
      });
      report.stopped = true;
      break;
    }
    on_root(comm, [&] { st.ledger->finish(*claim, st.me); });
    report.blocks += 1;
    report.rows += r.ran;
    report.failed += r.failed;
  }
  report.wall = seconds_since(t0);
  if (st.root) {
    report.claim_seconds = st.ledger->stats().seconds;
    report.claims = st.ledger->stats().claims;
    print_task_report(report, *st.ledger);
  }
  return report;
}

/// FNV-1a of a file's bytes, as 16 hex digits (the URL list's identity in the ledger).
std::string file_fingerprint(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError::cannot_open("urls.input", path, "cannot open", "");
  detail::Fnv1a64 h;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    h.add(buf, static_cast<std::size_t>(in.gcount()));
  }
  return "urls-" + h.hex();
}

}  // namespace

TaskReport run_task(const ComputeJob& job, const TaskOptions& options, MPI_Comm comm) {
  return task_loop(
      options, job.deadline, comm,
      [&] { return ledger_for(job, options.folder, options.block_rows); },
      [&](const Ledger& ledger, std::uint64_t b, bool resume, double deadline) {
        const ComputeJob bj = block_job(job, ledger, b, resume, deadline);
        const RunReport r = run_compute(bj, comm);
        BlockOutcome o;
        o.ran = r.ran;
        o.kept = r.items - r.ran - r.not_run;
        o.failed = r.failed + r.timed_out;
        o.interrupted = r.stop_reason == "signal" || r.stop_reason == "deadline" || r.not_run > 0;
        o.why = r.stop_reason.empty() ? std::string("rows left") : r.stop_reason;
        return o;
      });
}

namespace {

/// The folder's URL list cut into its blocks (made with the ledger): folder/lists holds
/// part-B.txt, part-B.rows and `list` (what they are part of).
std::string lists_dir(const std::string& folder) { return folder + "/lists"; }

/// Cuts the list into `blocks` parts under a private name, then renames it into place: the parts
/// appear whole or not at all, and the first task's cut wins (the same list cuts the same way).
void cut_url_list(const UrlJob& job, const std::string& folder, std::uint64_t blocks) {
  const std::string tmp = folder + "/.lists-" + Owner::self().task;
  std::filesystem::create_directories(tmp);
  try {
    const UrlListPart whole = split_url_list(job.input, blocks, tmp);
    std::ofstream(tmp + "/list") << "urls=" << whole.urls << "\nlist_fnv=" << whole.list_fnv
                                 << "\nparts=" << blocks << "\n";
    std::error_code ec;
    std::filesystem::rename(tmp, lists_dir(folder), ec);
    if (ec && exists(lists_dir(folder) + "/list")) ec.clear();  // another task's cut: the same
    if (ec) throw UsageError("elastic: cannot make " + lists_dir(folder) + ": " + ec.message());
  } catch (...) {
    std::error_code ignored;
    std::filesystem::remove_all(tmp, ignored);
    throw;
  }
  std::error_code ignored;
  std::filesystem::remove_all(tmp, ignored);
}

/// What block `b`'s list is part of; nullopt for a folder made before lists were cut (its
/// blocks read the whole list).
std::optional<UrlListPart> url_part(const UrlJob& job, const Ledger& ledger, std::uint64_t b) {
  std::ifstream in(lists_dir(ledger.folder()) + "/list");
  if (!in) return std::nullopt;
  UrlListPart p;
  std::string line;
  std::uint64_t parts = 0;
  const auto number = [](const std::string& text) -> std::uint64_t {
    std::uint64_t v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    return ec == std::errc() && end == text.data() + text.size() ? v : 0;
  };
  while (std::getline(in, line)) {
    if (line.rfind("urls=", 0) == 0) p.urls = number(line.substr(5));
    if (line.rfind("list_fnv=", 0) == 0) p.list_fnv = line.substr(9);
    if (line.rfind("parts=", 0) == 0) parts = number(line.substr(6));
  }
  if (parts != ledger.blocks() || p.list_fnv.empty()) {
    throw UsageError("elastic: " + lists_dir(ledger.folder()) + "/list is damaged (" +
                     std::to_string(parts) + " parts for " + std::to_string(ledger.blocks()) +
                     " blocks); start the job again in a new folder");
  }
  p.list = job.input;
  p.index = static_cast<int>(b);
  p.count = static_cast<int>(parts);
  p.rows = lists_dir(ledger.folder()) + "/part-" + std::to_string(b) + ".rows";
  return p;
}

}  // namespace

Ledger url_ledger_for(const UrlJob& job, const std::string& folder, std::uint64_t blocks) {
  const std::string fp = file_fingerprint(job.input);
  if (exists(folder + "/ledger/plan")) {
    Ledger l = Ledger::open(folder);
    if (l.fingerprint() != fp) {
      throw UsageError("elastic: " + folder + " holds the ledger of another job (fingerprint " +
                       l.fingerprint() + "; this URL list: " + fp +
                       "); give the same list, or a new folder");
    }
    return l;
  }
  if (blocks == 0) blocks = 64;
  if (!exists(lists_dir(folder) + "/list")) cut_url_list(job, folder, blocks);
  return Ledger::create(folder, blocks, 1, fp);
}

TaskReport run_url_task(const UrlJob& job, const TaskOptions& options, MPI_Comm comm) {
  return task_loop(
      options, 0, comm, [&] { return url_ledger_for(job, options.folder, options.block_rows); },
      [&](const Ledger& ledger, std::uint64_t b, bool resume, double) {
        UrlJob bj = job;
        bj.output = ledger.partial_path(b);
        bj.resume = resume;
        bj.force = !resume;
        bj.append = false;
        bj.print = false;
        bj.part_of = url_part(job, ledger, b);
        if (bj.part_of) {  // the block's own list, cut once: no block reads the whole list
          bj.input = lists_dir(ledger.folder()) + "/part-" + std::to_string(b) + ".txt";
          bj.shard_index = 0;  // all of it (not the array task's shard, under Slurm)
          bj.shard_count = 1;
        } else {
          bj.shard_index = static_cast<int>(b);
          bj.shard_count = static_cast<int>(ledger.blocks());
          bj.shard_rows_only = true;  // the block's file holds its URLs, not the whole list
        }
        bj.progress = ProgressMode::None;
        bj.print_summary = false;
        const UrlReport r = run_urls(bj, comm);
        BlockOutcome o;
        o.ran = r.checked - std::min(r.checked, r.resumed);
        o.kept = r.resumed;
        o.interrupted = r.interrupted;
        o.why = "signal";
        return o;
      });
}

MergeReport merge_url_job(const UrlJob& job, const std::string& folder, const std::string& output,
                          const std::string& command) {
  const Ledger ledger = url_ledger_for(job, folder, 0);
  return merge_url_blocks(output, finished_blocks(ledger), false, command);
}

std::vector<BlockFile> finished_blocks(const Ledger& ledger) {
  const auto states = ledger.scan();
  std::vector<BlockFile> out;
  std::string missing;
  std::uint64_t n_missing = 0;
  for (std::uint64_t b = 0; b < states.size(); ++b) {
    const BlockState& s = states[b];
    if (s.kind != BlockState::Kind::Done) {
      if (++n_missing <= 8) missing += (missing.empty() ? "" : ", ") + std::to_string(b);
      continue;
    }
    BlockFile f;
    f.path = ledger.done_path(b);
    f.begin = ledger.rows(b).begin;
    f.end = ledger.rows(b).end;
    if (!s.history.empty()) f.task = s.history.back().task;
    for (std::size_t i = 0; i + 1 < s.history.size(); ++i)
      f.taken_from += (f.taken_from.empty() ? "" : ",") + s.history[i].task;
    out.push_back(std::move(f));
  }
  if (n_missing > 0) {
    throw UsageError("elastic: " + ledger.folder() + ": " + std::to_string(n_missing) + " of " +
                     std::to_string(states.size()) + " blocks not done (" + missing +
                     (n_missing > 8 ? ", ..." : "") + "); see `pmap status " + ledger.folder() +
                     "`, and run the rest with `pmap submit --resume " + ledger.folder() + "`");
  }
  return out;
}

MergeReport merge_job(const ComputeJob& job, const std::string& folder, const std::string& output,
                      bool force, const std::string& command) {
  const Ledger ledger = Ledger::open(folder);
  if (ledger.items() != job.space.size() || ledger.fingerprint() != job.space.fingerprint()) {
    throw UsageError("elastic: " + folder + " is the folder of another job (" +
                     std::to_string(ledger.items()) + " items); give its own run arguments");
  }
  const auto blocks = finished_blocks(ledger);
  const auto columns = job.kernel->output_columns(job.args);
  const ComputeMeta meta =
      make_compute_meta(job, columns, "elastic", root_attributes(command, 0, 0));
  return merge_blocks(output, meta, job.space.fingerprint(), blocks, force);
}

}  // namespace pmap::elastic
