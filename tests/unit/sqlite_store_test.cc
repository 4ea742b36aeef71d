// SqliteStore: CAS writes, revisions, reload after reopen, watches from a revision, history beyond the memory
// window, compaction and 410.
#include "daemons/apiserver/sqlite_store.h"

#include <filesystem>
#include <fstream>
#include <thread>

#include <sys/stat.h>

#include <gtest/gtest.h>

using namespace kctl::apiserver;
using nlohmann::json;

namespace {

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("kctl-store-test-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::unique_ptr<SqliteStore> open(size_t history = 10000) {
    SqliteStoreOptions o;
    o.path = (dir_ / "state.db").string();
    o.history_events = history;
    o.sync = SyncMode::Normal;
    return std::make_unique<SqliteStore>(o);
  }
  static json obj(const std::string& name, int v) { return {{"metadata", {{"name", name}}}, {"v", v}}; }
  std::filesystem::path dir_;
};

unsigned mode_of(const std::filesystem::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

auto far() { return std::chrono::steady_clock::now() + std::chrono::seconds(5); }
auto now() { return std::chrono::steady_clock::now(); }

}  // namespace

TEST_F(StoreTest, CreateGetUpdateDeleteWithRevisions) {
  auto s = open();
  auto a = s->create("/pods/default/a", obj("a", 1));
  EXPECT_EQ(a->revision, 1);
  EXPECT_EQ(json::parse(a->value)["metadata"]["resourceVersion"], "1");
  EXPECT_THROW(s->create("/pods/default/a", obj("a", 1)), StoreError);
  auto b = s->update("/pods/default/a", obj("a", 2), 1);
  EXPECT_EQ(b->revision, 2);
  EXPECT_EQ(b->create_revision, 1);
  try {
    s->update("/pods/default/a", obj("a", 3), 1);
    FAIL() << "stale update accepted";
  } catch (const StoreError& e) {
    EXPECT_EQ(e.code(), StoreError::Code::Conflict);
  }
  EXPECT_EQ(json::parse(s->get("/pods/default/a")->value)["v"], 2);
  s->remove("/pods/default/a", obj("a", 2), 2);
  EXPECT_EQ(s->get("/pods/default/a"), nullptr);
  EXPECT_EQ(s->current_revision(), 3);
  try {
    s->remove("/pods/default/a", obj("a", 2), 0);
    FAIL();
  } catch (const StoreError& e) {
    EXPECT_EQ(e.code(), StoreError::Code::NotFound);
  }
}

TEST_F(StoreTest, ListByPrefixAndReload) {
  {
    auto s = open();
    s->create("/pods/default/a", obj("a", 1));
    s->create("/pods/default/b", obj("b", 1));
    s->create("/pods/other/c", obj("c", 1));
    s->create("/services/default/a", obj("a", 1));
    s->remove("/pods/default/b", obj("b", 1), 0);
  }
  auto s = open();
  int64_t rev = 0;
  auto pods = s->list("/pods/", &rev);
  ASSERT_EQ(pods.size(), 2u);
  EXPECT_EQ(pods[0]->key, "/pods/default/a");
  EXPECT_EQ(rev, 5);
  EXPECT_EQ(s->list("/pods/default/", nullptr).size(), 1u);
  // revisions continue after a restart and are never reused
  EXPECT_EQ(s->create("/pods/default/d", obj("d", 1))->revision, 6);
}

