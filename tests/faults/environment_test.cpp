// Input and environment faults: --resume pointed at the wrong file, a full or unwritable output
// location, hostile --input files, more ranks than items. "Nothing lost" here means: a refused
// command changes no byte of an existing file; a failure is one clear line (what, where) and a
// non-zero exit, never a crash, a stack trace or a hang; a job stopped by a full disk resumes to
// the right result once there is space again.
#include <gtest/gtest.h>

#include <hdf5.h>
#include <sys/stat.h>
#include <fstream>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <random>

#include "fault_support.hpp"
#include "pmap/resume.hpp"
#include "support/temp_dir.hpp"

namespace {

using namespace pmap::faults;
using pmap::test::TempDir;
using pmap::test::write_bytes;

// --- --resume of another job --------------------------------------------------------------------

// Fault: --resume pointed at a file of another job (other --arg, --range, --kernel), at an HDF5
// file that is not pmap's, at a text file, at no file. Nothing lost: exit 2 with one line naming
// the difference, and the existing file keeps every byte.
TEST(Environment, ResumeRefusesAnotherJobAndLeavesTheFileUntouched) {
  TempDir dir;
  const std::string d = dir.path().string();
  const Args base = {"run",   "--kernel", "compute_x",  "--range", "0:20",
                     "--arg", "sleep=0",  "--progress", "none"};
  ASSERT_EQ(run(solo_argv(base + Args{"--output", "r.h5"}), d, "make").code, 0);
  // A non-pmap HDF5 file and a text file.
  {
    const std::string path = dir.file("foreign.h5");
    pmap::h5::Handle f(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), "create");
    const hsize_t n = 3;
    pmap::h5::Handle sp(H5Screate_simple(1, &n, nullptr), "space");
    pmap::h5::Handle ds(
        H5Dcreate2(f.get(), "x", H5T_NATIVE_INT, sp.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
        "dataset");
    const int v[3] = {1, 2, 3};
    H5Dwrite(ds.get(), H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
  }
  write_bytes(dir.file("text.h5"), "not an HDF5 file\n");
  const std::string r_bytes = slurp(dir.file("r.h5"));
  const std::string foreign_bytes = slurp(dir.file("foreign.h5"));
  const std::string text_bytes = slurp(dir.file("text.h5"));

  struct Case {
    Args args;
    std::string file;
    std::vector<std::string> says;  // substrings the message must contain
  };
  const std::vector<Case> cases = {
      {{"run", "--kernel", "compute_x", "--range", "0:20", "--arg", "sleep=0", "--arg", "y=3"},
       "r.h5",
       {"args", "y\":3"}},
      {{"run", "--kernel", "compute_x", "--range", "0:21", "--arg", "sleep=0"},
       "r.h5",
       {"items", "20", "21"}},
      {{"run", "--kernel", "compute_x", "--range", "1:21", "--arg", "sleep=0"}, "r.h5", {"items"}},
      {{"run", "--kernel", "pi", "--range", "0:20"}, "r.h5", {"kernel", "compute_x", "pi"}},
      {{"run", "--kernel", "compute_x", "--range", "0:20", "--arg", "sleep=0"},
       "foreign.h5",
       {"not a pmap"}},
      {{"run", "--kernel", "compute_x", "--range", "0:20", "--arg", "sleep=0"},
       "text.h5",
       {"not an HDF5"}},
      {{"run", "--kernel", "compute_x", "--range", "0:20", "--arg", "sleep=0"},
       "missing.h5",
       {"no such file"}},
  };
  for (const auto& c : cases) {
    // Every case alone; the first and the last also under mpiexec (printed once, by rank 0).
    const bool also_mpi = &c == &cases.front() || &c == &cases.back();
    for (int ranks : {1, 2}) {
      if (ranks == 2 && !also_mpi) continue;
      const Args args = c.args + Args{"--progress", "none", "--resume", "--output", c.file};
      const Finished f = run(ranks == 1 ? solo_argv(args) : mpi_argv(ranks, args), d, "resume", 60);
      SCOPED_TRACE(f.what);
      EXPECT_EQ(f.code, 2);
      const auto lines = pmap_lines(f.err);
      ASSERT_EQ(lines.size(), 1U) << "one line, printed once (rank 0)";
      EXPECT_NE(lines[0].find("--resume " + c.file), std::string::npos);
      for (const auto& s : c.says)
        EXPECT_NE(lines[0].find(s), std::string::npos) << "missing '" << s << "'";
    }
  }
  EXPECT_EQ(slurp(dir.file("r.h5")), r_bytes) << "a refused --resume changed the file";
  EXPECT_EQ(slurp(dir.file("foreign.h5")), foreign_bytes);
  EXPECT_EQ(slurp(dir.file("text.h5")), text_bytes);
  EXPECT_FALSE(fs::exists(dir.file("missing.h5"))) << "a refused --resume created a file";
}

// --- full and unwritable output locations -------------------------------------------------------

// Fault: the output file system is full before the file can even be created (a 64 KiB tmpfs;
// 100000 rows need ~100 KiB of status alone). Nothing lost: one clear line that says where and
// why, a non-zero exit, no crash, no hang.
TEST(Environment, FullFilesystemAtCreation) {
  TempDir dir;
  const std::string d = dir.path().string();
  TmpfsMount full(dir.file("full"), "size=64k");
  if (!full.ok()) GTEST_SKIP() << "cannot mount a small tmpfs here (" << full.error() << ")";
  const Args job = {"run",   "--kernel",   "pi",         "--range", "0:100000",
                    "--arg", "samples=10", "--progress", "none"};
  for (int ranks : {1, 2}) {
    const std::string name = "full/a" + std::to_string(ranks) + ".h5";
    const Args args = job + Args{"--output", name};
    const Finished f = run(ranks == 1 ? solo_argv(args) : mpi_argv(ranks, args), d, "full", 60);
    expect_clean_failure(f, "-n " + std::to_string(ranks));
    const std::string line = error_line(f);
    EXPECT_NE(line.find(name), std::string::npos) << "the message does not name the file: " << line;
    // Either HDF5's own "No space left on device", or pmap's check before creating anything
    // ("needs about N MiB but only M MiB are free").
    EXPECT_TRUE(line.find("No space left on device") != std::string::npos ||
                line.find("MiB are free") != std::string::npos)
        << "the message does not say the disk is full: " << line;
    // A partial file may remain; it must be recognisable as such, not crash the reader.
    if (fs::exists(dir.file(name))) {
      const Finished in = run(solo_argv({"inspect", name}), d, "inspect", 30);
      EXPECT_TRUE(in.code == 0 || in.code == 2) << in.what;
      EXPECT_LT(in.code, 128) << in.what;
    }
    std::cout << "[faults] full disk at creation, -n " << ranks << ": exit " << f.code << ", "
              << pmap_lines(f.err).size() << " line(s): "
              << (pmap_lines(f.err).empty() ? "" : pmap_lines(f.err).front().substr(0, 160))
              << "\n";
  }
}

// Fault: the disk fills up during the run. pmap checks the space it needs before it creates the
// file, so the test lets the run start on a tmpfs with room, then fills the tmpfs with another
// file while the ranks write. Nothing lost: exit 3 (the run failed) with one line naming the file;
// after space is freed --resume completes the job and the file equals an uninterrupted run.
TEST(Environment, FullFilesystemDuringTheRunThenResume) {
  TempDir dir;
  const std::string d = dir.path().string();
  TmpfsMount full(dir.file("full"), "size=2m");
  if (!full.ok()) GTEST_SKIP() << "cannot mount a small tmpfs here (" << full.error() << ")";
  const Args job = {"run",   "--kernel",    "compute_x", "--range", "0:3000",
                    "--arg", "sleep=0.002", "--chunk",   "20",      "--progress",
                    "none",  "--threads",   "1"};
  const Finished ref_run = run(solo_argv(job + Args{"--output", "ref.h5"}), d, "ref");
  ASSERT_EQ(ref_run.code, 0) << ref_run.what;
  const Rows ref = read_rows(dir.file("ref.h5"));

  Job j(mpi_argv(2, job + Args{"--output", "full/b.h5"}), d, "full");
  // Fill the disk only once the file exists (start-up takes 0.3-2 s depending on the load),
  // and rows are being written.
  for (int i = 0; i < 300 && !fs::exists(dir.file("full/b.h5")); ++i) sleep_s(0.05);
  ASSERT_TRUE(fs::exists(dir.file("full/b.h5"))) << "pmap did not create its file in 15 s";
  sleep_s(0.3);
  {
    // Fill what is left of the tmpfs.
    std::ofstream filler(dir.file("full/filler"), std::ios::binary);
    const std::string block(64 * 1024, 'x');
    for (int i = 0; i < 64 && filler.good(); ++i) filler.write(block.data(), block.size());
  }
  const auto code = j.wait(60);
  ASSERT_TRUE(code.has_value()) << "pmap hung on a full disk";
  if (*code == 0) {
    GTEST_SKIP() << "the run finished before the disk filled (machine too fast for this timing)";
  }
  EXPECT_EQ(*code, 3) << "a write failure is the run's, not an item's (exit 3, not 1)";
  const std::string err = slurp(dir.file("full.err"));
  // Open MPI's I/O layer prints its own line first ("mca_fbtl_posix_pwritev: ... No space left
  // on device"); pmap's one line must name the file.
  std::string line;
  for (const auto& l : lines_of(err)) {
    if (l.rfind("pmap: error:", 0) == 0) line = l;
  }
  ASSERT_FALSE(line.empty()) << err;
  EXPECT_NE(line.find("full/b.h5"), std::string::npos)
      << "the message does not name the file: " << line;
  std::cout << "[faults] full disk during the run: exit " << *code << ": " << line.substr(0, 200)
            << "\n";

  fs::remove(dir.file("full/filler"));
  const Finished resume =
      run(mpi_argv(2, job + Args{"--output", "full/b.h5", "--resume"}), d, "resume", 60);
  ASSERT_EQ(resume.code, 0) << resume.what;
  const Rows got = read_rows(dir.file("full/b.h5"));
  EXPECT_TRUE(same_bytes_all(got.status, ref.status));
  EXPECT_TRUE(same_bytes_all(got.item, ref.item));
  EXPECT_TRUE(same_bytes_all(got.value, ref.value));
}

// Fault: the output directory is not writable. As root, permission bits do not stop writes, so
// the test uses a read-only tmpfs (EROFS stops root too) and runs pmap as the unprivileged user
// 65534 (setpriv) against a chmod 0500 directory. Nothing lost: exit 2, one line naming the
// directory, no file created.
TEST(Environment, UnwritableOutputDirectory) {
  TempDir dir;
  const std::string d = dir.path().string();
  const Args job = {"run",   "--kernel", "compute_x",  "--range", "0:3",
                    "--arg", "sleep=0",  "--progress", "none"};
  int tried = 0;
  std::string why_not;

  const auto check = [&](const Finished& f, const std::string& sub, const std::string& where) {
    SCOPED_TRACE(where);
    expect_clean_failure(f, where);
    EXPECT_EQ(f.code, 2) << f.what;
    const auto lines = pmap_lines(f.err);
    ASSERT_FALSE(lines.empty());
    EXPECT_NE(lines.front().find("'" + sub + "'"), std::string::npos) << lines.front();
    EXPECT_NE(lines.front().find("not writable"), std::string::npos) << lines.front();
    EXPECT_FALSE(fs::exists(dir.file(sub + "/x.h5")));
  };

  // 1. A read-only file system.
  TmpfsMount ro(dir.file("ro"), "size=64k", MS_RDONLY);
  if (ro.ok()) {
    for (int ranks : {1, 2}) {
      const Args args = job + Args{"--output", "ro/x.h5"};
      check(run(ranks == 1 ? solo_argv(args) : mpi_argv(ranks, args), d, "ro", 60), "ro",
            "read-only fs, -n " + std::to_string(ranks));
      ++tried;
    }
  } else {
    why_not += ro.error() + "; ";
  }

  // 2. Permission bits, for a user they apply to.
  fs::create_directory(dir.file("locked"));
  chmod(dir.file("locked").c_str(), 0500);
  chmod(d.c_str(), 0755);  // mkdtemp made it 0700: the other user must reach "locked"
  Args prefix;
  std::string bin = PMAP_BIN;
  bool bits_apply = geteuid() != 0;  // root writes into a 0500 directory all the same
  if (!bits_apply) {
    if (fs::exists("/usr/bin/setpriv")) {
      prefix = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"};
      // The build may sit where user 65534 cannot go (a 0700 home, a mktemp -d folder): it runs
      // a copy of pmap (linked statically to pmap_core) in this test's folder, if it can reach it.
      bin = dir.file("bin/pmap");
      fs::create_directory(dir.file("bin"));
      fs::copy_file(PMAP_BIN, bin);
      chmod(dir.file("bin").c_str(), 0755);
      bits_apply = run(prefix + Args{"/usr/bin/test", "-x", bin}, d, "reach", 10).code == 0;
      if (!bits_apply) why_not += "user 65534 cannot reach " + d + " (a private parent); ";
    } else {
      why_not += "running as root and no setpriv to drop privileges; ";
    }
  }
  if (bits_apply) {
    for (int ranks : {1, 2}) {
      const Args args = job + Args{"--output", "locked/x.h5"};
      const Args argv = prefix + (ranks == 1 ? solo_argv(args, bin) : mpi_argv(ranks, args, bin));
      check(run(argv, d, "locked", 60), "locked", "chmod 0500, -n " + std::to_string(ranks));
      ++tried;
    }
  }
  if (tried == 0) GTEST_SKIP() << "no way to make a directory unwritable here: " << why_not;
  std::cout << "[faults] unwritable output directory: " << tried << " runs refused with exit 2"
            << (why_not.empty() ? "" : " (not tried: " + why_not + ")") << "\n";
}

// --- hostile input files ------------------------------------------------------------------------

// Fault: --input files that are not what pmap expects: binary garbage with NUL bytes, binary
// garbage without NUL bytes, a 10 MB single line, invalid UTF-8. Nothing lost: a clear exit 2
// before anything is written (NUL: not a text file), or per-item failures (status 1 with a short
// message) while the good lines are computed; never a crash; identical outcome at -n 1 and -n 2.
TEST(Environment, HostileInputFiles) {
  TempDir dir;
  const std::string d = dir.path().string();
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> byte(0, 255);
  std::string with_nul, without_nul;
  for (int i = 0; i < 100000; ++i) with_nul.push_back(static_cast<char>(byte(rng)));
  for (int i = 0; i < 20000; ++i) {
    char c = static_cast<char>(byte(rng));
    if (c == '\0') c = 'A';
    without_nul.push_back(c);
  }
  with_nul.insert(0, "1\n2\n");  // the first NUL is not on line 1
  write_bytes(dir.file("nul.bin"), with_nul);
  write_bytes(dir.file("binary.bin"), without_nul);
  write_bytes(dir.file("long.txt"),
              std::string(10'000'000, '7') + "\n3\n" + std::string(10'000'000, 'x') + "\n");
  write_bytes(dir.file("utf8.txt"), "1\n\xff\xfe\xfd\n2\n\xc3\x28\n\xed\xa0\x80\n4\n\xe2\x82\n");

  for (int ranks : {1, 2}) {
    const auto go = [&](const std::string& input, const std::string& out) {
      const Args args = {"run",  "--kernel", "compute_x", "--arg",    "sleep=0", "--progress",
                         "none", "--input",  input,       "--output", out};
      return run(ranks == 1 ? solo_argv(args) : mpi_argv(ranks, args), d, "input", 120);
    };
    const std::string n = std::to_string(ranks);
    {
      const Finished f = go("nul.bin", "nul" + n + ".h5");
      expect_clean_failure(f, "NUL bytes");
      EXPECT_EQ(f.code, 2) << f.what;
      EXPECT_NE(f.err.find("nul.bin:3"), std::string::npos) << "file:line expected\n" << f.what;
      EXPECT_FALSE(fs::exists(dir.file("nul" + n + ".h5"))) << "nothing may be written on exit 2";
    }
    {
      const Finished f = go("binary.bin", "binary" + n + ".h5");
      EXPECT_EQ(f.code, 1) << f.what;
      EXPECT_LT(f.code, 128) << f.what;
      const Rows r = read_rows(dir.file("binary" + n + ".h5"));
      EXPECT_GT(r.size(), 0U);
      EXPECT_EQ(r.count(-1), 0U);
      EXPECT_EQ(r.count(0) + r.count(1), r.size());
      const auto errors = pmap::read_errors(dir.file("binary" + n + ".h5"));
      EXPECT_EQ(errors.size(), r.count(1));
    }
    {
      const Finished f = go("long.txt", "long" + n + ".h5");
      EXPECT_EQ(f.code, 1) << f.what;
      const Rows r = read_rows(dir.file("long" + n + ".h5"));
      ASSERT_EQ(r.size(), 3U);
      EXPECT_EQ(r.status[0], 1);  // 10^7 sevens: not a finite number
      EXPECT_EQ(r.status[1], 0);
      EXPECT_EQ(r.value[2], 3.0);
      EXPECT_EQ(r.status[2], 1);
      for (const auto& e : pmap::read_errors(dir.file("long" + n + ".h5"))) {
        EXPECT_LT(e.message.size(), 300U) << "an error message quotes the whole 10 MB line";
      }
    }
    {
      const Finished f = go("utf8.txt", "utf8" + n + ".h5");
      EXPECT_EQ(f.code, 1) << f.what;
      const Rows r = read_rows(dir.file("utf8" + n + ".h5"));
      ASSERT_EQ(r.size(), 7U);
      const std::int8_t want[7] = {0, 1, 0, 1, 1, 0, 1};
      for (int i = 0; i < 7; ++i) EXPECT_EQ(r.status[i], want[i]) << "row " << i;
      EXPECT_EQ(r.item[1], 2);  // item = line number
    }
  }
  std::cout << "[faults] hostile --input at -n 1 and 2: NUL bytes exit 2, binary/10 MB line/"
            << "invalid UTF-8 per-item failures, no crash\n";
}

/// True when `s` is well-formed UTF-8 (no overlongs, no surrogates, nothing past U+10FFFF).
bool valid_utf8(const std::string& s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    int n = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + static_cast<std::size_t>(n) >= s.size()) return false;
    for (int k = 1; k <= n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += static_cast<std::size_t>(n) + 1;
  }
  return true;
}

// Fault: invalid UTF-8 on --input lines. /compute/errors declares its messages UTF-8
// (H5T_CSET_UTF8), and the messages quote the offending line: what is stored must then be valid
// UTF-8 (escaped or replaced), or readers that decode it (h5py's .asstr(), HDF5.jl) fail on the
// file. Nothing lost: every message readable.
TEST(Environment, ErrorMessagesStayValidUtf8) {
  TempDir dir;
  const std::string d = dir.path().string();
  // Invalid bytes, and a valid 3-byte character cut by an 80-byte quote limit.
  write_bytes(dir.file("utf8.txt"),
              "\xff\xfe\xfd\n\xc3\x28\n" + std::string(79, 'a') + "\xe2\x82\xac\n");
  const Finished f =
      run(solo_argv({"run", "--kernel", "compute_x", "--arg", "sleep=0", "--progress", "none",
                     "--input", "utf8.txt", "--output", "u.h5"}),
          d, "utf8", 60);
  EXPECT_EQ(f.code, 1) << f.what;
  const auto errors = pmap::read_errors(dir.file("u.h5"));
  EXPECT_EQ(errors.size(), 3U);
  for (const auto& e : errors) {
    EXPECT_TRUE(valid_utf8(e.message)) << "item " << e.item << ": message is not valid UTF-8";
  }
}

// --- more ranks than items ----------------------------------------------------------------------

// Fault: more ranks than items (-n 4 over 2 items, 1 item, none; 2 items under every schedule),
// and a --resume of the finished file. Nothing lost: exit 0 and exactly the right rows.
TEST(Environment, MoreRanksThanItems) {
  TempDir dir;
  const std::string d = dir.path().string();
  struct Space {
    std::string range;
    std::vector<std::int64_t> items;
  };
  const std::vector<Space> spaces = {{"0:2", {0, 1}}, {"7:8", {7}}, {"5:5", {}}};
  int k = 0;
  for (const std::string schedule : {"dynamic", "static", "cyclic", "guided"}) {
    for (const auto& [range, want] : spaces) {
      // Every space under dynamic (and a --resume of it); the two-item one under the others.
      if (schedule != "dynamic" && range != "0:2") continue;
      const std::string out = "tiny" + std::to_string(k++) + ".h5";
      const Args args = {"run",   "--kernel", "compute_x",  "--range", range,
                         "--arg", "sleep=0",  "--schedule", schedule,  "--progress",
                         "none",  "--output", out};
      const Finished f = run(mpi_argv(4, args), d, "tiny", 60);
      SCOPED_TRACE(f.what);
      ASSERT_EQ(f.code, 0);
      const Rows r = read_rows(dir.file(out));
      ASSERT_EQ(r.size(), want.size());
      for (std::size_t i = 0; i < want.size(); ++i) {
        EXPECT_EQ(r.status[i], 0);
        EXPECT_EQ(r.item[i], want[i]);
        EXPECT_EQ(r.value[2 * i], static_cast<double>(want[i]));
        EXPECT_EQ(r.value[2 * i + 1], 2.0);
      }
      if (schedule == "dynamic") {
        const Rows before = read_rows(dir.file(out));
        const Finished again = run(mpi_argv(4, args + Args{"--resume"}), d, "tiny_resume", 60);
        EXPECT_EQ(again.code, 0) << again.what;
        const Rows after = read_rows(dir.file(out));
        EXPECT_TRUE(same_bytes_all(after.seconds, before.seconds)) << "a finished file was re-run";
      }
    }
  }
}

}  // namespace

