// SqliteStore: the log table, the group-committing writer thread, the in-memory state and event history, watches
// and compaction. See sqlite_store.h and docs/storage.md for the durability contract.
#include "daemons/apiserver/sqlite_store.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <future>
#include <stdexcept>

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

namespace kctl::apiserver {

namespace {

// Upper bound on writes folded into one transaction: keeps a single commit (and the lock it holds) short.
constexpr size_t kMaxBatch = 2048;
// Upper bound on events one Watch::next() returns, so one slow watcher never copies the whole history at once.
constexpr size_t kMaxEventsPerNext = 4096;
// Rows deleted per compaction transaction, so compaction never stalls writers for long.
constexpr int64_t kCompactionChunk = 5000;

const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS kv (
  id INTEGER PRIMARY KEY,                -- the revision
  key TEXT NOT NULL,
  created INTEGER NOT NULL,              -- 1: this row creates the key
  deleted INTEGER NOT NULL,              -- 1: a tombstone; value is the object's last state
  create_revision INTEGER NOT NULL,
  prev_revision INTEGER NOT NULL,        -- the row this one supersedes, 0 if none
  value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
)sql";

}  // namespace

class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK)
      throw std::runtime_error(std::string("sqlite prepare: ") + sqlite3_errmsg(db));
  }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  sqlite3_stmt* get() { return stmt_; }
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

namespace {

void exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    throw std::runtime_error(std::string("sqlite: ") + msg + " in: " + sql);
  }
}

// The database holds every Secret, so it is the owner's alone (0600) whatever the umask: made so before SQLite opens
// it, and tightened when an older run left it readable. SQLite gives the -wal and -shm files it makes the database
// file's mode; those an older run left behind are tightened too.
void make_private(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
  int rc = ::fchmod(fd, 0600);
  int err = errno;
  ::close(fd);
  if (rc != 0) throw std::runtime_error("cannot make " + path + " private (0600): " + std::strerror(err));
  for (const char* suffix : {"-wal", "-shm", "-journal"}) {
    std::string aside = path + suffix;
    if (::chmod(aside.c_str(), 0600) != 0 && errno != ENOENT)
      throw std::runtime_error("cannot make " + aside + " private (0600): " + std::strerror(errno));
  }
}

sqlite3* open_db(const std::string& path, int flags) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    throw std::runtime_error("cannot open " + path + ": " + msg);
  }
  sqlite3_busy_timeout(db, 5000);
  return db;
}

std::string column_text(sqlite3_stmt* s, int i) {
  const void* p = sqlite3_column_blob(s, i);
  int n = sqlite3_column_bytes(s, i);
  return p ? std::string(static_cast<const char*>(p), n) : std::string();
}

bool has_prefix(std::string_view key, std::string_view prefix) { return key.substr(0, prefix.size()) == prefix; }

}  // namespace

struct SqliteStore::PendingWrite {
  Op op;
  std::string key;
  nlohmann::json object;
  int64_t expected_revision = 0;
  std::promise<RecordPtr> done;
};

// ---------------------------------------------------------------------------------------------------------------
// Watch

class SqliteStore::SqliteWatch : public Watch {
 public:
  SqliteWatch(SqliteStore& store, std::string prefix, int64_t from) : store_(store), prefix_(std::move(prefix)), last_(from) {}

