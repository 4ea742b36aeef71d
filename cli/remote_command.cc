// The exec session: a stdin thread (stdin, resizes, v5's close of stdin) and the caller's thread reading the
// output channels and the final Status, as client-go's remotecommand WebSocket executor does.
#include "cli/remote_command.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <thread>

#include <nlohmann/json.hpp>

namespace kctl::cli {

using nlohmann::json;

namespace {

// One read of stdin becomes one message: big enough for a paste, small next to the server's message limit.
constexpr size_t kStdinChunk = 32 * 1024;

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(size_t(n));
  }
  return true;
}

std::string framed(ExecChannel channel, std::string_view data) {
  std::string m(1, char(channel));
  m.append(data);
  return m;
}

// A pipe whose write end wakes the stdin thread's poll() when the session is over.
class WakePipe {
 public:
  WakePipe() {
    if (::pipe2(fds_, O_CLOEXEC) != 0) fds_[0] = fds_[1] = -1;
  }
  ~WakePipe() {
    for (int fd : fds_)
      if (fd >= 0) ::close(fd);
  }
  int read_fd() const { return fds_[0]; }
  void wake() {
    if (fds_[1] >= 0) (void)!::write(fds_[1], "x", 1);
  }

 private:
  int fds_[2];
};

void pump_stdin(MessageSocket& socket, const RemoteCommandIO& io, int stop_fd) {
  auto send_size = [&] {
    if (!io.terminal_size) return true;
    auto size = io.terminal_size();
    return !size || socket.send(framed(kResizeChannel, resize_message(*size)));
  };
  if (!send_size()) return;
  int in_fd = io.in_fd;
  std::string buf(kStdinChunk, '\0');
  for (;;) {
    pollfd p[3] = {{stop_fd, POLLIN, 0}, {in_fd, POLLIN, 0}, {io.resize_fd, POLLIN, 0}};
    if (::poll(p, 3, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (p[0].revents) return;
    if (p[2].revents & POLLIN) {
      char drain[64];
      (void)!::read(io.resize_fd, drain, sizeof drain);
      if (!send_size()) return;
    }
    if (p[1].revents) {
      ssize_t n = ::read(in_fd, buf.data(), buf.size());
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) {
        // End of stdin: v5 says so (the remote `cat` ends); v4 has no way to, the command keeps its stdin open.
        if (io.v5 && !socket.send(std::string{char(kCloseChannel), char(kStdinChannel)})) return;
        in_fd = -1;
        continue;
      }
      if (!socket.send(framed(kStdinChannel, std::string_view(buf.data(), size_t(n))))) return;
    }
  }
}

}  // namespace

RemoteCommandResult decode_exec_status(std::string_view json_text) {
  json status;
  try {
    status = json::parse(json_text);
  } catch (const json::exception& e) {
    return {1, "error: error stream protocol error: " + std::string(e.what()) + " in \"" + std::string(json_text) + "\""};
  }
  if (!status.is_object()) return {1, "error: error stream protocol error: unknown error"};
  std::string s = status.value("status", "");
  if (s == "Success") return {0, ""};
  if (s != "Failure") return {1, "error: error stream protocol error: unknown error"};
  if (status.value("reason", "") == "NonZeroExitCode") {
    const json* details = status.contains("details") && status["details"].is_object() ? &status["details"] : nullptr;
    if (!details) return {1, "error: error stream protocol error: details must be set"};
    for (const auto& cause : details->value("causes", json::array())) {
      if (!cause.is_object() || cause.value("reason", "") != "ExitCode") continue;
      std::string text = cause.value("message", "");
      unsigned code = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), code);
      if (ec != std::errc() || end != text.data() + text.size() || text.empty() || code > 255)
        return {1, "error: error stream protocol error: invalid exit code value \"" + text + "\""};
      // kubectl prints the CodeExitError's text and exits with the command's code.
      return {int(code), "command terminated with exit code " + std::to_string(code)};
    }
    return {1, "error: error stream protocol error: no ExitCode cause given"};
  }
  std::string message = status.value("message", "");
  return {1, message.rfind("error: ", 0) == 0 ? message : "error: " + message};
}

std::string resize_message(TerminalSize size) {
  return "{\"Width\":" + std::to_string(size.width) + ",\"Height\":" + std::to_string(size.height) + "}\n";
}

RemoteCommandResult run_remote_command(MessageSocket& socket, const RemoteCommandIO& io) {
  WakePipe stop;
  std::thread input;
  if (io.in_fd >= 0 || io.terminal_size) input = std::thread(pump_stdin, std::ref(socket), std::cref(io), stop.read_fd());
  RemoteCommandResult result;
  bool out_open = true, err_open = true;
  std::string message;
  while (socket.read(message)) {
    if (message.empty()) continue;
    std::string_view data(message);
    data.remove_prefix(1);
    switch (uint8_t(message[0])) {
      // A closed local stdout (`kctl exec ... | head -1`) drops the rest of that stream, as Go's io.Copy ends.
      case kStdoutChannel: out_open = out_open && write_all(io.out_fd, data); break;
      case kStderrChannel: err_open = err_open && write_all(io.err_fd, data); break;
      case kErrorChannel: result = decode_exec_status(data); break;
      default: break;  // the server's close signals, and anything newer
    }
  }
  stop.wake();
  if (input.joinable()) input.join();
  return result;
}

}  // namespace kctl::cli
