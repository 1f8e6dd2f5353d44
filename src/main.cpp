// pmap — the command line: a thin CLI11 front end that fills a ComputeJob and maps every error
// to its exit code in one place (0 ok, 1 items failed, 2 bad usage or input, 75 interrupted).
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "pmap/compute.hpp"
#include "pmap/error.hpp"
#include "pmap/inspect.hpp"
#include "pmap/kernel.hpp"
#include "pmap/mpi.hpp"

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
  std::uint64_t chunk = 0;
  std::optional<int> threads;
  std::string output = "pmap.h5";
  bool force = false;
  std::string progress = "auto";
};

void add_run_options(CLI::App& run, RunOptions& o) {
  run.add_option("-k,--kernel", o.kernel, "kernel to map (see `pmap kernels`)")
      ->capture_default_str();
  auto* range = run.add_option("-r,--range", o.range,
                               "items START:STOP[:STEP], Python range semantics (default job: 1:11)");
  auto* input = run.add_option("-i,--input", o.input, "items from a file, one a line");
  range->excludes(input);
  run.add_option("-a,--arg", o.args, "bind a kernel argument KEY=VALUE (repeatable)");
  run.add_option("-s,--schedule", o.schedule, "static|cyclic|dynamic|guided")->capture_default_str();
  run.add_option("-c,--chunk", o.chunk, "items per chunk (default: automatic, ~100 ms chunks)");
  run.add_option("-t,--threads", o.threads,
                 "OpenMP threads per rank (default: OMP_NUM_THREADS, SLURM_CPUS_PER_TASK, "
                 "else cores/ranks on the node)");
  run.add_option("-o,--output", o.output, "results file (HDF5)")->capture_default_str();
  run.add_flag("-f,--force", o.force, "overwrite an existing output file");
  run.add_option("--progress", o.progress, "auto|bar|log|none")->capture_default_str();
}

pmap::ComputeJob make_job(const RunOptions& o, const std::string& command) {
  pmap::ComputeJob job;
  job.kernel = &pmap::find_kernel(o.kernel);
  job.args = pmap::bind_args(*job.kernel, o.args);
  job.schedule = pmap::parse_schedule(o.schedule);
  job.progress = pmap::parse_progress(o.progress);
  job.chunk = o.chunk;
  job.threads = o.threads;
  if (o.threads && *o.threads < 1) {
    throw pmap::UsageError("--threads " + std::to_string(*o.threads) + ": must be at least 1");
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
void prefer_fast_singleton() {
  if (launched()) return;
  setenv("OMPI_MCA_ess_singleton_isolated", "1", 0);
  setenv("OMPI_MCA_pml", "ob1", 0);
}

int run_compute_command(int& argc, char**& argv, const RunOptions& o, const std::string& command) {
  // Validate everything that needs no MPI first, identically on every rank.
  pmap::ComputeJob job = make_job(o, command);
  prefer_fast_singleton();
  pmap::mpi::Environment env(argc, argv);
  const auto report = pmap::run_compute(job, MPI_COMM_WORLD);
  return report.failed + report.timed_out > 0 ? 1 : 0;
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
  if (!top_level && (words.empty() || (words[0] != "run" && words[0] != "urls" &&
                                       words[0] != "kernels" && words[0] != "inspect"))) {
    words.insert(words.begin(), "run");
  }

  CLI::App app{"pmap: map a function over an iteration space with MPI ranks and OpenMP threads, "
               "every result in one HDF5 file",
               "pmap"};
  app.set_version_flag("-V,--version", std::string("pmap ") + pmap::kVersion);
  app.require_subcommand(1);
  RunOptions run_opts;
  auto* run = app.add_subcommand("run", "map a kernel over items (the default subcommand)");
  add_run_options(*run, run_opts);
  app.add_subcommand("kernels", "list kernels, their arguments and output columns");
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

  try {
    if (app.got_subcommand("kernels")) {
      std::cout << pmap::describe_kernels();
      return 0;
    }
    if (app.got_subcommand("inspect")) {
      std::cout << pmap::inspect(inspect_path);
      return 0;
    }
    return run_compute_command(argc, argv, run_opts, command);
  } catch (const pmap::Error& e) {
    if (printer) std::cerr << "pmap: error: " << e.what() << "\n";
    return static_cast<int>(e.code());
  } catch (const std::exception& e) {
    if (printer) std::cerr << "pmap: error: " << e.what() << "\n";
    return static_cast<int>(pmap::ExitCode::ItemsFailed);
  }
}
