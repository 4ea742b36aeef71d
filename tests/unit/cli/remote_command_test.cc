// kctl exec's channel protocol against a scripted server: output channels to their fds, the exit code from the
// final Status (as kubectl reports it), stdin and v5's close of stdin, resize messages, and v4's lack of a close.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "cli/remote_command.h"

using namespace kctl::cli;

namespace {

// The server end: messages queued for the client, and what the client sent. Ends the session when told to, or
// when `end_after_stdin_close` and the client sent [255, 0].
class FakeSocket : public MessageSocket {
 public:
  bool read(std::string& message) override {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return !to_client_.empty() || closed_; });
    if (to_client_.empty()) return false;
    message = std::move(to_client_.front());
    to_client_.pop_front();
    return true;
  }
  bool send(std::string_view message) override {
    std::lock_guard lock(mutex_);
    sent_.emplace_back(message);
    if (on_send) on_send(std::string(message));
    return true;
  }
  void push(uint8_t channel, const std::string& data) {
    std::lock_guard lock(mutex_);
    to_client_.push_back(std::string(1, char(channel)) + data);
    cv_.notify_all();
  }
  // Called with mutex_ held.
  void push_locked(uint8_t channel, const std::string& data) {
    to_client_.push_back(std::string(1, char(channel)) + data);
    cv_.notify_all();
  }
  void close_locked() {
    closed_ = true;
    cv_.notify_all();
  }
  void close() {
    std::lock_guard lock(mutex_);
    close_locked();
  }
  std::vector<std::string> sent() {
    std::lock_guard lock(mutex_);
    return sent_;
  }
  std::function<void(const std::string&)> on_send;

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::string> to_client_;
  std::vector<std::string> sent_;
  bool closed_ = false;
};

// A pipe read back whole after the session.
struct Capture {
  int fds[2];
  Capture() { EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0); }
  ~Capture() {
    for (int fd : fds)
      if (fd >= 0) ::close(fd);
  }
  std::string take() {
    ::close(fds[1]);
    fds[1] = -1;
    std::string out;
    char buf[4096];
    for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) out.append(buf, size_t(n));
    return out;
  }
};

const char* kExit3 =
    R"({"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: exit status 3",)"
    R"("reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}})";

TEST(RemoteCommand, OutputChannelsGoToTheirFdsAndSuccessIsZero) {
  FakeSocket s;
  Capture out, err;
  s.push(kStdoutChannel, "hello ");
  s.push(kStderrChannel, "oops\n");
  s.push(kStdoutChannel, "world\n");
  s.push(kErrorChannel, R"({"metadata":{},"status":"Success"})");
  s.close();
  RemoteCommandIO io;
  io.out_fd = out.fds[1];
  io.err_fd = err.fds[1];
  auto r = run_remote_command(s, io);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.message, "");
  EXPECT_EQ(out.take(), "hello world\n");
  EXPECT_EQ(err.take(), "oops\n");
  EXPECT_TRUE(s.sent().empty());  // no stdin, no terminal: nothing is sent
}

TEST(RemoteCommand, ExitCodeIsPassedThroughAsKubectlDoes) {
  FakeSocket s;
  Capture out;
  s.push(kErrorChannel, kExit3);
  s.close();
  RemoteCommandIO io;
  io.out_fd = out.fds[1];
  auto r = run_remote_command(s, io);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.message, "command terminated with exit code 3");
}

TEST(RemoteCommand, StatusDecoding) {
  EXPECT_EQ(decode_exec_status(R"({"status":"Success"})").exit_code, 0);
  auto r = decode_exec_status(R"j({"status":"Failure","message":"container not found (\"x\")","reason":"BadRequest"})j");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.message, "error: container not found (\"x\")");
  r = decode_exec_status(R"({"status":"Failure","reason":"NonZeroExitCode"})");
  EXPECT_EQ(r.message, "error: error stream protocol error: details must be set");
  r = decode_exec_status(R"({"status":"Failure","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"x"}]}})");
  EXPECT_EQ(r.message, "error: error stream protocol error: invalid exit code value \"x\"");
  r = decode_exec_status(R"({"status":"Failure","reason":"NonZeroExitCode","details":{"causes":[]}})");
  EXPECT_EQ(r.message, "error: error stream protocol error: no ExitCode cause given");
  EXPECT_EQ(decode_exec_status(R"({"status":"Weird"})").message, "error: error stream protocol error: unknown error");
  EXPECT_EQ(decode_exec_status("not json").exit_code, 1);
  r = decode_exec_status(R"({"status":"Failure","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"137"}]}})");
  EXPECT_EQ(r.exit_code, 137);
}

