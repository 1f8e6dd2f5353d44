// pmap CLI — every option of the command line, its default, and the job it makes.
//
// The defaults are the library's: ComputeJob's and UrlOptions' default member initializers, read
// here (and shown by --help through capture_default_str), never written a second time. Only the
// default job's own choices live in this file: the tutorial's compute_x over 1..10 and
// data/urls.txt.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pmap/compute.hpp"
#include "pmap/url_check.hpp"
#include "pmap/url_stage.hpp"

namespace pmap::cli {

/// The default job (`pmap` with no --kernel, --range or --input): the tutorial's kernel, its
/// items x = 1..10, then the URL list when it exists in the working directory.
inline constexpr const char* kDefaultKernel = "compute_x";
inline constexpr const char* kDefaultRange = "1:11";
inline constexpr const char* kDefaultUrls = "data/urls.txt";
/// --progress and --chunk spell ComputeJob's defaults (ProgressMode::Auto, chunk 0) this way.
inline constexpr const char* kAuto = "auto";

/// "get" or "head".
[[nodiscard]] std::string_view method_name(HttpMethod method);
/// "get" or "head"; UsageError (subject "urls.method") otherwise.
[[nodiscard]] HttpMethod parse_method(std::string_view text);

/// `pmap run`, as given on the command line.
struct RunOptions {
  std::optional<std::string> kernel;  ///< unset: kDefaultKernel
  std::string range;
  std::string input;
  std::vector<std::string> grid;    ///< --grid NAME=SPEC axes (repeatable)
  std::vector<std::string> fields;  ///< --field NAME:TYPE, a table column's type forced
  std::string format;               ///< --format csv|tsv|jsonl|lines (default: by extension)
  bool print = false;               ///< print every item's fields and values (rank 0)
  std::vector<std::string> args;
  std::vector<std::string> plugins;  ///< shared libraries adding kernels (--plugin)
  std::string schedule{to_string(ComputeJob{}.schedule)};
  std::string chunk = kAuto;
  std::optional<int> threads;
  std::string output = ComputeJob{}.output;
  bool force = false;
  bool resume = false;
  bool retry_failed = false;
  std::string shard;
  std::string max_failures;
  double item_timeout = ComputeJob{}.item_timeout;
  std::optional<double> deadline;  ///< unset: under Slurm, the job's time left minus a margin
  std::string progress = kAuto;
  std::string elastic;           ///< --elastic FOLDER: one task of an elastic job (pmap submit)
  std::uint64_t block_rows = 0;  ///< --block-rows: rows a block of a new elastic ledger
  std::string urls;              ///< the URL stage after the compute stage, into the same file
  UrlOptions url;  ///< --url-threads, --url-timeout; everything else as UrlOptions says

  /// No --kernel, --range or --input: the tutorial's job.
  [[nodiscard]] bool default_job() const noexcept {
    return !kernel && range.empty() && input.empty() && grid.empty();
  }
  [[nodiscard]] std::string kernel_name() const { return kernel.value_or(kDefaultKernel); }
};

/// `pmap urls`, as given on the command line.
struct UrlCliOptions {
  std::string input;
  UrlOptions url;  ///< --threads, --timeout, --retries, --per-host, --insecure, --cacert, --capath
  std::string method{method_name(UrlOptions{}.method)};
  bool print = false;
  bool force = false;
  bool resume = false;
  std::string shard;
  std::string output;   ///< empty: ComputeJob's default file, or none with --print
  std::string elastic;  ///< --elastic FOLDER: one task of an elastic job (pmap submit)
  std::string progress = kAuto;
};

/// Declares the options of `pmap run` / `pmap urls`, bound to `o`.
void add_run_options(CLI::App& run, RunOptions& o);
void add_url_options(CLI::App& urls, UrlCliOptions& o);

/// The compute job of `pmap run` (reads --input; UsageError for anything invalid). Its command
/// is left for the caller (the Session's).
[[nodiscard]] ComputeJob make_compute_job(const RunOptions& o);
/// The URL list `pmap run` checks after the compute stage: --urls, or for the default job
/// data/urls.txt when it exists; empty for none. UsageError if --urls names no file.
[[nodiscard]] std::string run_url_list(const RunOptions& o);
/// `pmap run --urls LIST`: the URL stage, appended to `job`'s file with its shard and resume.
[[nodiscard]] UrlJob make_appended_url_job(const RunOptions& o, const ComputeJob& job,
                                           const std::string& list);
/// The job of `pmap urls`.
[[nodiscard]] UrlJob make_url_job(const UrlCliOptions& o);

/// The whole command line: `pmap [run] ...`, `urls`, `kernels`, `merge`, `inspect`.
struct CommandLine {
  CLI::App app;
  RunOptions run;
  UrlCliOptions urls;
  std::vector<std::string> kernel_plugins;
  std::string merge_output;
  std::vector<std::string> merge_inputs;
  bool merge_force = false;
  std::string inspect_path;
  std::string export_path;
  bool export_csv = false;
  bool export_jsonl = false;
  std::string export_output;
  bool export_force = false;

  /// Declares every subcommand and option (bound to the members: not copyable).
  CommandLine();
  CommandLine(const CommandLine&) = delete;
  CommandLine& operator=(const CommandLine&) = delete;

  /// Parses main's arguments; options without a subcommand mean `run`. Throws CLI::ParseError
  /// (also for --help and --version, whose exit code is 0).
  void parse(int argc, const char* const* argv);
  /// The subcommand given: "run", "urls", "kernels", "merge", "inspect" or "export".
  [[nodiscard]] std::string subcommand() const;
};

}  // namespace pmap::cli
