// What the workload controllers' tests share: kctl-controller-manager as a child process against a test apiserver,
// a typed client, the real kubectl, and the kubelet's part played by hand (binding pods, reporting them Running and
// Ready), since these tests run no kubelet and no scheduler.
#pragma once

#include <chrono>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "api/client.h"
#include "controller_manager_process.h"
#include "harness.h"

namespace kctl::test {

inline std::string now_rfc3339(std::chrono::seconds ago = std::chrono::seconds(0)) {
  std::time_t t = std::time(nullptr) - ago.count();
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

class WorkloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    api_ = std::make_unique<ApiServerProcess>();
    client_ = std::make_unique<api::Client>(api::Client::connect(api_->url()));
    kubectl_ = std::make_unique<Kubectl>(api_->url());
    start_controller_manager();
  }
  void TearDown() override {
    if (HasFailure() && cm_) std::cerr << "--- controller manager log:\n" << cm_->log() << "\n";
    cm_.reset();
  }
  void start_controller_manager(std::vector<std::string> extra = {}) {
    cm_ = std::make_unique<ControllerManagerProcess>(api_->url(), std::move(extra));
  }

  api::ResourceClient res(const std::string& r, const std::string& ns = "default") const {
    return client_->resource(r, ns);
  }
  CmdResult kubectl(const std::vector<std::string>& args, const std::string& input = "", int timeout = 60) const {
    return (*kubectl_)(args, input, timeout);
  }
  void kubectl_ok(const std::vector<std::string>& args, const std::string& input = "") const {
    auto r = kubectl(args, input);
    ASSERT_EQ(r.rc, 0) << r.out << r.err;
  }

  // Active pods (not terminal, not being deleted) whose labels match `selector`.
  std::vector<nlohmann::json> pods(const std::string& selector, const std::string& ns = "default") const {
    api::ListOptions o;
    o.label_selector = selector;
    std::vector<nlohmann::json> out;
    for (auto& p : res("pods", ns).list(o).items) {
      std::string phase = p.value("/status/phase"_json_pointer, std::string());
      if (phase == "Succeeded" || phase == "Failed") continue;
      if (p["metadata"].contains("deletionTimestamp") && !p["metadata"]["deletionTimestamp"].is_null()) continue;
      out.push_back(p);
    }
    return out;
  }
  size_t count(const std::string& selector) const { return pods(selector).size(); }

  // The kubelet's part: bind to `node` (when not bound yet), then Running with Ready = ready since `since`.
  void run_pod(const nlohmann::json& pod, bool ready = true, const std::string& node = "node-1",
               const std::string& since = "") const {
    std::string name = pod["metadata"]["name"], ns = pod["metadata"]["namespace"];
    nlohmann::json cur = res("pods", ns).get(name);
    if (cur.value("/spec/nodeName"_json_pointer, std::string()).empty()) res("pods", ns).bind(name, node);
    set_pod_status(name, "Running", ready, since, ns);
  }
  void set_pod_status(const std::string& name, const std::string& phase, bool ready, const std::string& since = "",
                      const std::string& ns = "default") const {
    std::string t = since.empty() ? now_rfc3339() : since;
    for (int attempt = 0;; ++attempt) {  // the controller may adopt or release the pod meanwhile
      nlohmann::json cur = res("pods", ns).get(name);
      cur["status"]["phase"] = phase;
      cur["status"]["conditions"] = nlohmann::json::array(
          {{{"type", "Ready"}, {"status", ready ? "True" : "False"}, {"lastTransitionTime", t}},
           {{"type", "PodScheduled"}, {"status", "True"}, {"lastTransitionTime", t}}});
      try {
        res("pods", ns).update_status(cur);
        return;
      } catch (const api::StatusError& e) {
        if (e.status().code != 409 || attempt == 5) throw;
      }
    }
  }
  // Every active pod matching `selector` bound, Running and Ready.
  void run_all(const std::string& selector, bool ready = true) const {
    for (const auto& p : pods(selector)) run_pod(p, ready);
  }

  // The events about `name` with `reason`, as "message" lines.
  std::vector<std::string> events(const std::string& name, const std::string& reason,
                                  const std::string& ns = "default") const {
    std::vector<std::string> out;
    for (const auto& e : res("events", ns).list().items)
      if (e.value("/involvedObject/name"_json_pointer, std::string()) == name && e.value("reason", "") == reason)
        out.push_back(e.value("message", ""));
    return out;
  }

  std::unique_ptr<ApiServerProcess> api_;
  std::unique_ptr<api::Client> client_;
  std::unique_ptr<Kubectl> kubectl_;
  std::unique_ptr<ControllerManagerProcess> cm_;
};

}  // namespace kctl::test
