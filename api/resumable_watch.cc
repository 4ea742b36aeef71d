// ResumableWatch: list, watch from the list's revision, resume after drops, relist after 410 and report the
// difference, with back-off while the server cannot be reached.
#include "api/resumable_watch.h"

#include <condition_variable>
#include <random>
#include <thread>

namespace kctl::api {

using nlohmann::json;

namespace {
// Back-off between failed attempts to list or watch: doubles from the first value up to the cap.
constexpr std::chrono::milliseconds kFirstDelay{100};
constexpr std::chrono::milliseconds kMaxDelay{5000};
// Watches are re-established after 5 to 10 minutes, as client-go's reflector does, so no connection lives forever
// (a load balancer or a restarted apiserver never strands a watcher).
constexpr int kMinWatchSeconds = 300;

std::string rv_of(const json& obj) { return obj.value("/metadata/resourceVersion"_json_pointer, std::string()); }

std::mutex sleep_mutex;
std::condition_variable sleep_cv;
}  // namespace

ResumableWatch::ResumableWatch(Transport& transport, const KindInfo& kind, std::string ns, ListOptions opts)
    : transport_(transport), kind_(kind), ns_(std::move(ns)), opts_(std::move(opts)) {
  rv_ = opts_.resource_version;
  need_list_ = rv_.empty() || rv_ == "0";
  synced_sent_ = !need_list_;  // only a watch that starts with a list reports when that list is delivered
}

ResumableWatch::~ResumableWatch() { stop(); }

void ResumableWatch::stop() {
  stopped_ = true;
  {
    std::lock_guard lock(stream_mutex_);
    if (stream_) stream_->stop();
  }
  std::lock_guard lock(sleep_mutex);
  sleep_cv.notify_all();
}

std::string ResumableWatch::resource_version() const { return rv_; }

void ResumableWatch::backoff() {
  delay_ = delay_.count() == 0 ? kFirstDelay : std::min(delay_ * 2, kMaxDelay);
  std::unique_lock lock(sleep_mutex);
  sleep_cv.wait_for(lock, delay_, [&] { return stopped_.load(); });
}

void ResumableWatch::remember(const WatchEvent& ev) {
  if (ev.type == WatchEvent::Type::Deleted)
    known_.erase(object_key(ev.object));
  else if (ev.type == WatchEvent::Type::Added || ev.type == WatchEvent::Type::Modified)
    known_[object_key(ev.object)] = ev.object;
}

bool ResumableWatch::relist(std::vector<WatchEvent>& out) {
  ObjectList list;
  try {
    ListOptions lo;
    lo.label_selector = opts_.label_selector;
    lo.field_selector = opts_.field_selector;
    list = transport_.list(kind_, ns_, lo);
  } catch (const StatusError&) {
    return false;
  }
  std::map<std::string, json> now;
  for (auto& obj : list.items) now.emplace(object_key(obj), std::move(obj));
  for (const auto& [key, obj] : known_)
    if (!now.count(key)) {
      // Gone while we were not watching: report the last state we knew.
      json last = obj;
      out.push_back({WatchEvent::Type::Deleted, std::move(last)});
    }
  for (const auto& [key, obj] : now) {
    auto it = known_.find(key);
    if (it == known_.end())
      out.push_back({WatchEvent::Type::Added, obj});
    else if (rv_of(it->second) != rv_of(obj))
      out.push_back({WatchEvent::Type::Modified, obj});
  }
  known_ = std::move(now);
  rv_ = list.resource_version;
  return true;
}

bool ResumableWatch::open_stream() {
  ListOptions w = opts_;
  w.resource_version = rv_;
  w.allow_bookmarks = true;
  static thread_local std::mt19937 rng{std::random_device{}()};
  w.timeout_seconds = kMinWatchSeconds + int(rng() % kMinWatchSeconds);
  try {
    auto s = transport_.watch(kind_, ns_, w);
    std::lock_guard lock(stream_mutex_);
    if (stopped_) return false;
    stream_ = std::move(s);
    return true;
  } catch (const StatusError&) {
    return false;
  }
}

bool ResumableWatch::next(WatchEvent& out) {
  while (!stopped_) {
    if (!pending_.empty()) {
      out = std::move(pending_.front());
      pending_.erase(pending_.begin());
      return true;
    }
    if (need_list_) {
      if (!relist(pending_)) {
        backoff();
        continue;
      }
      need_list_ = false;
      delay_ = std::chrono::milliseconds(0);
      if (!synced_sent_) {
        pending_.push_back({WatchEvent::Type::Synced, nullptr});
        synced_sent_ = true;
      }
      continue;
    }
    if (!stream_ && !open_stream()) {
      backoff();
      continue;
    }
    WatchEvent ev;
    if (!stream_->next(ev)) {
      // The stream ended (timeout, server restart, dropped connection): resume after rv_.
      std::lock_guard lock(stream_mutex_);
      stream_.reset();
      ++reconnects_;
      if (stopped_) return false;
      continue;
    }
    switch (ev.type) {
      case WatchEvent::Type::Error: {
        int code = ev.object.value("code", 0);
        {
          std::lock_guard lock(stream_mutex_);
          stream_.reset();
        }
        if (code == 410) {
          // Our revision was compacted away: relist and report the difference.
          need_list_ = true;
          ++relists_;
        } else {
          backoff();
        }
        continue;
      }
      case WatchEvent::Type::Bookmark:
        if (auto rv = rv_of(ev.object); !rv.empty()) rv_ = rv;
        continue;
      default:
        break;
    }
    delay_ = std::chrono::milliseconds(0);
    if (auto rv = rv_of(ev.object); !rv.empty()) rv_ = rv;
    remember(ev);
    out = std::move(ev);
    return true;
  }
  return false;
}

}  // namespace kctl::api
