// The URL stage's queue of jobs (src/detail/url_queue.hpp): hand-out order, the per-host limit,
// host affinity of event loops, merging of identical URLs, and the end of the queue.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "detail/url_queue.hpp"

namespace {

using pmap::detail::UrlQueue;

struct Queue {
  std::vector<int> woken;
  UrlQueue queue;
  Queue(int per_host, int loops)
      : queue(per_host, 64, [] { return false; }, loops, [this](int loop) { woken.push_back(loop); }) {}
  void add(std::size_t index, const std::string& host) {
    ASSERT_TRUE(queue.add(index, "http://" + host + "/" + std::to_string(index), host));
  }
  /// The index of the job loop `loop` takes, or -1 (Empty) / -2 (Done).
  long take(int loop, UrlQueue::Job* out = nullptr) {
    UrlQueue::Job job{};
    switch (queue.try_acquire(loop, job)) {
      case UrlQueue::Take::Job:
        if (out != nullptr) *out = job;
        return static_cast<long>(job.index);
      case UrlQueue::Take::Empty:
        return -1;
      case UrlQueue::Take::Done:
        return -2;
    }
    return -3;
  }
};

TEST(UrlQueue, HandsOutInInputOrderUnderThePerHostLimit) {
  Queue q(2, 1);
  for (std::size_t i = 0; i < 4; ++i) q.add(i, "a");
  q.add(4, "b");
  UrlQueue::Job first{};
  EXPECT_EQ(q.take(0, &first), 0);
  EXPECT_EQ(q.take(0), 1);
  EXPECT_EQ(q.take(0), 4) << "host a is at its limit of 2: b's job goes first";
  EXPECT_EQ(q.take(0), -1) << "nothing ready: the loop is hungry";
  q.queue.finish(first);
  EXPECT_EQ(q.woken, std::vector<int>{0}) << "a freed slot wakes the hungry loop";
  EXPECT_EQ(q.take(0), 2);
}

TEST(UrlQueue, LoopsKeepToTheHostsTheyServedButNeverIdleWhileWorkIsReady) {
  Queue q(8, 2);
  for (std::size_t i = 0; i < 8; ++i) q.add(i, i % 2 == 0 ? "a" : "b");  // a b a b ...
  EXPECT_EQ(q.take(0), 0);  // a: loop 0's
  EXPECT_EQ(q.take(1), 1);  // b: loop 1's
  EXPECT_EQ(q.take(1), 3) << "loop 1 skips a's older job for its own host b";
  EXPECT_EQ(q.take(0), 2);
  EXPECT_EQ(q.take(0), 4);
  EXPECT_EQ(q.take(0), 6);
  EXPECT_EQ(q.take(0), 5) << "only b's jobs are left: loop 0 takes them rather than wait";
  EXPECT_EQ(q.take(1), 7);
}

TEST(UrlQueue, IdenticalUrlsAreMergedIntoTheJobAndTheQueueEnds) {
  Queue q(8, 1);
  q.add(0, "a");
  EXPECT_TRUE(q.queue.merge(5, "http://a/0"));
  EXPECT_FALSE(q.queue.merge(6, "http://a/1"));
  UrlQueue::Job job{};
  EXPECT_EQ(q.take(0, &job), 0);
  q.queue.close();
  EXPECT_EQ(q.take(0), -2) << "closed and nothing waits: done, whatever still runs";
  EXPECT_EQ(q.queue.finish(job), std::vector<std::size_t>{5});
  EXPECT_FALSE(q.queue.merge(7, "http://a/0")) << "forgotten once finished";
}

}  // namespace
