#include "cli/options.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <utility>

#include "pmap/error.hpp"
#include "pmap/grid.hpp"
#include "pmap/kernel.hpp"
#include "pmap/slurm.hpp"
#include "pmap/table.hpp"

namespace pmap::cli {
namespace {

constexpr std::pair<std::string_view, HttpMethod> kMethods[] = {{"get", HttpMethod::Get},
                                                                {"head", HttpMethod::Head}};

/// --chunk N or auto (0, ComputeJob's automatic chunk size).
std::uint64_t parse_chunk(const std::string& text) {
  if (text == kAuto || text.empty()) return 0;
  std::uint64_t v = 0;
  const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || v == 0) {
    throw UsageError("chunk", text, "expected a positive number of items or auto");
  }
  return v;
}

/// --shard I/N, or the job array's task (SLURM_ARRAY_TASK_*) when not given.
void parse_shard_into(const std::string& text, int& index, int& count) {
  if (const auto shard = parse_shard(text, process_env())) {
    index = shard->index;
    count = shard->count;
  }
}

/// --max-failures N or N%.
void parse_max_failures(const std::string& text, ComputeJob& job) {
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
    throw UsageError("max_failures", text,
                     "expected a positive count (e.g. 10) or a percentage (e.g. 5%)");
  }
  if (percent) {
    job.max_failures_fraction = v / 100.0;
  } else {
    job.max_failures = static_cast<std::uint64_t>(v);
  }
}

/// The items: --input, --range, or the kernel's own default space.
void set_space(const RunOptions& o, ComputeJob& job) {
  if (!o.grid.empty()) {
    job.space = ItemSpace(make_grid(o.grid));
    job.space_spec = job.space.describe();
    return;
  }
  if (!o.input.empty()) {
    const TableFormat format = resolve_table_format(o.input, parse_table_format(o.format));
    if (format == TableFormat::Lines) {
      if (!o.fields.empty()) {
        throw UsageError("field", o.fields.front(),
                         "needs a table: give a .csv, .tsv or .jsonl file or `format`");
      }
      job.space = ItemSpace(read_input(o.input));  // one item a line, as pmap always read it
      job.space_spec = "input " + o.input;
      return;
    }
    job.space = ItemSpace(open_table(o.input, format, o.fields));
    job.space_spec = job.space.describe();
    return;
  }
  std::string spec = o.range;
  if (spec.empty()) {
    const std::string kernel = o.kernel_name();
    if (kernel == kDefaultKernel) {
      spec = kDefaultRange;
    } else if (kernel == "mandelbrot") {
      spec = "0:" + std::to_string(job.args.get_int("height"));  // every row of its image
    } else if (kernel == "skew") {
      spec = "0:" + std::to_string(job.args.get_int("n"));  // one period of the profile
    } else {
      throw UsageError("kernel", kernel,
                       "give the items with `range` START:STOP[:STEP] or `input` FILE");
    }
  }
  job.space = ItemSpace(parse_range(spec));
  job.space_spec = "range " + spec;
}

/// The checks of `pmap run`'s numbers that need no MPI.
void check_run_numbers(const RunOptions& o) {
  if (o.item_timeout < 0) throw UsageError::negative("item_timeout", o.item_timeout);
  if (o.deadline && *o.deadline <= 0) throw UsageError::not_positive("deadline", *o.deadline);
  if (o.threads && *o.threads < 1) throw UsageError::at_least("threads", *o.threads, 1);
  if (o.output.empty()) {
    // ComputeJob's empty output means "no file" (the C++ API's in-memory maps): not for the CLI.
    throw UsageError("output", "", "the file name is empty; give a path such as `output` pmap.h5");
  }
}

}  // namespace

std::string_view method_name(HttpMethod method) {
  for (const auto& [name, m] : kMethods) {
    if (m == method) return name;
  }
  return "get";
}

HttpMethod parse_method(std::string_view text) {
  for (const auto& [name, m] : kMethods) {
    if (name == text) return m;
  }
  throw UsageError("urls.method", std::string(text), "use get or head");
}

