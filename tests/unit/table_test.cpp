// pmap — unit tests of tables (--input .csv/.tsv/.jsonl): type inference, quoting, rows read in
// any blocks across the index's boundaries, line numbers back to rows, and bounded memory.
#include "pmap/table.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <fstream>
#include <string>
#include <vector>

#include "pmap/error.hpp"
#include "support/temp_dir.hpp"

namespace {

using pmap::test::TempDir;

std::string write(const TempDir& dir, const std::string& name, const std::string& text) {
  const std::string path = dir.file(name);
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

/// Every row of `t` as "v1|v2|...", read in blocks of `block` rows.
std::vector<std::string> rows(const pmap::FieldSource& t, std::uint64_t block) {
  std::vector<std::string> out;
  pmap::FieldBlock b;
  const std::size_t k = t.fields().size();
  for (std::uint64_t at = 0; at < t.size(); at += block) {
    const std::uint64_t n = std::min(block, t.size() - at);
    t.read(at, n, b);
    for (std::uint64_t r = 0; r < n; ++r) {
      const pmap::Fields f(&t.fields(), b.values.data() + r * k);
      std::string row = std::to_string(b.item[r]);
      for (std::size_t j = 0; j < k; ++j) row += "|" + f.text(j);
      out.push_back(row);
    }
  }
  return out;
}

TEST(Table, InfersTypesAndQuoting) {
  TempDir dir;
  const auto path =
      write(dir, "t.csv",
            "\xEF\xBB\xBFid, x ,name\r\n1,0.5,\"a, b\"\r\n\r\n2,2,\"say \"\"hi\"\"\"\n"
            "3,1e3,\"two\nlines\"\n4,-1,plain");
  const auto t = pmap::open_table(path, pmap::TableFormat::Csv, {});
  ASSERT_EQ(t->size(), 4U);
  ASSERT_EQ(t->fields().size(), 3U);
  EXPECT_EQ(t->fields()[0].name, "id");
  EXPECT_EQ(t->fields()[1].name, "x");  // names are trimmed
  EXPECT_EQ(t->fields()[0].type, pmap::FieldType::Int);
  EXPECT_EQ(t->fields()[1].type, pmap::FieldType::Float);
  EXPECT_EQ(t->fields()[2].type, pmap::FieldType::String);
  EXPECT_EQ(t->fields()[2].width, 9U);  // two\nlines and say "hi"
  EXPECT_EQ(rows(*t, 10), (std::vector<std::string>{"2|1|0.5|a, b", "4|2|2|say \"hi\"",
                                                    "5|3|1e3|two\nlines", "7|4|-1|plain"}));
  EXPECT_EQ(t->row_of(5), 2U);  // line numbers back to rows
  EXPECT_FALSE(t->row_of(6).has_value());
  const auto forced = pmap::open_table(path, pmap::TableFormat::Csv, {"id:float", "x:string"});
  EXPECT_EQ(forced->fields()[0].type, pmap::FieldType::Float);
  EXPECT_EQ(forced->fields()[1].type, pmap::FieldType::String);
  EXPECT_NE(forced->fingerprint(), t->fingerprint());
}

TEST(Table, NumbersKeepTheirSpellingAndWideIntegersStayText) {
  TempDir dir;
  const auto t =
      pmap::open_table(write(dir, "ids.csv", "id,v,big\n007,1.50,1\n010,2,99999999999999999999\n"),
                       pmap::TableFormat::Csv, {});
  ASSERT_EQ(t->fields().size(), 3U);
  EXPECT_EQ(t->fields()[0].type, pmap::FieldType::Int);  // typed in the file: 7, 10
  EXPECT_EQ(t->fields()[1].type, pmap::FieldType::Float);
  EXPECT_EQ(t->fields()[2].type, pmap::FieldType::String);  // as float64 it would lose digits
  EXPECT_EQ(rows(*t, 1),
            (std::vector<std::string>{"2|007|1.50|1", "3|010|2|99999999999999999999"}));
  pmap::FieldBlock b;
  t->read(0, 2, b);
  const pmap::Fields f(&t->fields(), b.values.data());
  EXPECT_EQ(f.as_int(0), 7);
  EXPECT_DOUBLE_EQ(f.as_double(1), 1.5);
  const auto forced = pmap::open_table(dir.file("ids.csv"), pmap::TableFormat::Csv, {"big:float"});
  EXPECT_EQ(forced->fields()[2].type, pmap::FieldType::Float);  // asked for: the user's choice
}

TEST(Table, TsvAndJsonLines) {
  TempDir dir;
  const auto tsv =
      pmap::open_table(write(dir, "t.tsv", "a\tb\n1\tx y\n2\tz\n"), pmap::TableFormat::Tsv, {});
  EXPECT_EQ(rows(*tsv, 1), (std::vector<std::string>{"2|1|x y", "3|2|z"}));
  const auto jl = pmap::open_table(
      write(dir, "t.jsonl",
            "{\"n\": 1, \"s\": \"a\", \"f\": 1}\n\n{\"s\": \"bb\", \"n\": 2, \"f\": 2.5}\n"),
      pmap::TableFormat::Jsonl, {});
  EXPECT_EQ(jl->fields()[2].type, pmap::FieldType::Float);  // 1 and 2.5: numbers
  EXPECT_EQ(rows(*jl, 2), (std::vector<std::string>{"1|1|a|1", "3|2|bb|2.5"}));
  EXPECT_EQ(pmap::resolve_table_format("x.CSV", pmap::TableFormat::Auto), pmap::TableFormat::Csv);
  EXPECT_EQ(pmap::resolve_table_format("x.ndjson", pmap::TableFormat::Auto),
            pmap::TableFormat::Jsonl);
  EXPECT_EQ(pmap::resolve_table_format("x.txt", pmap::TableFormat::Auto), pmap::TableFormat::Lines);
  EXPECT_EQ(pmap::resolve_table_format("x.txt", pmap::TableFormat::Csv), pmap::TableFormat::Csv);
  EXPECT_THROW((void)pmap::parse_table_format("xml"), pmap::UsageError);
}

TEST(Table, BlocksAcrossTheIndexGiveTheSameRows) {
  TempDir dir;
  std::string text = "i,q,w\n";
  std::vector<std::string> expected;
  std::uint64_t line = 2;
  for (int i = 0; i < 5000; ++i) {
    const bool quoted = i % 7 == 0;  // some rows span two lines
    const std::string w = quoted ? "\"w,\n" + std::to_string(i) + "\"" : "w" + std::to_string(i);
    text += std::to_string(i) + "," + std::to_string(i) + ".5," + w + "\n";
    if (i % 500 == 0) text += "\n";  // blank lines between rows
    expected.push_back(std::to_string(line) + "|" + std::to_string(i) + "|" + std::to_string(i) +
                       ".5|" + (quoted ? "w,\n" + std::to_string(i) : "w" + std::to_string(i)));
    line += quoted ? 2 : 1;
    if (i % 500 == 0) ++line;
  }
  const auto t = pmap::open_table(write(dir, "big.csv", text), pmap::TableFormat::Csv, {});
  ASSERT_EQ(t->size(), 5000U);
  for (const std::uint64_t block : {1U, 7U, 1023U, 1024U, 1025U, 3000U, 5000U}) {
    EXPECT_EQ(rows(*t, block), expected) << "blocks of " << block;
  }
  for (const std::uint64_t r : {0U, 1023U, 1024U, 2047U, 4999U}) {
    pmap::FieldBlock b;
    t->read(r, 1, b);
    EXPECT_EQ(t->row_of(b.item[0]), r);
  }
}

TEST(Table, ErrorsNameLineAndColumn) {
  TempDir dir;
  const auto error = [&](const std::string& text, pmap::TableFormat f,
                         const std::vector<std::string>& forced = {}) {
    try {
      (void)pmap::open_table(write(dir, "e", text), f, forced);
    } catch (const pmap::UsageError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const auto csv = pmap::TableFormat::Csv;
  EXPECT_NE(error("a,b\n1,2\n3,4,5\n", csv).find(":3:5: ragged row"), std::string::npos);
  EXPECT_NE(error("a,b\n1\n", csv).find(":2:1: ragged row: 1 fields"), std::string::npos);
  EXPECT_NE(error("a,b\n1,x\n", csv, {"b:float"}).find(":2:3: column b: 'x' is not a number"),
            std::string::npos);
  EXPECT_NE(error("a,b\n1,\"x\n", csv).find("not closed"), std::string::npos);
  EXPECT_NE(error("", csv).find("empty"), std::string::npos);
  EXPECT_NE(error("a,,b\n1,2,3\n", csv).find(":1:3: '' is not a valid column name"),
            std::string::npos);
  EXPECT_NE(error("a,b\n1,2\n", csv, {"b:complex"}).find("expected NAME:int"), std::string::npos);
  EXPECT_NE(error("{\"a\": [1]}\n", pmap::TableFormat::Jsonl).find("neither a number nor a string"),
            std::string::npos);
  EXPECT_NE(error("[1]\n", pmap::TableFormat::Jsonl).find(":1:1: each line must be a JSON object"),
            std::string::npos);
}

TEST(Table, MemoryStaysFlatForAMillionRows) {
  TempDir dir;
  const std::string path = dir.file("m.csv");
  {
    std::ofstream out(path);
    out << "x,y,tag\n";
    for (int i = 0; i < 1000000; ++i) out << i << ',' << i * 0.25 << ",t" << i % 13 << '\n';
  }
  rusage before{};
  getrusage(RUSAGE_SELF, &before);
  const auto t = pmap::open_table(path, pmap::TableFormat::Csv, {});
  pmap::FieldBlock b;
  t->read(999000, 1000, b);
  rusage after{};
  getrusage(RUSAGE_SELF, &after);
  EXPECT_EQ(t->size(), 1000000U);
  EXPECT_EQ(b.item.back(), 1000001);
  // The file is ~20 MB; the index and one block are well under 8 MB (KiB here).
  EXPECT_LT(after.ru_maxrss - before.ru_maxrss, 8 * 1024);
}

}  // namespace