// `printf abc | kctl exec -i pod -- cat`: stdin goes out on channel 0, then [255, 0] at its end; the fake server
// echoes it back as `cat` would and ends when stdin is closed.
TEST(RemoteCommand, StdinIsSentAndItsEndSignalledInV5) {
  FakeSocket s;
  Capture out;
  int in[2];
  ASSERT_EQ(::pipe2(in, O_CLOEXEC), 0);
  ASSERT_EQ(::write(in[1], "abc", 3), 3);
  ::close(in[1]);
  s.on_send = [&](const std::string& m) {
    if (m[0] == char(kStdinChannel)) s.push_locked(kStdoutChannel, m.substr(1));
    if (m == std::string{char(kCloseChannel), char(kStdinChannel)}) {
      s.push_locked(kErrorChannel, R"({"status":"Success"})");
      s.close_locked();
    }
  };
  RemoteCommandIO io;
  io.in_fd = in[0];
  io.out_fd = out.fds[1];
  auto r = run_remote_command(s, io);
  ::close(in[0]);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(out.take(), "abc");
  auto sent = s.sent();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0], std::string(1, char(kStdinChannel)) + "abc");
  EXPECT_EQ(sent[1], (std::string{char(kCloseChannel), char(kStdinChannel)}));
}

// v4 has no close signal: the end of stdin is not sent, and the session still ends when the server ends it.
TEST(RemoteCommand, V4SendsNoCloseSignal) {
  FakeSocket s;
  int in[2];
  ASSERT_EQ(::pipe2(in, O_CLOEXEC), 0);
  ::close(in[1]);
  RemoteCommandIO io;
  io.in_fd = in[0];
  io.v5 = false;
  std::thread server([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    s.push(kErrorChannel, kExit3);
    s.close();
  });
  auto r = run_remote_command(s, io);
  server.join();
  ::close(in[0]);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_TRUE(s.sent().empty());
}

// -t: the terminal's size goes out first on channel 4 and again after every window change.
TEST(RemoteCommand, ResizesAreSentAtStartAndOnWindowChange) {
  FakeSocket s;
  int winch[2];
  ASSERT_EQ(::pipe2(winch, O_CLOEXEC), 0);
  TerminalSize size{80, 24};
  std::mutex size_mutex;
  RemoteCommandIO io;
  io.resize_fd = winch[0];
  io.terminal_size = [&]() -> std::optional<TerminalSize> {
    std::lock_guard lock(size_mutex);
    return size;
  };
  int resizes = 0;
  s.on_send = [&](const std::string& m) {
    if (m[0] == char(kResizeChannel) && ++resizes == 2) {
      s.push_locked(kErrorChannel, R"({"status":"Success"})");
      s.close_locked();
    }
  };
  std::thread changer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    {
      std::lock_guard lock(size_mutex);
      size = {120, 40};
    }
    EXPECT_EQ(::write(winch[1], "w", 1), 1);
  });
  auto r = run_remote_command(s, io);
  changer.join();
  ::close(winch[0]);
  ::close(winch[1]);
  EXPECT_EQ(r.exit_code, 0);
  auto sent = s.sent();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0], std::string(1, char(kResizeChannel)) + "{\"Width\":80,\"Height\":24}\n");
  EXPECT_EQ(sent[1], std::string(1, char(kResizeChannel)) + "{\"Width\":120,\"Height\":40}\n");
}

}  // namespace
