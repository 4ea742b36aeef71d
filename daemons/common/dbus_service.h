// A daemon on D-Bus: the connection (the system bus or a given address), its well-known names, the objects it
// exports through sdbus-c++ adaptors generated from api/dbus/*.xml, and the bus event loop on a thread of its own.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <sys/types.h>

#include <sdbus-c++/sdbus-c++.h>

namespace kctl {

class DbusService {
 public:
  // Connects to the bus at `address` (a D-Bus address such as unix:path=/run/kctl/bus), or to the system bus when
  // it is empty. Throws sdbus::Error when the bus cannot be reached.
  explicit DbusService(const std::string& address = "");
  ~DbusService();  // stop()
  DbusService(const DbusService&) = delete;
  DbusService& operator=(const DbusService&) = delete;

  sdbus::IConnection& connection() { return *connection_; }
  std::string unique_name() const { return connection_->getUniqueName(); }

  // Takes a well-known name. Export the objects first, so whoever sees the name appear finds them. Throws
  // sdbus::Error (AccessDenied when the bus policy does not let us own it, or the name is taken).
  void own_name(const std::string& name);
  // Calls `gone(unique_name)`, on the bus thread, for every peer that leaves the bus: to drop what it owned.
  // Until the returned slot is released (which waits for a call in progress).
  [[nodiscard]] sdbus::Slot on_peer_gone(std::function<void(const std::string&)> gone);

  // Runs the event loop on a thread. `failed` is called from that thread if the loop ends on its own (the bus
  // went away); the daemon decides whether to log, exit or carry on.
  void start(std::function<void(const std::string& error)> failed = {});
  // Releases the names and stops the loop (waiting for it). Objects must be withdrawn before the service goes.
  void stop();

 private:
  std::unique_ptr<sdbus::IConnection> connection_;
  std::vector<std::string> names_;
  std::thread loop_;
};

// The threads a daemon runs its slow D-Bus methods on (methods annotated org.freedesktop.DBus.Method.Async take an
// sdbus::Result to answer later): the bus thread only dispatches, so one slow call holds up no other, nor signals.
class MethodCallQueue {
 public:
  MethodCallQueue(size_t threads, size_t max_queued);
  ~MethodCallQueue();  // runs what is queued, then joins
  MethodCallQueue(const MethodCallQueue&) = delete;
  MethodCallQueue& operator=(const MethodCallQueue&) = delete;
  // False when `max_queued` calls are waiting already: the caller answers "too many requests" instead.
  bool push(std::function<void()> call);

 private:
  void run();

  const size_t max_queued_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> calls_;  // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  std::vector<std::thread> threads_;
};

// How a daemon puts its object on D-Bus (--dbus-address=ADDRESS, --dbus=on|none): `make(failed)` connects,
// exports and owns the name, keeping the object where the caller wants it, and is to call `failed` when the bus
// goes away later (the daemon then ends, to be restarted and own its name on the new bus). On a bus the flag
// named, a failure is fatal (false); on the system bus it is only a warning (true, no object), since a machine
// without a system bus can still run the daemon.
bool serve_on_bus(const std::string& name, const std::string& address, const std::string& mode,
                  const std::function<void(std::function<void(const std::string&)> failed)>& make);

// The configuration of a private bus that enforces the same rules as the system bus: a socket at `socket_path`
// any local user may connect to, method calls denied unless a policy allows them, and `policy_file` (the kctl
// policy, units/org.kctl.conf) included. For `kctl local` clusters and tests.
std::string private_bus_config(const std::string& socket_path, const std::string& policy_file);

// The base of an exported object: the generated adaptor(s) at `path`. sdbus-c++ dispatches into the derived
// class's virtual functions, so the derived class calls publish() last in its constructor and withdraw() first in
// its destructor: the object is on the bus exactly while it is whole.
template <typename... Adaptors>
class DbusObject : public sdbus::AdaptorInterfaces<Adaptors...> {
 public:
  DbusObject(DbusService& service, std::string path)
      : sdbus::AdaptorInterfaces<Adaptors...>(service.connection(), std::move(path)) {}

 protected:
  void publish() { this->registerAdaptor(); }
  void withdraw() { this->unregisterAdaptor(); }

  // The unique bus name of the caller of the method being dispatched (on the bus thread, in a method handler).
  std::string caller() const {
    const sdbus::Message* m = this->getObject().getCurrentlyProcessedMessage();
    return m ? m->getSender() : std::string();
  }
  // The uid of that caller, as the bus daemon knows it (taken from the peer's socket when it connected, not from
  // anything the caller says); nullopt when the bus cannot tell (the caller left already). On the bus thread, in a
  // method handler: it asks the bus (one round trip), so only for the calls that need it.
  std::optional<uid_t> caller_uid() const {
    const sdbus::Message* m = this->getObject().getCurrentlyProcessedMessage();
    if (!m) return std::nullopt;
    try {
      return m->getCredsUid();
    } catch (const sdbus::Error&) {
      return std::nullopt;
    }
  }
  // PropertiesChanged for properties whose value changed. A failure to send (the bus is gone) is not the
  // caller's problem: false.
  bool properties_changed(const std::string& interface, const std::vector<std::string>& names) {
    try {
      this->getObject().emitPropertiesChangedSignal(interface, names);
      return true;
    } catch (const sdbus::Error&) {
      return false;
    }
  }
  // A signal sent to one peer only (the bus routes it to `destination` rather than to every match).
  sdbus::Signal signal_to(const std::string& destination, const std::string& interface, const std::string& member) {
    sdbus::Signal s = this->getObject().createSignal(interface, member);
    s.setDestination(destination);
    return s;
  }
  void emit(const sdbus::Signal& s) { this->getObject().emitSignal(s); }
};

}  // namespace kctl
