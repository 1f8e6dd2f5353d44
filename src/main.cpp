// pmap — the command line: a thin CLI11 front end that fills a ComputeJob and maps every error
// to its exit code in one place (0 ok, 1 items failed, 2 bad usage or input, 75 interrupted).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "pmap/compute.hpp"
#include "pmap/error.hpp"
#include "pmap/inspect.hpp"
#include "pmap/kernel.hpp"
#include "pmap/merge.hpp"
#include "pmap/mpi.hpp"
#include "pmap/plugin.hpp"
#include "pmap/slurm.hpp"
#include "pmap/stop.hpp"
#include "pmap/url_stage.hpp"

namespace {

/// Rank as told by the launcher (before MPI_Init), so only rank 0 prints usage errors.
int launcher_rank() {
  for (const char* name : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"}) {
    if (const char* v = std::getenv(name)) return std::atoi(v);
  }
  return 0;
}

struct RunOptions {
  std::string kernel = "compute_x";
  std::string range;
  std::string input;
  std::vector<std::string> args;
  std::string schedule = "dynamic";
  std::string chunk = "auto";
  std::optional<int> threads;
  std::string output = "pmap.h5";
  bool force = false;
  std::string progress = "auto";
  bool resume = false;
  bool retry_failed = false;
  std::string shard;
  std::string max_failures;
  double item_timeout = 0;
  std::optional<double> deadline;
  std::vector<std::string> plugins;  // shared libraries adding kernels (--plugin)
  std::string urls;                  // run: URL stage after the compute stage
  int url_threads = 32;
  double url_timeout = 10;
};

struct UrlCliOptions {
  std::string input;
  int threads = 32;
  double timeout = 10;
  int retries = 2;
  int per_host = 8;
  std::string method = "get";
  bool insecure = false;
  bool print = false;
  bool force = false;
  bool resume = false;
  std::string shard;
  std::string output;
  std::string progress = "auto";
};

void add_url_options(CLI::App& urls, UrlCliOptions& o) {
  urls.add_option("-i,--input", o.input, "URLs, one a line (# comments and blank lines skipped)")
      ->required();
  urls.add_option("-t,--threads", o.threads, "concurrent requests per rank")->capture_default_str();
  urls.add_option("--timeout", o.timeout, "seconds per attempt (also ends slow-drip bodies)")
      ->capture_default_str();
  urls.add_option("--retries", o.retries,
                  "extra attempts for transient failures (429, 502-504, "
                  "connection errors)")
      ->capture_default_str();
  urls.add_option("--per-host", o.per_host, "concurrent requests per host across the whole job")
      ->capture_default_str();
  urls.add_option("--method", o.method, "get|head (head falls back to get on 405/501)")
      ->capture_default_str();
  urls.add_flag("--insecure", o.insecure, "do not verify TLS certificates");
  urls.add_flag("-p,--print", o.print, "print `URL - verdict` lines in input order");
  urls.add_option("-o,--output", o.output,
                  "results file (HDF5); default pmap.h5, or none with --print");
  auto* force = urls.add_flag("-f,--force", o.force, "overwrite an existing output file");
  urls.add_flag("--resume", o.resume,
                "check only the rows an interrupted run left (not checked or interrupted)")
      ->excludes(force);
  urls.add_option("--shard", o.shard,
                  "check only shard I of N (I/N, 0-based; URLs by host; default from "
                  "SLURM_ARRAY_TASK_ID/COUNT)");
  urls.add_option("--progress", o.progress, "auto|bar|log|none")->capture_default_str();
}

pmap::UrlOptions url_options(int threads, double timeout, int retries, int per_host,
                             const std::string& method, bool insecure) {
  pmap::UrlOptions u;
  u.threads = threads;
  u.timeout = timeout;
  u.retries = retries;
  u.per_host = per_host;
  if (method == "get") {
    u.method = pmap::HttpMethod::Get;
  } else if (method == "head") {
    u.method = pmap::HttpMethod::Head;
  } else {
    throw pmap::UsageError("--method " + method + ": use get or head");
  }
  u.insecure = insecure;
  return u;
}

void add_run_options(CLI::App& run, RunOptions& o) {
  run.add_option("-k,--kernel", o.kernel, "kernel to map (see `pmap kernels`)")
      ->capture_default_str();
  auto* range = run.add_option(
      "-r,--range", o.range, "items START:STOP[:STEP], Python range semantics (default job: 1:11)");
  auto* input = run.add_option("-i,--input", o.input, "items from a file, one a line");
  range->excludes(input);
  run.add_option("-a,--arg", o.args, "bind a kernel argument KEY=VALUE (repeatable)");
  run.add_option("--plugin", o.plugins,
                 "load kernels from this shared library (repeatable; see pmap/plugin_abi.h)");
  run.add_option("-s,--schedule", o.schedule, "static|cyclic|dynamic|guided")
      ->capture_default_str();
  run.add_option("-c,--chunk", o.chunk, "items per chunk, or auto (~100 ms chunks)")
      ->capture_default_str();
  run.add_option("-t,--threads", o.threads,
                 "OpenMP threads per rank (default: OMP_NUM_THREADS, SLURM_CPUS_PER_TASK, "
                 "else cores/ranks on the node)");
  run.add_option("-o,--output", o.output, "results file (HDF5)")->capture_default_str();
  auto* force = run.add_flag("-f,--force", o.force, "overwrite an existing output file");
  auto* resume = run.add_flag("--resume", o.resume,
                              "continue an existing output file: run only the items not done");
  resume->excludes(force);
  run.add_flag("--retry-failed", o.retry_failed, "with --resume: also rerun failed items")
      ->needs(resume);
  run.add_option("--shard", o.shard,
                 "run only shard I of N (I/N, 0-based; default from SLURM_ARRAY_TASK_ID/COUNT)");
  run.add_option("--max-failures", o.max_failures,
                 "stop claiming work once N items (or N% of them) failed; exit 1");
  run.add_option("--item-timeout", o.item_timeout,
                 "seconds; an item running longer is stopped and gets status 2");
  run.add_option("--deadline", o.deadline,
                 "seconds from the start; start no chunk that cannot finish before it, then exit "
                 "75 (default under Slurm: the job's end time minus a margin)");
  run.add_option("--progress", o.progress, "auto|bar|log|none")->capture_default_str();
  run.add_option("--urls", o.urls,
                 "then check these URLs into the same file (default job: data/urls.txt)");
  run.add_option("--url-threads", o.url_threads, "URL stage: concurrent requests per rank")
      ->capture_default_str();
  run.add_option("--url-timeout", o.url_timeout, "URL stage: seconds per attempt")
      ->capture_default_str();
}

std::uint64_t parse_chunk(const std::string& text) {
  if (text == "auto" || text.empty()) return 0;
  std::uint64_t v = 0;
  const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || v == 0) {
    throw pmap::UsageError("--chunk " + text + ": expected a positive number of items or auto");
  }
  return v;
}

