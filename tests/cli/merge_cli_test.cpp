// Shards and `pmap merge` end to end: the real binary (PMAP_BIN, directly or under PMAP_MPIEXEC)
// writes shard files, `pmap merge OUT.h5 SHARD.h5...` joins them, and the files are read back.
//
// A merge of every shard equals the unsharded run; each refusal (overlap, a shard twice, another
// kernel, other arguments, other items, a shard missing, rows not run, the output among the
// shards) exits 2 with a message naming the problem and the file, and writes nothing: no OUT.h5
// when there was none, an existing one byte for byte as it was (README, "job arrays").
#include <gtest/gtest.h>
#include <hdf5.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <numeric>
#include <string>
#include <vector>

#include "pmap/h5.hpp"
#include "pmap/resume.hpp"
#include "support/h5_read.hpp"
#include "support/pmap_cli.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace {

namespace fs = std::filesystem;
using pmap::test::Args;
using pmap::test::describe;
using pmap::test::kMpiEnv;
using pmap::test::mpi_cmd;
using pmap::test::pmap_cmd;
using pmap::test::ProcessResult;
using pmap::test::slurp;
using pmap::test::TempDir;
using pmap::test::write_bytes;

template <typename T>
bool same_bytes(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

/// Overwrites /compute/status[row] of a results file (to fake an overlap or an unfinished row).
void set_status(const std::string& path, hsize_t row, std::int8_t value) {
  pmap::h5::File file = pmap::h5::File::open(path, pmap::h5::Access::ReadWrite);
  pmap::h5::Handle d(H5Dopen2(file.get(), "/compute/status", H5P_DEFAULT), "open status");
  pmap::h5::Handle fspace(H5Dget_space(d.get()), "space");
  const hsize_t one = 1;
  pmap::h5::check(H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, &row, nullptr, &one, nullptr),
                  "select");
  pmap::h5::Handle mspace(H5Screate_simple(1, &one, nullptr), "memory space");
  pmap::h5::check(
      H5Dwrite(d.get(), H5T_NATIVE_INT8, mspace.get(), fspace.get(), H5P_DEFAULT, &value),
      "write status");
  file.close("close " + path);
}

/// Files of `dir` whose name contains `part` (left-over temporaries).
std::vector<std::string> files_with(const fs::path& dir, const std::string& part) {
  std::vector<std::string> found;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().filename().string().find(part) != std::string::npos) {
      found.push_back(e.path().filename().string());
    }
  }
  return found;
}

/// 30 items of pi in 3 shards of 10: [0, 10), [10, 20), [20, 30).
const Args kJob = {"run",          "--kernel",  "pi", "--range",    "0:30", "--arg",
                   "samples=2000", "--threads", "1",  "--progress", "none"};