void add_run_options(CLI::App& run, RunOptions& o) {
  run.add_option("-k,--kernel", o.kernel, "kernel to map (see `pmap kernels`)")
      ->default_str(kDefaultKernel);
  auto* range = run.add_option("-r,--range", o.range,
                               std::string("items START:STOP[:STEP], Python range semantics "
                                           "(default job: ") +
                                   kDefaultRange + ")");
  auto* input = run.add_option("-i,--input", o.input,
                               "items from a file: one a line, or a table with a header line "
                               "(.csv, .tsv, .jsonl) whose columns become the items' fields");
  range->excludes(input);
  auto* grid = run.add_option("-g,--grid", o.grid,
                              "a sweep axis NAME=SPEC (repeatable; the product, last fastest): "
                              "START:STOP[:STEP], 1,2,4, linspace(A,B,N), logspace(A,B,N)");
  grid->excludes(range);
  grid->excludes(input);
  run.add_option("--field", o.fields,
                 "force a table column's type NAME:int|float|string "
                 "(repeatable)")
      ->needs(input);
  run.add_option("--format", o.format, "csv|tsv|jsonl|lines (default: by the extension of --input)")
      ->needs(input);
  run.add_flag("-p,--print", o.print,
               "print every item's fields and values in item order at the end (the default "
               "job does)");
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
  auto* elastic = run.add_option(
      "--elastic", o.elastic,
      "run as one task of the elastic job in FOLDER: claim blocks of the items from its ledger "
      "until none is left, each into its own file there (pmap submit starts these)");
  elastic->excludes("--shard")->excludes(resume)->excludes(force);
  run.add_option("--block-rows", o.block_rows,
                 "with --elastic, for a new job folder: items a block (default: about 64 blocks)")
      ->needs(elastic);
  run.add_option("--max-failures", o.max_failures,
                 "stop claiming work once N items (or N% of them) failed; exit 1");
  run.add_option("--item-timeout", o.item_timeout,
                 "seconds; an item running longer is stopped and gets status 2 (0: none)")
      ->capture_default_str();
  run.add_option("--deadline", o.deadline,
                 "seconds from the start; start no chunk that cannot finish before it, then exit "
                 "75 (default under Slurm: the job's end time minus a margin)");
  run.add_option("--progress", o.progress, "auto|bar|log|none")->capture_default_str();
  run.add_option(
      "--urls", o.urls,
      std::string("then check these URLs into the same file (default job: ") + kDefaultUrls + ")");
  run.add_option("--url-threads", o.url.threads, "URL stage: concurrent requests per rank")
      ->capture_default_str();
  run.add_option("--url-timeout", o.url.timeout, "URL stage: seconds per attempt")
      ->capture_default_str();
}

void add_url_options(CLI::App& urls, UrlCliOptions& o) {
  urls.add_option("-i,--input", o.input, "URLs, one a line (# comments and blank lines skipped)")
      ->required();
  urls.add_option("-t,--threads", o.url.threads, "concurrent requests per rank")
      ->capture_default_str();
  urls.add_option("--timeout", o.url.timeout,
                  "seconds per attempt: connect, request, status and headers")
      ->capture_default_str();
  urls.add_option("--retries", o.url.retries,
                  "extra attempts for transient failures (429, 502-504, connection errors)")
      ->capture_default_str();
  urls.add_option("--per-host", o.url.per_host, "concurrent requests per host across the whole job")
      ->capture_default_str();
  urls.add_option("--method", o.method, "get|head (head falls back to get on 405/501)")
      ->capture_default_str();
  urls.add_flag("--insecure", o.url.insecure, "do not verify TLS certificates");
  urls.add_option("--cacert", o.url.cacert,
                  "PEM file of CA certificates to trust besides the system's (a site's CA)");
  urls.add_option("--capath", o.url.capath,
                  "directory of CA certificates (openssl rehash) to trust besides the system's");
  urls.add_flag("-p,--print", o.print, "print `URL - verdict` lines in input order");
  urls.add_option("-o,--output", o.output,
                  "results file (HDF5); default " + ComputeJob{}.output + ", or none with --print");
  auto* force = urls.add_flag("-f,--force", o.force, "overwrite an existing output file");
  urls.add_flag("--resume", o.resume,
                "check only the rows an interrupted run left (not checked or interrupted)")
      ->excludes(force);
  urls.add_option("--shard", o.shard,
                  "check only shard I of N (I/N, 0-based; URLs by host; default from "
                  "SLURM_ARRAY_TASK_ID/COUNT)");
  urls.add_option("--progress", o.progress, "auto|bar|log|none")->capture_default_str();
  urls.add_option("--elastic", o.elastic,
                  "run as one task of the elastic job in FOLDER: claim blocks of hosts from its "
                  "ledger until none is left (pmap submit starts these)")
      ->excludes("--shard")
      ->excludes("--resume")
      ->excludes("--force")
      ->excludes("--print");
}

