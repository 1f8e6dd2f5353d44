// Fault: results files damaged on disk (truncated, bytes flipped, a block zeroed) given back to
// pmap: `pmap inspect`, `pmap run --resume`, `pmap urls --resume` and `pmap merge`. A damaged
// file is bad input: exit 2 with one message naming the file, or, when the damage missed
// everything pmap reads, a normal outcome; never a crash, a hang or another exit code. Then
// files of schema 1 (variable-length strings) are still read.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "pmap/h5.hpp"
#include "support/pmap_cli.hpp"
#include "support/temp_dir.hpp"

namespace {

using pmap::test::Args;
using pmap::test::pmap_cmd;
using pmap::test::TempDir;

/// The n-th damaged copy of `bytes`: truncated, a few bytes flipped, or a 64-byte block zeroed,
/// at offsets drawn from a fixed seed (the same copies on every run).
std::string damaged(const std::string& bytes, int n) {
  std::mt19937_64 rng(0x5eedULL * 1000 + static_cast<std::uint64_t>(n));
  std::uniform_int_distribution<std::size_t> at(0, bytes.size() - 1);
  std::string out = bytes;
  switch (n % 3) {
    case 0:
      out.resize(at(rng));
      break;
    case 1:
      for (int k = 0; k < 1 + n % 8; ++k) out[at(rng)] ^= static_cast<char>(1 + rng() % 255);
      break;
    default: {
      const std::size_t from = at(rng);
      for (std::size_t i = from; i < std::min(out.size(), from + 64); ++i) out[i] = '\0';
    }
  }
  return out;
}

/// Outcomes by exit code, and the first unacceptable run.
struct Outcomes {
  std::map<int, int> by_code;
  std::string bad;

  /// Exit 2 must come with one pmap error naming `file`; 0, 1 and 75 are whole runs.
  void add(const pmap::test::ProcessResult& r, const std::string& file, const std::string& what) {
    ++by_code[r.exit_code];
    const bool refused = r.exit_code == 2 && r.err.find("pmap: error: ") != std::string::npos &&
                         r.err.find(file) != std::string::npos &&
                         r.err.find("HDF5-DIAG") == std::string::npos;
    const bool whole = r.exit_code == 0 || r.exit_code == 1 || r.exit_code == 75;
    if (!refused && !whole && bad.empty()) bad = what;
  }
  [[nodiscard]] std::string summary() const {
    std::string s;
    for (const auto& [code, n] : by_code) s += " exit " + std::to_string(code) + ": " + std::to_string(n);
    return s;
  }
};

constexpr int kCopies = 120;
const Args kCompute = {"run",   "--kernel", "compute_x", "--range",    "0:300",
                       "--arg", "sleep=0",  "--arg",     "fail_every=7", "--progress", "none"};

Args with(Args a, const Args& more) {
  a.insert(a.end(), more.begin(), more.end());
  return a;
}

TEST(CorruptFile, DamagedComputeFilesAreRefusedNeverCrash) {
  TempDir dir;
  const std::string cwd = dir.path().string();
  const std::string good = dir.file("good.h5");
  ASSERT_EQ(pmap_cmd(with(kCompute, {"--output", good}), cwd).exit_code, 1);
  const std::string bytes = pmap::test::slurp(good);
  Outcomes inspect, resume, merge;
  for (int n = 0; n < kCopies; ++n) {
    const std::string copy = dir.file("copy" + std::to_string(n) + ".h5");
    const std::string out = dir.file("merged" + std::to_string(n) + ".h5");
    std::string what;
    pmap::test::write_bytes(copy, damaged(bytes, n));
    inspect.add(pmap_cmd({"inspect", copy}, cwd, &what), copy, what);
    merge.add(pmap_cmd({"merge", out, copy}, cwd, &what), copy, what);
    resume.add(pmap_cmd(with(kCompute, {"--output", copy, "--resume"}), cwd, &what), copy, what);
  }
  std::cout << "[faults] " << kCopies << " damaged compute files: inspect" << inspect.summary()
            << "; merge" << merge.summary() << "; resume" << resume.summary() << "\n";
  EXPECT_EQ(inspect.bad, "");
  EXPECT_EQ(merge.bad, "");
  EXPECT_EQ(resume.bad, "");
  EXPECT_GT(inspect.by_code[2], kCopies / 3) << "most damage must be noticed";
}

TEST(CorruptFile, DamagedUrlFilesAreRefusedNeverCrash) {
  TempDir dir;
  const std::string cwd = dir.path().string();
  // No network needed: lines that are no URL, and a closed port on loopback.
  std::string list;
  for (int i = 0; i < 40; ++i) {
    list += i % 2 ? "not a url " + std::to_string(i) + "\n"
                  : "http://127.0.0.1:9/page" + std::to_string(i) + "\n";
  }
  pmap::test::write_bytes(dir.file("list.txt"), list);
  const Args urls = {"urls", "--input", "list.txt", "--timeout", "2", "--retries", "0",
                     "--progress", "none"};
  const std::string good = dir.file("good.h5");
  ASSERT_EQ(pmap_cmd(with(urls, {"--output", good}), cwd).exit_code, 0);
  const std::string bytes = pmap::test::slurp(good);
  Outcomes inspect, resume;
  for (int n = 0; n < kCopies; ++n) {
    const std::string copy = dir.file("copy" + std::to_string(n) + ".h5");
    std::string what;
    pmap::test::write_bytes(copy, damaged(bytes, n));
    inspect.add(pmap_cmd({"inspect", copy}, cwd, &what), copy, what);
    resume.add(pmap_cmd(with(urls, {"--output", copy, "--resume"}), cwd, &what), copy, what);
  }
  std::cout << "[faults] " << kCopies << " damaged URL files: inspect" << inspect.summary()
            << "; resume" << resume.summary() << "\n";
  EXPECT_EQ(inspect.bad, "");
  EXPECT_EQ(resume.bad, "");
  EXPECT_GT(inspect.by_code[2], kCopies / 3) << "most damage must be noticed";
}

// ---- schema 1 -------------------------------------------------------------------------------

/// Rewrites string attribute `name` of `obj` as schema 1 stored it: variable-length.
void to_vlen_attr(hid_t obj, const char* name) {
  if (H5Aexists(obj, name) <= 0) return;
  const std::vector<std::string> values = pmap::h5::read_attr_strings(obj, name);
  pmap::h5::Handle attr(H5Aopen(obj, name, H5P_DEFAULT), name);
  pmap::h5::Handle space(H5Aget_space(attr.get()), "space");
  attr.reset();
  const bool scalar = H5Sget_simple_extent_type(space.get()) == H5S_SCALAR;
  H5Adelete(obj, name);
  pmap::h5::Handle type = pmap::h5::vlen_string_type();
  const hsize_t n = values.size();
  pmap::h5::Handle s(scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, nullptr), "space");
  pmap::h5::Handle a(H5Acreate2(obj, name, type.get(), s.get(), H5P_DEFAULT, H5P_DEFAULT), name);
  std::vector<const char*> ptrs;
  for (const auto& v : values) ptrs.push_back(v.c_str());
  pmap::h5::check(H5Awrite(a.get(), type.get(), ptrs.data()), name);
}

