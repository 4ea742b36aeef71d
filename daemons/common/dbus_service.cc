// DbusService: connecting, owning names, following peers that leave, and the event loop thread; the method call
// workers; the configuration of a private bus.
#include "daemons/common/dbus_service.h"

#include <pthread.h>
#include <unistd.h>

#include <csignal>

#include "daemons/common/daemon.h"

namespace kctl {

namespace {

// The bus driver announces every name that changes hands; a unique name (":1.42") losing its owner is a peer
// leaving the bus.
constexpr const char* kNameOwnerChangedMatch =
    "type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',"
    "interface='org.freedesktop.DBus',member='NameOwnerChanged'";

}  // namespace

DbusService::DbusService(const std::string& address)
    : connection_(address.empty() ? sdbus::createSystemBusConnection()
                                  : sdbus::createSessionBusConnectionWithAddress(address)) {}

DbusService::~DbusService() { stop(); }

void DbusService::own_name(const std::string& name) {
  connection_->requestName(name);
  names_.push_back(name);
}

sdbus::Slot DbusService::on_peer_gone(std::function<void(const std::string&)> gone) {
  return connection_->addMatch(kNameOwnerChangedMatch, [gone = std::move(gone)](sdbus::Message& m) {
    // The match rule's sender is not checked for signals sent straight to us: a peer could send its own
    // NameOwnerChanged to end others' watches. Only the bus driver's counts (the bus daemon stamps the sender).
    if (m.getSender() != "org.freedesktop.DBus") return;
    std::string name, old_owner, new_owner;
    m >> name >> old_owner >> new_owner;
    if (!name.empty() && name[0] == ':' && new_owner.empty()) gone(name);
  });
}

void DbusService::start(std::function<void(const std::string&)> failed) {
  loop_ = std::thread([this, failed = std::move(failed)] {
    pthread_setname_np(pthread_self(), "dbus-loop");
    try {
      connection_->enterEventLoop();
    } catch (const sdbus::Error& e) {
      if (failed) failed(e.getMessage());
    }
  });
}

void DbusService::stop() {
  // Released before the loop stops, so clients see the name go before the objects stop answering.
  for (const auto& n : names_) {
    try {
      connection_->releaseName(n);
    } catch (const sdbus::Error&) {
      // the bus is gone: there is nothing left to release
    }
  }
  names_.clear();
  if (loop_.joinable()) {
    connection_->leaveEventLoop();
    loop_.join();
  }
}

MethodCallQueue::MethodCallQueue(size_t threads, size_t max_queued) : max_queued_(max_queued) {
  for (size_t i = 0; i < threads; ++i)
    threads_.emplace_back([this] {
      pthread_setname_np(pthread_self(), "dbus-call");
      run();
    });
}

MethodCallQueue::~MethodCallQueue() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

bool MethodCallQueue::push(std::function<void()> call) {
  {
    std::lock_guard lock(mu_);
    if (calls_.size() >= max_queued_) return false;
    calls_.push_back(std::move(call));
  }
  cv_.notify_one();
  return true;
}

void MethodCallQueue::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stopping_ || !calls_.empty(); });
    if (calls_.empty()) return;
    auto call = std::move(calls_.front());
    calls_.pop_front();
    lock.unlock();
    call();
    // Destroyed before the lock is taken again: the call holds the D-Bus message it answers, and releasing that
    // takes sd-bus's lock, which the bus thread holds while it waits for ours in push().
    call = nullptr;
    lock.lock();
  }
}

std::string private_bus_config(const std::string& socket_path, const std::string& policy_file) {
  // The default context is the system bus's own (dbus 1.14 system.conf): deny by default, then the kctl policy.
  return R"(<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=)" + socket_path + R"(</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/>
    <deny send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"
          send_member="UpdateActivationEnvironment"/>
  </policy>
  <policy user="root">
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Monitoring"/>
  </policy>
  <include>)" + policy_file + R"(</include>
</busconfig>
)";
}

bool serve_on_bus(const std::string& name, const std::string& address, const std::string& mode,
                  const std::function<void(std::function<void(const std::string&)> failed)>& make) {
  if (mode == "none") return true;
  std::string bus = address.empty() ? std::string("the system bus") : address;
  try {
    make([bus](const std::string& why) {
      log(LogLevel::Error, "lost the D-Bus connection to " + bus + ": " + why + "; exiting to be restarted");
      ::kill(::getpid(), SIGTERM);
    });
  } catch (const std::exception& e) {
    if (!address.empty()) {
      log(LogLevel::Error, "cannot serve " + name + " on D-Bus at " + address + ": " + e.what());
      return false;
    }
    log(LogLevel::Warning, "not serving " + name + " on D-Bus: " + e.what() + " (--dbus=none turns this off)");
    return true;
  }
  log(LogLevel::Info, "serving " + name + " on " + bus);
  return true;
}

}  // namespace kctl