  std::vector<Event> next(std::chrono::steady_clock::time_point deadline) override {
    std::unique_lock lock(store_.events_mutex_);
    for (;;) {
      if (cancelled_ || store_.closing_) return {};
      if (last_ < store_.compacted_revision())
        throw StoreError(StoreError::Code::Compacted, "too old resource version: " + std::to_string(last_) + " (" +
                                                          std::to_string(store_.compacted_revision()) + ")");
      if (last_ < store_.history_base_) {
        // Older than the in-memory window: read the gap back from the database, outside the events lock.
        int64_t to = store_.history_base_;
        lock.unlock();
        auto events = store_.read_history(prefix_, last_, std::min(to, last_ + int64_t(kMaxEventsPerNext)));
        int64_t reached = std::min(to, last_ + int64_t(kMaxEventsPerNext));
        lock.lock();
        last_ = reached;
        if (!events.empty()) return events;
        continue;
      }
      std::vector<Event> out;
      auto& h = store_.history_;
      auto it = std::upper_bound(h.begin(), h.end(), last_,
                                 [](int64_t rev, const Event& e) { return rev < e.revision(); });
      for (; it != h.end() && out.size() < kMaxEventsPerNext; ++it) {
        last_ = it->revision();
        if (has_prefix(it->object->key, prefix_)) out.push_back(*it);
      }
      if (it == h.end()) last_ = std::max(last_, store_.published_revision_);
      if (!out.empty()) return out;
      if (std::chrono::steady_clock::now() >= deadline) return out;
      store_.events_cv_.wait_until(lock, deadline);
    }
  }

  int64_t progress_revision() const override {
    std::lock_guard lock(store_.events_mutex_);
    return last_;
  }

  void cancel() override {
    std::lock_guard lock(store_.events_mutex_);
    cancelled_ = true;
    store_.events_cv_.notify_all();
  }

 private:
  SqliteStore& store_;
  std::string prefix_;
  int64_t last_;  // guarded by store_.events_mutex_
  bool cancelled_ = false;
};

// ---------------------------------------------------------------------------------------------------------------
// Opening and loading

