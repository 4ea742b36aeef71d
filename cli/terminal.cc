// Raw mode, window size and SIGWINCH for kctl exec -t.
#include "cli/terminal.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <atomic>
#include <csignal>

namespace kctl::cli {

namespace {
// The write end of the live WindowChanges pipe, for the signal handler.
std::atomic<int> g_winch_fd{-1};

void on_winch(int) {
  int fd = g_winch_fd.load();
  if (fd >= 0) (void)!::write(fd, "w", 1);
}
}  // namespace

std::optional<TerminalSize> terminal_size(int fd) {
  winsize ws{};
  if (::ioctl(fd, TIOCGWINSZ, &ws) != 0) return std::nullopt;
  return TerminalSize{ws.ws_col, ws.ws_row};
}

RawTerminal::RawTerminal(int fd) : fd_(fd) {
  if (::tcgetattr(fd_, &original_) != 0) return;
  saved_ = true;
  termios raw = original_;
  ::cfmakeraw(&raw);
  ::tcsetattr(fd_, TCSANOW, &raw);
}

RawTerminal::~RawTerminal() {
  if (saved_) ::tcsetattr(fd_, TCSANOW, &original_);
}

WindowChanges::WindowChanges() {
  if (::pipe2(fds_, O_CLOEXEC | O_NONBLOCK) != 0) {
    fds_[0] = fds_[1] = -1;
    return;
  }
  g_winch_fd = fds_[1];
  struct sigaction sa {};
  sa.sa_handler = on_winch;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGWINCH, &sa, &previous_);
}

WindowChanges::~WindowChanges() {
  if (fds_[0] < 0) return;
  ::sigaction(SIGWINCH, &previous_, nullptr);
  g_winch_fd = -1;
  ::close(fds_[0]);
  ::close(fds_[1]);
}

}  // namespace kctl::cli
