#include "cli/elastic.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "cli/options.hpp"
#include "elastic/submit.hpp"
#include "elastic/task.hpp"
#include "pmap/error.hpp"
#include "pmap/plugin.hpp"
#include "pmap/session.hpp"

namespace pmap::cli {
namespace {

constexpr int kOk = static_cast<int>(pmap::ExitCode::Ok);
constexpr int kItemsFailed = static_cast<int>(pmap::ExitCode::ItemsFailed);

// ---- pmap submit / pmap status: an elastic job on Slurm -------------------------------------

/// The run arguments of an elastic job as a job (checked like `pmap run` checks them), and the
/// merged file's path: --output when given, else FOLDER/merged.h5.
struct ElasticJob {
  pmap::ComputeJob job;
  std::string merged;
  bool urls = false;  ///< a URL list (`-- urls --input LIST`): blocks are host buckets
  pmap::UrlJob url_job;
};

ElasticJob parse_run_args(const std::vector<std::string>& run_args, const std::string& folder) {
  std::vector<std::string> words = run_args;
  if (words.empty() || (words[0] != "run" && words[0] != "urls")) {
    words.insert(words.begin(), "run");
  }
  for (const auto& w : words) {
    if (w == "--elastic" || w == "--shard" || w == "--resume" || w == "--force" || w == "-f") {
      throw pmap::UsageError("submit: " + w +
                             " is set by the elastic job itself; drop it from the "
                             "run arguments");
    }
  }
  std::vector<const char*> argv = {"pmap"};
  for (const auto& w : words) argv.push_back(w.c_str());
  pmap::cli::CommandLine cli;
  try {
    cli.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError& e) {
    throw pmap::UsageError(std::string("submit: the run arguments: ") + e.what());
  }
  if (cli.subcommand() == "urls") {
    ElasticJob e;
    e.urls = true;
    e.url_job = pmap::cli::make_url_job(cli.urls);
    e.url_job.input = std::filesystem::absolute(e.url_job.input).string();
    e.merged = cli.app.get_subcommand("urls")->count("--output") > 0
                   ? std::filesystem::absolute(cli.urls.output).string()
                   : folder + "/merged.h5";
    if (cli.urls.print) throw pmap::UsageError("submit: --print: elastic tasks write files only");
    return e;
  }
  if (cli.subcommand() != "run") {
    throw pmap::UsageError(
        "submit: give the run after `--`: pmap submit ... -- run --kernel K "
        "--range A:B ... (or -- urls --input LIST)");
  }
  for (const auto& p : cli.run.plugins) pmap::load_plugin(p);
  ElasticJob e;
  e.job = pmap::cli::make_compute_job(cli.run);
  e.merged = folder + "/merged.h5";
  if (cli.app.get_subcommand("run")->count("--output") > 0) {
    e.merged = std::filesystem::absolute(cli.run.output).string();
  }
  if (!cli.run.urls.empty()) {
    throw pmap::UsageError(
        "submit: --urls is not run by elastic tasks yet; check the list in a "
        "job of its own");
  }
  return e;
}

std::string self_binary() {
  std::error_code ec;
  const auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("pmap") : p.string();
}

void print_submitted(const pmap::elastic::Submitted& s) {
  std::cout << "pmap submit: job folder " << s.folder << "\n"
            << "pmap submit: " << s.tasks << " elastic tasks: array job " << s.array_job << "\n"
            << "pmap submit: finishing job " << s.finish_job << " (afterany:" << s.array_job
            << ")\n"
            << "pmap submit: follow it with `pmap status " << s.folder << "`\n";
  std::cout.flush();
}

/// The finishing step (`pmap submit --finish FOLDER`, run by the finishing job): merge when
/// every block is done, else resubmit tasks for what is left, up to the limit.
int finish_job(const std::string& folder, bool by_hand, const std::string& command) {
  auto o = pmap::elastic::read_job_files(folder);
  const ElasticJob e = parse_run_args(o.run_args, o.folder);
  const auto ledger = e.urls ? pmap::elastic::url_ledger_for(e.url_job, o.folder, o.block_rows)
                             : pmap::elastic::ledger_for(e.job, o.folder, o.block_rows);
  const std::uint64_t left = ledger.remaining();
  if (left == 0) {
    if (std::filesystem::exists(e.merged)) {
      std::cout << "pmap finish: every block is done and " << e.merged << " exists already\n";
      return kOk;
    }
    if (e.urls) {
      const auto r = pmap::elastic::merge_url_job(e.url_job, o.folder, e.merged, command);
      std::cout << "pmap finish: merged " << r.shards << " blocks into " << e.merged << ": "
                << r.urls << " URLs (" << r.exists << " exist, " << r.does_not_exist
                << " do not exist, " << r.unknown << " unknown)\n";
      return kOk;
    }
    const auto r = pmap::elastic::merge_job(e.job, o.folder, e.merged, false, command);
    std::cout << "pmap finish: merged " << r.shards << " blocks into " << e.merged << ": "
              << r.items << " items (" << r.ok << " ok, " << r.failed << " failed, " << r.timed_out
              << " timed out), checksum " << std::hex << r.checksum << std::dec << "\n";
    return r.failed + r.timed_out > 0 ? kItemsFailed : kOk;
  }
  const int done = pmap::elastic::resubmits(o.folder);
  if (!by_hand && done >= o.max_resubmits) {
    throw pmap::RuntimeError(
        "elastic", o.folder,
        std::to_string(left) + " of " + std::to_string(ledger.blocks()) +
            " blocks are still not done after " + std::to_string(done) +
            " automatic resubmissions (max_resubmits=" + std::to_string(o.max_resubmits) +
            "); the tasks' logs are task-*.out in the folder; see `pmap status " + o.folder +
            "`, fix the cause, then `pmap submit --resume " + o.folder + "`");
  }
  if (!by_hand) pmap::elastic::count_resubmit(o.folder);
  const int tasks = static_cast<int>(std::min<std::uint64_t>(left, std::uint64_t(o.jobs)));
  std::cout << "pmap finish: " << left << " of " << ledger.blocks() << " blocks not done: "
            << (by_hand ? "submitting "
                        : "resubmitting (" + std::to_string(done + 1) + " of " +
                              std::to_string(o.max_resubmits) + ") ")
            << tasks << " tasks\n";
  print_submitted(pmap::elastic::submit_tasks(o, tasks));
  return kOk;
}

/// The words of `pmap submit` before `--` (its options, sbatch's) and after it (the run).
std::pair<std::vector<std::string>, std::vector<std::string>> split_at_dashes(int argc,
                                                                              char** argv) {
  std::vector<std::string> before, after;
  bool seen = false;
  for (int i = 2; i < argc; ++i) {
    const std::string w = argv[i];
    if (!seen && w == "--") {
      seen = true;
      continue;
    }
    (seen ? after : before).push_back(w);
  }
  return {before, after};
}

/// `pmap submit`'s own options; anything else before `--` is left for sbatch.
void add_submit_options(CLI::App& app, pmap::elastic::SubmitOptions& o, std::string& resume,
                        std::string& finish, bool& no_sbatch) {
  app.allow_extras();
  app.add_option("--jobs", o.jobs, "elastic tasks (a job array)")->capture_default_str();
  app.add_option("--nodes-per-job", o.nodes, "nodes per task")->capture_default_str();
  app.add_option("--ntasks-per-job", o.ntasks, "MPI ranks per task (srun when > 1)")
      ->capture_default_str();
  app.add_option("--cpus-per-task", o.cpus, "threads per rank")->capture_default_str();
  app.add_option("--time", o.time, "wall time per task")->capture_default_str();
  app.add_option("--max-running", o.max_running, "at most M tasks at once (%M; 0: no limit)")
      ->capture_default_str();
  app.add_option("--block-rows", o.block_rows, "items a block (default: about 8 blocks a task)");
  app.add_option("--max-resubmits", o.max_resubmits,
                 "times the finishing job resubmits tasks for blocks left")
      ->capture_default_str();
  app.add_option("--signal-seconds", o.signal_seconds,
                 "seconds before the wall time when a task gives back its block")
      ->capture_default_str();
  app.add_option("--folder", o.folder, "the job folder (default: a new one under PMAP_JOBS_ROOT)");
  app.add_option("--resume", resume, "submit tasks for what FOLDER's job has left");
  app.add_option("--finish", finish, "the finishing step: merge FOLDER, or resubmit what is left");
  app.add_flag("--no-sbatch", no_sbatch,
               "make the job folder and its scripts only: run FOLDER/task.sh anywhere, as often as "
               "you like, then `pmap submit --finish FOLDER`");
}

/// Numbers in range, and no sbatch option that pmap submit sets itself.
void check_submit_options(const pmap::elastic::SubmitOptions& o) {
  if (o.jobs < 1 || o.nodes < 1 || o.ntasks < 1 || o.cpus < 1 || o.max_running < 0 ||
      o.max_resubmits < 0 || o.signal_seconds < 0) {
    throw pmap::UsageError(
        "submit: --jobs, --nodes-per-job, --ntasks-per-job and "
        "--cpus-per-task must be at least 1, the others not negative");
  }
  for (const auto& w : o.sbatch) {
    if (w.rfind("--array", 0) == 0 || w.rfind("--dependency", 0) == 0 || w == "-a" || w == "-d") {
      throw pmap::UsageError("submit: " + w +
                             " is set by pmap submit (use --jobs and "
                             "--max-running)");
    }
  }
}

/// Rows a block when --block-rows is not given: about 8 blocks a task (URL lists: 8 host buckets
/// a task).
void default_block_rows(pmap::elastic::SubmitOptions& o, const ElasticJob& e) {
  if (o.block_rows == 0 && e.urls) {
    o.block_rows = std::max<std::uint64_t>(1, 8 * std::uint64_t(o.jobs));  // host buckets
  } else if (o.block_rows == 0) {
    const std::uint64_t n = e.job.space.size();
    const std::uint64_t blocks = std::max<std::uint64_t>(1, 8 * std::uint64_t(o.jobs));
    o.block_rows = std::max<std::uint64_t>(1, (n + blocks - 1) / blocks);
  }
}

}  // namespace

int submit_command(int argc, char** argv) {
  const auto [before, after] = split_at_dashes(argc, argv);
  pmap::elastic::SubmitOptions o;
  std::string resume, finish;
  CLI::App app(
      "pmap submit: an elastic job on Slurm: N small jobs pull blocks of the items as "
      "they start; a finishing job merges them",
      "pmap submit");
  bool no_sbatch = false;
  add_submit_options(app, o, resume, finish, no_sbatch);
  try {
    std::vector<std::string> words(before.rbegin(), before.rend());
    app.parse(words);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) {
      app.exit(e);
      std::cout << "\nusage: pmap submit [OPTIONS] [sbatch options] -- run <pmap run arguments>\n"
                   "       pmap submit --resume FOLDER | --finish FOLDER\n";
      return kOk;
    }
    throw pmap::UsageError(std::string("submit: ") + e.what());
  }
  const std::string command = pmap::Session::command_line(argc, argv);
  if (!finish.empty())
    return finish_job(std::filesystem::absolute(finish).string(), false, command);
  if (!resume.empty()) return finish_job(std::filesystem::absolute(resume).string(), true, command);
  if (after.empty()) {
    throw pmap::UsageError(
        "submit: give the run after `--`: pmap submit --jobs 4 -- run "
        "--kernel pi --range 0:100000");
  }
  o.sbatch = app.remaining();
  check_submit_options(o);
  o.run_args = after;
  if (!o.run_args.empty() && o.run_args[0] != "run" && o.run_args[0] != "urls") {
    o.run_args.insert(o.run_args.begin(), "run");
  }
  o.pmap_bin = self_binary();
  if (o.folder.empty()) o.folder = pmap::elastic::new_job_folder();
  o.folder = std::filesystem::absolute(o.folder).string();
  const ElasticJob e = parse_run_args(o.run_args, o.folder);  // bad input: exit 2, nothing made
  if (std::filesystem::exists(o.folder + "/submit.conf")) {
    throw pmap::UsageError("submit: " + o.folder +
                           " holds an elastic job already; continue it "
                           "with `pmap submit --resume " +
                           o.folder + "`, or give a new --folder");
  }
  default_block_rows(o, e);
  const auto ledger = e.urls ? pmap::elastic::url_ledger_for(e.url_job, o.folder, o.block_rows)
                             : pmap::elastic::ledger_for(e.job, o.folder, o.block_rows);
  if (no_sbatch) o.max_resubmits = 0;
  pmap::elastic::write_job_files(o);
  std::cout << "pmap submit: " << ledger.items() << " items in " << ledger.blocks() << " blocks of "
            << ledger.block_rows() << "; merged file: " << e.merged << "\n";
  if (no_sbatch) {
    std::cout << "pmap submit: job folder " << o.folder << "\n"
              << "pmap submit: run tasks with " << o.folder << "/task.sh, then `pmap submit "
              << "--finish " << o.folder << "`\n";
    return kOk;
  }
  print_submitted(pmap::elastic::submit_tasks(o, o.jobs));
  return kOk;
}

int status_command(int argc, char** argv) {
  if (argc != 3 || std::string(argv[2]).rfind('-', 0) == 0) {
    if (argc == 3 && (std::string(argv[2]) == "-h" || std::string(argv[2]) == "--help")) {
      std::cout << "usage: pmap status FOLDER   how far the elastic job in FOLDER is\n";
      return kOk;
    }
    throw pmap::UsageError("status: give one job folder: pmap status FOLDER");
  }
  std::cout << pmap::elastic::status_text(std::filesystem::absolute(argv[2]).string());
  return kOk;
}

}  // namespace pmap::cli
