#include "elastic/submit.hpp"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <map>
#include <sstream>

#include "detail/child_process.hpp"
#include "elastic/ledger.hpp"
#include "pmap/error.hpp"
#include "pmap/h5.hpp"
#include "pmap/resume.hpp"

namespace pmap::elastic {
namespace {

namespace fs = std::filesystem;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

/// Writes `text` to `path` through a temporary name (a reader never sees half of it).
void write_file(const std::string& path, const std::string& text, bool executable = false) {
  const std::string tmp = path + ".tmp-" + std::to_string(getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    if (!out) throw UsageError("submit: cannot write " + tmp + ": " + std::strerror(errno));
  }
  if (executable) ::chmod(tmp.c_str(), 0755);
  fs::rename(tmp, path);
}

std::string join0(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += s + '\0';
  return out;
}

std::vector<std::string> split0(const std::string& text) {
  std::vector<std::string> out;
  std::size_t at = 0;
  while (at < text.size()) {
    const auto end = text.find('\0', at);
    out.push_back(text.substr(at, end == std::string::npos ? std::string::npos : end - at));
    if (end == std::string::npos) break;
    at = end + 1;
  }
  return out;
}

/// A word quoted for bash.
std::string quote(const std::string& s) {
  std::string out = "'";
  for (const char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

/// Runs argv, returning (wait status, stdout + stderr).
std::pair<int, std::string> run_capture(const std::vector<std::string>& argv) {
  detail::Pipe out;
  detail::SpawnSpec spec;
  spec.argv = argv;
  spec.env = detail::child_environment(true, {});
  spec.stdout_fd = out.write.get();
  spec.stderr_fd = out.write.get();
  pid_t pid = 0;
  try {
    pid = detail::spawn(spec);
  } catch (const std::exception& e) {
    throw RuntimeError("submit", argv.front(),
                       std::string(e.what()) + " (run pmap submit where Slurm's commands are)");
  }
  detail::Child child(pid);
  out.write.reset();
  std::string text;
  char buf[4096];
  while (true) {
    const ssize_t n = ::read(out.read.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  const int status = child.reap();
  return {status, text};
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string task_script(const SubmitOptions& o) {
  std::ostringstream s;
  s << "#!/bin/bash\n"
       "# One task of an elastic pmap job (written by `pmap submit`; sbatch'ed as an array).\n"
       "# It claims blocks from the ledger in this folder until none is left; at the wall-time\n"
       "# warning (SIGUSR1) or scancel it gives back the block it runs and exits 75.\n"
       "set -u\n"
       "folder="
    << quote(o.folder) << "\npmap_bin=" << quote(o.pmap_bin)
    << "\n"
       "mapfile -d '' -t args <\"$folder/job.args\"\n"
       "if [ \"$(id -u)\" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 "
       "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi\n"
       "export OMP_NUM_THREADS=\"${SLURM_CPUS_PER_TASK:-1}\"\n"
       "if [ \"${SLURM_NTASKS:-1}\" -gt 1 ]; then\n"
       "  cmd=(srun --mpi=\"${PMAP_MPI:-pmix}\" --ntasks=\"$SLURM_NTASKS\" "
       "--cpus-per-task=\"${SLURM_CPUS_PER_TASK:-1}\" \"$pmap_bin\" \"${args[@]}\" --elastic "
       "\"$folder\")\n"
       "else\n"
       "  cmd=(\"$pmap_bin\" \"${args[@]}\" --elastic \"$folder\")\n"
       "fi\n"
       "echo \"pmap task: job ${SLURM_JOB_ID:-?} (array ${SLURM_ARRAY_JOB_ID:-?} task "
       "${SLURM_ARRAY_TASK_ID:-?}) on $(hostname) at $(date +%s): ${cmd[*]}\"\n"
       "pid=\"\"\n"
       "forward() { echo \"pmap task: got SIG$1 at $(date +%s): giving back\"; "
       "[ -n \"$pid\" ] && kill -USR1 \"$pid\" 2>/dev/null; }\n"
       "trap 'forward USR1' USR1\n"
       "trap 'forward TERM' TERM\n"
       "trap 'forward INT' INT\n"
       "\"${cmd[@]}\" &\n"
       "pid=$!\n"
       "rc=0\n"
       "wait \"$pid\" || rc=$?\n"
       "while kill -0 \"$pid\" 2>/dev/null; do rc=0; wait \"$pid\" || rc=$?; done\n"
       "echo \"pmap task: exit $rc at $(date +%s)\"\n"
       "exit \"$rc\"\n";
  return s.str();
}

std::string finish_script(const SubmitOptions& o) {
  return "#!/bin/bash\n"
         "# The finishing step of an elastic pmap job (written by `pmap submit`): merges the\n"
         "# blocks into merged.h5, or resubmits tasks for the blocks left.\n"
         "set -u\n"
         "echo \"pmap finish: job ${SLURM_JOB_ID:-?} at $(date +%s)\"\n"
         "exec " +
         quote(o.pmap_bin) + " submit --finish " + quote(o.folder) + "\n";
}

std::string conf_text(const SubmitOptions& o) {
  std::ostringstream s;
  s << "jobs=" << o.jobs << "\nnodes=" << o.nodes << "\nntasks=" << o.ntasks << "\ncpus=" << o.cpus
    << "\ntime=" << o.time << "\nmax_running=" << o.max_running
    << "\nsignal_seconds=" << o.signal_seconds << "\nblock_rows=" << o.block_rows
    << "\nmax_resubmits=" << o.max_resubmits << "\npmap_bin=" << o.pmap_bin << "\n";
  return s.str();
}

double now_epoch() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string duration_text(double s) {
  if (!(s >= 0)) return "?";
  const auto t = static_cast<long long>(s + 0.5);
  std::ostringstream os;
  os << t / 3600 << ":" << std::setw(2) << std::setfill('0') << (t / 60) % 60 << ":" << std::setw(2)
     << std::setfill('0') << t % 60;
  return os.str();
}

}  // namespace

std::string new_job_folder() {
  const char* root = std::getenv("PMAP_JOBS_ROOT");
  std::string base;
  if (root != nullptr && *root != '\0') {
    base = root;
  } else {
    const char* scratch = std::getenv("SCRATCH");
    const char* home = std::getenv("HOME");
    base = std::string(scratch && *scratch ? scratch : (home ? home : ".")) + "/pmap-jobs";
  }
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
  return fs::absolute(base + "/pmap-elastic-" + stamp + "-" + std::to_string(getpid())).string();
}

void write_job_files(const SubmitOptions& o) {
  write_file(o.folder + "/submit.conf", conf_text(o));
  write_file(o.folder + "/job.args", join0(o.run_args));
  write_file(o.folder + "/sbatch.args", join0(o.sbatch));
  write_file(o.folder + "/task.sh", task_script(o), true);
  write_file(o.folder + "/finish.sh", finish_script(o), true);
}

SubmitOptions read_job_files(const std::string& folder) {
  const std::string conf = folder + "/submit.conf";
  if (!fs::exists(conf)) {
    throw UsageError("submit: " + folder + " is not the folder of an elastic job (no " + conf +
                     "); give the folder `pmap submit` printed");
  }
  std::map<std::string, std::string> k;
  std::istringstream in(read_file(conf));
  std::string line;
  while (std::getline(in, line)) {
    const auto eq = line.find('=');
    if (eq != std::string::npos) k[line.substr(0, eq)] = line.substr(eq + 1);
  }
  SubmitOptions o;
  o.folder = fs::absolute(folder).string();
  const auto num = [&](const char* key, int fallback) {
    return k.count(key) ? std::atoi(k[key].c_str()) : fallback;
  };
  o.jobs = num("jobs", o.jobs);
  o.nodes = num("nodes", o.nodes);
  o.ntasks = num("ntasks", o.ntasks);
  o.cpus = num("cpus", o.cpus);
  o.time = k.count("time") ? k["time"] : o.time;
  o.max_running = num("max_running", 0);
  o.signal_seconds = num("signal_seconds", o.signal_seconds);
  o.block_rows = k.count("block_rows") ? std::strtoull(k["block_rows"].c_str(), nullptr, 10) : 0;
  o.max_resubmits = num("max_resubmits", o.max_resubmits);
  o.pmap_bin = k.count("pmap_bin") ? k["pmap_bin"] : "";
  o.run_args = split0(read_file(folder + "/job.args"));
  o.sbatch = split0(read_file(folder + "/sbatch.args"));
  return o;
}

Submitted submit_tasks(const SubmitOptions& o, int tasks) {
  Submitted s;
  s.folder = o.folder;
  s.tasks = tasks;
  std::vector<std::string> array = {
      "sbatch",
      "--parsable",
      "--job-name=pmap-elastic",
      "--array=0-" + std::to_string(tasks - 1) +
          (o.max_running > 0 ? "%" + std::to_string(o.max_running) : ""),
      "--nodes=" + std::to_string(o.nodes),
      "--ntasks=" + std::to_string(o.ntasks),
      "--cpus-per-task=" + std::to_string(o.cpus),
      "--time=" + o.time,
      "--signal=B:USR1@" + std::to_string(o.signal_seconds),
      "--output=" + o.folder + "/task-%A_%a.out"};
  array.insert(array.end(), o.sbatch.begin(), o.sbatch.end());
  array.push_back(o.folder + "/task.sh");
  const auto [rc, out] = run_capture(array);
  if (!WIFEXITED(rc) || WEXITSTATUS(rc) != 0) {
    throw RuntimeError("submit", "sbatch", "refused the tasks: " + trim(out));
  }
  s.array_job = trim(out).substr(0, trim(out).find(';'));
  std::vector<std::string> finish = {"sbatch",
                                     "--parsable",
                                     "--job-name=pmap-finish",
                                     "--dependency=afterany:" + s.array_job,
                                     "--nodes=1",
                                     "--ntasks=1",
                                     "--time=" + o.time,
                                     "--output=" + o.folder + "/finish-%j.out"};
  finish.insert(finish.end(), o.sbatch.begin(), o.sbatch.end());
  finish.push_back(o.folder + "/finish.sh");
  const auto [rc2, out2] = run_capture(finish);
  if (!WIFEXITED(rc2) || WEXITSTATUS(rc2) != 0) {
    throw RuntimeError("submit", "sbatch",
                       "refused the finishing job (the tasks are array job " + s.array_job +
                           "; merge by hand with `pmap submit --finish " + o.folder +
                           "` when they end): " + trim(out2));
  }
  s.finish_job = trim(out2).substr(0, trim(out2).find(';'));
  std::ofstream(o.folder + "/submissions.log", std::ios::app)
      << static_cast<long long>(now_epoch()) << " array=" << s.array_job << " tasks=" << tasks
      << " finish=" << s.finish_job << "\n";
  return s;
}

int resubmits(const std::string& folder) {
  return std::atoi(read_file(folder + "/resubmits").c_str());
}

void count_resubmit(const std::string& folder) {
  write_file(folder + "/resubmits", std::to_string(resubmits(folder) + 1) + "\n");
}

namespace {

/// One task's line in the status.
struct TaskLine {
  std::uint64_t done = 0, holding = 0, rows = 0;
};

/// What the ledger's blocks add up to.
struct Tally {
  std::uint64_t blocks_done = 0, rows_done = 0, ok = 0, failed = 0, claimed = 0, free = 0;
  double first = 0, last = 0;  ///< first claim, last finished block (seconds since the epoch)
  std::map<std::string, TaskLine> tasks;
};

/// Counts blocks by state, the done blocks' rows by status (from their files) and by task.
Tally tally_blocks(const Ledger& ledger, const std::vector<BlockState>& states) {
  Tally t;
  for (std::uint64_t b = 0; b < states.size(); ++b) {
    const BlockState& s = states[b];
    for (const Owner& o : s.history) {
      if (t.first == 0 || o.since < t.first) t.first = o.since;
    }
    if (s.kind == BlockState::Kind::Done) {
      ++t.blocks_done;
      const Chunk rows = ledger.rows(b);
      t.rows_done += rows.size();
      try {
        const StatusTally st = scan_results(ledger.done_path(b), Chunk{0, rows.size()}, "status");
        t.ok += st.ok;
        t.failed += st.failed + st.timed_out;
      } catch (const Error&) {
      }
      struct stat st {};
      if (::stat(ledger.done_path(b).c_str(), &st) == 0)
        t.last = std::max(t.last, static_cast<double>(st.st_mtim.tv_sec) +
                                      1e-9 * static_cast<double>(st.st_mtim.tv_nsec));
      if (!s.history.empty()) {
        auto& line = t.tasks[s.history.back().task];
        ++line.done;
        line.rows += rows.size();
      }
    } else if (s.kind == BlockState::Kind::Claimed && s.owner) {
      ++t.claimed;
      ++t.tasks[s.owner->task].holding;
    } else {
      ++t.free;
    }
  }
  return t;
}

/// What the done blocks of a URL list say (each block's file has its counts).
struct UrlCounts {
  std::int64_t list = -1;  ///< URLs of the list (-1: no block done yet)
  std::uint64_t checked = 0, exists = 0, does_not_exist = 0, unknown = 0;
};

/// Counts the done blocks' URLs, and makes each task's line count URLs, not blocks.
UrlCounts count_urls(const Ledger& ledger, const std::vector<BlockState>& states, Tally& t) {
  UrlCounts c;
  for (auto& [task, line] : t.tasks) line.rows = 0;
  for (std::uint64_t b = 0; b < states.size(); ++b) {
    if (states[b].kind != BlockState::Kind::Done) continue;
    try {
      const h5::File f = h5::File::open(ledger.done_path(b), h5::Access::ReadOnly);
      const h5::Group g = f.group("urls");
      const auto attr = [&](const char* name) {
        return h5::has_attr(g.get(), name) ? h5::read_attr_int(g.get(), name) : 0;
      };
      const auto urls = static_cast<std::uint64_t>(attr("shard_urls"));
      c.list = attr("urls");
      c.checked += urls;
      c.exists += static_cast<std::uint64_t>(attr("exists"));
      c.does_not_exist += static_cast<std::uint64_t>(attr("does_not_exist"));
      c.unknown += static_cast<std::uint64_t>(attr("unknown"));
      if (!states[b].history.empty()) t.tasks[states[b].history.back().task].rows += urls;
    } catch (const Error&) {
    }
  }
  return c;
}

/// A URL list's lines: host blocks, URLs checked and their verdicts, the rate.
void url_lines(std::ostream& os, const Ledger& ledger, const std::vector<BlockState>& states,
               Tally& t) {
  const UrlCounts c = count_urls(ledger, states, t);
  os << "  URL list: " << t.blocks_done << " of " << states.size() << " host blocks done ("
     << c.checked << " URLs checked), " << t.claimed << " running, " << t.free << " not claimed\n";
  os << "  URLs: " << c.exists << " exist, " << c.does_not_exist << " do not exist, " << c.unknown
     << " unknown";
  if (c.list >= 0)
    os << "; " << static_cast<std::uint64_t>(c.list) - c.checked << " of " << c.list
       << " not checked yet";
  os << "\n";
  if (c.checked > 0 && t.first > 0) {
    const double elapsed =
        std::max(1e-3, (t.blocks_done == states.size() ? t.last : now_epoch()) - t.first);
    os << "  rate: " << std::fixed << std::setprecision(1)
       << static_cast<double>(c.checked) / elapsed << " URLs/s over " << duration_text(elapsed)
       << "\n";
  }
}

/// The rate so far and, while items are left, the expected end.
void rate_lines(std::ostream& os, const Tally& t, std::uint64_t n) {
  if (t.rows_done == 0 || t.first <= 0) return;
  const double elapsed = std::max(1e-3, (t.rows_done == n ? t.last : now_epoch()) - t.first);
  const double rate = static_cast<double>(t.rows_done) / elapsed;
  os << "  rate: " << std::fixed << std::setprecision(1) << rate << " items/s over "
     << duration_text(elapsed);
  if (t.rows_done < n) {
    os << ", expected end in " << duration_text(static_cast<double>(n - t.rows_done) / rate);
  }
  os << "\n";
}

}  // namespace

std::string status_text(const std::string& folder) {
  const Ledger ledger = Ledger::open(folder);
  const auto states = ledger.scan();
  Tally t = tally_blocks(ledger, states);
  const std::uint64_t n = ledger.items();
  std::ostringstream os;
  os << "elastic job " << folder << "\n";
  const auto args = split0(read_file(folder + "/job.args"));
  const bool urls = !args.empty() && args[0] == "urls";  // a block is a bucket of hosts
  if (urls) {
    url_lines(os, ledger, states, t);
  } else {
    os << "  blocks: " << t.blocks_done << " done, " << t.claimed << " running, " << t.free
       << " not claimed, of " << states.size() << " (" << ledger.block_rows() << " rows each)\n";
    os << "  items: " << t.rows_done << " done (" << t.ok << " ok, " << t.failed << " failed), "
       << n - t.rows_done << " not run, of " << n << "\n";
    rate_lines(os, t, n);
  }
  os << "  tasks:\n";
  for (const auto& [task, line] : t.tasks) {
    const auto age = ledger.heartbeat_age(task);
    os << "    " << task << ": " << line.done << " blocks done (" << line.rows
       << (urls ? " URLs)" : " items)");
    if (line.holding > 0) os << ", running " << line.holding;
    if (age) os << ", heartbeat " << static_cast<long long>(*age) << " s ago";
    os << "\n";
  }
  const std::string merged = folder + "/merged.h5";
  if (fs::exists(merged)) os << "  merged: " << merged << "\n";
  if (fs::exists(folder + "/resubmits")) os << "  resubmitted: " << resubmits(folder) << " times\n";
  return os.str();
}

}  // namespace pmap::elastic
