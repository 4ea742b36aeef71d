// WorkQueue: de-duplication, one worker per key, re-queue of a key added while processed, delays, per-key
// back-off, shutdown.
#include "api/workqueue.h"

#include <gtest/gtest.h>

using kctl::api::WorkQueue;
using namespace std::chrono_literals;

TEST(WorkQueue, DeduplicatesQueuedKeys) {
  WorkQueue q;
  q.add("a");
  q.add("b");
  q.add("a");
  EXPECT_EQ(q.size(), 2u);
  std::string k;
  ASSERT_TRUE(q.get(k));
  EXPECT_EQ(k, "a");
  ASSERT_TRUE(q.get(k));
  EXPECT_EQ(k, "b");
}

TEST(WorkQueue, KeyAddedWhileProcessingComesBackAfterDone) {
  WorkQueue q;
  q.add("a");
  std::string k;
  ASSERT_TRUE(q.get(k));
  q.add("a");  // while "a" is processed: not handed to a second worker
  EXPECT_EQ(q.size(), 0u);
  q.done("a");
  EXPECT_EQ(q.size(), 1u);
  ASSERT_TRUE(q.get(k));
  EXPECT_EQ(k, "a");
  q.done("a");
}

TEST(WorkQueue, AddAfterWaits) {
  WorkQueue q;
  auto t0 = std::chrono::steady_clock::now();
  q.add_after("later", 100ms);
  std::string k;
  ASSERT_TRUE(q.get(k));
  EXPECT_EQ(k, "later");
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 90ms);
}

TEST(WorkQueue, RateLimitedBackOffGrowsUntilForgotten) {
  kctl::api::WorkQueueOptions o;
  o.base_delay = 10ms;
  WorkQueue q(o);
  std::string k;
  for (int i = 0; i < 3; ++i) {
    q.add_rate_limited("x");
    ASSERT_TRUE(q.get(k));
    q.done(k);
  }
  EXPECT_EQ(q.failures("x"), 3);
  auto t0 = std::chrono::steady_clock::now();
  q.add_rate_limited("x");  // 10ms * 2^3 = 80ms
  ASSERT_TRUE(q.get(k));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 70ms);
  q.done(k);
  q.forget("x");
  EXPECT_EQ(q.failures("x"), 0);
}

TEST(WorkQueue, ShutDownWakesWorkers) {
  WorkQueue q;
  std::thread worker([&] {
    std::string k;
    EXPECT_FALSE(q.get(k));
  });
  std::this_thread::sleep_for(20ms);
  q.shut_down();
  worker.join();
  q.add("ignored");
  EXPECT_EQ(q.size(), 0u);
}