Args with(Args a, const Args& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

class MergeCli : public ::testing::Test {
 protected:
  /// Runs `pmap <job> --shard I/N --output NAME` (singleton) and returns the file's path.
  std::string shard(int i, int n, const std::string& name, const Args& job = kJob) {
    const std::string f = dir_.file(name);
    std::string what;
    const auto r =
        pmap_cmd(with(job, {"--shard", std::to_string(i) + "/" + std::to_string(n), "--output", f}),
                 cwd(), &what);
    EXPECT_EQ(r.exit_code, 0) << what;
    return f;
  }
  /// The three shards of kJob, as s0.h5, s1.h5, s2.h5.
  std::vector<std::string> three_shards() {
    return {shard(0, 3, "s0.h5"), shard(1, 3, "s1.h5"), shard(2, 3, "s2.h5")};
  }
  std::string copy(const std::string& from, const std::string& name) {
    const std::string to = dir_.file(name);
    fs::copy_file(from, to, fs::copy_options::overwrite_existing);
    return to;
  }
  ProcessResult merge(const std::string& out, const std::vector<std::string>& shards,
                      const Args& flags, std::string* what) {
    Args args{"merge"};
    args.insert(args.end(), flags.begin(), flags.end());
    args.push_back(out);
    args.insert(args.end(), shards.begin(), shards.end());
    return pmap_cmd(args, cwd(), what);
  }

  /// `pmap merge OUT shards...` must exit 2 with every one of `needles` in its message, with no
  /// OUT.h5 before (none after, no temporary left) and with one before, without and with --force
  /// (left byte for byte). The shard files must be left untouched as well.
  void expect_refused(const std::vector<std::string>& shards,
                      const std::vector<std::string>& needles) {
    std::vector<std::string> shard_bytes;
    for (const auto& s : shards) shard_bytes.push_back(slurp(s));
    const std::string out = dir_.file("merged.h5");
    const auto check = [&](const ProcessResult& r, const std::string& what) {
      EXPECT_EQ(r.exit_code, 2) << what;
      EXPECT_EQ(r.err.rfind("pmap: error: ", 0), 0U) << what;
      EXPECT_EQ(r.err.find("HDF5-DIAG"), std::string::npos) << what;
      for (const auto& n : needles)
        EXPECT_NE(r.err.find(n), std::string::npos) << n << "\n" << what;
      EXPECT_TRUE(files_with(dir_.path(), "partial").empty()) << what;
    };
    std::string what;
    fs::remove(out);
    check(merge(out, shards, {}, &what), what);
    EXPECT_FALSE(fs::exists(out)) << what;

    // An existing output: a real results file, which must survive every refusal intact.
    fs::copy_file(shards.front(), out);
    const std::string before = slurp(out);
    ASSERT_FALSE(before.empty());
    check(merge(out, shards, {}, &what), what);
    EXPECT_TRUE(slurp(out) == before) << "the existing output changed\n" << what;
    check(merge(out, shards, {"--force"}, &what), what);
    EXPECT_TRUE(slurp(out) == before) << "the existing output changed (--force)\n" << what;
    fs::remove(out);
    for (std::size_t i = 0; i < shards.size(); ++i) {
      EXPECT_TRUE(slurp(shards[i]) == shard_bytes[i]) << shards[i] << " changed";
    }
  }

  [[nodiscard]] std::string cwd() const { return dir_.path().string(); }
  TempDir dir_;
};

// --- the merge that works ------------------------------------------------------------------

TEST_F(MergeCli, ThreeShardsEqualTheUnshardedRun) {
  std::string what;
  const std::string whole = dir_.file("whole.h5");
  auto r = pmap_cmd(with(kJob, {"--output", whole}), cwd(), &what);
  ASSERT_EQ(r.exit_code, 0) << what;

  // The shards with other decompositions: 2 ranks for the middle one, 2 threads for the last.
  const std::string s0 = shard(0, 3, "s0.h5");
  const std::string s1 = dir_.file("s1.h5");
  r = mpi_cmd(2, with(kJob, {"--shard", "1/3", "--output", s1}), cwd(), &what);
  ASSERT_EQ(r.exit_code, 0) << what;
  Args two_threads = kJob;
  two_threads[8] = "2";  // --threads 2
  const std::string s2 = shard(2, 3, "s2.h5", two_threads);
  // A shard holds its block only: rows [10, 20) done, the others never run.
  const auto s1_status = pmap::test::read_int8s(s1, "/compute/status");
  for (std::size_t i = 0; i < s1_status.size(); ++i) {
    EXPECT_EQ(s1_status[i], (i >= 10 && i < 20) ? 0 : -1) << "row " << i;
  }

  const std::string out = dir_.file("merged.h5");
  r = merge(out, {s2, s0, s1}, {}, &what);  // any order
  ASSERT_EQ(r.exit_code, 0) << what;
  EXPECT_NE(r.out.find("merged 3 shards into " + out + ": 30 items (30 ok"), std::string::npos)
      << what;
  EXPECT_TRUE(files_with(dir_.path(), "partial").empty());

  // /compute item, value and status equal the unsharded run's, bit for bit.
  EXPECT_EQ(pmap::test::read_int64s(out, "/compute/item"),
            pmap::test::read_int64s(whole, "/compute/item"));
  const auto value = pmap::test::read_doubles(out, "/compute/value");
  EXPECT_EQ(value.size(), 60U);
  EXPECT_TRUE(same_bytes(value, pmap::test::read_doubles(whole, "/compute/value")));
  EXPECT_EQ(pmap::test::read_int8s(out, "/compute/status"), std::vector<std::int8_t>(30, 0));
  std::vector<std::int64_t> items(30);
  std::iota(items.begin(), items.end(), 0);
  EXPECT_EQ(pmap::test::read_int64s(out, "/compute/item"), items);
  // The rank column says which shard's ranks ran each row (s1 had 2 ranks, the others 1).
  const auto rank = pmap::test::read_int32s(out, "/compute/rank");
  for (std::size_t i = 0; i < rank.size(); ++i) {
    EXPECT_TRUE(rank[i] == 0 || (i >= 10 && i < 20 && rank[i] == 1)) << "row " << i;
  }

  // The attributes: same job and checksum as the unsharded run, one shard of one, from 3.
  for (const char* key : {"checksum", "kernel", "args", "items_fnv", "item_kind", "space"}) {
    EXPECT_EQ(pmap::test::read_string_attr(out, "/compute", key),
              pmap::test::read_string_attr(whole, "/compute", key))
        << key;
  }
  EXPECT_EQ(pmap::test::read_int_attr(out, "/compute", "items"), 30);
  EXPECT_EQ(pmap::test::read_int_attr(out, "/compute", "shard_index"), 0);
  EXPECT_EQ(pmap::test::read_int_attr(out, "/compute", "shard_count"), 1);
  EXPECT_EQ(pmap::test::read_int_attr(out, "/compute", "merged_from"), 3);
  EXPECT_EQ(pmap::test::read_int_attr(out, "/compute", "ok"), 30);
  EXPECT_EQ(pmap::test::read_int_attr(out, "/compute", "not_run"), 0);

  // The merged file reads like any results file, and is never replaced without --force.
  r = pmap_cmd({"inspect", out}, cwd(), &what);
  EXPECT_EQ(r.exit_code, 0) << what;
  const std::string before = slurp(out);
  r = merge(out, {s0, s1, s2}, {}, &what);
  EXPECT_EQ(r.exit_code, 2) << what;
  EXPECT_NE(r.err.find("pass --force"), std::string::npos) << what;
  EXPECT_TRUE(slurp(out) == before);
  r = merge(out, {s0, s1, s2}, {"--force"}, &what);
  EXPECT_EQ(r.exit_code, 0) << what;
  EXPECT_TRUE(same_bytes(pmap::test::read_doubles(out, "/compute/value"), value));
}

TEST_F(MergeCli, FailedItemsAndTheirErrorsAreMerged) {
  // compute_x fails every item whose x is a multiple of 4: the shards and the merge exit 1.
  const Args job = {"run",   "--kernel",   "compute_x", "--range",      "1:21",
                    "--arg", "sleep=0",    "--arg",     "fail_every=4", "--threads",
                    "1",     "--progress", "none"};
  std::string what;
  const std::string whole = dir_.file("whole.h5");
  auto r = pmap_cmd(with(job, {"--output", whole}), cwd(), &what);
  ASSERT_EQ(r.exit_code, 1) << what;
  std::vector<std::string> shards;
  for (int i = 0; i < 2; ++i) {
    shards.push_back(dir_.file("f" + std::to_string(i) + ".h5"));
    r = pmap_cmd(with(job, {"--shard", std::to_string(i) + "/2", "--output", shards.back()}), cwd(),
                 &what);
    ASSERT_EQ(r.exit_code, 1) << what;
  }
  const std::string out = dir_.file("merged.h5");
  r = merge(out, shards, {}, &what);
  EXPECT_EQ(r.exit_code, 1) << what;
  EXPECT_NE(r.out.find("20 items (15 ok, 5 failed"), std::string::npos) << what;
  EXPECT_EQ(pmap::test::read_int8s(out, "/compute/status"),
            pmap::test::read_int8s(whole, "/compute/status"));
  EXPECT_EQ(pmap::test::read_string_attr(out, "/compute", "checksum"),
            pmap::test::read_string_attr(whole, "/compute", "checksum"));
  const auto errors = pmap::read_errors(out);
  const auto expected = pmap::read_errors(whole);
  ASSERT_EQ(errors.size(), 5U);
  ASSERT_EQ(errors.size(), expected.size());
  for (std::size_t i = 0; i < errors.size(); ++i) {
    EXPECT_EQ(errors[i].item, expected[i].item);
    EXPECT_EQ(errors[i].message, expected[i].message);
  }
}

// --- the refusals --------------------------------------------------------------------------

TEST_F(MergeCli, OverlappingShardsAreRefused) {
  const auto s = three_shards();
  // A shard 1 file that also holds a row of shard 0 (row 3 marked done).
  const std::string bad = copy(s[1], "s1-overlap.h5");
  set_status(bad, 3, 0);
  expect_refused({s[0], bad, s[2]}, {bad, "outside its shard 1/3", "overlap"});
}

TEST_F(MergeCli, AShardGivenTwiceIsRefused) {
  const auto s = three_shards();
  expect_refused({s[0], s[1], s[1]}, {s[1] + " is given twice", "give each shard once"});
  // With every shard there as well, the duplicate is what is reported.
  expect_refused({s[0], s[1], s[2], s[1]}, {s[1] + " is given twice"});
  // Two different files holding the same shard.
  const std::string again = copy(s[1], "s1-again.h5");
  expect_refused({s[0], s[1], again, s[2]},
                 {again + " and " + s[1] + " are both shard 1/3", "give each shard once"});
}

TEST_F(MergeCli, AShardOfAnotherKernelIsRefused) {
  const auto s = three_shards();
  const std::string other = shard(1, 3, "spin1.h5",
                                  {"run", "--kernel", "spin", "--range", "0:30", "--arg",
                                   "seconds=0", "--threads", "1", "--progress", "none"});
  expect_refused({s[0], other, s[2]},
                 {other + ": not a shard of the same job as " + s[0], "(kernel: spin vs pi)"});
}

TEST_F(MergeCli, AShardWithOtherArgumentsIsRefused) {
  const auto s = three_shards();
  Args job = kJob;
  job[6] = "samples=3000";
  const std::string other = shard(2, 3, "samples2.h5", job);
  expect_refused({s[0], s[1], other},
                 {other + ": not a shard of the same job as " + s[0], "kernel arguments", "3000"});
}

TEST_F(MergeCli, AShardOfOtherItemsIsRefused) {
  const auto s = three_shards();
  // The same number of items, other values: only the fingerprint tells.
  Args shifted = kJob;
  shifted[4] = "1:31";
  const std::string other = shard(1, 3, "shifted1.h5", shifted);
  expect_refused({s[0], other, s[2]},
                 {other + ": not a shard of the same job as " + s[0], "items (fingerprint)"});
  // Another number of items.
  Args longer = kJob;
  longer[4] = "0:33";
  const std::string more = shard(1, 3, "longer1.h5", longer);
  expect_refused({s[0], s[1], more},
                 {more + ": not a shard of the same job as " + s[0], "number of items: 33 vs 30"});
  // The same shard from another split of the job (1/2 is not 1/3).
  const std::string half = shard(1, 2, "half1.h5");
  expect_refused({s[0], half, s[2]},
                 {half + ": not a shard of the same job as " + s[0], "shard count: 2 vs 3"});
}

TEST_F(MergeCli, AMissingShardIsRefused) {
  const auto s = three_shards();
  expect_refused({s[0], s[2]},
                 {"shard 1/3 is missing", "the job of " + s[0] + " has 3 shards, 2 files"});
  expect_refused({s[1]}, {"shards 0/3, 2/3 are missing"});
}

TEST_F(MergeCli, AnUnfinishedShardIsRefused) {
  const auto s = three_shards();
  const std::string bad = copy(s[2], "s2-unfinished.h5");
  set_status(bad, 25, -1);  // row 25 of block [20, 30) not run
  expect_refused({s[0], s[1], bad}, {bad + " (shard 2/3) has 1 rows not run", "--resume"});
}

TEST_F(MergeCli, OutputAmongTheShardsIsRefused) {
  const auto s = three_shards();
  const std::string before = slurp(s[0]);
  std::string what;
  for (const Args& flags : {Args{}, Args{"--force"}}) {
    const auto r = merge(s[0], s, flags, &what);
    EXPECT_EQ(r.exit_code, 2) << what;
    EXPECT_NE(r.err.find(s[0]), std::string::npos) << what;
    EXPECT_TRUE(slurp(s[0]) == before) << what;
  }
  const auto r = merge(s[0], s, {"--force"}, &what);
  EXPECT_NE(r.err.find("is also one of the shards"), std::string::npos) << what;
}

TEST_F(MergeCli, MissingAndForeignFilesAreRefused) {
  const std::string text = dir_.file("notes.txt");
  write_bytes(text, "not HDF5\n");
  std::string what;
  auto r = merge(dir_.file("out.h5"), {dir_.file("nope.h5")}, {}, &what);
  EXPECT_EQ(r.exit_code, 2) << what;
  EXPECT_NE(r.err.find(dir_.file("nope.h5") + ": no such file"), std::string::npos) << what;
  r = merge(dir_.file("out.h5"), {text}, {}, &what);
  EXPECT_EQ(r.exit_code, 2) << what;
  EXPECT_NE(r.err.find(text + ": not an HDF5 file"), std::string::npos) << what;
  EXPECT_FALSE(fs::exists(dir_.file("out.h5")));
}

// --- the shard of a Slurm job array --------------------------------------------------------

TEST_F(MergeCli, SlurmArrayTaskRunsItsShard) {
  // No --shard: SLURM_ARRAY_TASK_ID=1 of SLURM_ARRAY_TASK_COUNT=2 runs block 1 of 2, rows [5, 10).
  const std::string f = dir_.file("task1.h5");
  std::string what;
  const auto r = pmap_cmd({"run", "--kernel", "pi", "--range", "0:10", "--arg", "samples=1000",
                           "--progress", "none", "--output", f},
                          cwd(), &what, {"SLURM_ARRAY_TASK_ID=1", "SLURM_ARRAY_TASK_COUNT=2"});
  ASSERT_EQ(r.exit_code, 0) << what;
  EXPECT_EQ(pmap::test::read_int_attr(f, "/compute", "shard_index"), 1);
  EXPECT_EQ(pmap::test::read_int_attr(f, "/compute", "shard_count"), 2);
  EXPECT_EQ(pmap::test::read_int_attr(f, "/compute", "items"), 10);
  EXPECT_EQ(pmap::test::read_int_attr(f, "/compute", "ok"), 5);
  EXPECT_EQ(pmap::test::read_int8s(f, "/compute/status"),
            (std::vector<std::int8_t>{-1, -1, -1, -1, -1, 0, 0, 0, 0, 0}));
  const auto item = pmap::test::read_int64s(f, "/compute/item");
  ASSERT_EQ(item.size(), 10U);
  for (std::int64_t i = 5; i < 10; ++i) EXPECT_EQ(item[static_cast<std::size_t>(i)], i);
}

}  // namespace
