// SPDY/3.1 framing and header compression (api/spdy), and the kubelet's port-forward session driven by the
// api/spdy port-forward client over a socket pair, raw and tunneled in a WebSocket.
#include "api/spdy.h"

#include <atomic>
#include <cstring>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <gtest/gtest.h>

#include "daemons/kubelet/portforward_session.h"

namespace kctl::spdy {
namespace {

TEST(SpdyDictionary, IsTheSpdy3Dictionary) {
  std::string_view d = header_dictionary();
  ASSERT_EQ(d.size(), 1423u);
  EXPECT_EQ(d.substr(0, 11), std::string_view("\0\0\0\x07options", 11));
  EXPECT_EQ(d.substr(d.size() - 6), "enq=0.");
  // Every SPDY/3 header block starts with a zlib header naming this dictionary by its Adler-32 (0xe3c6a7c2, the
  // bytes 38 ea e3 c6 a7 c2 seen at the start of browsers' compressed SYN_STREAM blocks).
  EXPECT_EQ(adler32(1, reinterpret_cast<const Bytef*>(d.data()), uInt(d.size())), 0xe3c6a7c2u);
  HeaderCompressor c;
  std::string block = c.compress({{"port", "80"}});
  ASSERT_GE(block.size(), 6u);
  EXPECT_EQ(block.substr(2, 4), "\xe3\xc6\xa7\xc2");
}

TEST(SpdyHeaders, RoundTripThroughOneContextPerDirection) {
  HeaderCompressor c;
  HeaderDecompressor d;
  std::vector<HeaderBlock> blocks = {
      {{"streamtype", "error"}, {"port", "80"}, {"requestid", "0"}},
      {{"streamtype", "data"}, {"port", "80"}, {"requestid", "0"}},
      {},
      {{"x-multi", std::string("a\0b", 3)}, {"long", std::string(100000, 'x')}},
  };
  for (const auto& b : blocks) {
    auto out = d.decompress(c.compress(b));
    ASSERT_TRUE(out) << d.error();
    EXPECT_EQ(*out, b);
  }
  EXPECT_EQ(header_value(blocks[3], "x-multi"), "a");
  EXPECT_EQ(header_value(blocks[0], "StreamType"), "error");
}

TEST(SpdyHeaders, DecodesBlocksCompressedByPythonZlib) {
  // python3: c = zlib.compressobj(zdict=SPDY3_DICTIONARY); c.compress(block) + c.flush(zlib.Z_SYNC_FLUSH), twice
  // on one context (the second block refers back to the first).
  const std::string first(
      "\x78\xbb\xe3\xc6\xa7\xc2\x02\x25\x3a\x70\x3a\x2b\x29\x4a\x4d\xcc\x45\x2a\x4a\x12\x21\xa5\x72\x11\x28\x05\x33"
      "\x59\x18\x00\x49\xce\x22\x48\x1c\x66\x82\xd2\x36\xa3\x01\x00\x00\x00\xff\xff",
      46);
  const std::string second("\xc2\xaa\x93\x35\x15\x14\x45\x48\x5a\x59\x2c\x0c\xb0\x68\x36\x04\x00\x00\x00\xff\xff", 21);
  HeaderDecompressor d;
  auto a = d.decompress(first);
  ASSERT_TRUE(a) << d.error();
  EXPECT_EQ(*a, (HeaderBlock{{"streamtype", "data"}, {"port", "80"}, {"requestid", "0"}}));
  auto b = d.decompress(second);
  ASSERT_TRUE(b) << d.error();
  EXPECT_EQ(*b, (HeaderBlock{{"streamtype", "error"}, {"port", "8080"}, {"requestid", "1"}}));
}

TEST(SpdyHeaders, RejectsGarbageAndLies) {
  HeaderDecompressor d;
  EXPECT_FALSE(d.decompress("not zlib at all"));
  EXPECT_FALSE(d.error().empty());
  EXPECT_FALSE(parse_header_block(std::string("\xff\xff\xff\xff", 4)));  // four billion pairs in four bytes
  EXPECT_FALSE(parse_header_block(std::string("\0\0\0\1\0\0\0\5ab", 10)));
  EXPECT_TRUE(parse_header_block(std::string("\0\0\0\0", 4)));
}

TEST(SpdyFrames, EveryTypeRoundTrips) {
  HeaderCompressor c;
  HeaderDecompressor d;
  std::vector<Frame> frames(8);
  frames[0] = {.type = kSynStream, .flags = kFlagFin, .stream_id = 5, .associated_id = 1, .priority = 3,
               .headers = {{"a", "b"}}};
  frames[1] = {.type = kSynReply, .stream_id = 5, .headers = {{"c", "d"}}};
  frames[2] = {.type = kRstStream, .stream_id = 5, .status = kCancel};
  frames[3] = {.type = kSettings, .settings = {{1, kMaxDataChunk, 7}, {0, 4, 100}}};
  frames[4] = {.type = kPing, .value = 0x80000001};
  frames[5] = {.type = kGoAway, .stream_id = 7, .status = 2};
  frames[6] = {.type = kWindowUpdate, .stream_id = 3, .value = 65536};
  frames[7] = {.type = kData, .flags = kFlagFin, .stream_id = 0x7fffffff, .data = std::string(70000, 'z')};
  std::string wire;
  for (const auto& f : frames) wire += encode_frame(f, c);
  // Fed one byte at a time: frames come out whole, in order.
  FrameParser p;
  std::vector<Frame> out;
  for (char ch : wire) {
    p.feed(std::string_view(&ch, 1));
    Frame f;
    FrameParser::Result r;
    while ((r = p.next(f, d)) == FrameParser::Result::Frame) out.push_back(f);
    ASSERT_NE(r, FrameParser::Result::Error) << p.error();
  }
  ASSERT_EQ(out.size(), frames.size());
  for (size_t i = 0; i < frames.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(out[i].type, frames[i].type);
    EXPECT_EQ(out[i].flags, frames[i].flags);
    EXPECT_EQ(out[i].stream_id, frames[i].stream_id);
    EXPECT_EQ(out[i].associated_id, frames[i].associated_id);
    EXPECT_EQ(out[i].priority, frames[i].priority);
    EXPECT_EQ(out[i].status, frames[i].status);
    EXPECT_EQ(out[i].value, frames[i].value);
    EXPECT_EQ(out[i].headers, frames[i].headers);
    EXPECT_EQ(out[i].data, frames[i].data);
    EXPECT_EQ(out[i].settings.size(), frames[i].settings.size());
  }
  EXPECT_EQ(out[3].settings[0].id, kMaxDataChunk);
  EXPECT_EQ(out[3].settings[1].value, 100u);
}

TEST(SpdyFrames, BadInputEndsTheSessionInsteadOfCrashing) {
  HeaderDecompressor d;
  Frame f;
  FrameParser version2;
  version2.feed(std::string("\x80\x02\x00\x01\x00\x00\x00\x0a", 8) + std::string(10, '\0'));
  EXPECT_EQ(version2.next(f, d), FrameParser::Result::Error);
  FrameParser huge;
  huge.feed(std::string("\x80\x03\x00\x01\x00\xff\xff\xff", 8));
  EXPECT_EQ(huge.next(f, d), FrameParser::Result::Error);
  FrameParser short_rst;
  short_rst.feed(std::string("\x80\x03\x00\x03\x00\x00\x00\x04\0\0\0\1", 12));
  EXPECT_EQ(short_rst.next(f, d), FrameParser::Result::Error);
  FrameParser unknown;  // unknown control frame types are skipped
  unknown.feed(std::string("\x80\x03\x00\x0a\x00\x00\x00\x02xy", 10) + std::string("\x80\x03\x00\x06\x00\x00\x00\x04\0\0\0\x09", 12));
  ASSERT_EQ(unknown.next(f, d), FrameParser::Result::Frame);
  EXPECT_EQ(f.type, kPing);
  EXPECT_EQ(f.value, 9u);
}

TEST(PortForwardClient, OpensNothingAfterTheServersGoaway) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  auto server_stream = http::make_socket_stream(sv[0]), client_stream = http::make_socket_stream(sv[1]);
  Session server(*server_stream, true);
  ASSERT_TRUE(server.goaway(0));
  PortForwardClient client(*client_stream);
  std::string err;
  // The first attempts may go out before the reader saw the GOAWAY; the server here answers nothing.
  for (int i = 0; i < 50 && err.find("GOAWAY") == std::string::npos; ++i)
    EXPECT_FALSE(client.open(80, &err, std::chrono::milliseconds(20)));
  EXPECT_NE(err.find("GOAWAY"), std::string::npos) << err;
  EXPECT_TRUE(client.alive());
}

// ---- The kubelet's port-forward session against the api/spdy client, over a socket pair.

// A TCP server on 127.0.0.1 that answers each connection with "<port>:" + what it read, at the client's EOF.
class EchoServer {
 public:
  EchoServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(fd_, 64), 0);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] {
      for (;;) {
        int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) return;
        std::thread([c, this] {
          std::string got;
          char buf[65536];
          for (long n; (n = ::read(c, buf, sizeof buf)) > 0;) got.append(buf, size_t(n));
          std::string reply = std::to_string(port_) + ":" + got;
          for (std::string_view r(reply); !r.empty();) {
            long n = ::write(c, r.data(), r.size());
            if (n <= 0) break;
            r.remove_prefix(size_t(n));
          }
          ::close(c);
        }).detach();
      }
    });
  }
  ~EchoServer() {
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
  }
  uint16_t port() const { return port_; }

 private:
  int fd_;
  uint16_t port_ = 0;
  std::thread thread_;
};

