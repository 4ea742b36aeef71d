// read_container_log: CRI record parsing (partial records joined), tail by lines, since/limit, and follow by
// watching the file with inotify while the container runs.
#include "daemons/kubelet/container_log.h"

#include <ctime>
#include <deque>
#include <fstream>

#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

namespace kctl::kubelet {

namespace {

// A followed log is re-checked at least this often even without an inotify event (the container may have exited
// without writing anything more).
constexpr int kFollowPollMs = 500;

int64_t parse_time(const std::string& ts) {
  std::tm tm{};
  if (ts.size() < 19 || !strptime(ts.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return 0;
  return int64_t(timegm(&tm));
}

struct Reader {
  const LogOptions& o;
  const std::function<bool(std::string_view)>& out;
  std::string partial;  // text of P records waiting for their F
  int64_t written = 0;
  bool stopped = false;

  // One CRI record; returns the completed line ("" when it was a partial).
  bool record(const std::string& rec, std::string& line, std::string& ts) {
    auto s1 = rec.find(' ');
    auto s2 = s1 == std::string::npos ? s1 : rec.find(' ', s1 + 1);
    auto s3 = s2 == std::string::npos ? s2 : rec.find(' ', s2 + 1);
    if (s3 == std::string::npos) return false;
    ts = rec.substr(0, s1);
    std::string tag = rec.substr(s2 + 1, s3 - s2 - 1);
    partial += rec.substr(s3 + 1);
    if (tag == "P") return false;
    line = std::move(partial) + "\n";
    partial.clear();
    return true;
  }
  bool emit(const std::string& line, const std::string& ts) {
    if (stopped) return false;
    if (o.since_seconds > 0 && parse_time(ts) < int64_t(std::time(nullptr)) - o.since_seconds) return true;
    std::string text = o.timestamps ? ts + " " + line : line;
    if (o.limit_bytes > 0 && written + int64_t(text.size()) > o.limit_bytes) {
      text.resize(size_t(o.limit_bytes - written));
      stopped = true;
    }
    written += int64_t(text.size());
    if (!text.empty() && !out(text)) stopped = true;
    return !stopped;
  }
};

}  // namespace

void read_container_log(const std::string& path, const LogOptions& o,
                        const std::function<bool(std::string_view)>& out, const std::function<bool()>& running) {
  Reader r{o, out};
  std::ifstream in(path);
  std::string rec, line, ts;
  // Everything written so far; with a tail, only the last N lines.
  std::deque<std::pair<std::string, std::string>> tail;
  while (std::getline(in, rec)) {
    if (!r.record(rec, line, ts)) continue;
    if (o.tail_lines >= 0) {
      tail.emplace_back(std::move(line), ts);
      if (int64_t(tail.size()) > o.tail_lines) tail.pop_front();
    } else if (!r.emit(line, ts)) {
      return;
    }
  }
  for (auto& [l, t] : tail)
    if (!r.emit(l, t)) return;
  if (!o.follow) return;
  in.clear();
  int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (fd >= 0) inotify_add_watch(fd, path.c_str(), IN_MODIFY | IN_CLOSE_WRITE);
  for (;;) {
    bool alive = running();
    std::streampos pos = in.tellg();
    while (std::getline(in, rec)) {
      if (in.eof()) break;  // an incomplete record: wait for the rest of it
      pos = in.tellg();
      if (r.record(rec, line, ts) && !r.emit(line, ts)) {
        if (fd >= 0) close(fd);
        return;
      }
    }
    in.clear();
    in.seekg(pos);
    if (!alive) break;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, fd >= 0 ? 1 : 0, kFollowPollMs) > 0) {
      char buf[4096];
      while (read(fd, buf, sizeof buf) > 0) {
      }
    }
  }
  if (fd >= 0) close(fd);
}

}  // namespace kctl::kubelet
