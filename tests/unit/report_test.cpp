// pmap — unit tests of the end-of-run report: the parsable line, attributes, the row checksum.
#include "pmap/report.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <variant>
#include <vector>

namespace {

using pmap::RunReport;

RunReport sample_report() {
  RunReport r;
  r.stage = "compute";
  r.kernel = "pi";
  r.schedule = "dynamic";
  r.chunk = 0;
  r.ranks = 4;
  r.threads = 2;
  r.workers = 8;
  r.items = 1000;
  r.ok = 990;
  r.failed = 7;
  r.timed_out = 2;
  r.not_run = 1;
  r.wall_seconds = 4.0;
  r.busy_seconds = 30.5;
  r.parallel_efficiency = 0.953125;
  r.load_imbalance = 1.0625;
  r.write_seconds = 0.125;
  r.checksum = 0x0123456789abcdefULL;
  r.remote_claims = 42;
  r.coordinator_seconds = 0.0125;
  r.max_rss_mib = 123.5;
  r.interrupted = 15;
  return r;
}

/// Splits `pmap-report k=v k=v ...` into its key/value pairs; fails the test on a malformed token.
std::map<std::string, std::string> parse_line(const std::string& line) {
  std::map<std::string, std::string> kv;
  std::vector<std::string> tokens;
  std::size_t from = 0;
  while (from <= line.size()) {
    const auto sp = line.find(' ', from);
    tokens.push_back(line.substr(from, sp == std::string::npos ? std::string::npos : sp - from));
    if (sp == std::string::npos) break;
    from = sp + 1;
  }
  EXPECT_FALSE(tokens.empty());
  if (tokens.empty()) return kv;
  EXPECT_EQ(tokens.front(), "pmap-report");
  for (std::size_t i = 1; i < tokens.size(); ++i) {
    const auto& t = tokens[i];
    EXPECT_EQ(std::count(t.begin(), t.end(), '='), 1) << "token '" << t << "' in: " << line;
    const auto eq = t.find('=');
    if (eq == std::string::npos || eq == 0) continue;
    EXPECT_EQ(kv.count(t.substr(0, eq)), 0U) << "duplicate key " << t;
    kv[t.substr(0, eq)] = t.substr(eq + 1);
  }
  return kv;
}

const pmap::AttrValue* find_attr(const pmap::Attrs& attrs, const std::string& name) {
  for (const auto& [k, v] : attrs) {
    if (k == name) return &v;
  }
  return nullptr;
}

// --- line() -------------------------------------------------------------------------------------

TEST(RunReport, LineIsOneParsableLine) {
  const RunReport r = sample_report();
  const std::string line = r.line();
  EXPECT_EQ(line.rfind("pmap-report ", 0), 0U) << line;
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_EQ(line.find("  "), std::string::npos) << "empty token in: " << line;
  const auto kv = parse_line(line);
  const std::map<std::string, std::string> expected = {
      {"stage", "compute"},
      {"kernel", "pi"},
      {"schedule", "dynamic"},
      {"chunk", "auto"},
      {"ranks", "4"},
      {"threads", "2"},
      {"workers", "8"},
      {"items", "1000"},
      {"ok", "990"},
      {"failed", "7"},
      {"timed_out", "2"},
      {"not_run", "1"},
      {"wall_seconds", "4.000000"},
      {"items_per_second", "250.000"},
      {"busy_seconds", "30.500000"},
      {"parallel_efficiency", "0.9531"},
      {"load_imbalance", "1.0625"},
      {"write_seconds", "0.125000"},
      {"remote_claims", "42"},
      {"coordinator_seconds", "0.012500"},
      {"checksum", "0123456789abcdef"},
      {"max_rss_mib", "123.5"},
      {"interrupted", "15"},
  };
  // Every field with its exact text (the line may carry more figures in future versions).
  for (const auto& [key, value] : expected) {
    ASSERT_EQ(kv.count(key), 1U) << key << " missing from: " << line;
    EXPECT_EQ(kv.at(key), value) << key;
  }
}

TEST(RunReport, LineHasAKeyForEveryField) {
  const auto kv = parse_line(sample_report().line());
  for (const char* key : {"stage",
                          "kernel",
                          "schedule",
                          "chunk",
                          "ranks",
                          "threads",
                          "workers",
                          "items",
                          "ok",
                          "failed",
                          "timed_out",
                          "not_run",
                          "wall_seconds",
                          "busy_seconds",
                          "parallel_efficiency",
                          "load_imbalance",
                          "write_seconds",
                          "checksum",
                          "remote_claims",
                          "coordinator_seconds",
                          "items_per_second",
                          "max_rss_mib",
                          "interrupted"}) {
    EXPECT_EQ(kv.count(key), 1U) << key;
  }
}

TEST(RunReport, ExplicitChunkAndNumbersRoundTrip) {
  RunReport r = sample_report();
  r.chunk = 64;
  r.wall_seconds = 1.5;
  r.checksum = 0xffffffffffffffffULL;
  const auto kv = parse_line(r.line());
  EXPECT_EQ(kv.at("chunk"), "64");
  EXPECT_EQ(std::stod(kv.at("wall_seconds")), 1.5);
  EXPECT_EQ(std::stoull(kv.at("checksum"), nullptr, 16), 0xffffffffffffffffULL);
  EXPECT_EQ(std::stoull(kv.at("items")), 1000U);
}

TEST(RunReport, DefaultReportIsParsable) {
  const auto kv = parse_line(RunReport{}.line());
  EXPECT_EQ(kv.at("stage"), "compute");
  EXPECT_EQ(kv.at("items_per_second"), "0.000");
  EXPECT_EQ(kv.at("checksum"), "0000000000000000");
}

// BUG (src/report.cpp:42): values are written verbatim, so a kernel name (Kernel::name() of a user
// plugin) or stage with a space or '=' breaks the "one parsable line, no spaces inside values"
// promise of report.hpp. Expected: such characters are replaced (e.g. by '_') or the value quoted.
TEST(RunReport, ValuesWithSpacesStayOneToken) {
  RunReport r = sample_report();
  r.kernel = "my kernel=v2";
  const auto kv = parse_line(r.line());  // fails on a token without exactly one '='
  const auto reference = parse_line(sample_report().line());
  EXPECT_EQ(kv.size(), reference.size());  // no extra keys split off the kernel name
  ASSERT_EQ(kv.count("kernel"), 1U);
  EXPECT_EQ(kv.at("kernel").rfind("my", 0), 0U) << kv.at("kernel");
}

// --- items_per_second, summary ------------------------------------------------------------------

TEST(RunReport, ItemsPerSecond) {
  RunReport r;
  r.items = 1000;
  r.wall_seconds = 4.0;
  EXPECT_DOUBLE_EQ(r.items_per_second(), 250.0);
  r.wall_seconds = 0.0;
  EXPECT_EQ(r.items_per_second(), 0.0);
  r.wall_seconds = -1.0;
  EXPECT_EQ(r.items_per_second(), 0.0);
  r.items = 0;
  r.wall_seconds = 3.0;
  EXPECT_EQ(r.items_per_second(), 0.0);
}

TEST(RunReport, Summary) {
  const std::string s = sample_report().summary();
  for (const char* part :
       {"compute: 1000 items", "990 ok", "7 failed", "2 timed out", "1 not run", "4.000 s",
        "250.0 items/s", "4 ranks", "2 threads", "parallel efficiency 95.3%", "load imbalance 1.06",
        "write 0.125 s", "schedule dynamic (chunk auto)"}) {
    EXPECT_NE(s.find(part), std::string::npos) << "'" << part << "' not in:\n" << s;
  }
  RunReport one = sample_report();
  one.ranks = 1;
  one.threads = 1;
  one.not_run = 0;
  const std::string t = one.summary();
  EXPECT_NE(t.find("1 rank x 1 thread"), std::string::npos) << t;
  EXPECT_EQ(t.find("not run"), std::string::npos) << t;
}

// --- attrs() ------------------------------------------------------------------------------------

TEST(RunReport, AttrsCarryTheFigures) {
  const RunReport r = sample_report();
  const pmap::Attrs attrs = pmap::report_attrs(r);
  const auto get_double = [&](const char* name) {
    const auto* v = find_attr(attrs, name);
    EXPECT_NE(v, nullptr) << name;
    EXPECT_TRUE(v != nullptr && std::holds_alternative<double>(*v)) << name;
    return v != nullptr && std::holds_alternative<double>(*v) ? std::get<double>(*v) : NAN;
  };
  const auto get_int = [&](const char* name) {
    const auto* v = find_attr(attrs, name);
    EXPECT_NE(v, nullptr) << name;
    EXPECT_TRUE(v != nullptr && std::holds_alternative<std::int64_t>(*v)) << name;
    return v != nullptr && std::holds_alternative<std::int64_t>(*v) ? std::get<std::int64_t>(*v)
                                                                    : -1;
  };
  EXPECT_EQ(get_double("wall_seconds"), 4.0);
  EXPECT_EQ(get_double("items_per_second"), 250.0);
  EXPECT_EQ(get_double("busy_seconds"), 30.5);
  EXPECT_EQ(get_double("parallel_efficiency"), 0.953125);
  EXPECT_EQ(get_double("load_imbalance"), 1.0625);
  EXPECT_EQ(get_double("write_seconds"), 0.125);
  EXPECT_EQ(get_int("ok"), 990);
  EXPECT_EQ(get_int("failed"), 7);
  EXPECT_EQ(get_int("timed_out"), 2);
  EXPECT_EQ(get_int("not_run"), 1);
  EXPECT_EQ(get_int("workers"), 8);
  EXPECT_EQ(get_int("remote_claims"), 42);
  EXPECT_EQ(get_double("coordinator_seconds"), 0.0125);
  EXPECT_EQ(get_double("max_rss_mib"), 123.5);
  EXPECT_EQ(get_int("interrupted"), 15);
  const auto* checksum = find_attr(attrs, "checksum");
  ASSERT_NE(checksum, nullptr);
  ASSERT_TRUE(std::holds_alternative<std::string>(*checksum));
  EXPECT_EQ(std::get<std::string>(*checksum), "0123456789abcdef");
  const auto* report = find_attr(attrs, "report");
  ASSERT_NE(report, nullptr);
  ASSERT_TRUE(std::holds_alternative<std::string>(*report));
  EXPECT_EQ(std::get<std::string>(*report), r.line());
}

TEST(RunReport, AttrNamesAreUnique) {
  std::set<std::string> names;
  for (const auto& [k, v] : pmap::report_attrs(sample_report())) {
    EXPECT_TRUE(names.insert(k).second) << "duplicate attribute " << k;
  }
}

TEST(RunReport, AttrsAgreeWithTheLine) {
  // The same figures as the line: every attribute except "report" has the line's value.
  const RunReport r = sample_report();
  const auto kv = parse_line(r.line());
  for (const auto& [name, value] : pmap::report_attrs(r)) {
    if (name == "report") continue;
    ASSERT_EQ(kv.count(name), 1U) << name << " is an attribute but not in the line";
    const std::string& text = kv.at(name);
    if (std::holds_alternative<double>(value)) {
      EXPECT_NEAR(std::stod(text), std::get<double>(value), 1e-4) << name;
    } else if (std::holds_alternative<std::int64_t>(value)) {
      EXPECT_EQ(std::stoll(text), std::get<std::int64_t>(value)) << name;
    } else {
      EXPECT_EQ(text, std::get<std::string>(value)) << name;
    }
  }
}

// --- row_checksum -------------------------------------------------------------------------------

struct Row {
  std::uint64_t row;
  std::vector<double> values;
};

std::vector<Row> sample_rows(std::size_t n, std::size_t columns) {
  std::vector<Row> rows;
  std::mt19937_64 rng(7);
  std::normal_distribution<double> dist(0.0, 100.0);
  for (std::size_t i = 0; i < n; ++i) {
    Row r{i, std::vector<double>(columns)};
    for (auto& v : r.values) v = dist(rng);
    rows.push_back(std::move(r));
  }
  return rows;
}

std::uint64_t checksum(const std::vector<Row>& rows) {
  std::uint64_t sum = 0;
  for (const auto& r : rows) sum += pmap::row_checksum(r.row, r.values.data(), r.values.size());
  return sum;
}

TEST(RowChecksum, SumIsOrderIndependent) {
  auto rows = sample_rows(1000, 3);
  const std::uint64_t reference = checksum(rows);
  std::mt19937 rng(1);
  for (int trial = 0; trial < 5; ++trial) {
    std::shuffle(rows.begin(), rows.end(), rng);
    EXPECT_EQ(checksum(rows), reference);
  }
  // Split in any way across "ranks" and summed modulo 2^64: the same total.
  std::uint64_t parts[4] = {0, 0, 0, 0};
  for (std::size_t i = 0; i < rows.size(); ++i) {
    parts[i % 4] += pmap::row_checksum(rows[i].row, rows[i].values.data(), 3);
  }
  EXPECT_EQ(parts[0] + parts[1] + parts[2] + parts[3], reference);
}

TEST(RowChecksum, Deterministic) {
  const double v[] = {1.5, -2.25, 1e300};
  EXPECT_EQ(pmap::row_checksum(9, v, 3), pmap::row_checksum(9, v, 3));
}

TEST(RowChecksum, ChangesWhenAValueMovesByOneUlp) {
  auto rows = sample_rows(100, 3);
  const std::uint64_t reference = checksum(rows);
  for (std::size_t col = 0; col < 3; ++col) {
    for (double direction : {INFINITY, -INFINITY}) {
      auto changed = rows;
      double& v = changed[42].values[col];
      v = std::nextafter(v, direction);
      EXPECT_NE(pmap::row_checksum(42, changed[42].values.data(), 3),
                pmap::row_checksum(42, rows[42].values.data(), 3));
      EXPECT_NE(checksum(changed), reference) << "column " << col;
    }
  }
  const double zero[] = {0.0};
  const double negative_zero[] = {-0.0};
  const double tiny[] = {std::nextafter(0.0, 1.0)};
  EXPECT_NE(pmap::row_checksum(0, zero, 1), pmap::row_checksum(0, negative_zero, 1));
  EXPECT_NE(pmap::row_checksum(0, zero, 1), pmap::row_checksum(0, tiny, 1));
}

TEST(RowChecksum, BindsValuesToTheirRowAndColumn) {
  const double a[] = {1.0, 2.0};
  const double b[] = {2.0, 1.0};
  EXPECT_NE(pmap::row_checksum(3, a, 2), pmap::row_checksum(4, a, 2));  // another row
  EXPECT_NE(pmap::row_checksum(3, a, 2), pmap::row_checksum(3, b, 2));  // columns swapped
  // Two rows exchanging their values change the total.
  const double one[] = {1.0};
  const double two[] = {2.0};
  EXPECT_NE(pmap::row_checksum(0, one, 1) + pmap::row_checksum(1, two, 1),
            pmap::row_checksum(0, two, 1) + pmap::row_checksum(1, one, 1));
  // A missing column changes it too.
  EXPECT_NE(pmap::row_checksum(3, a, 2), pmap::row_checksum(3, a, 1));
}

TEST(RowChecksum, DistinctAcrossManyRows) {
  std::set<std::uint64_t> seen;
  const double v[] = {1.0};
  for (std::uint64_t row = 0; row < 100000; ++row) seen.insert(pmap::row_checksum(row, v, 1));
  EXPECT_EQ(seen.size(), 100000U);
}

}  // namespace