// --- paths are data -----------------------------------------------------------------------------

// Input, output and working folder with spaces and non-ASCII characters, alone and at -n 2: the
// run, `--resume`, `inspect` and the URL stage (invalid lines only: no server needed) treat them
// as data. (A checkout and build in such a path: scripts/test.sh.)
TEST(Environment, PathsWithSpacesAndNonAscii) {
  TempDir dir;
  const std::string d = dir.file("dossier é 1");
  fs::create_directory(d);
  write_bytes(d + "/entrées 1.txt", "5\n6\n7\n");
  write_bytes(d + "/adresses é.txt", "not a url\nftp://x/y\n");
  for (int ranks : {1, 2}) {
    const std::string out = "résultats " + std::to_string(ranks) + ".h5";
    const Args job = {"run",           "--kernel", "compute_x", "--input",
                      "entrées 1.txt", "--arg",    "sleep=0",   "--progress",
                      "none",          "--output", out};
    const auto argv = [&](const Args& a) { return ranks == 1 ? solo_argv(a) : mpi_argv(ranks, a); };
    const Finished f = run(argv(job), d, "run", 60);
    EXPECT_EQ(f.code, 0) << f.what;
    const Rows r = read_rows(d + "/" + out);
    EXPECT_EQ(r.count(0), 3U);
    const Finished again = run(argv(job + Args{"--resume"}), d, "resume", 60);
    EXPECT_EQ(again.code, 0) << again.what;
    const Inspected i = inspect(d, out);
    EXPECT_EQ(i.ok, 3U) << i.what;
    const Args urls = {"urls", "--input",  "adresses é.txt", "--progress",
                       "none", "--output", "urls é " + out};
    const Finished u = run(argv(urls), d, "urls", 60);
    EXPECT_EQ(u.code, 0) << u.what;
    EXPECT_TRUE(fs::exists(d + "/urls é " + out));
  }
}
