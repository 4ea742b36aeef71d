// The container shim (`kctl-kubelet shim ...`): the parent of one container's systemd-nspawn for its whole life,
// independent of the kubelet. It writes the container's output to its log file in the CRI format kubectl logs
// reads, and records the pid and, at the end, the exit status in the container's state directory, so a restarted
// kubelet re-adopts running containers and still learns how finished ones ended.
#include "daemons/kubelet/container_shim.h"

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <csignal>
#include <cstring>
#include <ctime>
#include <fstream>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <systemd/sd-daemon.h>

namespace kctl::kubelet {

namespace {

// nspawn sets a container up in tens of milliseconds; one that has not started after this long is reported as
// started anyway, and its exit (if it never comes up) as usual.
constexpr auto kStartTimeout = std::chrono::seconds(60);
// A log line longer than this is split into partial (P) records, as CRI runtimes do (16 KiB).
constexpr size_t kMaxLogLine = 16 * 1024;

std::string timestamp_nanos() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  std::tm tm{};
  gmtime_r(&ts.tv_sec, &tm);
  char buf[64];
  size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%09ldZ", long(ts.tv_nsec));
  return buf;
}

void write_atomic(const std::string& path, const std::string& content) {
  {
    std::ofstream out(path + ".tmp");
    out << content;
  }
  std::rename((path + ".tmp").c_str(), path.c_str());
}

struct Stream {
  int fd;
  const char* name;
  std::string pending;
  int tee_fd;  // the shim's own stdout/stderr when they lead to the journal (a systemd unit's), else -1
};

// The container's nspawn, for the SIGTERM handler.
volatile pid_t child_pid = 0;

// `systemctl stop` of a container's unit signals the shim (KillMode=mixed): the container gets the SIGTERM, and the
// shim lives on to record how it ended.
void forward_sigterm(int) {
  if (child_pid > 0) ::kill(child_pid, SIGTERM);
}

// CRI log records: "<time> <stream> <F|P> <text>\n".
void emit(ContainerLogWriter& log, Stream& s, bool flush_all) {
  size_t p;
  while ((p = s.pending.find('\n')) != std::string::npos || s.pending.size() >= kMaxLogLine ||
         (flush_all && !s.pending.empty())) {
    bool full = p != std::string::npos && p < kMaxLogLine;
    size_t take = full ? p : std::min(s.pending.size(), kMaxLogLine);
    std::string text = s.pending.substr(0, take);
    log.write(timestamp_nanos() + " " + s.name + (full ? " F " : " P ") + text + "\n");
    if (s.tee_fd >= 0) {
      if (full) text += "\n";
      (void)!::write(s.tee_fd, text.data(), text.size());
    }
    s.pending.erase(0, full ? take + 1 : take);
  }
}

// Waits for nspawn's READY=1 on the notify socket, or for nspawn to end first (a container that cannot start), or
// for kStartTimeout.
void wait_until_running(int notify, pid_t child) {
  int exited = int(::syscall(SYS_pidfd_open, child, 0));
  auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd fds[2] = {{notify, POLLIN, 0}, {exited, POLLIN, 0}};
    int r = ::poll(fds, exited >= 0 ? 2 : 1, int(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0 || (fds[1].revents & POLLIN)) break;
    char msg[4096];
    ssize_t n = ::recv(notify, msg, sizeof msg - 1, 0);
    if (n <= 0) continue;
    msg[n] = 0;
    std::string text(msg, size_t(n));
    if (text.rfind("READY=1", 0) == 0 || text.find("\nREADY=1") != std::string::npos) break;
  }
  if (exited >= 0) ::close(exited);
}

}  // namespace

