// The embedded store: one log-structured SQLite table in WAL mode, every write a new row whose id is the revision.
// The current state and recent history are kept in memory; one committer thread batches writes (group commit).
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <thread>

#include "daemons/apiserver/store.h"

struct sqlite3;

namespace kctl::apiserver {

class Stmt;

enum class SyncMode {
  // Every commit is fsync'ed: an acknowledged write survives a power loss (like etcd). The default.
  Full,
  // Commits reach the WAL file but are fsync'ed only at checkpoints: an acknowledged write survives the process being
  // killed, but a power loss or kernel crash can lose the writes since the last checkpoint (up to ~1000 pages).
  Normal,
};

struct SqliteStoreOptions {
  std::string path;                  // the database file
  SyncMode sync = SyncMode::Full;
  // Events kept in memory for watchers; older ones are read back from the database. A bound on memory: each
  // entry may hold one superseded object version.
  size_t history_events = 10000;
  // Derives the ObjectAttrs of a record from its key and JSON.
  std::function<ObjectAttrs(const std::string& key, const nlohmann::json& object)> attrs;
};

class SqliteStore : public Store {
 public:
  // Opens (creating if needed) the database and loads the current state. Throws std::runtime_error.
  explicit SqliteStore(SqliteStoreOptions options);
  ~SqliteStore() override;

  RecordPtr get(std::string_view key) const override;
  std::vector<RecordPtr> list(std::string_view prefix, int64_t* revision) const override;
  RecordPtr create(const std::string& key, nlohmann::json object) override;
  RecordPtr update(const std::string& key, nlohmann::json object, int64_t expected_revision) override;
  RecordPtr remove(const std::string& key, nlohmann::json last_state, int64_t expected_revision) override;
  WatchPtr watch(const std::string& prefix, int64_t from_revision) override;
  int64_t current_revision() const override;
  int64_t compacted_revision() const override;
  void compact(int64_t revision) override;

  size_t object_count() const;

 private:
  class SqliteWatch;
  struct PendingWrite;
  enum class Op { Create, Update, Delete, Compact };

  RecordPtr submit(Op op, const std::string& key, nlohmann::json object, int64_t expected_revision);
  void committer_loop();
  void commit_batch(std::vector<std::shared_ptr<PendingWrite>>& batch);
  void run_compaction(int64_t revision);
  void load();
  // Reads events with from < revision <= to from the database (history older than the in-memory window).
  std::vector<Event> read_history(const std::string& prefix, int64_t from, int64_t to);
  RecordPtr make_record(const std::string& key, int64_t revision, int64_t create_revision, std::string value) const;

  SqliteStoreOptions options_;
  sqlite3* db_ = nullptr;       // used by the committer thread only (and by load() before it starts)
  std::unique_ptr<Stmt> insert_;  // the committer's prepared statement
  sqlite3* reader_ = nullptr;   // history reads, guarded by reader_mutex_
  std::mutex reader_mutex_;

  // The current state. Guarded by state_mutex_.
  mutable std::shared_mutex state_mutex_;
  std::map<std::string, RecordPtr, std::less<>> state_;
  int64_t revision_ = 0;
  int64_t compacted_ = 0;

  // Recent events in revision order: every event with revision > history_base_ is here. Guarded by events_mutex_.
  mutable std::mutex events_mutex_;
  std::condition_variable events_cv_;
  std::deque<Event> history_;
  int64_t history_base_ = 0;
  int64_t published_revision_ = 0;
  bool closing_ = false;

  // Writes waiting for the committer. Guarded by queue_mutex_.
  std::mutex queue_mutex_;
  std::condition_variable queue_cv_;
  std::vector<std::shared_ptr<PendingWrite>> queue_;
  bool stopping_ = false;
  std::thread committer_;
};

}  // namespace kctl::apiserver