int dial_local(uint16_t port, std::string* error) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) return fd;
  *error = std::string("connect: ") + std::strerror(errno);
  ::close(fd);
  return -1;
}

std::string round_trip(PortForwardStream& s, const std::string& request) {
  EXPECT_TRUE(s.write(request));
  s.close_write();
  std::string got;
  char buf[4096];
  for (long n; (n = s.read(buf, sizeof buf)) > 0;) got.append(buf, size_t(n));
  return got;
}

class PortForwardSessionTest : public ::testing::TestWithParam<bool> {  // true: WebSocket tunnel
 protected:
  void SetUp() override {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    server_stream_ = http::make_socket_stream(sv[0]);
    client_stream_ = http::make_socket_stream(sv[1]);
    target_ = {"web", "uid-1", dial_local};
    server_ = std::thread([this] {
      if (GetParam()) {
        ws::Connection conn(*server_stream_, false);
        WebSocketTunnel tunnel(conn);
        kubelet::run_portforward_session(tunnel, "", target_);
      } else {
        kubelet::run_portforward_session(*server_stream_, "", target_);
      }
      server_stream_->shutdown();
    });
    if (GetParam()) {
      client_ws_ = std::make_unique<ws::Connection>(*client_stream_, true);
      tunnel_ = std::make_unique<WebSocketTunnel>(*client_ws_);
      client_ = std::make_unique<PortForwardClient>(*tunnel_);
    } else {
      client_ = std::make_unique<PortForwardClient>(*client_stream_);
    }
  }
  void TearDown() override {
    client_.reset();
    server_.join();
  }

