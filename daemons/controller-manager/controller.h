// What every controller of kctl-controller-manager shares: the context it is built with (the transport, the shared
// informers, the options) and a base class for the level-driven loop of client-go's controllers: event handlers put
// keys on a de-duplicating work queue, workers take one key at a time and sync() makes what is observed meet what
// is asked for, reading the informer caches; a failed sync is retried with back-off.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "api/client.h"
#include "api/informer.h"
#include "api/workqueue.h"

namespace kctl::controllers {

struct ControllerOptions {
  std::string cluster_cidr = "10.244.0.0/16";  // node IPAM hands out podCIDRs from it
  int node_cidr_mask_size = 24;
  // Node lifecycle: a node whose Lease is not renewed for this long is NotReady/Unknown (kube's default 40 s).
  std::chrono::seconds node_monitor_grace_period{40};
  // How long pods stay on such a node when they carry no toleration of their own (kube's default 300 s).
  std::chrono::seconds default_toleration_seconds{300};
  int workers = 2;  // per controller (kube-controller-manager's --concurrent-*-syncs)
  std::string root_ca_file;  // --root-ca-file: the CA the root-ca-cert-publisher puts in kube-root-ca.crt
  // --cluster-signing-cert-file/--cluster-signing-key-file: the CA csrsigning signs with (none: it does not run);
  // --cluster-signing-duration: the longest a certificate it signs is valid (kube's default 8760h).
  std::string cluster_signing_cert_file, cluster_signing_key_file;
  std::chrono::seconds cluster_signing_duration{8760 * 3600};
};

struct ControllerContext {
  api::Transport& transport;
  api::InformerFactory& informers;
  const ControllerOptions& options;

  api::ResourceClient client(const std::string& resource, const std::string& ns = "") const;
  api::Informer& informer(const std::string& resource) const;  // all namespaces
};

class Controller {
 public:
  Controller(std::string name, ControllerContext& context);
  virtual ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  // The name kube-controller-manager knows it by ("replicaset", "endpoint", ...).
  const std::string& name() const { return name_; }
  // Starts the workers; the informers must have synced (the manager waits for them first).
  void run();
  void stop();  // shuts the queue down and waits for the workers

  void enqueue(const std::string& key) { queue_.add(key); }
  void enqueue_after(const std::string& key, std::chrono::milliseconds delay) { queue_.add_after(key, delay); }
  // Queues every object this controller manages (what a resync does, and what Resync() on D-Bus asks for).
  virtual void resync() = 0;

  size_t queue_depth() const { return queue_.size(); }
  std::string last_sync() const;  // RFC 3339 time of the last sync that completed, "" before the first

 protected:
  // Brings one object to its desired state. Throws to have the key retried with back-off.
  virtual void sync(const std::string& key) = 0;

  ControllerContext& context_;

 private:
  void worker();

  std::string name_;
  api::WorkQueue queue_;
  std::vector<std::thread> threads_;
  mutable std::mutex mutex_;
  std::string last_sync_;  // guarded by mutex_
};
using ControllerPtr = std::unique_ptr<Controller>;

// "ns/name" of an object, or "name" when it has no namespace: the informers' and queues' key.
std::string key_of(const nlohmann::json& obj);
// The ownerReference with controller: true, or null.
nlohmann::json controller_ref(const nlohmann::json& obj);
// True when the object is being deleted (metadata.deletionTimestamp set).
bool being_deleted(const nlohmann::json& obj);

}  // namespace kctl::controllers
