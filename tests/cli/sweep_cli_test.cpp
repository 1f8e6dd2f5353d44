// The pmap binary over parameter sweeps end to end: --grid and tables as items with named fields,
// the fields reaching kernels (arguments, exec placeholders), /compute/params, --print, export,
// the errors that write nothing, and results identical for any ranks x threads x schedule.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "pmap/h5.hpp"
#include "support/h5_read.hpp"
#include "support/pmap_cli.hpp"
#include "support/temp_dir.hpp"

namespace {

using pmap::test::Args;
using pmap::test::mpi_cmd;
using pmap::test::pmap_cmd;
using pmap::test::read_doubles;
using pmap::test::read_int64s;
using pmap::test::read_string_attr;
using pmap::test::slurp;
using pmap::test::TempDir;

/// Runs pmap in `dir`; expects exit code `code`; returns stdout.
std::string run_ok(const Args& args, const TempDir& dir, int code = 0) {
  std::string what;
  const auto r = pmap_cmd(args, dir.path().string(), &what);
  EXPECT_EQ(r.exit_code, code) << what;
  return r.out;
}

/// stderr of a run that must exit 2.
std::string usage_error(const Args& args, const TempDir& dir) {
  std::string what;
  const auto r = pmap_cmd(args, dir.path().string(), &what);
  EXPECT_EQ(r.exit_code, 2) << what;
  return r.err;
}

/// Each (arguments, message) exits 2 with that message, even with --force, and leaves the
/// existing pmap.h5 (`before`) as it was.
void expect_refused(const std::vector<std::pair<Args, std::string>>& cases, const TempDir& dir,
                    const std::string& before) {
  for (const auto& [extra, message] : cases) {
    Args args = extra;
    args.insert(args.end(), {"--force", "--progress", "none"});
    const auto err = usage_error(args, dir);
    EXPECT_NE(err.find(message), std::string::npos) << err;
    EXPECT_EQ(slurp(dir.file("pmap.h5")), before) << "the existing file changed: " << err;
  }
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

TEST(SweepCli, ComputeXOverAGridGivesEachItemItsY) {
  TempDir dir;
  const auto out = run_ok({"--grid", "x=1:11", "--grid", "y=1,2,3", "--arg", "sleep=0", "--print",
                           "--progress", "none"},
                          dir);
  // The tutorial's (x, y), in item order, y from the item: partial in reverse.
  const auto first = out.find("x=1 y=1 -> (1, 1)\nx=1 y=2 -> (1, 2)\nx=1 y=3 -> (1, 3)\n");
  EXPECT_NE(first, std::string::npos) << out;
  EXPECT_NE(out.find("x=10 y=3 -> (10, 3)\n"), std::string::npos) << out;
  const std::string h5 = dir.file("pmap.h5");
  EXPECT_EQ(read_int64s(h5, "/compute/params/x").size(), 30U);
  EXPECT_EQ(read_int64s(h5, "/compute/params/x")[29], 10);
  EXPECT_EQ(read_int64s(h5, "/compute/params/y")[29], 3);
  const auto v = read_doubles(h5, "/compute/value");
  EXPECT_EQ(v[2 * 4 + 1], 2.0);  // row 4: x=2, y=2
  EXPECT_EQ(read_string_attr(h5, "/compute/params", "grid"), "x=1:11 y=1,2,3");
  EXPECT_EQ(read_string_attr(h5, "/compute", "item_kind"), "grid");
  // y comes from the items, not from compute_x's default: the file says so.
  const std::string args = read_string_attr(h5, "/compute", "args");
  EXPECT_NE(args.find(R"("y":"<field y>")"), std::string::npos) << args;
}

TEST(SweepCli, TheDefaultJobPrintsItsResultsLikeTheTutorial) {
  TempDir dir;
  const auto out = run_ok({"--arg", "sleep=0", "--progress", "none"}, dir);
  EXPECT_NE(out.find("1 -> (1, 2)\n2 -> (2, 2)\n"), std::string::npos) << out;
  EXPECT_NE(out.find("10 -> (10, 2)\n"), std::string::npos) << out;
  // A shard prints its own items and counts the others.
  const auto shard = run_ok({"--grid", "x=1:5", "--arg", "sleep=0", "--shard", "1/2", "--print",
                             "--progress", "none", "--force"},
                            dir);
  EXPECT_NE(shard.find("x=3 -> (3, 2)\nx=4 -> (4, 2)\n(2 items not run)\n"), std::string::npos)
      << shard;
}

TEST(SweepCli, FloatAxesAreStoredAsFloat64) {
  TempDir dir;
  run_ok({"--grid", "x=0:1:0.1", "--grid", "y=logspace(0,2,3)", "--arg", "sleep=0", "--progress",
          "none"},
         dir);
  const auto x = read_doubles(dir.file("pmap.h5"), "/compute/params/x");
  ASSERT_EQ(x.size(), 30U);
  EXPECT_EQ(x[3 * 3], 0.3);  // exactly the decimal 0.3
  EXPECT_EQ(read_doubles(dir.file("pmap.h5"), "/compute/params/y")[2], 100.0);
}

TEST(SweepCli, ExecPlaceholdersTakeFields) {
  TempDir dir;
  const auto out = run_ok(
      {"-k", "exec", "--arg", "cmd=sh -c 'echo $(($0 * $1))' {a} {b}", "--arg", "columns=product",
       "--grid", "a=1:4", "--grid", "b=10,100", "--print", "--progress", "none"},
      dir);
  EXPECT_NE(out.find("a=3 b=100 -> (300)"), std::string::npos) << out;
  const auto v = read_doubles(dir.file("pmap.h5"), "/compute/value");
  EXPECT_EQ(v, (std::vector<double>{10, 100, 20, 200, 30, 300}));
}

TEST(SweepCli, BadSweepsExitTwoAndWriteNothing) {
  TempDir dir;
  run_ok({"--grid", "x=1:3", "--arg", "sleep=0", "--progress", "none"}, dir);
  const std::string before = slurp(dir.file("pmap.h5"));
  ASSERT_FALSE(before.empty());
  const std::vector<std::pair<Args, std::string>> cases = {
      {{"--grid", "x=1:a"}, "--grid x=1:a: column 5: 'a' is not a number"},
      {{"--grid", "x=4:1"}, "no values"},
      {{"--grid", "x=1,2", "--grid", "x=3"}, "given twice"},
      {{"--grid", "x-1=1"}, "is not a valid name"},
      {{"--grid", "x=1", "--grid", "y=a,b"},
       "the field is string but kernel compute_x takes argument y as double"},
      {{"--grid", "x=1", "--grid", "y=1", "--arg", "y=2"}, "y is also a field"},
      {{"-k", "pi", "--grid", "samples=0.5,1"},
       "the field is float64 but kernel pi takes argument samples as int"},
      {{"-k", "exec", "--arg", "cmd=echo {z}", "--grid", "x=1"}, "{z} names no field"},
  };
  expect_refused(cases, dir, before);
}

TEST(SweepCli, ResumeAndExportKnowTheGrid) {
  TempDir dir;
  run_ok({"--grid", "x=1:4", "--arg", "sleep=0", "--progress", "none"}, dir);
  // Same number of items, other values: refused.
  const auto err = usage_error({"--grid", "x=2:5", "--arg", "sleep=0", "--resume"}, dir);
  EXPECT_NE(err.find("items_fnv differs"), std::string::npos) << err;
  run_ok({"--grid", "x=1:4", "--arg", "sleep=0", "--resume", "--progress", "none"}, dir);
  EXPECT_EQ(run_ok({"export", "pmap.h5", "--csv"}, dir),
            "item,x,value.x,y,status,error\n0,1,1,2,ok,\n1,2,2,2,ok,\n2,3,3,2,ok,\n");
  const auto jsonl = run_ok({"export", "pmap.h5", "--jsonl"}, dir);
  EXPECT_NE(jsonl.find(R"({"item":0,"x":1,"value.x":1.0,"y":2.0,"status":"ok"})"),
            std::string::npos)
      << jsonl;
  const auto inspect = run_ok({"inspect", "pmap.h5"}, dir);
  EXPECT_NE(inspect.find("fields: 1, from grid x=1:4"), std::string::npos) << inspect;
  EXPECT_NE(inspect.find("x                int64    1 .. 3"), std::string::npos) << inspect;
  run_ok({"export", "pmap.h5", "-o", "t.csv"}, dir);
  EXPECT_EQ(slurp(dir.file("t.csv")).substr(0, 10), "item,x,val");
  // An existing table is not replaced without --force, and is left as it was.
  write_file(dir.file("t.csv"), "mine\n");
  const auto exists = usage_error({"export", "pmap.h5", "-o", "t.csv"}, dir);
  EXPECT_NE(exists.find("t.csv: file exists; pass --force"), std::string::npos) << exists;
  EXPECT_EQ(slurp(dir.file("t.csv")), "mine\n");
  run_ok({"export", "pmap.h5", "-o", "t.csv", "--force"}, dir);
  EXPECT_EQ(slurp(dir.file("t.csv")).substr(0, 10), "item,x,val");
  struct stat st {};
  ASSERT_EQ(::stat(dir.file("t.csv").c_str(), &st), 0);
  const mode_t mask = ::umask(0);
  ::umask(mask);
  EXPECT_EQ(st.st_mode & 0777, 0666 & ~mask) << "an exported table has a new file's mode";
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    EXPECT_FALSE(e.path().filename().string().starts_with("t.csv."))
        << "temporary file left behind: " << e.path();
  }
}

TEST(SweepCli, ExecOverATwoColumnCsv) {
  TempDir dir;
  write_file(dir.file("cases.csv"), "alpha,beta\n1,10\n2,20.5\n3,30\n");
  const auto out = run_ok({"-k", "exec", "--arg", "cmd=sh -c 'echo $0 $1' {alpha} {beta}", "--arg",
                           "columns=a,b", "--input", "cases.csv", "--print", "--progress", "none"},
                          dir);
  EXPECT_NE(out.find("alpha=1 beta=10 -> (1, 10)\nalpha=2 beta=20.5 -> (2, 20.5)\n"),
            std::string::npos)
      << out;
  const std::string h5 = dir.file("pmap.h5");
  EXPECT_EQ(read_int64s(h5, "/compute/params/alpha"), (std::vector<std::int64_t>{1, 2, 3}));
  EXPECT_EQ(read_doubles(h5, "/compute/params/beta"), (std::vector<double>{10, 20.5, 30}));
  EXPECT_EQ(read_int64s(h5, "/compute/item"), (std::vector<std::int64_t>{2, 3, 4}));  // lines
  EXPECT_EQ(read_string_attr(h5, "/compute/params", "table"), "cases.csv");
  EXPECT_EQ(read_string_attr(h5, "/compute/params", "kind"), "table");
}

TEST(SweepCli, ExecSeesTableCellsAsWritten) {
  TempDir dir;
  write_file(dir.file("ids.csv"), "id,v\n007,1.50\n");
  // exec's {id} is the cell as written (a case id keeps its zeros); the file holds the int.
  run_ok({"-k", "exec", "--arg", "cmd=sh -c 'echo ${#0}' {id}/{v}", "--arg", "columns=len",
          "--input", "ids.csv", "--progress", "none"},
         dir);
  const std::string h5 = dir.file("pmap.h5");
  EXPECT_EQ(read_doubles(h5, "/compute/value"), (std::vector<double>{8}));  // "007/1.50"
  EXPECT_EQ(read_int64s(h5, "/compute/params/id"), (std::vector<std::int64_t>{7}));
}

TEST(SweepCli, TablesInferForceAndQuote) {
  TempDir dir;
  write_file(dir.file("t.tsv"), "n\tname\n7\tlong name\n8\tx\n");
  write_file(dir.file("t.jsonl"), "{\"n\": 1, \"f\": 2}\n\n{\"n\": 3, \"f\": 4.5}\n");
  write_file(dir.file("q.csv"), "id,text\n1,\"a, \"\"quoted\"\"\nline\"\n");
  const Args echo = {"-k", "exec", "--arg", "cmd=true", "--progress", "none", "--force", "--print"};
  Args tsv = echo;
  tsv.insert(tsv.end(), {"--input", "t.tsv", "--field", "n:float"});
  EXPECT_NE(run_ok(tsv, dir).find("n=7 name=long name -> (0)"), std::string::npos);
  EXPECT_EQ(read_doubles(dir.file("pmap.h5"), "/compute/params/n"), (std::vector<double>{7, 8}));
  Args jsonl = echo;
  jsonl.insert(jsonl.end(), {"--input", "t.jsonl"});
  EXPECT_NE(run_ok(jsonl, dir).find("n=3 f=4.5 -> (0)"), std::string::npos);
  EXPECT_EQ(read_int64s(dir.file("pmap.h5"), "/compute/item"), (std::vector<std::int64_t>{1, 3}));
  Args quoted = echo;
  quoted.insert(quoted.end(), {"--input", "q.csv"});
  run_ok(quoted, dir);
  EXPECT_NE(run_ok({"export", "pmap.h5"}, dir).find("\"a, \"\"quoted\"\"\nline\""),
            std::string::npos);
  // A plain text file is still one item a line, whatever its commas.
  write_file(dir.file("items.txt"), "a,b\nc\n");
  Args lines = echo;
  lines.insert(lines.end(), {"--input", "items.txt"});
  EXPECT_NE(run_ok(lines, dir).find("1 -> (0)\n2 -> (0)\n"), std::string::npos);
}

TEST(SweepCli, BadTablesExitTwoWithLineAndColumn) {
  TempDir dir;
  run_ok({"--grid", "x=1:3", "--arg", "sleep=0", "--progress", "none"}, dir);
  const std::string before = slurp(dir.file("pmap.h5"));
  write_file(dir.file("ragged.csv"), "x,y\n1,2\n3,4,5\n");
  write_file(dir.file("type.csv"), "x,y\n1,2\n3,oops\n");
  write_file(dir.file("dup.csv"), "x,y,x\n1,2,3\n");
  write_file(dir.file("name.csv"), "x,my col\n1,2\n");
  write_file(dir.file("empty.csv"), "x,y\n");
  write_file(dir.file("mixed.jsonl"), "{\"x\": 1}\n{\"x\": \"one\"}\n");
  write_file(dir.file("keys.jsonl"), "{\"x\": 1}\n{\"x\": 2, \"z\": 3}\n");
  write_file(dir.file("json.jsonl"), "{\"x\": 1}\n{\"x\": }\n");
  const std::vector<std::pair<Args, std::string>> cases = {
      {{"--input", "ragged.csv"}, "--input ragged.csv:3:5: ragged row: 3 fields, the header has 2"},
      {{"--input", "type.csv", "--field", "y:int"},
       "type.csv:3:3: column y: 'oops' is not an integer"},
      {{"--input", "type.csv"},
       "the field is string but kernel compute_x takes argument y as double"},
      {{"--input", "dup.csv"}, "dup.csv:1:5: the column name x appears twice"},
      {{"--input", "name.csv"}, "name.csv:1:3: 'my col' is not a valid column name"},
      {{"--input", "empty.csv"}, "has a header but no rows"},
      {{"--input", "mixed.jsonl"},
       "mixed.jsonl:2:2: column x: \"one\" is not of the column's type"},
      {{"--input", "keys.jsonl"}, "keys.jsonl:2:10: ragged row: field z is not in the first row"},
      {{"--input", "json.jsonl"}, "json.jsonl:2:"},
      {{"--input", "type.csv", "--field", "zz:int"},
       "--field zz:int: the table type.csv has no column zz"},
      {{"--input", "type.csv", "--format", "xml"},
       "--format xml: expected csv, tsv, jsonl or lines"},
      {{"--input", "dir.csv"}, "--input dir.csv: is a directory"},
      // A FIFO without a writer: refused at once, not a hang (a table is read twice).
      {{"--input", "fifo.csv"}, "--input fifo.csv: is not a regular file"},
  };
  std::filesystem::create_directory(dir.file("dir.csv"));
  ASSERT_EQ(::mkfifo(dir.file("fifo.csv").c_str(), 0600), 0);
  expect_refused(cases, dir, before);
}

TEST(SweepCli, ShardsOfAGridMergeWithTheirParams) {
  TempDir dir;
  const Args sweep = {"--grid", "x=1:4", "--grid",   "w=a,bb",     "-k",
                      "exec",   "--arg", "cmd=true", "--progress", "none"};
  for (const char* shard : {"0/2", "1/2"}) {
    Args args = sweep;
    args.insert(args.end(), {"--shard", shard, "-o", std::string("s") + shard[0] + ".h5"});
    run_ok(args, dir);
  }
  Args other = sweep;
  other[1] = "x=2:5";
  other.insert(other.end(), {"--shard", "1/2", "-o", "o1.h5"});
  run_ok(other, dir);
  std::string what;
  EXPECT_EQ(pmap_cmd({"merge", "bad.h5", "s0.h5", "o1.h5"}, dir.path().string(), &what).exit_code,
            2)
      << what;
  run_ok({"merge", "all.h5", "s0.h5", "s1.h5"}, dir);
  const auto csv = run_ok({"export", "all.h5"}, dir);
  EXPECT_EQ(csv,
            "item,x,w,exit_code,status,error\n0,1,a,0,ok,\n1,1,bb,0,ok,\n2,2,a,0,ok,\n"
            "3,2,bb,0,ok,\n4,3,a,0,ok,\n5,3,bb,0,ok,\n");
}

TEST(SweepCli, ResumeRefusesAnotherTable) {
  TempDir dir;
  write_file(dir.file("a.csv"), "x\n1\n2\n");
  run_ok({"--input", "a.csv", "--arg", "sleep=0", "--progress", "none"}, dir);
  write_file(dir.file("a.csv"), "x\n1\n3\n");
  const auto err = usage_error({"--input", "a.csv", "--arg", "sleep=0", "--resume"}, dir);
  EXPECT_NE(err.find("items_fnv differs"), std::string::npos) << err;
}

/// The file's table without rank and thread: what must not depend on the decomposition.
std::string table_of(const std::string& dir) {
  std::string what;
  const auto r = pmap_cmd({"export", "out.h5", "--csv"}, dir, &what);
  EXPECT_EQ(r.exit_code, 0) << what;
  return r.out;
}

TEST(SweepCli, ResultsAreTheSameForAnyRanksThreadsSchedule) {
  TempDir dir;
  const Args sweep = {
      "-k",         "pi",   "--grid", "seed=1:5", "--grid", "samples=100,1000,10000",
      "--progress", "none", "-o",     "out.h5",   "--force"};
  std::string reference;
  struct Run {
    int ranks;
    const char* threads;
    const char* schedule;
  };
  for (const Run& r : {Run{0, "1", "static"}, Run{2, "2", "dynamic"}, Run{4, "1", "cyclic"},
                       Run{2, "1", "guided"}}) {
    Args args = sweep;
    args.insert(args.end(), {"--threads", r.threads, "--schedule", r.schedule, "--chunk", "2"});
    std::string what;
    const auto p = r.ranks == 0 ? pmap_cmd(args, dir.path().string(), &what)
                                : mpi_cmd(r.ranks, args, dir.path().string(), &what);
    ASSERT_EQ(p.exit_code, 0) << what;
    const auto table = table_of(dir.path().string());
    if (reference.empty()) reference = table;
    EXPECT_EQ(table, reference) << r.ranks << " ranks, " << r.schedule;
  }
  EXPECT_NE(reference.find("item,seed,samples,"), std::string::npos) << reference;
}

}  // namespace
