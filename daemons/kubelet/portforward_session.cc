// A port-forward session of the kubelet: kubectl opens, per local connection, an error stream and a data stream
// with the same requestid header; once both are there the kubelet connects to the pod port, and the data stream
// carries the bytes both ways (one thread per connection copies pod -> client; the session's reader writes
// client -> pod). A failed connection is reported as text on the error stream.
#include "daemons/kubelet/portforward_session.h"

#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api/spdy.h"

namespace kctl::kubelet {

int connect_in_netns(const std::string& netns_path, uint16_t port, std::string* error) {
  int fd = -1;
  std::string why;
  // setns() changes the namespace of the calling thread only: a thread of its own that ends right after. The
  // socket keeps the namespace it was made in.
  std::thread([&] {
    int ns = ::open(netns_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (ns < 0) {
      why = "cannot open network namespace " + netns_path + ": " + std::strerror(errno);
      return;
    }
    int rc = ::setns(ns, CLONE_NEWNET);
    int setns_errno = errno;
    ::close(ns);
    if (rc != 0) {
      why = "cannot enter network namespace " + netns_path + ": " + std::strerror(setns_errno);
      return;
    }
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      why = std::string("socket: ") + std::strerror(errno);
      return;
    }
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    while (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      if (errno == EINTR) continue;
      why = "failed to connect to localhost:" + std::to_string(port) + " inside namespace \"" + netns_path +
            "\": " + std::strerror(errno);
      ::close(fd);
      fd = -1;
      return;
    }
  }).join();
  if (fd < 0 && error) *error = why;
  return fd;
}

namespace {

// One forwarded connection: the pair of streams of a request id and the socket to the pod.
struct Forward {
  uint32_t error_id = 0, data_id = 0;
  uint16_t port = 0;
  int fd = -1;
  bool client_fin = false;  // the client half-closed the data stream
  bool reset = false;       // the client reset a stream: nothing more is sent
  bool pump_done = false;   // the pod side reached EOF (and FINs were sent)
  std::thread pump;
};

class PortForwardSession {
 public:
  PortForwardSession(http::Stream& stream, std::string buffered, const PortForwardTarget& target)
      : session_(stream, true, std::move(buffered)), target_(target) {}

  void run() {
    spdy::Frame f;
    while (session_.read(f)) {
      switch (f.type) {
        case spdy::kSynStream: open_stream(f); break;
        case spdy::kData: client_data(f); break;
        case spdy::kRstStream: reset_stream(f.stream_id); break;
        default: break;  // GOAWAY: the client's streams end on their own; SETTINGS, WINDOW_UPDATE, HEADERS: unused
      }
      reap(false);
    }
    // The client is gone: wake up every pump (their sends fail now) and wait for them.
    session_.shutdown();
    reap(true);
  }

 private:
  using ForwardPtr = std::shared_ptr<Forward>;

  // The key of a stream's pair: its requestid header; without one (very old clients) the error stream's id, the
  // data stream following it as id + 2.
  static std::string request_key(const spdy::Frame& f, const std::string& type) {
    std::string rid = spdy::header_value(f.headers, "requestid");
    if (!rid.empty()) return "r" + rid;
    return "s" + std::to_string(type == "data" ? f.stream_id - 2 : f.stream_id);
  }

  void open_stream(const spdy::Frame& f) {
    std::string type = spdy::header_value(f.headers, "streamtype");
    std::string port_s = spdy::header_value(f.headers, "port");
    char* end = nullptr;
    long port = std::strtol(port_s.c_str(), &end, 10);
    if ((type != "error" && type != "data") || port_s.empty() || *end != '\0' || port < 1 || port > 65535) {
      session_.rst_stream(f.stream_id, spdy::kProtocolError);
      return;
    }
    std::string key = request_key(f, type);
    ForwardPtr fw;
    {
      std::lock_guard lock(mutex_);
      auto it = forwards_.find(key);
      if (it == forwards_.end()) {
        if (forwards_.size() >= kMaxForwardsPerSession) {
          session_.rst_stream(f.stream_id, spdy::kRefusedStream);
          return;
        }
        it = forwards_.emplace(key, std::make_shared<Forward>()).first;
      }
      fw = it->second;
      uint32_t& slot = type == "error" ? fw->error_id : fw->data_id;
      if (slot != 0) {
        session_.rst_stream(f.stream_id, spdy::kProtocolError);  // a second stream of that type for the request
        return;
      }
      slot = f.stream_id;
      fw->port = uint16_t(port);
      by_stream_[f.stream_id] = key;
    }
    session_.syn_reply(f.stream_id);
    if (fw->error_id && fw->data_id) start(fw);
  }

