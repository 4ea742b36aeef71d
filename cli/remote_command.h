// The client side of kubectl exec's channel protocol (v5.channel.k8s.io, v4.channel.k8s.io) over any message
// transport: stdin, stdout, stderr, the final Status with the exit code, terminal resizes and v5's close of stdin.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace kctl::cli {

inline constexpr const char* kChannelProtocolV5 = "v5.channel.k8s.io";
inline constexpr const char* kChannelProtocolV4 = "v4.channel.k8s.io";

// The first byte of every binary message says which stream it belongs to.
enum ExecChannel : uint8_t {
  kStdinChannel = 0,
  kStdoutChannel = 1,
  kStderrChannel = 2,
  kErrorChannel = 3,   // one JSON Status when the command ends
  kResizeChannel = 4,  // {"Width":W,"Height":H}
  kCloseChannel = 255,  // v5 only: [255, channel] says the sender closed that channel
};

// A message transport: a WebSocket in kctl, a fake in the unit tests.
class MessageSocket {
 public:
  virtual ~MessageSocket() = default;
  // The next data message; false at close, end of stream or error.
  virtual bool read(std::string& message) = 0;
  // Called from the stdin thread while read() blocks in another: must be thread-safe.
  virtual bool send(std::string_view message) = 0;
};

struct TerminalSize {
  uint16_t width = 0, height = 0;
};

struct RemoteCommandIO {
  int in_fd = -1;  // -1: the command gets no stdin
  int out_fd = 1;
  int err_fd = 2;
  bool v5 = true;  // v5 tells the server when stdin ends; v4 cannot
  // For -t: the terminal's size now (sent at the start and whenever resize_fd becomes readable, a SIGWINCH pipe).
  std::function<std::optional<TerminalSize>()> terminal_size;
  int resize_fd = -1;
};

// How the command ended, in kubectl's terms: its exit code and the line kubectl prints (empty on success).
struct RemoteCommandResult {
  int exit_code = 0;
  std::string message;
};

// Reads the channel-3 Status as client-go's errorDecoderV4 does.
RemoteCommandResult decode_exec_status(std::string_view json_text);
// The resize message, as Go's json.Encoder writes a remotecommand.TerminalSize (with the newline).
std::string resize_message(TerminalSize size);

// Runs the session until the server ends it: stdin is pumped by a thread of its own (with resizes), the output
// channels are written to their fds as they arrive.
RemoteCommandResult run_remote_command(MessageSocket& socket, const RemoteCommandIO& io);

}  // namespace kctl::cli