SqliteStore::SqliteStore(SqliteStoreOptions options) : options_(std::move(options)) {
  if (!options_.attrs) options_.attrs = [](const std::string&, const nlohmann::json&) { return ObjectAttrs{}; };
  make_private(options_.path);
  db_ = open_db(options_.path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  try {
    exec(db_, "PRAGMA journal_mode=WAL");
    exec(db_, options_.sync == SyncMode::Full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
    exec(db_, kSchema);
    reader_ = open_db(options_.path, SQLITE_OPEN_READONLY);
    load();
  } catch (...) {
    sqlite3_close(reader_);
    sqlite3_close(db_);
    throw;
  }
  committer_ = std::thread([this] { committer_loop(); });
}

SqliteStore::~SqliteStore() {
  {
    std::lock_guard lock(queue_mutex_);
    stopping_ = true;
    queue_cv_.notify_all();
  }
  committer_.join();
  insert_.reset();
  {
    std::lock_guard lock(events_mutex_);
    closing_ = true;
    events_cv_.notify_all();
  }
  sqlite3_close(reader_);
  sqlite3_close(db_);
}

RecordPtr SqliteStore::make_record(const std::string& key, int64_t revision, int64_t create_revision,
                                   std::string value) const {
  auto r = std::make_shared<Record>();
  r->key = key;
  r->revision = revision;
  r->create_revision = create_revision;
  r->value = std::move(value);
  r->attrs = options_.attrs(key, nlohmann::json::parse(r->value));
  return r;
}

void SqliteStore::load() {
  {
    Stmt s(db_, "SELECT value FROM meta WHERE name = 'compacted'");
    if (sqlite3_step(s.get()) == SQLITE_ROW) compacted_ = sqlite3_column_int64(s.get(), 0);
  }
  {
    // Compaction only removes rows at or below the compacted revision, so the newest revision ever written is
    // the larger of the newest row and the compacted revision: revisions are never reused.
    Stmt s(db_, "SELECT MAX(id) FROM kv");
    if (sqlite3_step(s.get()) == SQLITE_ROW) revision_ = std::max<int64_t>(sqlite3_column_int64(s.get(), 0), compacted_);
  }
  // The rows are the history: replaying them in order leaves the latest live version of each key.
  struct Latest {
    int64_t revision, create_revision;
    std::string value;
  };
  std::map<std::string, Latest, std::less<>> latest;
  Stmt s(db_, "SELECT id, key, deleted, create_revision, value FROM kv ORDER BY id");
  while (sqlite3_step(s.get()) == SQLITE_ROW) {
    std::string key = column_text(s.get(), 1);
    if (sqlite3_column_int(s.get(), 2)) {
      latest.erase(key);
      continue;
    }
    latest[key] = Latest{sqlite3_column_int64(s.get(), 0), sqlite3_column_int64(s.get(), 3), column_text(s.get(), 4)};
  }
  for (auto& [key, l] : latest) state_.emplace(key, make_record(key, l.revision, l.create_revision, std::move(l.value)));
  history_base_ = revision_;
  published_revision_ = revision_;
}

// ---------------------------------------------------------------------------------------------------------------
// Reads

RecordPtr SqliteStore::get(std::string_view key) const {
  std::shared_lock lock(state_mutex_);
  auto it = state_.find(key);
  return it == state_.end() ? nullptr : it->second;
}

std::vector<RecordPtr> SqliteStore::list(std::string_view prefix, int64_t* revision) const {
  std::vector<RecordPtr> out;
  std::shared_lock lock(state_mutex_);
  for (auto it = state_.lower_bound(prefix); it != state_.end() && has_prefix(it->first, prefix); ++it)
    out.push_back(it->second);
  if (revision) *revision = revision_;
  return out;
}

int64_t SqliteStore::current_revision() const {
  std::shared_lock lock(state_mutex_);
  return revision_;
}

int64_t SqliteStore::compacted_revision() const {
  std::shared_lock lock(state_mutex_);
  return compacted_;
}

size_t SqliteStore::object_count() const {
  std::shared_lock lock(state_mutex_);
  return state_.size();
}

WatchPtr SqliteStore::watch(const std::string& prefix, int64_t from_revision) {
  if (from_revision < compacted_revision())
    throw StoreError(StoreError::Code::Compacted, "too old resource version: " + std::to_string(from_revision) +
                                                      " (" + std::to_string(compacted_revision()) + ")");
  return std::make_unique<SqliteWatch>(*this, prefix, from_revision);
}

std::vector<Event> SqliteStore::read_history(const std::string& prefix, int64_t from, int64_t to) {
  std::lock_guard lock(reader_mutex_);
  std::vector<Event> out;
  Stmt rows(reader_,
            "SELECT id, key, created, deleted, create_revision, prev_revision, value FROM kv "
            "WHERE id > ?1 AND id <= ?2 ORDER BY id");
  Stmt prev(reader_, "SELECT id, create_revision, value FROM kv WHERE id = ?1");
  sqlite3_bind_int64(rows.get(), 1, from);
  sqlite3_bind_int64(rows.get(), 2, to);
  while (sqlite3_step(rows.get()) == SQLITE_ROW) {
    std::string key = column_text(rows.get(), 1);
    if (!has_prefix(key, prefix)) continue;
    Event e;
    e.type = sqlite3_column_int(rows.get(), 3)   ? EventType::Deleted
             : sqlite3_column_int(rows.get(), 2) ? EventType::Added
                                                 : EventType::Modified;
    e.object = make_record(key, sqlite3_column_int64(rows.get(), 0), sqlite3_column_int64(rows.get(), 4),
                           column_text(rows.get(), 6));
    if (int64_t p = sqlite3_column_int64(rows.get(), 5)) {
      prev.reset();
      sqlite3_bind_int64(prev.get(), 1, p);
      if (sqlite3_step(prev.get()) == SQLITE_ROW)
        e.prev = make_record(key, sqlite3_column_int64(prev.get(), 0), sqlite3_column_int64(prev.get(), 1),
                             column_text(prev.get(), 2));
    }
    out.push_back(std::move(e));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Writes

RecordPtr SqliteStore::create(const std::string& key, nlohmann::json object) {
  return submit(Op::Create, key, std::move(object), 0);
}

RecordPtr SqliteStore::update(const std::string& key, nlohmann::json object, int64_t expected_revision) {
  return submit(Op::Update, key, std::move(object), expected_revision);
}

RecordPtr SqliteStore::remove(const std::string& key, nlohmann::json last_state, int64_t expected_revision) {
  return submit(Op::Delete, key, std::move(last_state), expected_revision);
}

void SqliteStore::compact(int64_t revision) { submit(Op::Compact, "", nullptr, revision); }

RecordPtr SqliteStore::submit(Op op, const std::string& key, nlohmann::json object, int64_t expected_revision) {
  auto w = std::make_shared<PendingWrite>();
  w->op = op;
  w->key = key;
  w->object = std::move(object);
  w->expected_revision = expected_revision;
  auto result = w->done.get_future();
  {
    std::lock_guard lock(queue_mutex_);
    if (stopping_) throw StoreError(StoreError::Code::Unavailable, "the store is shutting down");
    queue_.push_back(w);
  }
  queue_cv_.notify_one();
  return result.get();
}

void SqliteStore::committer_loop() {
  for (;;) {
    std::vector<std::shared_ptr<PendingWrite>> batch;
    {
      std::unique_lock lock(queue_mutex_);
      queue_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty() && stopping_) return;
      size_t n = std::min(queue_.size(), kMaxBatch);
      batch.assign(queue_.begin(), queue_.begin() + n);
      queue_.erase(queue_.begin(), queue_.begin() + n);
    }
    // Compactions run alone, between write batches.
    std::vector<std::shared_ptr<PendingWrite>> writes;
    for (auto& w : batch) {
      if (w->op != Op::Compact) {
        writes.push_back(w);
        continue;
      }
      try {
        run_compaction(w->expected_revision);
        w->done.set_value(nullptr);
      } catch (...) {
        w->done.set_exception(std::current_exception());
      }
    }
    if (!writes.empty()) commit_batch(writes);
  }
}

void SqliteStore::commit_batch(std::vector<std::shared_ptr<PendingWrite>>& batch) {
  // Only this thread changes state_, so it reads state_ without the lock. Keys written earlier in the batch are
  // looked up in `overlay` (null = deleted in this batch).
  std::map<std::string, RecordPtr, std::less<>> overlay;
  auto current = [&](const std::string& key) -> RecordPtr {
    if (auto it = overlay.find(key); it != overlay.end()) return it->second;
    auto it = state_.find(key);
    return it == state_.end() ? nullptr : it->second;
  };

  if (!insert_)
    insert_ = std::make_unique<Stmt>(db_,
                                     "INSERT INTO kv (id, key, created, deleted, create_revision, prev_revision, value) "
                                     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  Stmt* insert = insert_.get();
  struct Outcome {
    Event event;
    std::exception_ptr error;
  };
  std::vector<Outcome> outcomes(batch.size());
  int64_t rev = revision_;
  bool ok = true;
  try {
    exec(db_, "BEGIN IMMEDIATE");
    for (size_t i = 0; i < batch.size(); ++i) {
      auto& w = *batch[i];
      RecordPtr prev = current(w.key);
      try {
        if (w.op == Op::Create && prev) throw StoreError(StoreError::Code::AlreadyExists, w.key);
        if (w.op != Op::Create && !prev) throw StoreError(StoreError::Code::NotFound, w.key);
        if (w.op != Op::Create && w.expected_revision != 0 && prev->revision != w.expected_revision)
          throw StoreError(StoreError::Code::Conflict, w.key);
      } catch (...) {
        outcomes[i].error = std::current_exception();
        continue;
      }
      int64_t r = rev + 1;
      if (w.object.is_object()) w.object["metadata"]["resourceVersion"] = std::to_string(r);
      std::string value = w.object.dump();
      int64_t create_rev = prev ? prev->create_revision : r;
      insert->reset();
      sqlite3_bind_int64(insert->get(), 1, r);
      sqlite3_bind_text(insert->get(), 2, w.key.data(), int(w.key.size()), SQLITE_STATIC);
      sqlite3_bind_int(insert->get(), 3, w.op == Op::Create);
      sqlite3_bind_int(insert->get(), 4, w.op == Op::Delete);
      sqlite3_bind_int64(insert->get(), 5, create_rev);
      sqlite3_bind_int64(insert->get(), 6, prev ? prev->revision : 0);
      sqlite3_bind_blob(insert->get(), 7, value.data(), int(value.size()), SQLITE_STATIC);
      if (sqlite3_step(insert->get()) != SQLITE_DONE)
        throw std::runtime_error(std::string("sqlite insert: ") + sqlite3_errmsg(db_));
      rev = r;
      auto rec = std::make_shared<Record>();
      rec->key = w.key;
      rec->revision = r;
      rec->create_revision = create_rev;
      rec->value = std::move(value);
      rec->attrs = options_.attrs(w.key, w.object);
      outcomes[i].event = Event{w.op == Op::Create   ? EventType::Added
                                : w.op == Op::Delete ? EventType::Deleted
                                                     : EventType::Modified,
                                rec, prev};
      overlay[w.key] = w.op == Op::Delete ? nullptr : RecordPtr(rec);
    }
    insert->reset();
    exec(db_, "COMMIT");
  } catch (const std::exception& e) {
    insert->reset();
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    ok = false;
    for (auto& w : batch)
      w->done.set_exception(std::make_exception_ptr(StoreError(StoreError::Code::Unavailable, e.what())));
  }
  if (!ok) return;

  {
    std::unique_lock lock(state_mutex_);
    for (auto& [key, rec] : overlay) {
      if (rec)
        state_[key] = rec;
      else
        state_.erase(key);
    }
    revision_ = rev;
  }
  {
    std::lock_guard lock(events_mutex_);
    for (auto& o : outcomes)
      if (o.event.object) history_.push_back(o.event);
    while (history_.size() > options_.history_events) {
      history_base_ = history_.front().revision();
      history_.pop_front();
    }
    published_revision_ = rev;
  }
  events_cv_.notify_all();
  for (size_t i = 0; i < batch.size(); ++i) {
    if (outcomes[i].error)
      batch[i]->done.set_exception(outcomes[i].error);
    else
      batch[i]->done.set_value(outcomes[i].event.object);
  }
}

void SqliteStore::run_compaction(int64_t revision) {
  int64_t from;
  {
    std::shared_lock lock(state_mutex_);
    from = compacted_;
    revision = std::min(revision, revision_);
  }
  if (revision <= from) return;
  // Rows to drop in (lo, hi]: tombstones, and every row that a row in the range supersedes (its prev_revision).
  // Reading the range by rowid and deleting by rowid needs no index, so writes pay for none.
  Stmt scan(db_, "SELECT id, deleted, prev_revision FROM kv WHERE id > ?1 AND id <= ?2");
  Stmt del(db_, "DELETE FROM kv WHERE id = ?1");
  Stmt meta(db_, "INSERT INTO meta (name, value) VALUES ('compacted', ?1) "
                 "ON CONFLICT(name) DO UPDATE SET value = excluded.value");
  for (int64_t lo = from; lo < revision; lo += kCompactionChunk) {
    int64_t hi = std::min(lo + kCompactionChunk, revision);
    std::vector<int64_t> doomed;
    scan.reset();
    sqlite3_bind_int64(scan.get(), 1, lo);
    sqlite3_bind_int64(scan.get(), 2, hi);
    while (sqlite3_step(scan.get()) == SQLITE_ROW) {
      if (sqlite3_column_int(scan.get(), 1)) doomed.push_back(sqlite3_column_int64(scan.get(), 0));
      if (int64_t prev = sqlite3_column_int64(scan.get(), 2)) doomed.push_back(prev);
    }
    scan.reset();
    exec(db_, "BEGIN IMMEDIATE");
    try {
      for (int64_t id : doomed) {
        del.reset();
        sqlite3_bind_int64(del.get(), 1, id);
        if (sqlite3_step(del.get()) != SQLITE_DONE)
          throw std::runtime_error(std::string("sqlite compact: ") + sqlite3_errmsg(db_));
      }
      del.reset();
      meta.reset();
      sqlite3_bind_int64(meta.get(), 1, hi);
      if (sqlite3_step(meta.get()) != SQLITE_DONE)
        throw std::runtime_error(std::string("sqlite compact: ") + sqlite3_errmsg(db_));
      meta.reset();
      exec(db_, "COMMIT");
    } catch (...) {
      del.reset();
      meta.reset();
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
    std::unique_lock lock(state_mutex_);
    compacted_ = hi;
  }
}

}  // namespace kctl::apiserver
