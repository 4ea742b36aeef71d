// Kubelet::report_status: the pod status Kubernetes clients expect, from what the runtime observes: phase, the
// Initialized/ContainersReady/Ready conditions (readiness from the probes), IPs, and a status per container
// (waiting with reason, running since, started and ready, terminated with exit code, last state, restart count).
// Written through pods/status only when it changed.
#include <ctime>

#include "daemons/common/daemon.h"
#include "daemons/kubelet/kubelet.h"

using nlohmann::json;

namespace kctl::kubelet {

namespace {

std::string seconds_only(const std::string& rfc3339_nanos) {
  // The shim records nanoseconds; metav1.Time carries seconds.
  auto dot = rfc3339_nanos.find('.');
  return dot == std::string::npos ? rfc3339_nanos : rfc3339_nanos.substr(0, dot) + "Z";
}

json terminated(const ContainerState& st, const std::string& container_id) {
  json t = {{"exitCode", st.exit_code}, {"reason", st.reason}, {"startedAt", seconds_only(st.started_at)},
            {"finishedAt", seconds_only(st.finished_at)}, {"containerID", container_id}};
  if (st.signal) t["signal"] = st.signal;
  return t;
}

json condition(const std::string& type, bool status, const json& previous, const std::string& reason = "",
               const std::string& message = "") {
  std::string s = status ? "True" : "False";
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  std::string transition = buf;
  for (const auto& p : previous)
    if (p.value("type", "") == type && p.value("status", "") == s) transition = p.value("lastTransitionTime", transition);
  json c = {{"type", type}, {"status", s}, {"lastProbeTime", nullptr}, {"lastTransitionTime", transition}};
  if (!reason.empty()) c["reason"] = reason;
  if (!message.empty()) c["message"] = message;
  return c;
}

}  // namespace

void Kubelet::report_status(const json& pod, PodRecord& rec) {
  json old_status = pod.value("status", json::object());
  json previous_conditions = old_status.value("conditions", json::array());
  std::string policy = pod.value("/spec/restartPolicy"_json_pointer, std::string("Always"));
  std::vector<std::string> unready;  // app containers, for the Ready condition's message
  auto container_statuses = [&](const json& specs, bool init, int& running, int& succeeded, int& failed, int& ready,
                                int& waiting) {
    json out = json::array();
    for (const auto& spec : specs) {
      std::string name = spec.value("name", "");
      const ContainerRecord* c = rec.containers.count(name) ? &rec.containers.at(name) : nullptr;
      json cs = {{"name", name}, {"image", spec.value("image", "")}, {"imageID", c ? c->image_id : ""},
                 {"ready", false}, {"restartCount", c ? std::max(c->attempt, 0) : 0}, {"started", false}};
      json state = json::object();
      if (!c || c->attempt < 0) {
        std::string reason = c && !c->waiting_reason.empty() ? c->waiting_reason
                             : init                           ? "PodInitializing"
                                                              : "ContainerCreating";
        state["waiting"] = {{"reason", reason}};
        if (c && !c->waiting_message.empty()) state["waiting"]["message"] = c->waiting_message;
        ++waiting;
      } else {
        std::string id = container_id(rec.uid, name, c->attempt);
        cs["containerID"] = "nspawn://" + id;
        auto st = runtime_->state(id);
        if (st.phase == ContainerState::Phase::Running) {
          state["running"] = {{"startedAt", seconds_only(st.started_at)}};
          // Started and ready are the probes' to say (true without startup and readiness probes).
          ProbeStatus probes = init ? ProbeStatus{} : prober_->status(rec.uid, name, id);
          cs["started"] = probes.started;
          cs["ready"] = !init && probes.ready;
          ++running;
          if (!init && probes.ready) ++ready;
        } else if (st.phase == ContainerState::Phase::Exited) {
          if (!c->waiting_reason.empty()) {
            // Waiting to restart after it ran: Kubernetes counts it as stopped, not as waiting, for the phase.
            state["waiting"] = {{"reason", c->waiting_reason}, {"message", c->waiting_message}};
            cs["lastState"] = {{"terminated", terminated(st, "nspawn://" + id)}};
            (st.exit_code == 0 ? succeeded : failed)++;
          } else {
            state["terminated"] = terminated(st, "nspawn://" + id);
            (st.exit_code == 0 ? succeeded : failed)++;
          }
        } else {
          state["waiting"] = {{"reason", "ContainerCreating"}};
          ++waiting;
        }
        if (c->attempt >= 1 && !cs.contains("lastState")) {
          auto prev = runtime_->state(container_id(rec.uid, name, c->attempt - 1));
          if (prev.phase == ContainerState::Phase::Exited)
            cs["lastState"] = {{"terminated", terminated(prev, "nspawn://" + container_id(rec.uid, name, c->attempt - 1))}};
        }
      }
      if (!cs.contains("lastState")) cs["lastState"] = json::object();
      if (!init && cs["ready"] == false) unready.push_back(name);
      cs["state"] = state;
      out.push_back(cs);
    }
    return out;
  };
  int ir = 0, is = 0, ifail = 0, irdy = 0, iw = 0;
  json init_statuses = container_statuses(pod.value("/spec/initContainers"_json_pointer, json::array()), true, ir, is,
                                          ifail, irdy, iw);
  int running = 0, succeeded = 0, failed = 0, ready = 0, waiting = 0;
  json statuses = container_statuses(pod.value("/spec/containers"_json_pointer, json::array()), false, running,
                                     succeeded, failed, ready, waiting);
  size_t n = statuses.size(), n_init = init_statuses.size();
  bool initialized = size_t(is) == n_init;
  std::string phase = "Pending";
  if (initialized && waiting == 0 && running > 0) phase = "Running";
  if (initialized && running == 0 && waiting == 0 && n > 0 && size_t(succeeded + failed) == n) {
    if (policy == "Never" || (policy == "OnFailure" && failed == 0)) phase = failed ? "Failed" : "Succeeded";
    else if (policy == "Always" || policy == "OnFailure") phase = "Running";
  }
  if (!initialized && ifail > 0 && policy == "Never") phase = "Failed";
  if (phase == "Succeeded" || phase == "Failed") rec.terminated = true;

  json status = old_status;
  status["phase"] = phase;
  status["hostIP"] = options_.node.internal_ip;
  status["hostIPs"] = json::array({{{"ip", options_.node.internal_ip}}});
  if (rec.network) {
    status["podIP"] = rec.network->ip;
    status["podIPs"] = json::array({{{"ip", rec.network->ip}}});
  }
  if (!rec.start_time.empty() && !status.contains("startTime")) status["startTime"] = rec.start_time;
  bool containers_ready = n > 0 && size_t(ready) == n;
  std::string not_ready_reason, not_ready_message;
  if (!containers_ready && phase == "Succeeded") {
    not_ready_reason = "PodCompleted";
  } else if (!containers_ready) {
    not_ready_reason = "ContainersNotReady";
    std::string names;
    for (const auto& u : unready) names += (names.empty() ? "" : " ") + u;
    not_ready_message = "containers with unready status: [" + names + "]";  // as Go prints a []string
  }
  json conds = json::array();
  for (const auto& c : previous_conditions)
    if (c.value("type", "") == "PodScheduled") conds.push_back(c);
  conds.push_back(condition("PodReadyToStartContainers", rec.network.has_value(), previous_conditions));
  conds.push_back(condition("Initialized", initialized, previous_conditions));
  conds.push_back(condition("Ready", containers_ready, previous_conditions, not_ready_reason, not_ready_message));
  conds.push_back(condition("ContainersReady", containers_ready, previous_conditions, not_ready_reason,
                            not_ready_message));
  status["conditions"] = conds;
  status["containerStatuses"] = statuses;
  if (n_init) status["initContainerStatuses"] = init_statuses;
  else status.erase("initContainerStatuses");
  if (!rec.sandbox_error.empty()) status["message"] = rec.sandbox_error;
  else status.erase("message");
  if (status == old_status) return;
  json update = pod;
  update["status"] = status;
  const auto* pods = api::Registry::builtin().by_kind("", "Pod");
  try {
    api::ResourceClient(*transport_, *pods, rec.ns).update_status(update);
  } catch (const api::StatusError& e) {
    // A conflict means a newer pod version is on its way through the informer; it will be synced again.
    if (e.status().code != 409 && e.status().code != 404) throw;
  }
}

}  // namespace kctl::kubelet
