// Reading the CRI-format container logs the shim writes ("<time> <stream> <F|P> <text>"), with the options of
// kubectl logs: tail, since, timestamps, a byte limit, and following a log while its container runs.
#pragma once

#include <functional>
#include <string>

namespace kctl::kubelet {

struct LogOptions {
  int64_t tail_lines = -1;      // -1: all
  int64_t since_seconds = 0;    // 0: no limit
  int64_t limit_bytes = 0;      // 0: no limit
  bool timestamps = false;      // prefix each line with its RFC 3339 time
  bool follow = false;
};

// Writes the log's lines to `out` (false from out stops). With follow, keeps reading new lines until `running`
// says the container has stopped (and everything it wrote has been read) or out returns false.
void read_container_log(const std::string& path, const LogOptions& options,
                        const std::function<bool(std::string_view)>& out, const std::function<bool()>& running);

}  // namespace kctl::kubelet