/// Turns a schema 2 file into what schema 1 wrote: variable-length string attributes and
/// errors table, schema_version 1.
void make_schema_1(const std::string& path) {
  const auto file = pmap::h5::File::open(path, pmap::h5::Access::ReadWrite);
  for (const char* a : {"pmap_version", "created", "command"}) to_vlen_attr(file.get(), a);
  pmap::h5::write_attr(file.get(), "schema_version", std::int64_t{1});
  const auto g = file.group("compute");
  for (const char* a : {"kernel", "args", "space", "schedule", "items_fnv", "item_kind",
                        "columns", "stop_reason", "checksum", "last_command", "columns_joined"}) {
    to_vlen_attr(g.get(), a);
  }
  // The errors table with variable-length messages.
  std::vector<std::pair<std::int64_t, std::string>> rows;
  {
    const auto d = g.dataset("errors");
    const hsize_t n = d.dims().at(0);
    struct Fixed {
      std::int64_t item;
      char message[512];
    };
    pmap::h5::Handle t(H5Tcreate(H5T_COMPOUND, sizeof(Fixed)), "t");
    H5Tinsert(t.get(), "item", HOFFSET(Fixed, item), H5T_NATIVE_INT64);
    H5Tinsert(t.get(), "message", HOFFSET(Fixed, message), pmap::h5::fixed_string_type(512).get());
    std::vector<Fixed> fixed(n);
    d.read(t.get(), 0, n, 0, static_cast<void*>(fixed.data()));
    for (const auto& f : fixed) rows.emplace_back(f.item, pmap::h5::unpad(f.message, 512));
  }
  H5Ldelete(g.get(), "errors", H5P_DEFAULT);
  struct Vlen {
    std::int64_t item;
    const char* message;
  };
  pmap::h5::Handle str = pmap::h5::vlen_string_type();
  pmap::h5::Handle t(H5Tcreate(H5T_COMPOUND, sizeof(Vlen)), "t");
  H5Tinsert(t.get(), "item", HOFFSET(Vlen, item), H5T_NATIVE_INT64);
  H5Tinsert(t.get(), "message", HOFFSET(Vlen, message), str.get());
  std::vector<Vlen> v;
  for (const auto& [item, message] : rows) v.push_back({item, message.c_str()});
  const hsize_t n = v.size();
  pmap::h5::Handle space(H5Screate_simple(1, &n, nullptr), "space");
  pmap::h5::Handle d(H5Dcreate2(g.get(), "errors", t.get(), space.get(), H5P_DEFAULT,
                                H5P_DEFAULT, H5P_DEFAULT),
                     "errors");
  pmap::h5::check(H5Dwrite(d.get(), t.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()), "write");
}

TEST(CorruptFile, Schema1FilesAreStillRead) {
  TempDir dir;
  const std::string cwd = dir.path().string();
  const std::string old = dir.file("old.h5");
  // Half the items, then the file as schema 1 wrote it.
  const Args first = {"run",   "--kernel", "compute_x",    "--range",   "0:300", "--arg",
                      "sleep=0", "--arg",  "fail_every=7", "--progress", "none",  "--output", old};
  ASSERT_EQ(pmap_cmd(first, cwd).exit_code, 1);
  make_schema_1(old);
  std::string what;
  const auto shown = pmap_cmd({"inspect", old}, cwd, &what);
  EXPECT_EQ(shown.exit_code, 0) << what;
  EXPECT_NE(shown.out.find("schema 1"), std::string::npos) << what;
  EXPECT_NE(shown.out.find("300 items: 257 ok, 43 failed"), std::string::npos) << what;
  EXPECT_NE(shown.out.find("is a multiple of fail_every=7"), std::string::npos) << what;
  const auto merged = pmap_cmd({"merge", "m.h5", old}, cwd, &what);
  EXPECT_EQ(merged.exit_code, 1) << what;
  const auto again = pmap_cmd(with(kCompute, {"--output", old, "--resume", "--retry-failed"}),
                              cwd, &what);
  EXPECT_EQ(again.exit_code, 1) << what;
  const auto after = pmap_cmd({"inspect", old}, cwd, &what);
  EXPECT_NE(after.out.find("300 items: 257 ok, 43 failed"), std::string::npos) << what;
}

}  // namespace
