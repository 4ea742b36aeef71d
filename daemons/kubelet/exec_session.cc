// An exec session of the kubelet: the command runs in the container (spawn_in_container, shared with exec probes),
// its stdio carried over the k8s channel protocol on a WebSocket (v4/v5.channel.k8s.io): 0 stdin, 1 stdout,
// 2 stderr, 3 the final Status, 4 terminal resizes, 255 (v5) a stream's close.
#include "daemons/kubelet/exec_session.h"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <sstream>
#include <thread>

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "daemons/kubelet/container_exec.h"

namespace kctl::kubelet {

namespace {

enum Channel : uint8_t { kStdin = 0, kStdout = 1, kStderr = 2, kError = 3, kResize = 4, kClose = 255 };

std::string status_json(int exit_code, const std::string& failure) {
  nlohmann::json s = {{"metadata", nlohmann::json::object()}};
  if (!failure.empty()) {
    s["status"] = "Failure";
    s["message"] = failure;
    s["reason"] = "InternalError";
  } else if (exit_code == 0) {
    s["status"] = "Success";
  } else {
    s["status"] = "Failure";
    s["message"] = "command terminated with non-zero exit code: exit status " + std::to_string(exit_code);
    s["reason"] = "NonZeroExitCode";
    s["details"] = {{"causes", nlohmann::json::array({{{"reason", "ExitCode"}, {"message", std::to_string(exit_code)}}})}};
  }
  return s.dump();
}

// A terminal of the container's own devpts instance (as runc allocates it), so that the command's tty name
// resolves inside the container: the master through /proc/PID/root, the slave from the master (TIOCGPTPEER)
// without a path lookup on the host.
bool open_container_pty(int pid, int& master, int& slave) {
  std::string ptmx = "/proc/" + std::to_string(pid) + "/root/dev/pts/ptmx";
  master = ::open(ptmx.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) return false;
  int unlock = 0;
  if (::ioctl(master, TIOCSPTLCK, &unlock) == 0 && (slave = ::ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY)) >= 0)
    return true;
  ::close(master);
  master = slave = -1;
  return false;
}

// Copies a fd to a channel until EOF.
void pump(int fd, uint8_t channel, ws::Connection& conn) {
  char buf[32768];
  buf[0] = char(channel);
  for (;;) {
    ssize_t n = ::read(fd, buf + 1, sizeof buf - 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (!conn.send_binary(std::string_view(buf, size_t(n) + 1))) break;
  }
}

}  // namespace

std::string choose_channel_protocol(const std::string& offered) {
  for (const char* p : {"v5.channel.k8s.io", "v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io"}) {
    std::stringstream ss(offered);
    for (std::string item; std::getline(ss, item, ',');) {
      while (!item.empty() && item.front() == ' ') item.erase(0, 1);
      while (!item.empty() && item.back() == ' ') item.pop_back();
      if (item == p) return p;
    }
  }
  return "";
}

void run_exec_session(ws::Connection& conn, const ExecRequest& r) {
  int in_pipe[2] = {-1, -1}, out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
  int master = -1, slave = -1;
  if (r.tty) {
    if (!open_container_pty(r.target.pid, master, slave) && ::openpty(&master, &slave, nullptr, nullptr, nullptr) != 0) {
      conn.send_binary(std::string(1, char(kError)) + status_json(1, std::string("openpty: ") + std::strerror(errno)));
      conn.close();
      return;
    }
  } else {
    if (::pipe2(in_pipe, O_CLOEXEC) || ::pipe2(out_pipe, O_CLOEXEC) || ::pipe2(err_pipe, O_CLOEXEC)) return;
  }
  ContainerCommand command{r.target, r.hostname, r.command, r.tty};
  pid_t child;
  try {
    child = spawn_in_container(command, {in_pipe[0], out_pipe[1], err_pipe[1], slave});
  } catch (const std::exception& e) {
    conn.send_binary(std::string(1, char(kError)) + status_json(1, e.what()));
    conn.close();
    for (int fd : {in_pipe[0], in_pipe[1], out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1], master, slave})
      if (fd >= 0) ::close(fd);
    return;
  }
  int stdin_fd;
  std::vector<std::thread> pumps;
  if (r.tty) {
    ::close(slave);
    stdin_fd = master;
    pumps.emplace_back([&] { pump(master, kStdout, conn); });
  } else {
    ::close(in_pipe[0]);
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);
    stdin_fd = in_pipe[1];
    if (!r.stdin_open) {
      ::close(stdin_fd);
      stdin_fd = -1;
    }
    pumps.emplace_back([&] { pump(out_pipe[0], kStdout, conn); });
    pumps.emplace_back([&] { pump(err_pipe[0], kStderr, conn); });
  }
  std::atomic<bool> exited{false};
  // Client messages until the command ends: a reader thread, so waitpid below is not held up by an idle client.
  std::thread reader([&] {
    uint8_t op;
    std::string msg;
    while (conn.read(op, msg)) {
      if (msg.empty()) continue;
      uint8_t ch = uint8_t(msg[0]);
      std::string_view data(msg.data() + 1, msg.size() - 1);
      if (ch == kStdin && stdin_fd >= 0) {
        if (::write(stdin_fd, data.data(), data.size()) < 0) break;
      } else if (ch == kResize && r.tty) {
        auto j = nlohmann::json::parse(data, nullptr, false);
        winsize ws{};
        ws.ws_col = uint16_t(j.value("Width", 80));
        ws.ws_row = uint16_t(j.value("Height", 24));
        ::ioctl(master, TIOCSWINSZ, &ws);
      } else if (ch == kClose && !data.empty() && uint8_t(data[0]) == kStdin && stdin_fd >= 0 && !r.tty) {
        ::close(stdin_fd);  // the client's stdin ended (v5)
        stdin_fd = -1;
      }
    }
    // The client went away: end the command (its session sees a hangup).
    if (!exited) ::kill(child, SIGHUP);
  });
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  exited = true;
  for (auto& t : pumps) t.join();  // a pty master reads EIO once the last user of the slave is gone
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  conn.send_binary(std::string(1, char(kError)) + status_json(code, ""));
  conn.close(1000);
  conn.shutdown();  // ends the reader's blocking read; what we sent is still delivered
  reader.join();
  if (stdin_fd >= 0) ::close(stdin_fd);
  if (r.tty) ::close(master);
  else {
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
  }
}

}  // namespace kctl::kubelet