  // Both streams are there: connect to the pod port and copy what it sends to the data stream.
  void start(const ForwardPtr& fw) {
    std::string why;
    int fd = target_.dial(fw->port, &why);
    if (fd < 0) {
      session_.data(fw->error_id, "error forwarding port " + std::to_string(fw->port) + " to pod " + target_.pod +
                                      ", uid " + target_.uid + ": " + why, true);
      session_.data(fw->data_id, "", true);
      std::lock_guard lock(mutex_);
      fw->pump_done = true;
      return;
    }
    std::lock_guard lock(mutex_);
    fw->fd = fd;
    fw->pump = std::thread([this, fw] { pump(fw); });
  }

  void pump(const ForwardPtr& fw) {
    char buf[32768];
    for (;;) {
      ssize_t n = ::read(fw->fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      if (!session_.data(fw->data_id, std::string_view(buf, size_t(n)))) break;
    }
    bool reset;
    {
      std::lock_guard lock(mutex_);
      reset = fw->reset;
    }
    if (!reset) {
      session_.data(fw->data_id, "", true);
      session_.data(fw->error_id, "", true);  // no error
    }
    std::lock_guard lock(mutex_);
    fw->pump_done = true;
  }

  ForwardPtr find(uint32_t stream_id) {
    std::lock_guard lock(mutex_);
    auto s = by_stream_.find(stream_id);
    if (s == by_stream_.end()) return nullptr;
    auto it = forwards_.find(s->second);
    return it == forwards_.end() ? nullptr : it->second;
  }

  void client_data(const spdy::Frame& f) {
    ForwardPtr fw = find(f.stream_id);
    if (!fw || f.stream_id != fw->data_id) return;  // the error stream carries nothing from the client
    int fd;
    {
      std::lock_guard lock(mutex_);
      fd = fw->fd;
    }
    if (fd < 0) return;  // not connected (failed): the client learns it from the error stream
    // A blocking write: a pod that does not read holds this session back, as TCP would hold kubectl back.
    std::string_view d(f.data);
    while (!d.empty()) {
      ssize_t n = ::send(fd, d.data(), d.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      d.remove_prefix(size_t(n));
    }
    if (f.fin()) {
      ::shutdown(fd, SHUT_WR);
      std::lock_guard lock(mutex_);
      fw->client_fin = true;
    }
  }

  void reset_stream(uint32_t stream_id) {
    ForwardPtr fw = find(stream_id);
    if (!fw) return;
    std::lock_guard lock(mutex_);
    fw->reset = true;
    if (fw->fd >= 0) ::shutdown(fw->fd, SHUT_RDWR);  // ends the pump
  }

  // Forgets the forwards that are over (or all of them at the end of the session).
  void reap(bool all) {
    std::vector<ForwardPtr> done;
    {
      std::lock_guard lock(mutex_);
      for (auto it = forwards_.begin(); it != forwards_.end();) {
        Forward& fw = *it->second;
        if (all && fw.fd >= 0) ::shutdown(fw.fd, SHUT_RDWR);
        bool both = fw.error_id && fw.data_id;
        if (all || (both && fw.pump_done && (fw.client_fin || fw.reset)) || (fw.reset && !both)) {
          by_stream_.erase(fw.error_id);
          by_stream_.erase(fw.data_id);
          done.push_back(it->second);
          it = forwards_.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto& fw : done) {
      if (fw->pump.joinable()) fw->pump.join();
      if (fw->fd >= 0) ::close(fw->fd);
    }
  }

  spdy::Session session_;
  const PortForwardTarget& target_;
  std::mutex mutex_;  // guards forwards_, by_stream_ and the fields of each Forward but its pump thread
  std::map<std::string, ForwardPtr> forwards_;  // by request key
  std::map<uint32_t, std::string> by_stream_;   // stream id -> request key
};

}  // namespace

void run_portforward_session(http::Stream& stream, std::string buffered, const PortForwardTarget& target) {
  PortForwardSession(stream, std::move(buffered), target).run();
}

}  // namespace kctl::kubelet
