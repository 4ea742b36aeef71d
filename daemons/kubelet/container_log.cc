// Container logs: the rotating writer the shim uses, and read_container_log (CRI record parsing with partial records
// joined, tail by lines, since/limit, and follow by watching the log's directory with inotify while the container
// runs, moving on to the new file when the log is rotated).
#include "daemons/kubelet/container_log.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <ctime>
#include <deque>
#include <filesystem>
#include <tuple>

#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace kctl::kubelet {

namespace {

// A followed log is re-checked at least this often even without an inotify event (the container may have exited
// without writing anything more).
constexpr int kFollowPollMs = 500;
// Rotations within one second get a counter after the timestamp; past this many, a name is reused (overwriting
// that file): a bound on the names probed, for a log rotated at a tiny size.
constexpr int kMaxRotationsPerSecond = 100000;

// The kubelet's rotated-file suffix (Go's "20060102-150405"), in UTC rather than the kubelet's local time: names
// then sort in the order they were made, also across a daylight-saving change.
std::string rotation_timestamp() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
  return buf;
}

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

// Reads what the file holds past the current offset and hands each complete record to `record`; an incomplete one
// stays in `pending` for the next call. False when `record` asked to stop.
bool read_records(int fd, std::string& pending, const std::function<bool(const std::string&)>& record) {
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return true;
    pending.append(buf, size_t(n));
    size_t start = 0, nl;
    while ((nl = pending.find('\n', start)) != std::string::npos) {
      if (!record(pending.substr(start, nl - start))) return false;
      start = nl + 1;
    }
    pending.erase(0, start);
  }
}

// Whether the file at `path` is no longer the one open as fd (it was rotated and a new one started).
bool replaced(const std::string& path, int fd) {
  struct stat now{}, open{};
  return ::stat(path.c_str(), &now) == 0 && ::fstat(fd, &open) == 0 &&
         (now.st_ino != open.st_ino || now.st_dev != open.st_dev);
}

}  // namespace

ContainerLogWriter::ContainerLogWriter(std::string path, LogRotation rotation)
    : path_(std::move(path)), rotation_(rotation) {
  rotation_.max_files = std::max(rotation_.max_files, kMinContainerLogMaxFiles);
  open();
}

ContainerLogWriter::~ContainerLogWriter() {
  if (fd_ >= 0) ::close(fd_);
}

void ContainerLogWriter::open() {
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  struct stat st{};
  size_ = fd_ >= 0 && ::fstat(fd_, &st) == 0 ? int64_t(st.st_size) : 0;
}

void ContainerLogWriter::write(std::string_view record) {
  if (rotation_.max_size > 0 && size_ > 0 && size_ + int64_t(record.size()) > rotation_.max_size) rotate();
  if (fd_ < 0) open();
  if (fd_ < 0) return;
  // One write per record (O_APPEND): a reader never sees half of one followed by something else.
  ssize_t n;
  while ((n = ::write(fd_, record.data(), record.size())) < 0 && errno == EINTR) {
  }
  if (n > 0) size_ += n;
}

void ContainerLogWriter::rotate() {
  // Within one second, a counter that only grows: a name freed by deleting the oldest file must not come back, or
  // the newest file would sort as the oldest.
  std::string stamp = rotation_timestamp();
  rotations_in_second_ = stamp == last_stamp_ ? rotations_in_second_ + 1 : 0;
  last_stamp_ = stamp;
  auto name = [&] {
    return path_ + "." + stamp + (rotations_in_second_ ? "." + std::to_string(rotations_in_second_) : "");
  };
  std::error_code ec;
  while (fs::exists(name(), ec) && rotations_in_second_ < kMaxRotationsPerSecond) ++rotations_in_second_;
  std::string target = name();
  // Room first, so that there are never more than max_files files, not even for a moment: the current file and
  // max_files - 2 rotated ones stay, then the current one becomes a rotated one and a new one starts.
  auto rotated = rotated_container_logs(path_);
  for (size_t i = 0; i + size_t(rotation_.max_files - 2) < rotated.size(); ++i) fs::remove(rotated[i], ec);
  // Renamed while still open: nothing is lost, and readers holding the old file read it to its end.
  if (::rename(path_.c_str(), target.c_str()) != 0) return;  // keep writing where we are
  if (fd_ >= 0) ::close(fd_);
  open();
}

