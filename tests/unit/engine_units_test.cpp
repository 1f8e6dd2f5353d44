// The pure decisions of the run engine: an item's outcome, and the named tallies.
#include <gtest/gtest.h>

#include "pmap/tally.hpp"
#include "pmap/worker.hpp"

namespace {

using pmap::ItemStatus;

TEST(Outcome, OkWhenTheKernelReturned) {
  const auto o = pmap::decide_outcome(std::nullopt, 0.5, 0, false);
  ASSERT_TRUE(o.has_value());
  EXPECT_EQ(o->status, ItemStatus::Ok);
  EXPECT_TRUE(o->error.empty());
}

TEST(Outcome, FailedWithTheExceptionText) {
  const auto o = pmap::decide_outcome(std::string("bad input"), 0.1, 10, false);
  ASSERT_TRUE(o.has_value());
  EXPECT_EQ(o->status, ItemStatus::Failed);
  EXPECT_EQ(o->error, "bad input");
}

TEST(Outcome, TimedOutOverBudgetEvenWhenItThrew) {
  for (const auto& thrown : {std::optional<std::string>(), std::optional<std::string>("x")}) {
    const auto o = pmap::decide_outcome(thrown, 2.5, 2.0, false);
    ASSERT_TRUE(o.has_value());
    EXPECT_EQ(o->status, ItemStatus::TimedOut);
    EXPECT_EQ(o->error, "timed out after 2.500 s (--item-timeout 2)");
  }
  // Exactly on the budget is not over it; no budget never times out.
  EXPECT_EQ(pmap::decide_outcome(std::nullopt, 2.0, 2.0, false)->status, ItemStatus::Ok);
  EXPECT_EQ(pmap::decide_outcome(std::nullopt, 1e9, 0, false)->status, ItemStatus::Ok);
}

TEST(Outcome, AStopDuringTheItemLeavesItNotRun) {
  EXPECT_FALSE(pmap::decide_outcome(std::nullopt, 0.1, 0, true).has_value());
  EXPECT_FALSE(pmap::decide_outcome(std::string("x"), 9, 1, true).has_value());
}

TEST(StatusTally, CountsByStatusAndChecksumsOkRowsOnly) {
  pmap::StatusTally t;
  t.count(ItemStatus::Ok, 5);
  t.count(ItemStatus::Ok, 7);
  t.count(ItemStatus::Failed, 100);
  t.count(ItemStatus::TimedOut);
  t.count(ItemStatus::NotRun);
  EXPECT_EQ(t.ok, 2U);
  EXPECT_EQ(t.failed, 1U);
  EXPECT_EQ(t.timed_out, 1U);
  EXPECT_EQ(t.not_run, 1U);
  EXPECT_EQ(t.checksum, 12U);
  EXPECT_EQ(t.ran(), 4U);
  EXPECT_EQ(t.unsuccessful(), 2U);
  EXPECT_EQ(t.total(), 5U);
}

TEST(StatusTally, RawBytesOutsideTheSchemaAreNotRun) {
  pmap::StatusTally t;
  for (std::int8_t s : {std::int8_t{0}, std::int8_t{1}, std::int8_t{2}, std::int8_t{-1},
                        std::int8_t{3}, std::int8_t{-128}, std::int8_t{127}}) {
    t.count_raw(s);
  }
  EXPECT_EQ(t.ok, 1U);
  EXPECT_EQ(t.failed, 1U);
  EXPECT_EQ(t.timed_out, 1U);
  EXPECT_EQ(t.not_run, 4U);
}

TEST(StatusTally, AddsFieldByField) {
  pmap::StatusTally a{1, 2, 3, 4, 5};
  const pmap::StatusTally b{10, 20, 30, 40, 50};
  a += b;
  EXPECT_EQ(a, (pmap::StatusTally{11, 22, 33, 44, 55}));
}

TEST(UrlTally, CheckedLeavesOutInterruptedRows) {
  pmap::UrlTally t;
  t.count(0);
  t.count(1);
  t.count(2, /*invalid=*/true);
  t.count(2, false, /*interrupted=*/true);
  EXPECT_EQ(t.exists, 1U);
  EXPECT_EQ(t.does_not_exist, 1U);
  EXPECT_EQ(t.unknown, 2U);
  EXPECT_EQ(t.invalid, 1U);
  EXPECT_EQ(t.total(), 4U);
  EXPECT_EQ(t.checked(), 3U);
  pmap::UrlTally u = t;
  u += t;
  EXPECT_EQ(u.checked(), 6U);
}

}  // namespace