  http::StreamPtr server_stream_, client_stream_;
  kubelet::PortForwardTarget target_;
  std::thread server_;
  std::unique_ptr<ws::Connection> client_ws_;
  std::unique_ptr<WebSocketTunnel> tunnel_;
  std::unique_ptr<PortForwardClient> client_;
};

TEST_P(PortForwardSessionTest, ForwardsBothWaysAndEchoesPings) {
  EchoServer echo;
  std::string err;
  auto s = client_->open(echo.port(), &err);
  ASSERT_TRUE(s) << err;
  std::string big(200000, 'q');
  EXPECT_EQ(round_trip(*s, big), std::to_string(echo.port()) + ":" + big);
  EXPECT_EQ(s->error(), "");
  EXPECT_TRUE(client_->ping());
  EXPECT_TRUE(client_->ping());
}

TEST_P(PortForwardSessionTest, ManyConcurrentRequestIds) {
  EchoServer echo;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 20; ++i)
    threads.emplace_back([&, i] {
      auto s = client_->open(echo.port());
      if (!s) return;
      if (round_trip(*s, "hello " + std::to_string(i)) == std::to_string(echo.port()) + ":hello " + std::to_string(i))
        ++ok;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok, 20);
}

TEST_P(PortForwardSessionTest, AClosedPortIsReportedOnTheErrorStream) {
  uint16_t closed_port;
  {
    EchoServer gone;
    closed_port = gone.port();
  }
  auto s = client_->open(closed_port);
  ASSERT_TRUE(s);
  std::string e = s->error();
  EXPECT_NE(e.find("error forwarding port " + std::to_string(closed_port) + " to pod web, uid uid-1: connect:"),
            std::string::npos)
      << e;
  char buf[16];
  EXPECT_EQ(s->read(buf, sizeof buf), 0);  // the data stream ends too
  // The session goes on: a good port still works after a reset stream.
  s.reset();
  EchoServer echo;
  auto good = client_->open(echo.port());
  ASSERT_TRUE(good);
  EXPECT_EQ(round_trip(*good, "x"), std::to_string(echo.port()) + ":x");
}

TEST_P(PortForwardSessionTest, ResetStreamsAreForgotten) {
  EchoServer echo;
  for (int i = 0; i < 5; ++i) {
    auto s = client_->open(echo.port());
    ASSERT_TRUE(s);
    EXPECT_TRUE(s->write("partial"));
    // Destroyed without closing: RST_STREAM CANCEL, as kubectl does when the local socket goes away.
  }
  EXPECT_TRUE(client_->ping());
  auto s = client_->open(echo.port());
  ASSERT_TRUE(s);
  EXPECT_EQ(round_trip(*s, "after"), std::to_string(echo.port()) + ":after");
}

INSTANTIATE_TEST_SUITE_P(RawAndTunneled, PortForwardSessionTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "WebSocketTunnel" : "RawSpdy"; });

}  // namespace
}  // namespace kctl::spdy
