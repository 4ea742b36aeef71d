// Kubelet: start-up (node registration, network, re-adoption), the worker loop over pod keys, pod sync (init
// containers, restart policy, crash back-off), deletion, and the PLEG and heartbeat loops. Container start-up and
// status reporting are in pod_containers.cc and pod_status.cc.
#include "daemons/kubelet/kubelet.h"

#include <filesystem>

#include "daemons/common/daemon.h"
#include "daemons/kubelet/container_rootfs.h"
#include "daemons/kubelet/kubelet_events.h"
#include "daemons/kubelet/nspawn_runtime.h"
#include "daemons/kubelet/pod_masquerade.h"
#include "daemons/kubelet/systemd_launcher.h"
#include "daemons/kubelet/volumes.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace kctl::kubelet {

namespace {
// How often the kubelet relists its containers to notice exits (Kubernetes' PLEG relists every second).
constexpr auto kRelistPeriod = std::chrono::seconds(1);
// Node Lease renewal period (nodeLeaseRenewInterval) and the longest a node status may go unreported.
constexpr auto kLeaseRenewPeriod = std::chrono::seconds(10);
constexpr auto kStatusReportPeriod = std::chrono::seconds(60);
// Every pod is synced at least this often, so nothing depends on an event arriving.
constexpr auto kResyncPeriod = std::chrono::seconds(30);
// How long a stopping kubelet waits for its last Events to be written: they say why it did what it did last.
constexpr auto kEventFlushOnStop = std::chrono::seconds(2);
}  // namespace

Kubelet::Kubelet(KubeletOptions options) : options_(std::move(options)) {
  transport_ = api::make_transport(options_.apiserver, options_.client);
  api::EventRecorderOptions event_options;
  event_options.on_error = [](const std::string& m) { log(LogLevel::Warning, m); };
  events_ = std::make_unique<api::EventRecorder>(*transport_, api::EventSource{"kubelet", options_.node.name},
                                                 std::move(event_options));
  node_ = std::make_unique<NodeStatusReporter>(*transport_, options_.node, events_.get());
  images_ = std::make_unique<ImageStore>(options_.root_dir + "/images");
  network_ = std::make_unique<PodNetworkManager>(options_.bridge, options_.root_dir + "/network");
  runtime_ = std::make_unique<NspawnRuntime>(options_.root_dir + "/runtime", options_.shim,
                                             make_shim_launcher(options_.container_launcher, options_.cgroup_root),
                                             options_.cgroup_root);
  // A probe result that changes is a reason to sync the pod now: its readiness or a restart is due.
  prober_ = std::make_unique<Prober>(
      *runtime_, [this](const std::string& key) { queue_.add(key); },
      [this](const std::string& key, const std::string& uid, const std::string& container, const std::string& message) {
        api::ObjectPtr pod = pods_ ? pods_->get(key) : nullptr;
        if (pod && pod->value("/metadata/uid"_json_pointer, std::string()) == uid)
          events_->record_reference(container_ref(*pod, container), api::EventType::Warning, reason::kUnhealthy, message);
      });
}

Kubelet::~Kubelet() { stop(); }

std::string Kubelet::pod_dir(const std::string& uid) const { return options_.root_dir + "/pods/" + uid; }

std::string Kubelet::container_id(const std::string& uid, const std::string& name, int attempt) const {
  return uid + "_" + name + "_" + std::to_string(attempt);
}

std::string Kubelet::pod_cidr() const { return network_->pod_cidr(); }

void Kubelet::start() {
  events_->record_reference(node_ref(options_.node.name), api::EventType::Normal, reason::kStarting, "Starting kubelet.");
  node_->register_node();
  std::string not_ready = set_up_network(node_->pod_cidr());
  ready_ = not_ready.empty();
  // The Lease first: whoever sees the node Ready finds its heartbeat too.
  node_->renew_lease();
  node_->update_status(ready_, not_ready);
  readopt();

  api::ListOptions sel;
  sel.field_selector = "spec.nodeName=" + options_.node.name;
  pods_ = std::make_unique<api::Informer>(*transport_, *api::Registry::builtin().by_kind("", "Pod"), "", sel,
                                          std::chrono::duration_cast<std::chrono::seconds>(kResyncPeriod));
  auto enqueue = [this](const api::ObjectPtr& p) { queue_.add(api::object_key(*p)); };
  pods_->add_handler({enqueue, [enqueue](const api::ObjectPtr&, const api::ObjectPtr& p) { enqueue(p); }, enqueue});
  pods_->start();
  // Without a podCIDR yet, the one the controller manager allocates shows on our Node.
  routes_ = std::make_unique<NodeRoutes>(*transport_, options_.node.name, [this](const json& self) {
    std::string cidr = self.value("/spec/podCIDR"_json_pointer, std::string());
    if (ready_ || cidr.empty()) return;
    std::lock_guard lock(sleep_mutex_);
    allocated_pod_cidr_ = cidr;
    sleep_cv_.notify_all();
  });
  routes_->start();
  for (int i = 0; i < options_.workers; ++i) threads_.emplace_back([this] { worker(); });
  threads_.emplace_back([this] { pleg_loop(); });
  threads_.emplace_back([this] { heartbeat_loop(); });
}

