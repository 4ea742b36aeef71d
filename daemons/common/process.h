// Running helper programs (tar, ip, nsenter, ...) from a daemon: argv only (never a shell), output captured,
// exit status returned; and a reaper-safe wait.
#pragma once

#include <string>
#include <vector>

namespace kctl {

struct ProcessResult {
  int exit_code = -1;  // 128+N when killed by signal N; 127 when the program could not be run
  std::string out, err;
  bool ok() const { return exit_code == 0; }
};

// Runs argv[0] (looked up on PATH) with the given arguments; waits. Output beyond kMaxCapturedOutput is dropped.
ProcessResult run_process(const std::vector<std::string>& argv, const std::string& input = "");

// A one-line description of a failed run, for error messages: "tar -xf x: exit 2: tar: x: Cannot open".
std::string describe_failure(const std::vector<std::string>& argv, const ProcessResult& r);

}  // namespace kctl
