// The kubelet's own HTTP server (port 10250): container logs, exec and port-forward. The apiserver proxies
// pods/log, pods/exec and pods/portforward here.
#pragma once

#include <memory>
#include <string>

#include "daemons/common/http_server.h"
#include "daemons/kubelet/kubelet.h"

namespace kctl::kubelet {

class KubeletServer {
 public:
  KubeletServer(Kubelet& kubelet, const std::string& address, int port);
  ~KubeletServer();
  int port() const { return port_; }

 private:
  void handle(http::Request& req, ResponseWriter& w);
  void container_logs(http::Request& req, ResponseWriter& w, const std::vector<std::string>& parts);
  void exec(http::Request& req, ResponseWriter& w, const std::vector<std::string>& parts);
  void port_forward(http::Request& req, ResponseWriter& w, const std::vector<std::string>& parts);

  Kubelet& kubelet_;
  std::unique_ptr<HttpServer> server_;
  int port_ = 0;
};

}  // namespace kctl::kubelet