void Kubelet::stop() {
  if (stopping_.exchange(true)) return;
  queue_.shut_down();
  {
    std::lock_guard lock(sleep_mutex_);
    sleep_cv_.notify_all();
  }
  if (pods_) pods_->stop();
  if (routes_) routes_->stop();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  // Only once no sync runs: a sync after this would report the probes' defaults (ready) for unprobed containers.
  prober_->stop();
  events_->flush(kEventFlushOnStop);
  events_->stop();
}

void Kubelet::resync() {
  if (!pods_) return;
  for (const auto& p : pods_->list()) queue_.add(api::object_key(*p));
}

// Containers and networks that survived a kubelet restart belong to their pods again.
void Kubelet::readopt() {
  std::lock_guard lock(mutex_);
  for (const auto& uid : network_->allocated_uids()) records_[uid].uid = uid, records_[uid].network = network_->find(uid);
  for (const auto& id : runtime_->list()) {
    auto a = id.rfind('_'), b = id.rfind('_', a - 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    std::string uid = id.substr(0, b), name = id.substr(b + 1, a - b - 1);
    int attempt = std::atoi(id.c_str() + a + 1);
    PodRecord& rec = records_[uid];
    rec.uid = uid;
    ContainerRecord& c = rec.containers[name];
    c.name = name;
    c.attempt = std::max(c.attempt, attempt);
  }
}

PodRecord& Kubelet::record(const json& pod) {
  std::string uid = pod.value("/metadata/uid"_json_pointer, std::string());
  PodRecord& rec = records_[uid];
  rec.uid = uid;
  rec.ns = pod.value("/metadata/namespace"_json_pointer, std::string());
  rec.name = pod.value("/metadata/name"_json_pointer, std::string());
  return rec;
}

void Kubelet::worker() {
  std::string key;
  while (queue_.get(key)) {
    try {
      sync_pod(key);
      queue_.forget(key);
    } catch (const std::exception& e) {
      log(LogLevel::Warning, "sync of pod " + key + " failed: " + e.what(), {"POD=" + key});
      queue_.add_rate_limited(key);
    }
    queue_.done(key);
  }
}

void Kubelet::sync_pod(const std::string& key) {
  api::ObjectPtr obj = pods_->get(key);
  if (!obj) {
    // Gone from the API (deleted with grace 0 elsewhere): clean up whatever of it is still here.
    std::vector<std::string> known;
    {
      std::lock_guard lock(mutex_);
      for (const auto& [uid, rec] : records_)
        if (rec.ns + "/" + rec.name == key) known.push_back(uid);
    }
    for (const auto& uid : known) cleanup_pod(uid);
    return;
  }
  const json& pod = *obj;
  std::unique_lock lock(mutex_);
  PodRecord& rec = record(pod);
  lock.unlock();
  if (pod.contains("/metadata/deletionTimestamp"_json_pointer) && !pod["metadata"]["deletionTimestamp"].is_null()) {
    int64_t grace = pod["metadata"].value("deletionGracePeriodSeconds", int64_t(30));
    prober_->remove_pod(rec.uid);  // no liveness kills while the pod shuts down
    kill_pod(rec, std::chrono::seconds(std::max<int64_t>(grace, 0)), &pod);
    cleanup_pod(rec.uid);
    confirm_deletion(pod);
    return;
  }
  sync_running_pod(pod, rec);
  if (!rec.terminated) update_probes(pod, rec);
  report_status(pod, rec);
  if (rec.terminated) prober_->remove_pod(rec.uid);
  // Come back when a back-off ends.
  auto now = std::chrono::steady_clock::now();
  for (const auto& [n, c] : rec.containers)
    if (c.backoff_until > now)
      queue_.add_after(key, std::chrono::duration_cast<std::chrono::milliseconds>(c.backoff_until - now) +
                                std::chrono::milliseconds(10));
}

void Kubelet::sync_running_pod(const json& pod, PodRecord& rec) {
  if (rec.terminated) return;
  if (!ready_) {
    rec.sandbox_error = "the node is not ready";
    return;
  }
  rec.sandbox_error.clear();
  if (!rec.network) {
    try {
      rec.network = network_->setup(rec.uid);
    } catch (const std::exception& e) {
      rec.sandbox_error = std::string("cannot set up the pod network: ") + e.what();
      throw;
    }
  }
  if (!write_pod_dns(pod, rec)) return;
  PodVolumes volumes(*transport_, pod_dir(rec.uid));
  try {
    volumes.prepare(pod);
  } catch (const std::exception& e) {
    rec.sandbox_error = std::string("MountVolume.SetUp failed: ") + e.what();
    return;
  }
  // Back when a projected ServiceAccount token is due for renewal.
  if (auto at = volumes.next_refresh()) {
    auto delay = std::chrono::duration_cast<std::chrono::milliseconds>(*at - std::chrono::system_clock::now());
    queue_.add_after(rec.ns + "/" + rec.name, std::max(delay, std::chrono::milliseconds(1000)));
  }
  std::string policy = pod.value("/spec/restartPolicy"_json_pointer, std::string("Always"));
  // Init containers one at a time, in order; the app containers only once they all succeeded.
  for (const auto& spec : pod.value("/spec/initContainers"_json_pointer, json::array())) {
    ContainerRecord& c = rec.containers[spec.value("name", "")];
    c.name = spec.value("name", "");
    c.init = true;
    sync_container(pod, spec, rec, c, true, policy == "Always" ? "OnFailure" : policy);
    if (c.attempt < 0) return;
    auto st = runtime_->state(container_id(rec.uid, c.name, c.attempt));
    if (!(st.phase == ContainerState::Phase::Exited && st.exit_code == 0)) return;
  }
  for (const auto& spec : pod.value("/spec/containers"_json_pointer, json::array())) {
    ContainerRecord& c = rec.containers[spec.value("name", "")];
    c.name = spec.value("name", "");
    sync_container(pod, spec, rec, c, false, policy);
  }
}

// The pod's resolv.conf and hosts file, made once with its network as the kubelet makes them with the sandbox (a
// kubelet restart finds them there); each container binds them.
bool Kubelet::write_pod_dns(const json& pod, PodRecord& rec) {
  std::string dir = pod_dir(rec.uid) + "/etc";
  std::error_code ec;
  if (fs::exists(dir + "/resolv.conf", ec)) return true;
  std::vector<DnsWarning> warnings;
  try {
    warnings = write_pod_dns_files(pod, dir, rec.network ? rec.network->ip : "", options_.dns);
  } catch (const std::exception& e) {
    rec.sandbox_error = std::string("cannot make the pod's DNS configuration: ") + e.what();
    log(LogLevel::Warning, rec.sandbox_error, object_fields("Pod", rec.ns, rec.name));
    return false;
  }
  for (const auto& w : warnings) {
    log(LogLevel::Warning, w.message, object_fields("Pod", rec.ns, rec.name));
    json ref = api::object_reference(pod);
    ref["kind"] = "Pod";
    ref["apiVersion"] = "v1";
    if (w.reason == "MissingClusterDNS") {
      events_->record_reference(node_ref(options_.node.name), api::EventType::Warning, w.reason, w.message);
      events_->record_reference(ref, api::EventType::Warning, w.reason,
                                "pod: \"" + pod_description(pod) + "\". " + w.message);
    } else {
      events_->record_reference(ref, api::EventType::Warning, w.reason, w.message);
    }
  }
  return true;
}

void Kubelet::sync_container(const json& pod, const json& spec, PodRecord& rec, ContainerRecord& c, bool init,
                             const std::string& policy) {
  if (c.attempt < 0) {
    if (!start_container(pod, spec, rec, c)) record_start_failure(*events_, pod, spec, c);
    return;
  }
  std::string id = container_id(rec.uid, c.name, c.attempt);
  auto st = runtime_->state(id);
  if (st.phase == ContainerState::Phase::Running && !init) {
    ProbeStatus probes = prober_->status(rec.uid, c.name, id);
    if (probes.kill_message.empty()) return;
    kill_unhealthy_container(pod, rec, c, probes);
    st = runtime_->state(id);
  }
  if (st.phase != ContainerState::Phase::Exited) return;
  // A container killed for its probes failed, whatever its exit code: only restartPolicy Never leaves it dead.
  bool failed = st.exit_code != 0 || c.killed_by_probe;
  bool restart = policy == "Always" || (policy == "OnFailure" && failed);
  if (init && st.exit_code == 0) restart = false;
  if (!restart) return;
  auto now = std::chrono::steady_clock::now();
  // Kubernetes' crash back-off: the first restart at once, then 10 s, doubling per restart, at most 5 minutes.
  if (c.backoff_until == std::chrono::steady_clock::time_point{} && c.attempt >= 1) {
    int64_t delay = std::min<int64_t>(300, int64_t(10) << std::min(c.attempt - 1, 5));
    c.backoff_until = now + std::chrono::seconds(delay);
    c.waiting_reason = "CrashLoopBackOff";
    c.waiting_message = "back-off " + std::to_string(delay) + "s restarting failed container=" + c.name + " pod=" +
                        rec.name + "_" + rec.ns + "(" + rec.uid + ")";
    record_back_off(*events_, pod, c);
    return;
  }
  if (now < c.backoff_until) {
    record_back_off(*events_, pod, c);
    return;
  }
  // The attempt before the previous one is no longer needed (logs --previous reads the previous one).
  if (c.attempt >= 1) {
    std::string old = container_id(rec.uid, c.name, c.attempt - 1);
    runtime_->remove(old);
    remove_container_rootfs(pod_dir(rec.uid) + "/containers/" + old);
    remove_container_log(pod_dir(rec.uid) + "/logs/" + c.name + "/" + std::to_string(c.attempt - 1) + ".log");
  }
  if (start_container(pod, spec, rec, c)) c.backoff_until = {};
  else record_start_failure(*events_, pod, spec, c);
}

// A liveness or startup probe failed past its threshold: stop the container with the probe's grace period, or the
// pod's; the exit is then handled like any other (restart policy, crash back-off).
void Kubelet::kill_unhealthy_container(const json& pod, PodRecord& rec, ContainerRecord& c, const ProbeStatus& probes) {
  int64_t grace = probes.kill_grace_seconds.value_or(
      pod.value("/spec/terminationGracePeriodSeconds"_json_pointer, int64_t(30)));
  std::string policy = pod.value("/spec/restartPolicy"_json_pointer, std::string("Always"));
  std::string message = probes.kill_message + (policy == "Never" ? "" : ", will be restarted");
  log(LogLevel::Notice, message, object_fields("Pod", rec.ns, rec.name));
  record_container_event(*events_, pod, c, api::EventType::Normal, reason::kKilling, message);
  c.killed_by_probe = true;
  runtime_->stop(container_id(rec.uid, c.name, c.attempt), std::chrono::seconds(std::max<int64_t>(grace, 0)));
}

// The prober follows the pod's app containers to their current instances.
void Kubelet::update_probes(const json& pod, const PodRecord& rec) {
  ProbedPod probed{rec.uid, rec.ns + "/" + rec.name, rec.name, rec.network ? rec.network->ip : "", {},
                   pod.value("/status/containerStatuses"_json_pointer, json::array())};
  for (const auto& spec : pod.value("/spec/containers"_json_pointer, json::array())) {
    std::string name = spec.value("name", "");
    auto c = rec.containers.find(name);
    bool started = c != rec.containers.end() && c->second.attempt >= 0;
    probed.containers.push_back({name, spec, started ? container_id(rec.uid, name, c->second.attempt) : ""});
  }
  prober_->update_pod(probed);
}

void Kubelet::kill_pod(PodRecord& rec, std::chrono::seconds grace, const json* pod) {
  std::vector<std::thread> stoppers;
  for (auto& [name, c] : rec.containers) {
    if (c.attempt < 0) continue;
    std::string id = container_id(rec.uid, name, c.attempt);
    if (runtime_->state(id).phase != ContainerState::Phase::Running) continue;
    if (pod) record_container_event(*events_, *pod, c, api::EventType::Normal, reason::kKilling, "Stopping container " + name);
    stoppers.emplace_back([this, id, grace] { runtime_->stop(id, grace); });
  }
  for (auto& t : stoppers) t.join();
}

void Kubelet::cleanup_pod(const std::string& uid) {
  prober_->remove_pod(uid);
  PodRecord rec;
  {
    std::lock_guard lock(mutex_);
    auto it = records_.find(uid);
    if (it != records_.end()) rec = it->second;
  }
  kill_pod(rec, std::chrono::seconds(0));
  for (const auto& id : runtime_->list())
    if (id.rfind(uid + "_", 0) == 0) {
      runtime_->stop(id, std::chrono::seconds(0));
      runtime_->remove(id);
    }
  std::error_code ec;
  if (fs::exists(pod_dir(uid) + "/containers", ec))
    for (const auto& e : fs::directory_iterator(pod_dir(uid) + "/containers", ec)) remove_container_rootfs(e.path());
  PodVolumes(*transport_, pod_dir(uid)).cleanup();
  network_->teardown(uid);
  fs::remove_all(pod_dir(uid), ec);
  std::lock_guard lock(mutex_);
  records_.erase(uid);
}

void Kubelet::confirm_deletion(const json& pod) {
  const auto* pods = api::Registry::builtin().by_kind("", "Pod");
  std::string ns = pod.value("/metadata/namespace"_json_pointer, std::string());
  std::string name = pod.value("/metadata/name"_json_pointer, std::string());
  json opts = {{"gracePeriodSeconds", 0},
               {"preconditions", {{"uid", pod.value("/metadata/uid"_json_pointer, std::string())}}}};
  try {
    api::ResourceClient(*transport_, *pods, ns).remove(name, opts);
  } catch (const api::StatusError& e) {
    if (e.status().code != 404 && e.status().code != 409) throw;  // gone already, or a new pod of that name
  }
}

void Kubelet::pleg_loop() {
  while (!stopping_) {
    {
      std::unique_lock lock(sleep_mutex_);
      sleep_cv_.wait_for(lock, kRelistPeriod, [&] { return stopping_.load(); });
    }
    if (stopping_) break;
    // A container that changed phase since the last relist wakes its pod.
    std::vector<std::pair<std::string, std::string>> watched;  // (container id, pod key)
    {
      std::lock_guard lock(mutex_);
      for (const auto& [uid, rec] : records_)
        for (const auto& [name, c] : rec.containers)
          if (c.attempt >= 0) watched.emplace_back(container_id(uid, name, c.attempt), rec.ns + "/" + rec.name);
    }
    for (const auto& [id, key] : watched) {
      auto st = runtime_->state(id);
      std::string phase = st.phase == ContainerState::Phase::Running ? "running"
                          : st.phase == ContainerState::Phase::Exited ? "exited"
                                                                       : "unknown";
      std::lock_guard lock(mutex_);
      auto& last = last_container_phase_[id];
      if (last != phase) {
        last = phase;
        queue_.add(key);
      }
    }
  }
}

std::string Kubelet::set_up_network(const std::string& cidr) {
  if (cidr.empty())
    return "network not ready: the node has no podCIDR (set --pod-cidr or let the controller manager allocate one)";
  try {
    network_->ensure_bridge(cidr);
    program_pod_masquerade(*nft::make_netlink_writer(), cidr, options_.cluster_cidr);
  } catch (const std::exception& e) {
    return std::string("network not ready: ") + e.what();
  }
  return "";
}

void Kubelet::heartbeat_loop() {
  auto last_status = std::chrono::steady_clock::now();
  while (!stopping_) {
    std::string allocated;
    {
      std::unique_lock lock(sleep_mutex_);
      sleep_cv_.wait_for(lock, kLeaseRenewPeriod, [&] { return stopping_.load() || !allocated_pod_cidr_.empty(); });
      allocated.swap(allocated_pod_cidr_);
    }
    if (stopping_) break;
    if (!allocated.empty() && !ready_) {
      std::string not_ready = set_up_network(allocated);
      log(LogLevel::Info, "podCIDR " + allocated + " allocated" + (not_ready.empty() ? "" : ": " + not_ready));
      try {
        if (not_ready.empty()) ready_ = true;
        node_->update_status(ready_, not_ready);
        last_status = std::chrono::steady_clock::now();
      } catch (const std::exception& e) {
        log(LogLevel::Warning, std::string("node status update failed: ") + e.what());
      }
      // Pods that waited for the network start now.
      if (ready_) resync();
      continue;
    }
    try {
      node_->renew_lease();
      if (std::chrono::steady_clock::now() - last_status >= kStatusReportPeriod) {
        node_->update_status(ready_, ready_ ? "" : "network not ready");
        last_status = std::chrono::steady_clock::now();
      }
    } catch (const std::exception& e) {
      log(LogLevel::Warning, std::string("node heartbeat failed: ") + e.what());
    }
  }
}

// The container a logs or exec request names: the pod's only container when none is named, as the kubelet does.
Kubelet::LogTarget Kubelet::resolve_container(const std::string& ns, const std::string& pod, std::string container,
                                              int attempt_offset) const {
  api::ObjectPtr obj = pods_ ? pods_->get(ns + "/" + pod) : nullptr;
  if (!obj) throw api::StatusError(api::Status::not_found("pods", pod));
  std::vector<std::string> names;
  for (const char* list : {"/spec/initContainers", "/spec/containers"})
    for (const auto& c : obj->value(json::json_pointer(list), json::array())) names.push_back(c.value("name", ""));
  if (container.empty()) {
    auto spec_containers = obj->value("/spec/containers"_json_pointer, json::array());
    if (spec_containers.size() != 1) {
      std::string choices;
      for (const auto& c : spec_containers) choices += (choices.empty() ? "" : " ") + c.value("name", "");
      throw api::StatusError(api::Status::bad_request("a container name must be specified for pod " + pod +
                                                      ", choose one of: [" + choices + "]"));
    }
    container = spec_containers[0].value("name", "");
  }
  if (std::find(names.begin(), names.end(), container) == names.end())
    throw api::StatusError(api::Status::bad_request("container " + container + " is not valid for pod " + pod));
  std::lock_guard lock(mutex_);
  std::string uid = obj->value("/metadata/uid"_json_pointer, std::string());
  auto rec = records_.find(uid);
  int attempt = -1;
  if (rec != records_.end())
    if (auto c = rec->second.containers.find(container); c != rec->second.containers.end()) attempt = c->second.attempt;
  attempt += attempt_offset;
  if (attempt < 0)
    throw api::StatusError(api::Status::bad_request(
        attempt_offset ? "previous terminated container \"" + container + "\" in pod \"" + pod + "\" not found"
                       : "container \"" + container + "\" in pod \"" + pod + "\" is waiting to start: ContainerCreating"));
  return {pod_dir(uid) + "/logs/" + container + "/" + std::to_string(attempt) + ".log",
          container_id(uid, container, attempt)};
}

Kubelet::LogTarget Kubelet::log_target(const std::string& ns, const std::string& pod, std::string container,
                                       bool previous) const {
  return resolve_container(ns, pod, std::move(container), previous ? -1 : 0);
}

ExecTarget Kubelet::exec_target(const std::string& ns, const std::string& pod, std::string container) const {
  std::string name = container;
  auto target = resolve_container(ns, pod, std::move(container), 0);
  ExecTarget t = runtime_->exec_target(target.container_id);
  if (t.pid <= 0)
    throw api::StatusError(api::Status::bad_request("container " + (name.empty() ? target.container_id : name) +
                                                    " in pod " + pod + " is not running"));
  return t;
}

Kubelet::PodNetnsTarget Kubelet::pod_netns(const std::string& ns, const std::string& pod) const {
  api::ObjectPtr obj = pods_ ? pods_->get(ns + "/" + pod) : nullptr;
  if (!obj) throw api::StatusError(api::Status::not_found("pods", pod));
  std::string uid = obj->value("/metadata/uid"_json_pointer, std::string());
  std::lock_guard lock(mutex_);
  auto rec = records_.find(uid);
  if (rec == records_.end() || !rec->second.network)
    throw api::StatusError(api::Status::bad_request("pod " + pod + " has no network yet: ContainerCreating"));
  return {uid, rec->second.network->netns_path};
}

bool Kubelet::container_running(const std::string& id) const {
  return runtime_->state(id).phase == ContainerState::Phase::Running;
}

json Kubelet::pod_object(const std::string& ns, const std::string& name) const {
  api::ObjectPtr p = pods_ ? pods_->get(ns + "/" + name) : nullptr;
  return p ? *p : json();
}

std::vector<json> Kubelet::pods_summary() const {
  std::vector<json> out;
  if (!pods_) return out;
  for (const auto& p : pods_->list())
    out.push_back({{"namespace", p->value("/metadata/namespace"_json_pointer, std::string())},
                   {"name", p->value("/metadata/name"_json_pointer, std::string())},
                   {"uid", p->value("/metadata/uid"_json_pointer, std::string())},
                   {"phase", p->value("/status/phase"_json_pointer, std::string())},
                   {"podIP", p->value("/status/podIP"_json_pointer, std::string())}});
  return out;
}

}  // namespace kctl::kubelet
