// Elastic jobs without Slurm: `pmap submit --no-sbatch` makes the job folder, tasks run as
// `pmap run ... --elastic FOLDER` (alone, at once, under mpiexec, signalled, killed), and
// `pmap submit --finish FOLDER` merges the blocks into one file equal to a one-job run.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "support/h5_read.hpp"
#include "support/http_fixture_process.hpp"
#include "support/pmap_cli.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace {

namespace fs = std::filesystem;
using pmap::test::Args;
using pmap::test::kMpiEnv;
using pmap::test::pmap_cmd;
using pmap::test::ProcessResult;
using pmap::test::slurp;
using pmap::test::TempDir;

Args with(Args a, const Args& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

/// Starts `pmap args...` in the background, stdout and stderr into `log`.
pid_t start(const Args& args, const std::string& log) {
  Args argv{PMAP_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  std::vector<std::string> envs;
  for (char** e = environ; *e != nullptr; ++e) envs.emplace_back(*e);
  envs.insert(envs.end(), kMpiEnv.begin(), kMpiEnv.end());
  std::vector<char*> cargv, cenv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  for (auto& e : envs) cenv.push_back(e.data());
  cenv.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawn(&pid, cargv[0], &fa, nullptr, cargv.data(), cenv.data()) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&fa);
  return pid;
}

int wait_exit(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/// Waits until `log` contains `text` (at most `seconds`).
bool wait_for(const std::string& log, const std::string& text, double seconds) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    if (slurp(log).find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

/// The number after `key` in `text` (-1 when absent).
long number_after(const std::string& text, const std::string& key) {
  const auto at = text.find(key);
  return at == std::string::npos ? -1 : std::atol(text.c_str() + at + key.size());
}

class ElasticCli : public ::testing::Test {
 public:  // shared with the helpers of the URL tests below
  TempDir dir;
  std::string folder() const { return dir.file("job"); }

  /// `pmap submit --no-sbatch --folder job [opts] -- run...`
  void submit(const Args& run, const Args& opts = {}) {
    std::string what;
    const auto r = pmap_cmd(
        with(with({"submit", "--no-sbatch", "--folder", folder()}, opts), with({"--"}, run)),
        dir.path().string(), &what);
    ASSERT_EQ(r.exit_code, 0) << what;
  }
  /// One task, to the end.
  ProcessResult task(const Args& run, std::string* what) {
    return pmap_cmd(with(run, {"--elastic", folder()}), dir.path().string(), what);
  }
  /// The finishing step; returns its result.
  ProcessResult finish(std::string* what) {
    return pmap_cmd({"submit", "--finish", folder()}, dir.path().string(), what);
  }
  /// The merged file of a URL list equals a one-job check of it (status, verdict per row).
  void expect_urls_equal_to_one_run(const Args& urls) {
    std::string what;
    const std::string one = dir.file("one.h5");
    ASSERT_EQ(pmap_cmd(with(urls, {"--output", one}), dir.path().string(), &what).exit_code, 0)
        << what;
    using namespace pmap::test;
    const std::string merged = folder() + "/merged.h5";
    EXPECT_EQ(read_int32s(merged, "/urls/http_status"), read_int32s(one, "/urls/http_status"));
    EXPECT_EQ(read_int8s(merged, "/urls/verdict"), read_int8s(one, "/urls/verdict"));
  }
  /// The merged file equals a one-job run of `run` (items, values, status, checksum).
  void expect_equal_to_one_run(const Args& run) {
    std::string what;
    const std::string one = dir.file("one.h5");
    const auto r = pmap_cmd(with(run, {"--output", one, "--force"}), dir.path().string(), &what);
    ASSERT_TRUE(r.exit_code == 0 || r.exit_code == 1) << what;
    const std::string merged = folder() + "/merged.h5";
    ASSERT_TRUE(fs::exists(merged));
    using namespace pmap::test;
    EXPECT_EQ(read_int64s(merged, "/compute/item"), read_int64s(one, "/compute/item"));
    EXPECT_EQ(read_doubles(merged, "/compute/value"), read_doubles(one, "/compute/value"));
    EXPECT_EQ(read_int8s(merged, "/compute/status"), read_int8s(one, "/compute/status"));
    EXPECT_EQ(read_string_attr(merged, "/compute", "checksum"),
              read_string_attr(one, "/compute", "checksum"));
    EXPECT_EQ(read_string_attr(merged, "/compute", "items_fnv"),
              read_string_attr(one, "/compute", "items_fnv"));
  }
};

const Args kPi = {"run",          "--kernel",  "pi", "--range",    "0:300", "--arg",
                  "samples=3000", "--threads", "1",  "--progress", "none"};

TEST_F(ElasticCli, TasksAtOnceMergeToTheFileOfOneRun) {
  submit(kPi, {"--jobs", "3"});  // 24 blocks of 13 rows
  std::vector<pid_t> tasks;
  for (int i = 0; i < 3; ++i)
    tasks.push_back(start(with(kPi, {"--elastic", folder()}), dir.file("t" + std::to_string(i))));
  for (const pid_t p : tasks) EXPECT_EQ(wait_exit(p), 0);
  std::string what;
  const auto f = finish(&what);
  ASSERT_EQ(f.exit_code, 0) << what;
  EXPECT_NE(f.out.find("merged 24 blocks"), std::string::npos) << what;
  expect_equal_to_one_run(kPi);
  // Each task's block files hold only its rows.
  const std::string merged = folder() + "/merged.h5";
  EXPECT_EQ(pmap::test::read_int_attr(folder() + "/blocks/block-3.h5", "/compute", "items"), 13);
  const auto status = pmap_cmd({"status", folder()}, dir.path().string(), &what);
  EXPECT_EQ(status.exit_code, 0) << what;
  EXPECT_NE(status.out.find("24 done, 0 running, 0 not claimed"), std::string::npos) << what;
  EXPECT_NE(status.out.find("300 done (300 ok, 0 failed), 0 not run"), std::string::npos) << what;
}

TEST_F(ElasticCli, InputLinesAndGridsAreCutIntoBlocksToo) {
  {
    std::ofstream in(dir.file("items.txt"));
    for (int i = 0; i < 50; ++i) in << (i % 7 == 0 ? "# comment\n" : "") << i * 3 << "\n";
  }
  const Args input = {"run",   "--kernel",    "pi",        "--input", dir.file("items.txt"),
                      "--arg", "samples=500", "--threads", "1",       "--progress",
                      "none"};
  submit(input, {"--block-rows", "7"});
  std::string what;
  ASSERT_EQ(task(input, &what).exit_code, 0) << what;
  ASSERT_EQ(finish(&what).exit_code, 0) << what;
  expect_equal_to_one_run(input);
  fs::remove_all(folder());
  const Args grid = {"run",    "--kernel", "spin",      "--grid", "seconds=0:0.0005:0.0001",
                     "--grid", "k=1,2,3",  "--threads", "1",      "--progress",
                     "none"};
  submit(grid, {"--block-rows", "4"});
  ASSERT_EQ(task(grid, &what).exit_code, 0) << what;
  ASSERT_EQ(finish(&what).exit_code, 0) << what;
  expect_equal_to_one_run(grid);
}

// A kernel that sees the item's row ({#}, PMAP_ROW, a plugin's row) sees its row in the job, not
// in its block: the merged file equals one run even when the values depend on the row.
TEST_F(ElasticCli, KernelsSeeTheRowInTheJobNotInTheBlock) {
  const Args rows = {
      "run",   "-k",         "exec",    "--arg", "cmd=sh -c 'echo $(($0 * 1000 + $PMAP_ROW))' {#}",
      "--arg", "columns=v",  "--range", "5:45",  "--threads",
      "1",     "--progress", "none"};
  submit(rows, {"--block-rows", "10"});
  std::string what;
  ASSERT_EQ(task(rows, &what).exit_code, 0) << what;
  ASSERT_EQ(finish(&what).exit_code, 0) << what;
  expect_equal_to_one_run(rows);
  const auto values = pmap::test::read_doubles(folder() + "/merged.h5", "/compute/value");
  ASSERT_EQ(values.size(), 40U);
  for (std::size_t i = 0; i < values.size(); ++i) EXPECT_EQ(values[i], 1001.0 * i) << "row " << i;
}

TEST_F(ElasticCli, SignalledTaskGivesBackItsBlockAndTheNextResumesIt) {
  const Args slow = {"run",       "--kernel",  "compute_x", "--range",    "0:24", "--arg",
                     "sleep=0.1", "--threads", "1",         "--progress", "none"};
  submit(slow, {"--block-rows", "12"});
  const std::string log = dir.file("first");
  const pid_t first = start(with(slow, {"--elastic", folder()}), log);
  ASSERT_TRUE(wait_for(log, "block 1 rows 12:24", 30)) << slurp(log);
  std::this_thread::sleep_for(std::chrono::milliseconds(450));
  kill(first, SIGTERM);  // what scancel and the wall time send
  EXPECT_EQ(wait_exit(first), 75) << slurp(log);
  EXPECT_NE(slurp(log).find("given back"), std::string::npos) << slurp(log);
  EXPECT_NE(slurp(log).find("stopped=1 gave_back=1"), std::string::npos) << slurp(log);
  std::string what;
  const auto second = task(slow, &what);
  ASSERT_EQ(second.exit_code, 0) << what;
  EXPECT_NE(second.out.find("given back by"), std::string::npos) << what;
  EXPECT_NE(second.out.find("resuming its file"), std::string::npos) << what;
  // The rows written before the signal are kept; only the rest ran.
  const auto ran = number_after(second.out, " rows="),
             kept = number_after(second.out, "resumed_rows=");
  EXPECT_GT(kept, 0) << what;
  EXPECT_EQ(ran + kept, 12) << what;
  ASSERT_EQ(finish(&what).exit_code, 0) << what;
  expect_equal_to_one_run(slow);
}

TEST_F(ElasticCli, KilledTaskBlocksAreTakenOverKeepingTheRowsItWrote) {
  const Args slow = {"run",   "--kernel",  "compute_x", "--range", "0:30",
                     "--arg", "sleep=0.1", "--threads", "1",       "--progress",
                     "none",  "--chunk",   "1"};
  submit(slow, {"--block-rows", "30"});
  const std::string log = dir.file("dead");
  const pid_t dead = start(with(slow, {"--elastic", folder()}), log);
  ASSERT_TRUE(wait_for(log, "block 0 rows 0:30", 30)) << slurp(log);
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  kill(dead, SIGKILL);
  EXPECT_EQ(wait_exit(dead), 128 + SIGKILL);
  std::string what;
  const auto st = pmap_cmd({"status", folder()}, dir.path().string(), &what);
  EXPECT_NE(st.out.find("1 running"), std::string::npos) << what;
  const auto next = task(slow, &what);
  ASSERT_EQ(next.exit_code, 0) << what;
  EXPECT_NE(next.out.find("taken over from"), std::string::npos) << what;
  EXPECT_NE(next.out.find("takeovers=1"), std::string::npos) << what;
  // The rows the dead task wrote are kept (checked against its file by --resume), not rerun.
  const auto ran = number_after(next.out, " rows="), kept = number_after(next.out, "resumed_rows=");
  EXPECT_GE(kept, 5) << what;
  EXPECT_EQ(ran + kept, 30) << what;
  ASSERT_EQ(finish(&what).exit_code, 0) << what;
  expect_equal_to_one_run(slow);
  // Which task ran the block, and from whom it was taken, is in the merged file.
  EXPECT_TRUE(pmap::test::read_int_attr(folder() + "/merged.h5", "/compute", "merged_from") == 1);
}

TEST_F(ElasticCli, TaskOfSeveralRanks) {
  submit(kPi, {"--block-rows", "50"});
  std::string what;
  const auto r =
      pmap::test::mpi_cmd(2, with(kPi, {"--elastic", folder()}), dir.path().string(), &what);
  ASSERT_EQ(r.exit_code, 0) << what;
  ASSERT_EQ(finish(&what).exit_code, 0) << what;
  expect_equal_to_one_run(kPi);
}

TEST_F(ElasticCli, UrlListsAreCutIntoHostBlocks) {
  // Refused connections on 24 loopback hosts, an invalid line and a repeat: known verdicts
  // without a network, quickly.
  {
    std::ofstream list(dir.file("urls.txt"));
    for (int i = 1; i <= 24; ++i) list << "http://127.0.0." << i << ":1/page-" << i << "\n";
    list << "not a url\nhttp://127.0.0.3:1/page-3\n";
  }
  const Args urls = {"urls",      "--input", dir.file("urls.txt"), "--retries", "0",
                     "--timeout", "2",       "--progress",         "none"};
  submit(urls, {"--jobs", "2"});  // 16 host blocks
  std::vector<pid_t> tasks;
  for (int i = 0; i < 2; ++i)
    tasks.push_back(start(with(urls, {"--elastic", folder()}), dir.file("u" + std::to_string(i))));
  for (const pid_t p : tasks) EXPECT_EQ(wait_exit(p), 0);
  std::string what;
  const auto f = finish(&what);
  ASSERT_EQ(f.exit_code, 0) << what;
  EXPECT_NE(f.out.find("merged 16 blocks"), std::string::npos) << what;
  EXPECT_NE(f.out.find("26 URLs"), std::string::npos) << what;
  expect_urls_equal_to_one_run(urls);
  using namespace pmap::test;
  const std::string merged = folder() + "/merged.h5";
  const auto st = pmap_cmd({"status", folder()}, dir.path().string(), &what);
  EXPECT_NE(st.out.find("16 of 16 host blocks done (26 URLs checked)"), std::string::npos) << what;
  EXPECT_NE(st.out.find("URLs: 0 exist, 0 do not exist, 26 unknown; 0 of 26 not checked yet"),
            std::string::npos)
      << what;
  long by_tasks = 0;  // each task's line counts the URLs of its blocks
  for (auto at = st.out.find("tasks:");
       (at = st.out.find("blocks done (", at)) != std::string::npos; at += 12) {
    by_tasks += number_after(st.out.substr(at), "blocks done (");
  }
  EXPECT_EQ(by_tasks, 26) << what;
  // A block's file holds its URLs only (/urls/row: their rows in the list), not the whole list.
  std::vector<std::int64_t> rows;
  for (int b = 0; b < 16; ++b) {
    const std::string bf = folder() + "/blocks/block-" + std::to_string(b) + ".h5";
    const auto mine = read_int64s(bf, "/urls/row");
    EXPECT_EQ(static_cast<std::int64_t>(mine.size()), read_int_attr(bf, "/urls", "shard_urls"))
        << bf;
    EXPECT_EQ(read_int8s(bf, "/urls/verdict").size(), mine.size()) << bf;
    EXPECT_TRUE(std::is_sorted(mine.begin(), mine.end())) << bf;
    rows.insert(rows.end(), mine.begin(), mine.end());
  }
  std::sort(rows.begin(), rows.end());
  std::vector<std::int64_t> every(26);
  for (std::size_t i = 0; i < every.size(); ++i) every[i] = static_cast<std::int64_t>(i);
  EXPECT_EQ(rows, every) << "each row of the list in exactly one block";
  // The list was cut once into the blocks' own lists; each block read only its part, and its
  // file still says it is shard b/16 of the whole list.
  std::size_t part_lines = 0;
  for (int b = 0; b < 16; ++b) {
    const std::string part = slurp(folder() + "/lists/part-" + std::to_string(b) + ".txt");
    part_lines += static_cast<std::size_t>(std::count(part.begin(), part.end(), '\n'));
    const std::string bf = folder() + "/blocks/block-" + std::to_string(b) + ".h5";
    EXPECT_EQ(read_string_attr(bf, "/urls", "input"), dir.file("urls.txt")) << bf;
    EXPECT_EQ(read_int_attr(bf, "/urls", "shard_index"), b) << bf;
    EXPECT_EQ(read_int_attr(bf, "/urls", "urls"), 26) << bf;
  }
  EXPECT_EQ(part_lines, 26U);
  const auto shown = pmap_cmd({"inspect", merged}, dir.path().string(), &what);
  EXPECT_NE(shown.out.find("layout:  merged from shards or blocks"), std::string::npos) << what;
  EXPECT_NE(shown.out.find("blocks: 16 (which task checked which block"), std::string::npos)
      << what;
  EXPECT_EQ(read_int_attr(merged, "/urls", "merged_from"), 16);
  // Which task ran which block: /urls/blocks.
  const auto blocks = pmap::test::run_process({"h5dump", "-d", "/urls/blocks", merged});
  EXPECT_NE(blocks.out.find("DATASPACE  SIMPLE { ( 16 ) / ( 16 ) }"), std::string::npos)
      << blocks.out;
  EXPECT_NE(blocks.out.find("\"task\""), std::string::npos) << blocks.out;
}

/// A URL task stopped by `signal` in the middle of its only block (30 URLs of one host, 0.3 s
/// each, two at a time), then a second task that finishes the block from the first one's file;
/// returns both tasks' output, and the server's count of requests when the block was done.
std::pair<std::string, long long> url_block_interrupted(ElasticCli& t, int signal,
                                                        const pmap::test::HttpFixture& server,
                                                        const Args& urls) {
  t.submit(urls, {"--block-rows", "4"});  // one host: one block holds every URL
  const std::string log = t.dir.file("first");
  const pid_t first = start(with(urls, {"--elastic", t.folder()}), log);
  EXPECT_GE(pmap::test::fixture_wait(server, "requests", 8, std::chrono::seconds(30)), 8)
      << slurp(log);
  kill(first, signal);
  EXPECT_EQ(wait_exit(first), signal == SIGKILL ? 128 + SIGKILL : 75) << slurp(log);
  std::string what;
  const auto second = t.task(urls, &what);
  EXPECT_EQ(second.exit_code, 0) << what;
  const auto ran = number_after(second.out, " rows="),
             kept = number_after(second.out, "resumed_rows=");
  EXPECT_EQ(ran + kept, 30) << what;
  const long long requests = pmap::test::fixture_stats(server)["requests"].get<long long>();
  EXPECT_EQ(t.finish(&what).exit_code, 0) << what;
  t.expect_urls_equal_to_one_run(urls);
  return {second.out + "\n" + slurp(log), requests};
}

class ElasticUrlCli : public ElasticCli {
 protected:
  void SetUp() override {
    std::string why;
    server = pmap::test::HttpFixture::start(PMAP_HTTP_FIXTURE, {"--max-seconds", "120"}, &why);
    ASSERT_TRUE(server) << why;
    std::ofstream list(dir.file("urls.txt"));
    for (int i = 0; i < 30; ++i) {
      list << server->url(std::string(i % 5 == 4 ? "/missing?n=" : "/delay/300?n=") +
                          std::to_string(i))
           << "\n";
    }
  }
  std::unique_ptr<pmap::test::HttpFixture> server;
  const Args urls = {
      "urls",       "--input", dir.file("urls.txt"), "--retries", "0",          "--threads", "2",
      "--per-host", "2",       "--timeout",          "10",        "--progress", "none"};
};

TEST_F(ElasticUrlCli, UrlBlockGivenBackAtASignalIsResumedFromItsFile) {
  const auto [out, requests] = url_block_interrupted(*this, SIGTERM, *server, urls);
  EXPECT_NE(out.find("given back"), std::string::npos) << out;
  EXPECT_NE(out.find("resuming its file"), std::string::npos) << out;
  // The URLs checked before the signal are kept, not asked again (at most the two in flight).
  EXPECT_GE(number_after(out, "resumed_rows="), 6) << out;
  EXPECT_LE(requests, 30 + 2) << out;
}

TEST_F(ElasticUrlCli, UrlBlockOfAKilledTaskIsTakenOver) {
  const std::string out = url_block_interrupted(*this, SIGKILL, *server, urls).first;
  EXPECT_NE(out.find("taken over from"), std::string::npos) << out;
  EXPECT_NE(out.find("takeovers=1"), std::string::npos) << out;
}

TEST_F(ElasticCli, BadInputIsRefusedAndNothingIsMade) {
  std::string what;
  auto r = pmap_cmd({"submit", "--no-sbatch", "--folder", folder(), "--", "run", "--kernel", "pi",
                     "--range", "0:x"},
                    dir.path().string(), &what);
  EXPECT_EQ(r.exit_code, 2) << what;
  EXPECT_NE(r.err.find("'x' is not an integer"), std::string::npos) << what;
  EXPECT_FALSE(fs::exists(folder()));
  r = pmap_cmd({"submit", "--no-sbatch", "--folder", folder()}, dir.path().string(), &what);
  EXPECT_EQ(r.exit_code, 2) << what;
  EXPECT_NE(r.err.find("give the run after `--`"), std::string::npos) << what;
  r = pmap_cmd({"submit", "--no-sbatch", "--folder", folder(), "--", "run", "--kernel", "pi",
                "--range", "0:10", "--shard", "0/2"},
               dir.path().string(), &what);
  EXPECT_EQ(r.exit_code, 2) << what;
  r = pmap_cmd({"status", dir.file("nothing")}, dir.path().string(), &what);
  EXPECT_EQ(r.exit_code, 2) << what;
  EXPECT_NE(r.err.find("no elastic job here"), std::string::npos) << what;
  // A folder of another job is refused by a task.
  submit(kPi);
  const Args other = {"run", "--kernel", "pi", "--range", "0:301", "--threads", "1"};
  r = task(other, &what);
  EXPECT_EQ(r.exit_code, 2) << what;
  EXPECT_NE(r.err.find("holds the ledger of another job"), std::string::npos) << what;
  // Blocks left and no resubmission allowed: a clear message, exit 3, nothing merged.
  r = finish(&what);
  EXPECT_EQ(r.exit_code, 3) << what;
  EXPECT_NE(r.err.find("blocks are still not done"), std::string::npos) << what;
  EXPECT_FALSE(fs::exists(folder() + "/merged.h5"));
}

}  // namespace