/// --shard I/N, or the job array's task (SLURM_ARRAY_TASK_*) when not given.
void parse_shard(const std::string& text, pmap::ComputeJob& job) {
  if (const auto shard = pmap::parse_shard(text, pmap::process_env())) {
    job.shard_index = shard->index;
    job.shard_count = shard->count;
  }
}

void parse_max_failures(const std::string& text, pmap::ComputeJob& job) {
  if (text.empty()) return;
  const bool percent = text.back() == '%';
  const std::string number = percent ? text.substr(0, text.size() - 1) : text;
  std::size_t used = 0;
  double v = -1;
  try {
    v = std::stod(number, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != number.size() || number.empty() || !(v > 0) || (percent && v > 100) ||
      (!percent && v != std::floor(v))) {
    throw pmap::UsageError("--max-failures " + text +
                           ": expected a positive count (e.g. 10) or a percentage (e.g. 5%)");
  }
  if (percent) {
    job.max_failures_fraction = v / 100.0;
  } else {
    job.max_failures = static_cast<std::uint64_t>(v);
  }
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
  MPI_Bcast(&seconds, 1, MPI_DOUBLE, 0, comm);
  return pmap::deadline_from_time_left(seconds);
}

pmap::ComputeJob make_job(const RunOptions& o, const std::string& command) {
  pmap::ComputeJob job;
  job.kernel = &pmap::find_kernel(o.kernel);
  job.args = pmap::bind_args(*job.kernel, o.args);
  job.schedule = pmap::parse_schedule(o.schedule);
  job.progress = pmap::parse_progress(o.progress);
  job.chunk = parse_chunk(o.chunk);
  job.threads = o.threads;
  job.resume = o.resume;
  job.retry_failed = o.retry_failed;
  parse_shard(o.shard, job);
  parse_max_failures(o.max_failures, job);
  if (o.item_timeout < 0) throw pmap::UsageError("--item-timeout must not be negative");
  job.item_timeout = o.item_timeout;
  if (o.deadline) {
    if (*o.deadline <= 0) throw pmap::UsageError("--deadline must be positive (seconds)");
    job.deadline = *o.deadline;
  }
  if (o.threads && *o.threads < 1) {
    throw pmap::UsageError("--threads " + std::to_string(*o.threads) + ": must be at least 1");
  }
  if (o.output.empty()) {
    throw pmap::UsageError(
        "--output: the file name is empty; give a path such as --output pmap.h5");
  }
  job.output = o.output;
  job.force = o.force;
  job.command = command;
  if (!o.input.empty()) {
    job.space = pmap::ItemSpace(pmap::read_input(o.input));
    job.space_spec = "input " + o.input;
  } else {
    std::string spec = o.range;
    if (spec.empty()) {
      if (o.kernel == "compute_x") {
        spec = "1:11";  // the tutorial's x = 1..10
      } else if (o.kernel == "mandelbrot") {
        spec = "0:" + std::to_string(job.args.get_int("height"));
      } else if (o.kernel == "skew") {
        spec = "0:" + std::to_string(job.args.get_int("n"));  // one period of the profile
      } else {
        throw pmap::UsageError("--kernel " + o.kernel +
                               ": give the items with --range START:STOP[:STEP] or --input FILE");
      }
    }
    job.space = pmap::ItemSpace(pmap::parse_range(spec));
    job.space_spec = "range " + spec;
  }
  return job;
}

/// True when a launcher (mpirun, srun, hydra) started this process.
bool launched() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"}) {
    if (std::getenv(name) != nullptr) return true;
  }
  return false;
}

