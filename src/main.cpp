// pmap — the command line, a front end: CLI11 options make a job (src/cli/options.cpp, where
// every default lives), the job runs in a pmap::Session as the C++ API's do, and every error is
// printed in the CLI's words and mapped to its exit code in one place (src/cli/messages.cpp):
// 0 ok, 1 items failed, 2 bad usage or input, 3 the run failed, 75 interrupted.
#include <sys/stat.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <vector>

#include "cli/elastic.hpp"
#include "cli/messages.hpp"
#include "cli/options.hpp"
#include "elastic/submit.hpp"
#include "elastic/task.hpp"
#include "pmap/compute.hpp"
#include "pmap/error.hpp"
#include "pmap/export.hpp"
#include "pmap/inspect.hpp"
#include "pmap/kernel.hpp"
#include "pmap/merge.hpp"
#include "pmap/mpi.hpp"
#include "pmap/plugin.hpp"
#include "pmap/session.hpp"
#include "pmap/slurm.hpp"
#include "pmap/url_stage.hpp"

namespace {

constexpr int kOk = static_cast<int>(pmap::ExitCode::Ok);
constexpr int kItemsFailed = static_cast<int>(pmap::ExitCode::ItemsFailed);
constexpr int kInterrupted = static_cast<int>(pmap::ExitCode::Interrupted);

/// MPI lives until main has printed any error: MPI_Finalize may not return after a failure
/// (HDF5 tears its files down inside it), and the message must come first.
std::optional<pmap::Session>& session() {
  static std::optional<pmap::Session> s;
  return s;
}

/// Prints "pmap: error: ..." in one write, so mpirun's own banner cannot split it.
void print_error(const std::string& what) {
  const std::string line = "pmap: error: " + what + "\n";
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

/// Inside a Slurm job without --deadline: the job's time left (asked once, by rank 0, from
/// squeue, which gets 10 s: a hung slurmctld must not hold every rank) minus a margin for the final
/// write, so pmap drains before the scheduler kills it.
double slurm_deadline(MPI_Comm comm) {
  double seconds = -1;
  const char* job = std::getenv("SLURM_JOB_ID");
  if (job != nullptr && pmap::mpi::rank(comm) == 0) {
    seconds = pmap::query_slurm_time_left(job, 10.0);
  }
  return pmap::deadline_from_time_left(pmap::mpi::bcast_value(comm, seconds));
}

double env_seconds(const char* name, double fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  char* end = nullptr;
  const double d = std::strtod(v, &end);
  if (end == v || *end != '\0' || !(d > 0)) {
    throw pmap::UsageError(std::string(name) + "=" + v + ": not a positive number of seconds");
  }
  return d;
}

/// How an elastic task runs: heartbeat and the bound after which a claim is abandoned, from
/// PMAP_ELASTIC_HEARTBEAT and PMAP_ELASTIC_DEAD_AFTER (seconds); squeue for owners' jobs.
pmap::elastic::TaskOptions task_options(const std::string& folder, std::uint64_t block_rows) {
  pmap::elastic::TaskOptions t;
  t.folder = std::filesystem::absolute(folder).string();
  t.block_rows = block_rows;
  t.heartbeat = env_seconds("PMAP_ELASTIC_HEARTBEAT", t.heartbeat);
  t.alive.heartbeat_bound = env_seconds("PMAP_ELASTIC_DEAD_AFTER", t.alive.heartbeat_bound);
  t.alive.suspect_after = std::min(t.alive.suspect_after, 3 * t.heartbeat);
  t.alive.job_running = [](const std::string& id) { return pmap::elastic::slurm_job_running(id); };
  return t;
}

/// `pmap run ... --elastic FOLDER`: one task of an elastic job.
int elastic_task(pmap::ComputeJob& job, const pmap::cli::RunOptions& o, bool stage_urls) {
  if (stage_urls) {
    throw pmap::UsageError(
        "elastic: `run --urls` is not split by elastic tasks; submit the URL "
        "list as a job of its own: pmap submit ... -- urls --input LIST");
  }
  const pmap::elastic::TaskOptions t = task_options(o.elastic, o.block_rows);
  const auto r = pmap::elastic::run_task(job, t, session()->comm());
  if (r.stopped) return kInterrupted;
  return r.failed > 0 ? kItemsFailed : kOk;
}

int run_command(int& argc, char**& argv, const pmap::cli::RunOptions& o) {
  for (const auto& p : o.plugins) pmap::load_plugin(p);
  // Everything that needs no MPI is checked first, identically on every rank.
  pmap::ComputeJob job = pmap::cli::make_compute_job(o);
  if (!o.elastic.empty()) {
    const bool with_urls = !o.urls.empty();
    session().emplace(argc, argv);
    job.command = session()->command();
    if (!o.deadline) job.deadline = slurm_deadline(session()->comm());
    return elastic_task(job, o, with_urls);
  }
  const std::string urls = pmap::cli::run_url_list(o);
  if (urls.empty() && o.default_job() && pmap::Session::launcher_rank() == 0) {
    std::cerr << "pmap: note: no " << pmap::cli::kDefaultUrls
              << " here, the default job skips the URL stage\n";
  }
  session().emplace(argc, argv);
  job.command = session()->command();
  if (!o.deadline) job.deadline = slurm_deadline(session()->comm());
  const auto report = pmap::run_compute(job, session()->comm());
  if ((o.print || o.default_job()) && pmap::mpi::rank(session()->comm()) == 0) {
    pmap::export_results(job.output, pmap::ExportFormat::Print, std::cout);  // item order
    std::cout.flush();
  }
  if (report.stop_reason == "signal" || report.stop_reason == "deadline") return kInterrupted;
  if (!urls.empty()) {
    pmap::UrlJob url_job = pmap::cli::make_appended_url_job(o, job, urls);
    url_job.command = job.command;
    if (pmap::run_urls(url_job, session()->comm()).interrupted) return kInterrupted;
  }
  return report.failed + report.timed_out > 0 ? kItemsFailed : kOk;
}

int urls_command(int& argc, char**& argv, const pmap::cli::UrlCliOptions& o) {
  pmap::UrlJob job = pmap::cli::make_url_job(o);
  session().emplace(argc, argv);
  job.command = session()->command();
  if (!o.elastic.empty()) {
    pmap::elastic::TaskOptions t = task_options(o.elastic, 0);
    const auto r = pmap::elastic::run_url_task(job, t, session()->comm());
    return r.stopped ? kInterrupted : kOk;
  }
  return pmap::run_urls(job, session()->comm()).interrupted ? kInterrupted : kOk;
}

int merge_command(const pmap::cli::CommandLine& cli, const std::string& command) {
  const auto r = pmap::merge_shards(cli.merge_output, cli.merge_inputs, cli.merge_force, command);
  std::cout << "merged " << r.shards << " shards into " << cli.merge_output << ":";
  if (r.items > 0) {
    std::cout << " " << r.items << " items (" << r.ok << " ok, " << r.failed << " failed, "
              << r.timed_out << " timed out)";
  }
  if (r.urls > 0) {
    std::cout << (r.items > 0 ? ";" : "") << " " << r.urls << " URLs (" << r.exists << " exist, "
              << r.does_not_exist << " do not exist, " << r.unknown << " unknown)";
  }
  std::cout << "\n";
  return r.failed + r.timed_out > 0 ? kItemsFailed : kOk;
}

int export_command(const pmap::cli::CommandLine& cli) {
  const auto format = cli.export_jsonl ? pmap::ExportFormat::Jsonl : pmap::ExportFormat::Csv;
  if (cli.export_output.empty()) {
    pmap::export_results(cli.export_path, format, std::cout);
    return kOk;
  }
  struct stat st {};
  if (!cli.export_force && ::lstat(cli.export_output.c_str(), &st) == 0) {
    throw pmap::UsageError("export", cli.export_output,
                           "file exists; pass --force to replace it, or choose another -o (the "
                           "existing file was left untouched)");
  }
  // Into a temporary name of our own first (mkstemp: never someone else's file): a failed
  // export leaves no half-written table behind and the old table, if any, whole.
  std::string tmp = cli.export_output + ".XXXXXX";
  const int fd = ::mkstemp(tmp.data());
  if (fd < 0)
    throw pmap::UsageError::cannot_open("export", cli.export_output, std::strerror(errno), "");
  const mode_t mask = ::umask(0);  // mkstemp made it 0600: give it a new file's usual mode
  ::umask(mask);
  ::fchmod(fd, 0666 & ~mask);
  ::close(fd);
  std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
  if (!out) {
    std::remove(tmp.c_str());
    throw pmap::UsageError::cannot_open("export", cli.export_output, std::strerror(errno), "");
  }
  try {
    pmap::export_results(cli.export_path, format, out);
    out.close();
    if (!out) throw pmap::RuntimeError("export", cli.export_output, "write failed");
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
  if (std::rename(tmp.c_str(), cli.export_output.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw pmap::RuntimeError("export", cli.export_output, std::strerror(errno));
  }
  return kOk;
}

int dispatch(const pmap::cli::CommandLine& cli, const std::string& sub, int& argc, char**& argv) {
  if (sub == "kernels") {
    for (const auto& p : cli.kernel_plugins) pmap::load_plugin(p);
    std::cout << pmap::describe_kernels();
    return kOk;
  }
  if (sub == "inspect") {
    std::cout << pmap::inspect(cli.inspect_path);
    return kOk;
  }
  if (sub == "export") return export_command(cli);
  if (sub == "merge") return merge_command(cli, pmap::Session::command_line(argc, argv));
  if (sub == "urls") return urls_command(argc, argv, cli.urls);
  return run_command(argc, argv, cli.run);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && (std::string(argv[1]) == "submit" || std::string(argv[1]) == "status")) {
    const std::string sub = argv[1];
    try {
      return sub == "submit" ? pmap::cli::submit_command(argc, argv)
                             : pmap::cli::status_command(argc, argv);
    } catch (const pmap::Error& e) {
      print_error(e.what());
      return pmap::cli::exit_code(e);
    } catch (const std::exception& e) {
      print_error(e.what());
      return pmap::cli::exit_code(e);
    }
  }
  const bool printer = pmap::Session::launcher_rank() == 0;
  pmap::cli::CommandLine cli;
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) {
      if (printer) cli.app.exit(e);
      return kOk;
    }
    if (printer) {
      std::cerr << "pmap: error: " << e.what() << "\n       run `pmap --help` for usage\n";
    }
    return static_cast<int>(pmap::ExitCode::Usage);
  }
  const std::string sub = cli.subcommand();
  int code = kOk;
  try {
    code = dispatch(cli, sub, argc, argv);  // every path returns here: MPI outlives the message
  } catch (const pmap::Error& e) {
    if (printer) print_error(pmap::cli::message(e, sub));
    code = pmap::cli::exit_code(e);
  } catch (const std::exception& e) {
    if (printer) print_error(e.what());
    code = pmap::cli::exit_code(e);
  }
  session().reset();
  return code;
}
