// The storage interface of kctl-apiserver: a revisioned key-value log (like etcd's mvcc) that keeps objects as JSON.
// SqliteStore implements it; an etcd backend can implement the same small interface.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemons/apiserver/object_attrs.h"

namespace kctl::apiserver {

// One version of one object. Immutable once published, shared between the current state, the event history and
// every watcher that is sending it.
struct Record {
  std::string key;
  int64_t revision = 0;         // the write that made this version: the object's resourceVersion
  int64_t create_revision = 0;  // the write that created the object
  std::string value;            // the object as JSON, metadata.resourceVersion already set to `revision`
  ObjectAttrs attrs;            // derived from value when the record is made (labels, selectable fields, ...)
};
using RecordPtr = std::shared_ptr<const Record>;

enum class EventType { Added, Modified, Deleted };

struct Event {
  EventType type;
  RecordPtr object;  // for Deleted: the last state, with the deleting revision as its resourceVersion
  RecordPtr prev;    // the version before this event (null for Added), for selector transitions
  int64_t revision() const { return object->revision; }
};

// Failures a store reports; the apiserver turns them into Status objects that name the resource.
class StoreError : public std::exception {
 public:
  enum class Code { NotFound, AlreadyExists, Conflict, Compacted, Unavailable };
  StoreError(Code c, std::string msg) : code_(c), msg_(std::move(msg)) {}
  Code code() const { return code_; }
  const char* what() const noexcept override { return msg_.c_str(); }

 private:
  Code code_;
  std::string msg_;
};

// A stream of events after a revision, for keys under one prefix.
class Watch {
 public:
  virtual ~Watch() = default;
  // Waits until events exist after the last one returned, or until `deadline`, or until cancel().
  // Returns the (possibly empty) batch; throws StoreError(Compacted) if the start revision is gone.
  virtual std::vector<Event> next(std::chrono::steady_clock::time_point deadline) = 0;
  // The newest revision the store had when next() last returned: a watcher that got no events has seen up to it
  // (used for bookmarks).
  virtual int64_t progress_revision() const = 0;
  virtual void cancel() = 0;
};
using WatchPtr = std::unique_ptr<Watch>;

class Store {
 public:
  virtual ~Store() = default;

  virtual RecordPtr get(std::string_view key) const = 0;
  // Every live object whose key starts with prefix, in key order, and the revision the list is consistent at.
  virtual std::vector<RecordPtr> list(std::string_view prefix, int64_t* revision) const = 0;

  // Writes are durable when they return. metadata.resourceVersion is set by the store.
  virtual RecordPtr create(const std::string& key, nlohmann::json object) = 0;
  // Compare-and-swap: fails with Conflict unless the key's current revision is expected_revision.
  virtual RecordPtr update(const std::string& key, nlohmann::json object, int64_t expected_revision) = 0;
  // Deletes (a tombstone); `last_state` is the object the DELETED event carries. Compare-and-swap like update.
  virtual RecordPtr remove(const std::string& key, nlohmann::json last_state, int64_t expected_revision) = 0;

  // Events with revision > from_revision under prefix. from_revision below compacted_revision() fails.
  virtual WatchPtr watch(const std::string& prefix, int64_t from_revision) = 0;

  virtual int64_t current_revision() const = 0;
  virtual int64_t compacted_revision() const = 0;
  // Drops history at or below revision: superseded versions and tombstones. Current objects stay.
  virtual void compact(int64_t revision) = 0;
};
using StorePtr = std::unique_ptr<Store>;

}  // namespace kctl::apiserver