/// Started without mpirun: a singleton MPI needs no runtime daemon and no network transport.
/// Open MPI otherwise spends ~0.35 s forking orted and probing UCX (other MPIs ignore these).
/// MPI_Init then took ~30 ms more than needed for one process, measured on Debian 12: hwloc
/// reading every PCI device's config space and its GL plugin probing X displays :0-:9 (I/O
/// locality only matters to network transports), the shared-memory BTL, MTLs (unused under
/// ob1), and collective/one-sided/topology components pmap does not use (it has no MPI
/// windows). Launched runs only skip the GL probe. The user's own settings always win.
void prefer_fast_singleton() {
  if (launched()) {
    setenv("HWLOC_COMPONENTS", "-gl", 0);
    return;
  }
  setenv("HWLOC_COMPONENTS", "-gl,-opencl,-pci,-linuxio", 0);
  setenv("OMPI_MCA_ess_singleton_isolated", "1", 0);
  setenv("OMPI_MCA_pml", "ob1", 0);
  setenv("OMPI_MCA_btl", "self", 0);
  setenv("OMPI_MCA_mtl", "^ofi,psm,psm2", 0);
  setenv("OMPI_MCA_coll", "self,basic,libnbc", 0);
  setenv("OMPI_MCA_osc", "pt2pt", 0);
  setenv("OMPI_MCA_topo", "basic", 0);
}