ComputeJob make_compute_job(const RunOptions& o) {
  check_run_numbers(o);
  ComputeJob job;
  job.kernel = &find_kernel(o.kernel_name());
  job.args = bind_args(*job.kernel, o.args);
  job.schedule = parse_schedule(o.schedule);
  job.progress = parse_progress(o.progress);
  job.chunk = parse_chunk(o.chunk);
  job.threads = o.threads;
  job.resume = o.resume;
  job.retry_failed = o.retry_failed;
  parse_shard_into(o.shard, job.shard_index, job.shard_count);
  parse_max_failures(o.max_failures, job);
  job.item_timeout = o.item_timeout;
  if (o.deadline) job.deadline = *o.deadline;
  job.output = o.output;
  job.force = o.force;
  set_space(o, job);
  for (const auto& a : o.args) {
    const std::string key = a.substr(0, a.find('='));
    for (const auto& f : job.space.fields()) {
      if (f.name == key) {
        throw UsageError("args", a,
                         key +
                             " is also a field of the items, which gives it per item; drop "
                             "`args` " +
                             key + " or rename the field");
      }
    }
  }
  return job;
}

std::string run_url_list(const RunOptions& o) {
  std::error_code ec;
  if (!o.urls.empty()) {
    if (!std::filesystem::exists(o.urls, ec))
      throw UsageError::no_such_file("urls.input", o.urls, "");
    return o.urls;
  }
  if (o.default_job() && std::filesystem::exists(kDefaultUrls, ec)) return kDefaultUrls;
  return "";
}

UrlJob make_appended_url_job(const RunOptions& o, const ComputeJob& job, const std::string& list) {
  UrlJob u;
  u.input = list;
  u.options = o.url;
  u.output = job.output;
  u.append = true;
  u.resume = job.resume;
  u.shard_index = job.shard_index;
  u.shard_count = job.shard_count;
  u.progress = job.progress;
  return u;
}

UrlJob make_url_job(const UrlCliOptions& o) {
  UrlJob job;
  job.input = o.input;
  job.options = o.url;
  job.options.method = parse_method(o.method);
  job.output = o.output.empty() && !o.print ? ComputeJob{}.output : o.output;
  job.force = o.force;
  job.print = o.print;
  job.resume = o.resume;
  parse_shard_into(o.shard, job.shard_index, job.shard_count);
  job.progress = parse_progress(o.progress);
  return job;
}

CommandLine::CommandLine()
    : app("pmap: map a function over an iteration space with MPI ranks and OpenMP threads, "
          "every result in one HDF5 file",
          "pmap") {
  app.set_version_flag("-V,--version", std::string("pmap ") + kVersion);
  app.footer(
      "Elastic jobs on Slurm (many small jobs that pull the work, merged when it is done):\n"
      "  pmap submit [--jobs N] [--max-running M] [--time T] [sbatch options] -- run ARGS\n"
      "  pmap status FOLDER          (pmap submit --help for the rest)");
  app.require_subcommand(1);
  add_run_options(*app.add_subcommand("run", "map a kernel over items (the default subcommand)"),
                  run);
  add_url_options(*app.add_subcommand("urls",
                                      "check that URLs exist (200 exists, 404 does not, "
                                      "else unknown)"),
                  urls);
  app.add_subcommand("kernels", "list kernels, their arguments and output columns")
      ->add_option("--plugin", kernel_plugins, "also list the kernels of this plugin (repeatable)");
  auto* merge = app.add_subcommand("merge", "join the shard files of a sharded job into one file");
  merge->add_option("output", merge_output, "merged results file")->required();
  merge->add_option("shards", merge_inputs, "shard files (all N shards of one job)")->required();
  merge->add_flag("-f,--force", merge_force, "overwrite an existing output file");
  app.add_subcommand("inspect", "summary of a results file")
      ->add_option("file", inspect_path, "results file (HDF5)")
      ->required();
  auto* ex = app.add_subcommand("export",
                                "write a results file's items, fields, values and "
                                "status as one table (CSV or JSON Lines)");
  ex->add_option("file", export_path, "results file (HDF5)")->required();
  auto* csv = ex->add_flag("--csv", export_csv, "comma-separated values with a header (default)");
  ex->add_flag("--jsonl", export_jsonl, "one JSON object a line")->excludes(csv);
  ex->add_option("-o,--output", export_output, "write here instead of stdout");
  ex->add_flag("--force", export_force, "replace an existing --output file");
}

void CommandLine::parse(int argc, const char* const* argv) {
  std::vector<std::string> words(argv + std::min(argc, 1), argv + argc);
  const bool top_level = !words.empty() && (words[0] == "--help" || words[0] == "-h" ||
                                            words[0] == "--version" || words[0] == "-V");
  const bool named =
      !words.empty() &&
      !app.get_subcommands([&](const CLI::App* sub) { return sub->check_name(words[0]); }).empty();
  if (!top_level && !named) words.insert(words.begin(), "run");  // `pmap [run] ...`
  std::reverse(words.begin(), words.end());
  app.parse(words);
}

std::string CommandLine::subcommand() const {
  for (const auto* sub : app.get_subcommands()) return sub->get_name();
  return "run";
}

}  // namespace pmap::cli