int run_shim(const ShimOptions& o) {
  ::setsid();
  std::signal(SIGHUP, SIG_IGN);
  std::signal(SIGPIPE, SIG_IGN);
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) return 125;
  ContainerLogWriter log(o.log_path, o.log_rotation);
  // Under systemd: journald reads the shim's stdout and stderr, and READY=1 goes to the manager from the shim.
  bool journal = std::getenv("JOURNAL_STREAM") != nullptr;
  // nspawn notifies READY=1 to NOTIFY_SOCKET once the container's init runs: the shim listens for that, so that a
  // container counts as started when its processes exist, not when nspawn was merely forked.
  int notify = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::string name = "kctl-shim/" + std::to_string(::getpid());  // abstract: no path length limit, nothing to remove
  std::memcpy(addr.sun_path + 1, name.data(), name.size());
  socklen_t addr_len = socklen_t(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  bool notify_ok = notify >= 0 && ::bind(notify, reinterpret_cast<sockaddr*>(&addr), addr_len) == 0;
  pid_t pid = ::fork();
  if (pid == 0) {
    if (notify_ok) ::setenv("NOTIFY_SOCKET", ("@" + name).c_str(), 1);
    else ::unsetenv("NOTIFY_SOCKET");
    int null = ::open("/dev/null", O_RDONLY);
    ::dup2(null, 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    std::vector<char*> argv;
    for (const auto& a : o.command) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execvp(argv[0], argv.data());
    std::fprintf(stderr, "cannot run %s: %s\n", argv[0], std::strerror(errno));
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  child_pid = pid;
  struct sigaction term {};
  term.sa_handler = forward_sigterm;
  ::sigaction(SIGTERM, &term, nullptr);
  if (notify_ok) wait_until_running(notify, pid);
  if (notify >= 0) ::close(notify);
  std::string started = timestamp_nanos();
  write_atomic(o.state_dir + "/pid", std::to_string(pid) + "\n");
  write_atomic(o.state_dir + "/started", started + "\n");
  if (o.ready_fd >= 0) {
    (void)!::write(o.ready_fd, "1", 1);
    ::close(o.ready_fd);
  } else {
    sd_notify(0, "READY=1");
  }
  Stream streams[2] = {{out[0], "stdout", "", journal ? 1 : -1}, {err[0], "stderr", "", journal ? 2 : -1}};
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  int open_fds = 2;
  char buf[65536];
  while (open_fds > 0) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n <= 0) {
        emit(log, streams[i], true);
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
        continue;
      }
      streams[i].pending.append(buf, size_t(n));
      emit(log, streams[i], false);
    }
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  nlohmann::json exit = {{"startedAt", started}, {"finishedAt", timestamp_nanos()}};
  if (WIFEXITED(status)) {
    exit["exitCode"] = WEXITSTATUS(status);
  } else {
    exit["exitCode"] = 128 + WTERMSIG(status);
    exit["signal"] = WTERMSIG(status);
  }
  write_atomic(o.state_dir + "/exit.json", exit.dump() + "\n");
  return 0;
}

int shim_main(int argc, char** argv) {
  ShimOptions o;
  int i = 0;
  for (; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--") {
      ++i;
      break;
    }
    if (a.rfind("--dir=", 0) == 0) o.state_dir = a.substr(6);
    else if (a.rfind("--log=", 0) == 0) o.log_path = a.substr(6);
    else if (a.rfind("--ready-fd=", 0) == 0) o.ready_fd = std::atoi(a.c_str() + 11);
    else if (a.rfind("--log-max-size=", 0) == 0) o.log_rotation.max_size = std::atoll(a.c_str() + 15);
    else if (a.rfind("--log-max-files=", 0) == 0) o.log_rotation.max_files = std::atoi(a.c_str() + 16);
  }
  for (; i < argc; ++i) o.command.push_back(argv[i]);
  if (o.state_dir.empty() || o.command.empty()) {
    std::fprintf(stderr, "usage: kctl-shim --dir=STATE --log=FILE [--log-max-size=BYTES --log-max-files=N] "
                         "[--ready-fd=N] -- COMMAND...\n");
    return 2;
  }
  return run_shim(o);
}

}  // namespace kctl::kubelet