constexpr int kInterrupted = static_cast<int>(pmap::ExitCode::Interrupted);

/// MPI lives until main has printed any error: MPI_Finalize may not return after a failure
/// (HDF5 tears its files down inside it), and the message must come first.
std::optional<pmap::mpi::Environment>& mpi_environment() {
  static std::optional<pmap::mpi::Environment> env;
  return env;
}

/// Prints "pmap: error: ..." in one write, so mpirun's own banner cannot split it.
void print_error(const char* what) {
  const std::string line = std::string("pmap: error: ") + what + "\n";
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

int run_compute_command(int& argc, char**& argv, const RunOptions& o, const std::string& command,
                        bool default_job) {
  // Validate everything that needs no MPI first, identically on every rank.
  pmap::ComputeJob job = make_job(o, command);
  std::string urls = o.urls;
  if (urls.empty() && default_job) {
    std::error_code ec;
    if (std::filesystem::exists("data/urls.txt", ec)) {
      urls = "data/urls.txt";
    } else if (launcher_rank() == 0) {
      std::cerr << "pmap: note: no data/urls.txt here, the default job skips the URL stage\n";
    }
  }
  pmap::UrlJob url_job;
  if (!urls.empty()) {
    url_job.input = urls;
    url_job.options = url_options(o.url_threads, o.url_timeout, 2, 8, "get", false);
    url_job.output = o.output;
    url_job.append = true;
    url_job.resume = job.resume;
    url_job.shard_index = job.shard_index;
    url_job.shard_count = job.shard_count;
    url_job.progress = job.progress;
    url_job.command = command;
    if (!std::filesystem::exists(urls)) {
      throw pmap::UsageError("--urls " + urls + ": no such file");
    }
  }
  prefer_fast_singleton();
  mpi_environment().emplace(argc, argv);
  pmap::install_stop_handlers();
  if (!o.deadline) job.deadline = slurm_deadline(MPI_COMM_WORLD);
  const auto report = pmap::run_compute(job, MPI_COMM_WORLD);
  if (report.stop_reason == "signal" || report.stop_reason == "deadline") return kInterrupted;
  if (!urls.empty()) {
    if (pmap::run_urls(url_job, MPI_COMM_WORLD).interrupted) return kInterrupted;
  }
  return report.failed + report.timed_out > 0 ? 1 : 0;
}

int run_urls_command(int& argc, char**& argv, const UrlCliOptions& o, const std::string& command) {
  pmap::UrlJob job;
  job.input = o.input;
  job.options = url_options(o.threads, o.timeout, o.retries, o.per_host, o.method, o.insecure);
  job.output = o.output.empty() && !o.print ? std::string("pmap.h5") : o.output;
  job.force = o.force;
  job.print = o.print;
  job.resume = o.resume;
  if (const auto shard = pmap::parse_shard(o.shard, pmap::process_env())) {
    job.shard_index = shard->index;
    job.shard_count = shard->count;
  }
  job.progress = pmap::parse_progress(o.progress);
  job.command = command;
  prefer_fast_singleton();
  mpi_environment().emplace(argc, argv);
  pmap::install_stop_handlers();
  return pmap::run_urls(job, MPI_COMM_WORLD).interrupted ? kInterrupted : 0;
}

}  // namespace

