// The worker nodes of the local cluster: what `up` prepares before the kubelets start (the node network, the
// system bus systemd-nspawn needs, the busybox image in each node's store), the waits for Ready nodes and Running
// example pods, and what `down` does so nothing is left: the pods deleted through the API (each kubelet stops and
// cleans its own), then whatever a dead kubelet left (container processes, mounts, pod namespaces).
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <thread>

#include <sys/mount.h>

#include "api/client.h"
#include "api/go_json.h"
#include "api/kubeconfig.h"
#include "api/pki.h"
#include "cli/local_cluster.h"
#include "daemons/common/process.h"
#include "daemons/kubelet/image_store.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace kctl::cli {

namespace {

constexpr const char* kBusyboxImage = "kctl/busybox:latest";
constexpr auto kNodeReadyTimeout = std::chrono::seconds(60);
constexpr auto kExamplePodsTimeout = std::chrono::seconds(60);
constexpr auto kPodDeletionTimeout = std::chrono::seconds(60);

std::string source_dir() {
  std::ifstream in(fs::path(executable_dir()) / ".." / "source-dir");
  std::string src;
  std::getline(in, src);
  return src;
}

std::string find_script(const std::string& name) {
  for (const fs::path& p : {fs::path(source_dir()) / "scripts" / name, fs::path("/usr/share/kctl") / name})
    if (p.is_absolute() && fs::exists(p)) return p.string();
  return "";
}

bool system_bus_running() { return fs::exists("/run/dbus/system_bus_socket"); }

bool node_ready(const json& node) {
  for (const auto& c : node.value("/status/conditions"_json_pointer, json::array()))
    if (c.value("type", "") == "Ready") return c.value("status", "") == "True";
  return false;
}

void sleep_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

}  // namespace

void LocalCluster::save_config() const {
  fs::create_directories(options_.dir);
  json c = {{"name", options_.name}, {"workers", options_.workers}, {"apiPort", options_.api_port},
            {"securePort", options_.secure_port},
            {"nodeMonitorGracePeriod", options_.node_monitor_grace_period}};
  std::ofstream(path("cluster.json")) << c.dump(2) << "\n";
}

void LocalCluster::load_config() {
  std::ifstream in(path("cluster.json"));
  if (!in) return;
  json c = json::parse(in, nullptr, false);
  if (!c.is_object()) return;
  options_.name = c.value("name", options_.name);
  options_.workers = c.value("workers", options_.workers);
  options_.api_port = c.value("apiPort", options_.api_port);
  options_.secure_port = c.value("securePort", options_.secure_port);
  options_.node_monitor_grace_period = c.value("nodeMonitorGracePeriod", options_.node_monitor_grace_period);
}