TEST_F(StoreTest, TheDatabaseAndItsWalAreTheOwnersAlone) {
  // The database holds Secrets: 0600 under the usual umask, which would give SQLite's own default 0644.
  mode_t old_umask = ::umask(022);
  {
    auto s = open();
    s->create("/secrets/default/db", obj("db", 1));
    for (const char* f : {"state.db", "state.db-wal", "state.db-shm"}) {
      EXPECT_TRUE(std::filesystem::exists(dir_ / f)) << f;
      EXPECT_EQ(mode_of(dir_ / f), 0600u) << f;
    }
  }
  // Files an older run left readable are tightened when the store opens them.
  std::filesystem::permissions(dir_ / "state.db", std::filesystem::perms(0644));
  std::ofstream(dir_ / "state.db-wal").close();
  std::filesystem::permissions(dir_ / "state.db-wal", std::filesystem::perms(0644));
  {
    auto s = open();
    EXPECT_NE(s->get("/secrets/default/db"), nullptr);
    EXPECT_EQ(mode_of(dir_ / "state.db"), 0600u);
    EXPECT_EQ(mode_of(dir_ / "state.db-wal"), 0600u);
    EXPECT_EQ(mode_of(dir_ / "state.db-shm"), 0600u);
  }
  ::umask(old_umask);
}

TEST_F(StoreTest, ConcurrentWritersGetDistinctRevisions) {
  auto s = open();
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) s->create("/pods/default/p" + std::to_string(t) + "-" + std::to_string(i), obj("x", i));
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(s->current_revision(), 400);
  EXPECT_EQ(s->list("/pods/", nullptr).size(), 400u);
}

TEST_F(StoreTest, WatchReplaysFromRevisionThenFollows) {
  auto s = open();
  s->create("/pods/default/a", obj("a", 1));
  s->create("/services/default/a", obj("a", 1));
  s->update("/pods/default/a", obj("a", 2), 0);
  auto w = s->watch("/pods/", 1);
  auto ev = w->next(far());
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].type, EventType::Modified);
  EXPECT_EQ(ev[0].revision(), 3);
  ASSERT_NE(ev[0].prev, nullptr);
  EXPECT_EQ(ev[0].prev->revision, 1);
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    s->remove("/pods/default/a", obj("a", 2), 0);
  });
  ev = w->next(far());
  writer.join();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].type, EventType::Deleted);
  EXPECT_EQ(ev[0].revision(), 4);
  EXPECT_TRUE(w->next(now() + std::chrono::milliseconds(20)).empty());
  EXPECT_EQ(w->progress_revision(), 4);
}

TEST_F(StoreTest, WatchReadsHistoryOlderThanMemoryWindow) {
  auto s = open(/*history=*/3);
  for (int i = 0; i < 10; ++i) s->create("/pods/default/p" + std::to_string(i), obj("p", i));
  auto w = s->watch("/pods/", 2);
  std::vector<int64_t> revs;
  while (revs.size() < 8) {
    auto ev = w->next(far());
    ASSERT_FALSE(ev.empty());
    for (auto& e : ev) {
      EXPECT_EQ(e.type, EventType::Added);
      revs.push_back(e.revision());
    }
  }
  EXPECT_EQ(revs, (std::vector<int64_t>{3, 4, 5, 6, 7, 8, 9, 10}));
}

TEST_F(StoreTest, CompactionDropsHistoryAndExpiresOldWatches) {
  {
    auto s = open();
    s->create("/pods/default/a", obj("a", 1));
    s->update("/pods/default/a", obj("a", 2), 0);
    s->create("/pods/default/b", obj("b", 1));
    s->remove("/pods/default/b", obj("b", 1), 0);
    s->update("/pods/default/a", obj("a", 3), 0);
    s->compact(4);
    EXPECT_EQ(s->compacted_revision(), 4);
    try {
      s->watch("/pods/", 2);
      FAIL() << "watch from a compacted revision accepted";
    } catch (const StoreError& e) {
      EXPECT_EQ(e.code(), StoreError::Code::Compacted);
    }
    auto w = s->watch("/pods/", 4);
    auto ev = w->next(far());
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].revision(), 5);
  }
  auto s = open();  // the compacted revision and the live objects survive a restart
  EXPECT_EQ(s->compacted_revision(), 4);
  EXPECT_EQ(json::parse(s->get("/pods/default/a")->value)["v"], 3);
  EXPECT_EQ(s->get("/pods/default/b"), nullptr);
  EXPECT_THROW(s->watch("/pods/", 3), StoreError);
}