int main(int argc, char** argv) {
  const bool printer = launcher_rank() == 0;
  std::string command;
  for (int i = 0; i < argc; ++i) command += (i ? " " : "") + std::string(argv[i]);

  // `pmap [run] ...`: options without a subcommand mean `run`.
  std::vector<std::string> words(argv + 1, argv + argc);
  const bool top_level = !words.empty() && (words[0] == "--help" || words[0] == "-h" ||
                                            words[0] == "--version" || words[0] == "-V");
  if (!top_level &&
      (words.empty() || (words[0] != "run" && words[0] != "urls" && words[0] != "kernels" &&
                         words[0] != "inspect" && words[0] != "merge"))) {
    words.insert(words.begin(), "run");
  }

  CLI::App app{
      "pmap: map a function over an iteration space with MPI ranks and OpenMP threads, "
      "every result in one HDF5 file",
      "pmap"};
  app.set_version_flag("-V,--version", std::string("pmap ") + pmap::kVersion);
  app.require_subcommand(1);
  RunOptions run_opts;
  auto* run = app.add_subcommand("run", "map a kernel over items (the default subcommand)");
  add_run_options(*run, run_opts);
  UrlCliOptions url_opts;
  auto* urls = app.add_subcommand("urls",
                                  "check that URLs exist (200 exists, 404 does not, "
                                  "else unknown)");
  add_url_options(*urls, url_opts);
  std::vector<std::string> kernel_plugins;
  app.add_subcommand("kernels", "list kernels, their arguments and output columns")
      ->add_option("--plugin", kernel_plugins, "also list the kernels of this plugin (repeatable)");
  std::string merge_out;
  std::vector<std::string> merge_in;
  bool merge_force = false;
  auto* merge = app.add_subcommand("merge", "join the shard files of a sharded job into one file");
  merge->add_option("output", merge_out, "merged results file")->required();
  merge->add_option("shards", merge_in, "shard files (all N shards of one job)")->required();
  merge->add_flag("-f,--force", merge_force, "overwrite an existing output file");
  std::string inspect_path;
  auto* insp = app.add_subcommand("inspect", "summary of a results file");
  insp->add_option("file", inspect_path, "results file (HDF5)")->required();

  try {
    std::reverse(words.begin(), words.end());
    app.parse(words);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) {
      if (printer) app.exit(e);
      return 0;
    }
    if (printer) {
      std::cerr << "pmap: error: " << e.what() << "\n       run `pmap --help` for usage\n";
    }
    return static_cast<int>(pmap::ExitCode::Usage);
  }

  int code = 0;
  try {
    code = [&]() -> int {  // every path returns here, so MPI outlives the error message
      if (app.got_subcommand("kernels")) {
        for (const auto& p : kernel_plugins) pmap::load_plugin(p);
        std::cout << pmap::describe_kernels();
        return 0;
      }
      if (app.got_subcommand("inspect")) {
        std::cout << pmap::inspect(inspect_path);
        return 0;
      }
      if (app.got_subcommand("urls")) return run_urls_command(argc, argv, url_opts, command);
      if (app.got_subcommand("merge")) {
        const auto r = pmap::merge_shards(merge_out, merge_in, merge_force, command);
        std::cout << "merged " << r.shards << " shards into " << merge_out << ":";
        if (r.items > 0) {
          std::cout << " " << r.items << " items (" << r.ok << " ok, " << r.failed << " failed, "
                    << r.timed_out << " timed out)";
        }
        if (r.urls > 0) {
          std::cout << (r.items > 0 ? ";" : "") << " " << r.urls << " URLs (" << r.exists
                    << " exist, " << r.does_not_exist << " do not exist, " << r.unknown
                    << " unknown)";
        }
        std::cout << "\n";
        return r.failed + r.timed_out > 0 ? 1 : 0;
      }
      for (const auto& p : run_opts.plugins) pmap::load_plugin(p);
      const bool default_job =
          run_opts.range.empty() && run_opts.input.empty() && run->count("--kernel") == 0;
      return run_compute_command(argc, argv, run_opts, command, default_job);
    }();
  } catch (const pmap::Error& e) {
    if (printer) print_error(e.what());
    code = static_cast<int>(e.code());
  } catch (const std::exception& e) {
    if (printer) print_error(e.what());
    code = static_cast<int>(pmap::ExitCode::ItemsFailed);
  }
  mpi_environment().reset();
  return code;
}
