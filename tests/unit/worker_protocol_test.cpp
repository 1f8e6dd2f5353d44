// pmap — the worker protocol's lines (detail/worker_protocol) and the worker kernel's arguments.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "detail/worker_protocol.hpp"
#include "pmap/error.hpp"
#include "pmap/kernel.hpp"

namespace {

namespace wp = pmap::detail::worker_protocol;
using Kind = wp::Reply::Kind;

TEST(WorkerProtocol, EscapesRoundTripEveryByte) {
  std::string all;
  for (int c = 1; c < 256; ++c) all += static_cast<char>(c);
  std::string escaped;
  wp::append_escaped(escaped, all);
  EXPECT_EQ(escaped.find('\t'), std::string::npos);
  EXPECT_EQ(escaped.find('\n'), std::string::npos);
  EXPECT_EQ(escaped.find('\r'), std::string::npos);
  EXPECT_EQ(wp::unescape(escaped), all);
  std::string s;
  wp::append_escaped(s, "a\\b\tc\nd");
  EXPECT_EQ(s, "a\\\\b\\tc\\nd");
}

TEST(WorkerProtocol, HeaderAndItems) {
  EXPECT_EQ(wp::header({"x", "y"}, {{"y", "3"}, {"note", "a\tb"}}, false),
            "pmap-worker\t1\ncolumns\tx\ty\narg\ty\t3\narg\tnote\ta\\tb\nitems\trange\nend\n");
  EXPECT_EQ(wp::header({"value"}, {}, true), "pmap-worker\t1\ncolumns\tvalue\nitems\tinput\nend\n");
  std::string lines;
  wp::append_item(lines, pmap::Item{17, -42, {}, false});
  wp::append_item(lines, pmap::Item{3, 4, "tab\there\\", true});
  EXPECT_EQ(lines, "item\t17\t-42\nitem\t3\ttab\\there\\\\\n");
}

TEST(WorkerProtocol, RangesAndManyAnswersAtOnce) {
  std::string line;
  wp::append_range(line, 40, 3, -7, -2);
  EXPECT_EQ(line, "range\t40\t3\t-7\t-2\n");
  std::vector<double> room(6, -1);  // three items of K = 2 waiting
  auto r = wp::parse_reply("oks\t40\t3\t1\t2\t3\t4\t5\t6", room, 2);
  EXPECT_EQ(r.kind, Kind::Ok);
  EXPECT_EQ(r.row, 40U);
  EXPECT_EQ(r.count, 3U);
  EXPECT_EQ(room, (std::vector<double>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(wp::parse_reply("oks\t40\t2\t1\t2\t3\t4", room, 2).count, 2U);
  for (const char* bad : {"oks\t40\t4\t1\t2\t3\t4\t5\t6\t7\t8", "oks\t40\t2\t1\t2\t3", "oks\t40\t0",
                          "oks\t40", "oks\t40\tx\t1\t2"}) {
    EXPECT_EQ(wp::parse_reply(bad, room, 2).kind, Kind::Bad) << bad;
  }
  EXPECT_NE(wp::parse_reply("oks\t40\t4\t1\t2\t3\t4\t5\t6\t7\t8", room, 2)
                .message.find("only 3 were waiting"),
            std::string::npos);
}

TEST(WorkerProtocol, Handshake) {
  EXPECT_TRUE(wp::offers("pmap-worker\t1\tpython\tranges\r", "ranges"));
  EXPECT_FALSE(wp::offers("pmap-worker\t1\tpython", "ranges"));
  EXPECT_FALSE(wp::offers("pmap-worker\tranges", "ranges"));
  EXPECT_TRUE(wp::is_handshake("pmap-worker\t1"));
  EXPECT_TRUE(wp::is_handshake("pmap-worker\t1\tpython 3.11\r"));
  EXPECT_FALSE(wp::is_handshake("pmap-worker\t2"));
  EXPECT_FALSE(wp::is_handshake("pmap-worker 1"));
  EXPECT_FALSE(wp::is_handshake(""));
}

TEST(WorkerProtocol, OkAndErrorReplies) {
  std::vector<double> v(3);
  auto r = wp::parse_reply("ok\t12\t1.5\t-2\t1e-300", v, 3);
  EXPECT_EQ(r.kind, Kind::Ok);
  EXPECT_EQ(r.row, 12U);
  EXPECT_EQ(v, (std::vector<double>{1.5, -2, 1e-300}));
  r = wp::parse_reply("ok\t0\tnan\tinf\t+3\r", v, 3);
  EXPECT_EQ(r.kind, Kind::Ok);
  EXPECT_TRUE(std::isnan(v[0]));
  EXPECT_TRUE(std::isinf(v[1]));
  EXPECT_EQ(v[2], 3.0);
  r = wp::parse_reply("error\t7\tValueError: a\\tb", v, 3);
  EXPECT_EQ(r.kind, Kind::Error);
  EXPECT_EQ(r.row, 7U);
  EXPECT_EQ(r.message, "ValueError: a\tb");
  EXPECT_EQ(wp::parse_reply("error\t7", v, 3).message, "failed (the worker gave no message)");
}

TEST(WorkerProtocol, WhatTheProtocolDoesNotAllow) {
  std::vector<double> v(2);
  for (const char* line : {"", "hello", "ok", "ok\t-1\t1\t2", "ok\tx\t1\t2", "ok\t1\t1",
                           "ok\t1\t1\t2\t3", "ok\t1\t1\tabc", "ok\t1\t1\t", "done\t1\t1\t2"}) {
    EXPECT_EQ(wp::parse_reply(line, v, 2).kind, Kind::Bad) << "'" << line << "'";
  }
  const auto r = wp::parse_reply("ok\t4\t1\t\x01zz", v, 2);
  EXPECT_NE(r.message.find("'\\x01zz' is not a number"), std::string::npos) << r.message;
  EXPECT_EQ(wp::quote_line(std::string(300, 'a')).size(), 2 + 200 + 3U);
}

const pmap::Kernel& worker() { return pmap::find_kernel("worker"); }

TEST(WorkerKernel, OtherArgumentsAreTheFunctionsAndColumnsAreChecked) {
  const auto args =
      pmap::bind_args(worker(), {"cmd=python3 -m pmap_worker m:f", "y=3", "columns=x, y"});
  EXPECT_EQ(args.get_string("y"), "3");
  EXPECT_EQ(worker().output_columns(args), (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(args.to_json().find("\"y\":\"3\""), args.to_json().find("\"y\""));
  // Other kernels still refuse names they do not declare.
  EXPECT_THROW((void)pmap::bind_args(pmap::find_kernel("pi"), {"y=3"}), pmap::UsageError);
}

TEST(WorkerKernel, BadUsageIsCaughtBeforeAnyWorkerStarts) {
  const auto columns = [](std::vector<std::string> a) {
    return worker().output_columns(pmap::bind_args(worker(), a));
  };
  EXPECT_THROW((void)columns({}), pmap::UsageError);
  EXPECT_THROW((void)columns({"cmd=   "}), pmap::UsageError);
  EXPECT_THROW((void)columns({"cmd=python3 'unbalanced"}), pmap::UsageError);
  EXPECT_THROW((void)columns({"cmd=./w {}"}), pmap::UsageError);
  EXPECT_THROW((void)columns({"cmd=./w", "window=0"}), pmap::UsageError);
  EXPECT_THROW((void)columns({"cmd=./w", "columns=a,,b"}), pmap::UsageError);
  try {
    (void)columns({"cmd=./w {}"});
  } catch (const pmap::UsageError& e) {
    EXPECT_EQ(e.subject(), "args");
    EXPECT_NE(std::string(e.what()).find("reads its items from stdin"), std::string::npos);
  }
}

}  // namespace
