// The CLI front end without running it: its defaults are the library's (written once, in
// ComputeJob and UrlOptions), its options make the jobs, and library errors become messages in
// the CLI's words (the subject's flag) with the right exit code.
#include <gtest/gtest.h>

#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli/messages.hpp"
#include "cli/options.hpp"
#include "pmap/error.hpp"
#include "pmap/progress.hpp"

namespace {

using pmap::ComputeJob;
using pmap::UrlOptions;
using pmap::UsageError;
using pmap::cli::CommandLine;
using pmap::cli::message;

/// `pmap WORDS...` parsed into `cli`.
void parse(CommandLine& cli, std::vector<std::string> words) {
  words.insert(words.begin(), "pmap");
  std::vector<const char*> argv;
  for (const auto& w : words) argv.push_back(w.c_str());
  cli.parse(static_cast<int>(argv.size()), argv.data());
}

std::string number(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

/// The CLI's message for the UsageError that building `sub`'s job from `words` throws.
std::string usage_message(const std::vector<std::string>& words) {
  CommandLine cli;
  parse(cli, words);
  const std::string sub = cli.subcommand();
  try {
    if (sub == "urls") {
      (void)pmap::cli::make_url_job(cli.urls);
    } else {
      (void)pmap::cli::make_compute_job(cli.run);
      (void)pmap::cli::run_url_list(cli.run);
    }
  } catch (const UsageError& e) {
    EXPECT_EQ(pmap::cli::exit_code(e), 2);
    return message(e, sub);
  }
  ADD_FAILURE() << "no UsageError";
  return "";
}

TEST(CliDefaults, HelpShowsTheLibrarysUrlDefaults) {
  const UrlOptions d;
  CommandLine cli;
  const std::string urls = cli.app.get_subcommand("urls")->help();
  for (const std::string& shown :
       {"--threads INT=" + std::to_string(d.threads), "--timeout FLOAT=" + number(d.timeout),
        "--retries INT=" + std::to_string(d.retries),
        "--per-host INT=" + std::to_string(d.per_host),
        "--method TEXT=" + std::string(pmap::cli::method_name(d.method))}) {
    EXPECT_NE(urls.find(shown), std::string::npos) << shown << " in\n" << urls;
  }
  const std::string run = cli.app.get_subcommand("run")->help();
  for (const std::string& shown :
       {"--url-threads INT=" + std::to_string(d.threads),
        "--url-timeout FLOAT=" + number(d.timeout), "--output TEXT=" + ComputeJob{}.output,
        "--schedule TEXT=" + std::string(pmap::to_string(ComputeJob{}.schedule))}) {
    EXPECT_NE(run.find(shown), std::string::npos) << shown << " in\n" << run;
  }
}

TEST(CliDefaults, UrlJobsGetEveryUrlOptionsDefault) {
  const UrlOptions d;
  const auto expect_defaults = [&](const UrlOptions& u) {
    EXPECT_EQ(u.threads, d.threads);
    EXPECT_EQ(u.timeout, d.timeout);
    EXPECT_EQ(u.retries, d.retries);
    EXPECT_EQ(u.per_host, d.per_host);
    EXPECT_EQ(u.method, d.method);
    EXPECT_EQ(u.insecure, d.insecure);
    EXPECT_EQ(u.max_redirects, d.max_redirects);
  };
  CommandLine urls;
  parse(urls, {"urls", "--input", "list.txt"});
  expect_defaults(pmap::cli::make_url_job(urls.urls).options);
  // `pmap run --urls`: the URL stage's retries, per-host limit and method were 2/8/get written
  // in main.cpp; now they are UrlOptions' own.
  CommandLine run;
  parse(run, {"run", "--range", "0:3", "--urls", "list.txt"});
  const ComputeJob job = pmap::cli::make_compute_job(run.run);
  expect_defaults(pmap::cli::make_appended_url_job(run.run, job, "list.txt").options);
}

TEST(CliDefaults, GivenUrlOptionsReachTheJobs) {
  CommandLine urls;
  parse(urls, {"urls", "-i", "l.txt", "-t", "7", "--timeout", "2.5", "--retries", "0", "--per-host",
               "3", "--method", "head", "--insecure", "--shard", "1/4"});
  const pmap::UrlJob u = pmap::cli::make_url_job(urls.urls);
  EXPECT_EQ(u.options.threads, 7);
  EXPECT_EQ(u.options.timeout, 2.5);
  EXPECT_EQ(u.options.retries, 0);
  EXPECT_EQ(u.options.per_host, 3);
  EXPECT_EQ(u.options.method, pmap::HttpMethod::Head);
  EXPECT_TRUE(u.options.insecure);
  EXPECT_EQ(u.shard_index, 1);
  EXPECT_EQ(u.shard_count, 4);
  EXPECT_EQ(u.output, ComputeJob{}.output);  // no --output and no --print: the default file

  CommandLine run;
  parse(run, {"--range", "0:3", "--urls", "l.txt", "--url-threads", "5", "--url-timeout", "1.5",
              "--output", "o.h5", "--resume", "--shard", "2/3"});
  EXPECT_EQ(run.subcommand(), "run");  // options without a subcommand mean `run`
  const ComputeJob job = pmap::cli::make_compute_job(run.run);
  const pmap::UrlJob a = pmap::cli::make_appended_url_job(run.run, job, "l.txt");
  EXPECT_EQ(a.options.threads, 5);
  EXPECT_EQ(a.options.timeout, 1.5);
  EXPECT_EQ(a.options.retries, UrlOptions{}.retries);
  EXPECT_EQ(a.output, "o.h5");
  EXPECT_TRUE(a.append);
  EXPECT_TRUE(a.resume);
  EXPECT_EQ(a.shard_index, 2);
  EXPECT_EQ(a.shard_count, 3);
}

TEST(CliDefaults, TheDefaultJobIsTheTutorials) {
  CommandLine cli;
  parse(cli, {});
  EXPECT_EQ(cli.subcommand(), "run");
  EXPECT_TRUE(cli.run.default_job());
  const ComputeJob job = pmap::cli::make_compute_job(cli.run);
  const ComputeJob library;
  EXPECT_EQ(job.kernel->name(), "compute_x");
  EXPECT_EQ(job.space_spec, "range 1:11");
  EXPECT_EQ(job.space.size(), 10U);
  EXPECT_EQ(job.schedule, library.schedule);
  EXPECT_EQ(job.chunk, library.chunk);
  EXPECT_EQ(job.progress, library.progress);
  EXPECT_EQ(job.output, library.output);
  EXPECT_EQ(job.item_timeout, library.item_timeout);
  EXPECT_FALSE(job.threads.has_value());
  // Naming the kernel (even the default one) is not the default job: no URL stage then.
  CommandLine named;
  parse(named, {"--kernel", "compute_x"});
  EXPECT_FALSE(named.run.default_job());
  EXPECT_EQ(pmap::cli::run_url_list(named.run), "");
}

TEST(CliMessages, SubjectsBecomeTheSubcommandsFlags) {
  const UsageError timeout = UsageError::negative("item_timeout", -1);
  EXPECT_EQ(message(timeout, "run"), "--item-timeout -1: must not be negative");
  const UsageError threads("urls.threads", "0", "must be at least 1");
  EXPECT_EQ(message(threads, "run"), "--url-threads 0: must be at least 1");
  EXPECT_EQ(message(threads, "urls"), "--threads 0: must be at least 1");
  const UsageError input = UsageError::no_such_file("urls.input", "u.txt", "");
  EXPECT_EQ(message(input, "run"), "--urls u.txt: no such file");
  EXPECT_EQ(message(input, "urls"), "--input u.txt: no such file");
  EXPECT_EQ(message(UsageError("args", "y=abc", "'abc' is not a number"), "run"),
            "--arg y=abc: 'abc' is not a number");
  EXPECT_EQ(message(UsageError("output", "", "the file name is empty"), "run"),
            "--output: the file name is empty");
}

TEST(CliMessages, FieldsNamedInTheDetailBecomeFlagsOrPlainWords) {
  const UsageError exists = UsageError::file_exists("output", "a.h5");
  EXPECT_EQ(message(exists, "run"),
            "--output a.h5: file exists; pass --force to overwrite it, or choose another --output "
            "(the existing file was left untouched)");
  // `pmap merge OUT.h5 ...` has --force but no --output: the field is said as a word.
  EXPECT_EQ(message(exists, "merge"),
            "output a.h5: file exists; pass --force to overwrite it, or choose another output "
            "(the existing file was left untouched)");
  // Backquoted text that is no field is kept.
  EXPECT_EQ(message(UsageError("kernel", "x", "unknown (`pmap kernels` lists them)"), "run"),
            "--kernel x: unknown (`pmap kernels` lists them)");
  // No subject: the message as the library says it, with its fields as flags.
  EXPECT_EQ(message(UsageError("SLURM_ARRAY_TASK_ID=x: not an integer; pass `shard` I/N"), "run"),
            "SLURM_ARRAY_TASK_ID=x: not an integer; pass --shard I/N");
  // A subject the subcommand has no flag for: the library's words.
  EXPECT_EQ(message(UsageError("kernel", "x", "unknown"), "inspect"), "kernel x: unknown");
}

TEST(CliMessages, ExitCodes) {
  EXPECT_EQ(pmap::cli::exit_code(UsageError("x")), 2);
  EXPECT_EQ(pmap::cli::exit_code(pmap::RuntimeError("disk full")), 3);
  EXPECT_EQ(pmap::cli::exit_code(std::runtime_error("anything else")), 3);
  EXPECT_EQ(pmap::cli::exit_code(pmap::Error(pmap::ExitCode::Interrupted, "stop")), 75);
}

// Every flag the message table names is an option of its subcommand (a renamed flag fails here).
TEST(CliMessages, EveryFlagInTheTableExists) {
  CommandLine cli;
  for (const char* sub : {"run", "urls", "kernels", "merge"}) {
    const CLI::App* app = cli.app.get_subcommand(sub);
    EXPECT_FALSE(pmap::cli::flags_of(sub).empty()) << sub;
    for (const std::string_view flag : pmap::cli::flags_of(sub)) {
      EXPECT_NO_THROW((void)app->get_option(std::string(flag))) << sub << " " << flag;
    }
  }
}

TEST(CliMessages, TheCliValidatesItsOwnOptionsInFlags) {
  EXPECT_EQ(usage_message({"run", "--item-timeout", "-2"}),
            "--item-timeout -2: must not be negative");
  EXPECT_EQ(usage_message({"run", "--deadline", "0"}), "--deadline 0: must be positive");
  EXPECT_EQ(usage_message({"run", "--threads", "0"}), "--threads 0: must be at least 1");
  EXPECT_EQ(usage_message({"run", "--progress", "fast"}),
            "--progress fast: use auto, bar, log or none");
  EXPECT_EQ(usage_message({"run", "--schedule", "random"}),
            "--schedule random: unknown schedule (use static, cyclic, dynamic or guided)");
  EXPECT_EQ(usage_message({"run", "--chunk", "0"}),
            "--chunk 0: expected a positive number of items or auto");
  EXPECT_EQ(usage_message({"run", "--max-failures", "5x"}),
            "--max-failures 5x: expected a positive count (e.g. 10) or a percentage (e.g. 5%)");
  EXPECT_EQ(usage_message({"run", "--range", "0:2", "--output", ""}),
            "--output: the file name is empty; give a path such as --output pmap.h5");
  EXPECT_EQ(usage_message({"run", "--kernel", "spin"}),
            "--kernel spin: give the items with --range START:STOP[:STEP] or --input FILE");
  EXPECT_EQ(usage_message({"run", "--range", "0:2", "--urls", "/nonexistent/u.txt"}),
            "--urls /nonexistent/u.txt: no such file");
  EXPECT_EQ(usage_message({"urls", "--input", "u.txt", "--method", "put"}),
            "--method put: use get or head");
  EXPECT_EQ(usage_message({"urls", "--input", "u.txt", "--shard", "4/4"}),
            "--shard 4/4: expected I/N with 0 <= I < N, e.g. 0/4 (shard 0 of 4)");
  EXPECT_EQ(usage_message({"run", "--range", "5"}).rfind("--range 5: expected START:STOP", 0), 0U);
}

}  // namespace
