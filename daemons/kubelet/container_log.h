// CRI-format container logs ("<time> <stream> <F|P> <text>"): writing them with rotation, as the kubelet's
// --container-log-max-size and --container-log-max-files ask, and reading them with the options of kubectl logs:
// tail, since, timestamps, a byte limit, and following a log while its container runs (across rotations).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace kctl::kubelet {

// The kubelet's defaults: a container's log is rotated at 10 MiB and at most 5 files are kept (the current one
// included), so one container's logs take at most about 50 MiB of the node's disk.
constexpr int64_t kDefaultContainerLogMaxSize = 10 * 1024 * 1024;
constexpr int kDefaultContainerLogMaxFiles = 5;
// Rotation keeps at least the current file and the one just rotated away (the kubelet refuses fewer too).
constexpr int kMinContainerLogMaxFiles = 2;

struct LogRotation {
  int64_t max_size = 0;  // bytes; 0: never rotated
  int max_files = kDefaultContainerLogMaxFiles;
};

// Appends records to a container's log file. A record that would take the file past max_size first rotates it: the
// file is renamed <path>.<YYYYMMDD-hhmmss> (the kubelet's names) and a new one started; rotated files beyond
// max_files - 1 are deleted, oldest first. A file only exceeds max_size when it holds a single record that does.
class ContainerLogWriter {
 public:
  ContainerLogWriter(std::string path, LogRotation rotation);
  ~ContainerLogWriter();
  ContainerLogWriter(const ContainerLogWriter&) = delete;
  ContainerLogWriter& operator=(const ContainerLogWriter&) = delete;
  // Writes one whole record (a line ending in '\n'). Failures are dropped: a container never blocks on its log.
  void write(std::string_view record);

 private:
  void open();
  void rotate();
  std::string path_;
  LogRotation rotation_;
  int fd_ = -1;
  int64_t size_ = 0;
  std::string last_stamp_;  // the timestamp of the last rotation's name
  int rotations_in_second_ = 0;
};

// The rotated files of a log (<path>.<YYYYMMDD-hhmmss>[.<n>]), oldest first.
std::vector<std::string> rotated_container_logs(const std::string& path);
// Removes a log file and its rotated files.
void remove_container_log(const std::string& path);

struct LogOptions {
  int64_t tail_lines = -1;      // -1: all
  int64_t since_seconds = 0;    // 0: no limit
  int64_t limit_bytes = 0;      // 0: no limit
  bool timestamps = false;      // prefix each line with its RFC 3339 time
  bool follow = false;
};

// Writes the lines of the log's current file to `out` (false from out stops), as the kubelet reads only the current
// file. With follow, keeps reading new lines, also from the new file when the log is rotated, until `running` says
// the container has stopped (and everything it wrote has been read) or out returns false.
void read_container_log(const std::string& path, const LogOptions& options,
                        const std::function<bool(std::string_view)>& out, const std::function<bool()>& running);

}  // namespace kctl::kubelet
