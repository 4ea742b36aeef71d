// The local terminal of `kctl exec -t`: raw mode for the session (restored on every way out), its size, and
// SIGWINCH turned into a readable fd so the stdin thread can send resizes.
#pragma once

#include <signal.h>
#include <termios.h>

#include <optional>

#include "cli/remote_command.h"

namespace kctl::cli {

// The size of the terminal on fd, if it is one.
std::optional<TerminalSize> terminal_size(int fd);

// Puts a terminal into raw mode (no echo, no line editing, no signals: ^C goes to the remote command) until
// destroyed, as kubectl's term.TTY.Safe does.
class RawTerminal {
 public:
  explicit RawTerminal(int fd);
  ~RawTerminal();
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;

 private:
  int fd_;
  bool saved_ = false;
  termios original_{};
};

// A pipe that becomes readable after each SIGWINCH, while it exists (one at a time).
class WindowChanges {
 public:
  WindowChanges();
  ~WindowChanges();
  WindowChanges(const WindowChanges&) = delete;
  WindowChanges& operator=(const WindowChanges&) = delete;
  int fd() const { return fds_[0]; }

 private:
  int fds_[2] = {-1, -1};
  struct ::sigaction previous_ {};
};

}  // namespace kctl::cli
