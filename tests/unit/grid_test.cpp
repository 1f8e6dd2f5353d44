// pmap — unit tests of grids (--grid NAME=SPEC): axis kinds, the product's order, exact decimal
// points, random access without materialising, and the errors with their column.
#include "pmap/grid.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <string>
#include <vector>

#include "pmap/error.hpp"
#include "pmap/item_space.hpp"

namespace {

/// Field j of every row, as text.
std::vector<std::string> column(const pmap::FieldSource& g, std::size_t j) {
  pmap::FieldBlock b;
  g.read(0, g.size(), b);
  std::vector<std::string> out;
  const std::size_t k = g.fields().size();
  for (std::uint64_t r = 0; r < g.size(); ++r) {
    out.push_back(pmap::Fields(&g.fields(), b.values.data() + r * k).text(j));
  }
  return out;
}

std::string error_of(const std::vector<std::string>& specs) {
  try {
    (void)pmap::make_grid(specs);
  } catch (const pmap::UsageError& e) {
    return e.what();
  }
  return "no error";
}

TEST(Grid, ProductHasTheLastAxisFastest) {
  const auto g = pmap::make_grid({"x=1:4", "y=a,b"});
  ASSERT_EQ(g->size(), 6U);
  EXPECT_EQ(g->fields()[0].type, pmap::FieldType::Int);
  EXPECT_EQ(g->fields()[1].type, pmap::FieldType::String);
  EXPECT_EQ(g->fields()[1].width, 1U);
  EXPECT_EQ(column(*g, 0), (std::vector<std::string>{"1", "1", "2", "2", "3", "3"}));
  EXPECT_EQ(column(*g, 1), (std::vector<std::string>{"a", "b", "a", "b", "a", "b"}));
}

TEST(Grid, DecimalRangesCountSteps) {
  const auto g = pmap::make_grid({"t=0:1:0.1"});
  ASSERT_EQ(g->size(), 10U);
  EXPECT_EQ(g->fields()[0].type, pmap::FieldType::Float);
  EXPECT_EQ(column(*g, 0), (std::vector<std::string>{"0", "0.1", "0.2", "0.3", "0.4", "0.5", "0.6",
                                                     "0.7", "0.8", "0.9"}));
  EXPECT_EQ(pmap::make_grid({"t=1:0:-0.25"})->size(), 4U);
  EXPECT_EQ(pmap::make_grid({"t=0:1:0.3"})->size(), 4U);
}

TEST(Grid, LinspaceLogspaceAndLists) {
  EXPECT_EQ(column(*pmap::make_grid({"a=linspace(0,1,5)"}), 0),
            (std::vector<std::string>{"0", "0.25", "0.5", "0.75", "1"}));
  EXPECT_EQ(column(*pmap::make_grid({"a=logspace(0,3,4)"}), 0),
            (std::vector<std::string>{"1", "10", "100", "1000"}));
  const auto l = pmap::make_grid({"n=1,2,4,8", "f=0.5,1", "w=alpha, beta"});
  EXPECT_EQ(l->fields()[0].type, pmap::FieldType::Int);
  EXPECT_EQ(l->fields()[1].type, pmap::FieldType::Float);
  EXPECT_EQ(l->fields()[2].type, pmap::FieldType::String);
  EXPECT_EQ(l->fields()[2].width, 5U);
  EXPECT_EQ(l->size(), 16U);
}

TEST(Grid, ABillionPointsCostNoMemory) {
  rusage before{};
  getrusage(RUSAGE_SELF, &before);
  const auto g = pmap::make_grid({"a=0:1000", "b=0:1000", "c=linspace(0,1,1000)"});
  ASSERT_EQ(g->size(), 1000000000U);
  pmap::FieldBlock b;
  g->read(123456789, 3, b);  // row 123456789 = (123, 456, 789)
  EXPECT_EQ(b.values[0].i, 123);
  EXPECT_EQ(b.values[1].i, 456);
  EXPECT_DOUBLE_EQ(b.values[2].f, 789.0 / 999.0);
  EXPECT_EQ(b.values[3 + 2].f, 790.0 / 999.0);  // the odometer steps the last axis
  EXPECT_EQ(b.item[0], 123456789);
  rusage after{};
  getrusage(RUSAGE_SELF, &after);
  EXPECT_LT(after.ru_maxrss - before.ru_maxrss, 10 * 1024);  // KiB: no materialisation
  EXPECT_EQ(g->row_of(999999999), 999999999U);
  EXPECT_FALSE(g->row_of(1000000000).has_value());
}

TEST(Grid, FingerprintCoversTheValues) {
  const auto a = pmap::make_grid({"x=1:4", "y=1,2"})->fingerprint();
  EXPECT_EQ(a, pmap::make_grid({"x=1,2,3", "y=1:3"})->fingerprint());  // same items
  EXPECT_NE(a, pmap::make_grid({"x=2:5", "y=1,2"})->fingerprint());
  EXPECT_NE(a, pmap::make_grid({"x=1:4", "z=1,2"})->fingerprint());
  EXPECT_NE(a, pmap::make_grid({"y=1,2", "x=1:4"})->fingerprint());
}

TEST(Grid, BadSpecsNameTheColumn) {
  EXPECT_NE(error_of({"x=1:a"}).find("grid x=1:a: column 5: 'a' is not a number"),
            std::string::npos);
  EXPECT_NE(error_of({"x=5:1"}).find("no values"), std::string::npos);
  EXPECT_NE(error_of({"x1"}).find("no '='"), std::string::npos);
  EXPECT_NE(error_of({"2x=1"}).find("'2x' is not a valid name"), std::string::npos);
  EXPECT_NE(error_of({"x=1", "x=2"}).find("given twice"), std::string::npos);
  EXPECT_NE(error_of({"x=1,,2"}).find("column 5: an empty value"), std::string::npos);
  EXPECT_NE(error_of({"x=linspace(0,1,0)"}).find("N must be a positive integer"),
            std::string::npos);
  EXPECT_NE(error_of({"x=linspace(0,1,3"}).find("')' is missing"), std::string::npos);
  EXPECT_NE(error_of({"x=1:2:0"}).find("STEP must not be zero"), std::string::npos);
  EXPECT_NE(error_of({"a=0:2147483648", "b=0:2147483648", "c=0:4"}).find("more than 2^62"),
            std::string::npos);
  EXPECT_NE(error_of({}).find("no axes"), std::string::npos);
}

TEST(Grid, ItemsCarryTheirFields) {
  const pmap::ItemSpace space(pmap::make_grid({"x=1:3", "y=0.5,1.5"}));
  pmap::ItemBlock block;
  space.read(1, 4, block);
  ASSERT_EQ(block.items.size(), 3U);
  const pmap::Item& it = block.items[0];  // row 1: x=1, y=1.5
  EXPECT_EQ(it.row, 1U);
  EXPECT_EQ(it.value, 1);
  EXPECT_EQ(it.to_text(), "1 1.5");
  EXPECT_DOUBLE_EQ(it.fields.as_double(*it.fields.find("y")), 1.5);
  EXPECT_EQ(it.as_int(), 1);  // the first field
  EXPECT_THROW((void)it.fields.as_int(1), pmap::ItemError);
  EXPECT_EQ(space.kind(), "grid");
}

}  // namespace