int LocalCluster::prepare_credentials() {
  pki::ClusterPkiFiles files(path("apiserver/pki"));
  try {
    pki::KeyPair ca = pki::ensure_cluster_ca(files);
    if (ca.key_pem.empty()) throw pki::PkiError("the CA key " + files.ca_key + " is missing");
    LocalNetwork net = network();
    std::string server = "https://" + net.master_ip() + ":" + std::to_string(options_.secure_port);
    json cluster = {{"certificate-authority-data", api::base64_encode(ca.cert_pem)}, {"server", server}};
    // Kept while still good, so a restarted node keeps its identity; issued again otherwise.
    auto write = [&](const std::string& file, const pki::Subject& who) {
      std::string kc = path(file);
      if (fs::exists(kc)) {
        try {
          api::ClientConfig c = api::load_client_config(kc);
          if (pki::verify_problem(c.tls.cert_data, ca.cert_pem, pki::Usage::Client).empty()) return;
        } catch (const std::exception&) {
        }
      }
      pki::KeyPair pair = pki::issue(ca, who, pki::Usage::Client, {});
      fs::create_directories(fs::path(kc).parent_path());
      pki::write_file(kc,
                      api::single_kubeconfig("kctl-local", cluster, who.common_name,
                                             {{"client-certificate-data", api::base64_encode(pair.cert_pem)},
                                              {"client-key-data", api::base64_encode(pair.key_pem)}},
                                             who.common_name + "@kctl-local"),
                      0600);
    };
    for (int i = 1; i <= options_.workers; ++i) {
      std::string node = net.node_name(i);
      write("nodes/" + node + "/kubelet.conf", {"system:node:" + node, {"system:nodes"}});
      write("nodes/" + node + "/proxy.conf", {"system:kube-proxy", {}});
    }
  } catch (const std::exception& e) {
    std::cerr << "kctl local: cannot make the cluster's credentials: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

int LocalCluster::prepare_workers() {
  if (options_.workers <= 0) return 0;
  try {
    network().setup();
  } catch (const std::exception& e) {
    std::cerr << "kctl local: cannot make the node network: " << e.what() << "\n";
    return 1;
  }
  // systemd-nspawn talks to the system bus even with --register=no; without systemd nobody started one.
  if (!system_bus_running()) {
    fs::create_directories("/run/dbus");
    auto r = run_process({"dbus-daemon", "--system", "--fork"});
    if (!r.ok() && !system_bus_running()) {
      std::cerr << "kctl local: the workers need the system D-Bus: " << describe_failure({"dbus-daemon", "--system"}, r)
                << "\n";
      return 1;
    }
  }
  // The busybox image the examples run, built once from busybox-static and imported into every node's store.
  std::string rootfs = path("images/busybox");
  try {
    for (int i = 1; i <= options_.workers; ++i) {
      kubelet::ImageStore store(path("nodes/" + network().node_name(i) + "/images"));
      if (store.find(kBusyboxImage)) continue;
      if (!fs::exists(rootfs + "/bin/busybox")) {
        std::string script = find_script("build-busybox-rootfs");
        auto r = script.empty() ? ProcessResult{127, "", "scripts/build-busybox-rootfs not found"}
                                : run_process({script, rootfs});
        if (!r.ok()) {
          std::cerr << "kctl local: cannot build the busybox image: " << r.err << "\n";
          return 1;
        }
      }
      store.import(kBusyboxImage, rootfs);
    }
  } catch (const std::exception& e) {
    std::cerr << "kctl local: cannot import the busybox image: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

bool LocalCluster::wait_for_nodes(std::string& error) const {
  auto client = api::Client::connect(api_url());
  auto nodes = client.resource("nodes");
  auto deadline = std::chrono::steady_clock::now() + kNodeReadyTimeout;
  LocalNetwork net = network();
  while (std::chrono::steady_clock::now() < deadline) {
    int ready = 0;
    for (int i = 1; i <= options_.workers; ++i) {
      try {
        if (node_ready(nodes.get(net.node_name(i)))) ++ready;
      } catch (const api::StatusError& e) {
        error = e.status().message;
      }
    }
    error = std::to_string(ready) + " of " + std::to_string(options_.workers) + " Ready";
    if (ready == options_.workers) {
      // And the controller manager at work: pods made before the default ServiceAccount would go without a token.
      try {
        client.resource("serviceaccounts", "default").get("default");
        return true;
      } catch (const api::StatusError&) {
        error = "the nodes are Ready, but there is no ServiceAccount default/default yet (is kctl-controller-manager "
                "leading?)";
      }
    }
    if (!supervisor_pid()) {
      error = "the supervisor exited";
      return false;
    }
    sleep_ms(200);
  }
  return false;
}

// The examples' pods bound to a node: wait (a while) until each runs, so `up` ends with a working cluster.
void LocalCluster::wait_for_example_pods() const {
  auto client = api::Client::connect(api_url());
  auto pods = client.resource("pods");
  auto deadline = std::chrono::steady_clock::now() + kExamplePodsTimeout;
  while (std::chrono::steady_clock::now() < deadline) {
    bool all = true;
    for (const auto& p : pods.list().items)
      if (!p.value("/spec/nodeName"_json_pointer, std::string()).empty() &&
          p.value("/status/phase"_json_pointer, std::string()) != "Running")
        all = false;
    if (all) return;
    sleep_ms(200);
  }
  std::cerr << "kctl local: some example pods are not Running yet\n";
}

// Every pod deleted through the API, and the kubelets given time to stop the containers, remove what the pods
// used and confirm: the same path as a `kubectl delete`. The workload objects go first, so that no controller
// makes new pods meanwhile (which the kubelets, stopping, would leave half started).
void LocalCluster::delete_pods_and_wait() const {
  try {
    auto client = api::Client::connect(api_url());
    for (const char* kind : {"deployments", "daemonsets", "replicasets", "replicationcontrollers"}) {
      auto all = client.resource(kind);
      for (const auto& o : all.list().items) {
        try {
          client.resource(kind, o.value("/metadata/namespace"_json_pointer, std::string()))
              .remove(o.value("/metadata/name"_json_pointer, std::string()));
        } catch (const api::StatusError&) {
        }
      }
    }
    auto pods = client.resource("pods");
    for (const auto& p : pods.list().items) {
      std::string ns = p.value("/metadata/namespace"_json_pointer, std::string());
      std::string name = p.value("/metadata/name"_json_pointer, std::string());
      try {
        client.resource("pods", ns).remove(name);
      } catch (const api::StatusError&) {
      }
    }
    auto deadline = std::chrono::steady_clock::now() + kPodDeletionTimeout;
    while (std::chrono::steady_clock::now() < deadline) {
      bool left = false;
      for (const auto& p : pods.list().items)
        if (!p.value("/spec/nodeName"_json_pointer, std::string()).empty()) left = true;
      if (!left) return;
      sleep_ms(200);
    }
    std::cerr << "kctl local: some pods were not confirmed deleted by their kubelet; cleaning up after them\n";
  } catch (const std::exception& e) {
    std::cerr << "kctl local: cannot delete the pods through the API (" << e.what() << "); cleaning up directly\n";
  }
}

// After the kubelets stopped: what a kubelet that could not finish left on its node.
void LocalCluster::clean_leftovers() const {
  LocalNetwork net = network();
  std::set<std::string> uids;
  for (int i = 1; i <= options_.workers; ++i) {
    fs::path node = path("nodes/" + net.node_name(i));
    std::error_code ec;
    // Container processes: the nspawn of each container (its payload dies with it: nspawn's child has
    // PR_SET_PDEATHSIG), then the cgroups of the node's pods.
    for (const auto& c : fs::directory_iterator(node / "runtime" / "containers", ec)) {
      std::ifstream in(c.path() / "pid");
      int pid = 0;
      if (in >> pid && pid > 0) ::kill(pid, SIGKILL);
    }
    for (const auto& f : fs::directory_iterator(node / "network" / "ipam", ec)) {
      std::ifstream in(f.path());
      std::string uid;
      if (std::getline(in, uid) && !uid.empty()) uids.insert(uid);
    }
  }
  for (const auto& uid : uids) {
    // Any process still in one of the pod's cgroups, in every hierarchy.
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator("/sys/fs/cgroup", ec); it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      if (ec) break;
      if (it->path().filename() != "pod-" + uid) continue;
      it.disable_recursion_pending();
      for (auto in = fs::recursive_directory_iterator(it->path(), ec); in != fs::recursive_directory_iterator();
           in.increment(ec)) {
        if (ec) break;
        if (in->path().filename() != "cgroup.procs") continue;
        std::ifstream procs(in->path());
        for (int pid; procs >> pid;) ::kill(pid, SIGKILL);
      }
    }
    run_process({"ip", "netns", "del", "kctl-" + uid});
  }
  // Mounts under the cluster's directory (container overlays, volumes), deepest first.
  std::ifstream mountinfo("/proc/self/mountinfo");
  std::vector<std::string> mounts;
  std::string prefix = fs::weakly_canonical(options_.dir).string() + "/";
  for (std::string line; std::getline(mountinfo, line);) {
    std::istringstream ss(line);
    std::string id, parent, dev, root, point;
    ss >> id >> parent >> dev >> root >> point;
    if (point.rfind(prefix, 0) == 0) mounts.push_back(point);
  }
  std::sort(mounts.rbegin(), mounts.rend());
  for (const auto& m : mounts) ::umount2(m.c_str(), MNT_DETACH);
}

}  // namespace kctl::cli