std::vector<std::string> rotated_container_logs(const std::string& path) {
  fs::path p(path);
  std::string prefix = p.filename().string() + ".";
  // Ordered by the timestamp in the name, then by the counter of rotations within its second.
  std::vector<std::tuple<std::string, long, std::string>> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(p.parent_path(), ec)) {
    std::string name = e.path().filename().string();
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    std::string suffix = name.substr(prefix.size());
    std::string stamp = suffix.substr(0, suffix.find('.'));
    bool valid = stamp.size() == 15 && stamp[8] == '-';
    for (size_t i = 0; valid && i < stamp.size(); ++i)
      valid = i == 8 || std::isdigit(static_cast<unsigned char>(stamp[i]));
    if (!valid) continue;  // not a rotated file (a temporary file, another attempt's log)
    long n = stamp.size() < suffix.size() ? std::atol(suffix.c_str() + stamp.size() + 1) : 0;
    found.emplace_back(stamp, n, e.path().string());
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> out;
  for (auto& f : found) out.push_back(std::move(std::get<2>(f)));
  return out;
}

void remove_container_log(const std::string& path) {
  std::error_code ec;
  for (const auto& r : rotated_container_logs(path)) fs::remove(r, ec);
  fs::remove(path, ec);
}

void read_container_log(const std::string& path, const LogOptions& o,
                        const std::function<bool(std::string_view)>& out, const std::function<bool()>& running) {
  Reader r{o, out};
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  // A rotation renames the file before the writer opens the next one: for that moment there is no current file.
  for (int i = 0; fd < 0 && errno == ENOENT && i < 100 && running(); ++i) {
    ::usleep(10000);
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  }
  if (fd < 0) return;
  std::string pending, line, ts;
  // Everything written so far; with a tail, only the last N lines.
  std::deque<std::pair<std::string, std::string>> tail;
  bool go_on = read_records(fd, pending, [&](const std::string& rec) {
    if (!r.record(rec, line, ts)) return true;
    if (o.tail_lines < 0) return r.emit(line, ts);
    tail.emplace_back(std::move(line), ts);
    if (int64_t(tail.size()) > o.tail_lines) tail.pop_front();
    return true;
  });
  for (auto& [l, t] : tail)
    if (go_on && !r.emit(l, t)) go_on = false;
  if (!go_on || !o.follow) {
    ::close(fd);
    return;
  }
  // The directory, not the file: a rotation replaces the file, and the new one must wake us as well.
  int in = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (in >= 0)
    inotify_add_watch(in, fs::path(path).parent_path().c_str(), IN_MODIFY | IN_CLOSE_WRITE | IN_CREATE | IN_MOVED_FROM);
  auto emit = [&](const std::string& rec) { return !r.record(rec, line, ts) || r.emit(line, ts); };
  for (;;) {
    bool alive = running();
    if (!read_records(fd, pending, emit)) break;
    // Rotated: the old file has been read to its end (nothing more goes to it); go on with the new one.
    if (replaced(path, fd)) {
      // What was written after the read above and before the rename belongs to the old file: read it first.
      if (!read_records(fd, pending, emit)) break;
      int next = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (next >= 0) {
        ::close(fd);
        fd = next;
        pending.clear();
        continue;
      }
    }
    if (!alive) break;
    pollfd p{in, POLLIN, 0};
    if (::poll(&p, in >= 0 ? 1 : 0, kFollowPollMs) > 0) {
      char buf[4096];
      while (::read(in, buf, sizeof buf) > 0) {
      }
    }
  }
  if (in >= 0) ::close(in);
  ::close(fd);
}

}  // namespace kctl::kubelet
