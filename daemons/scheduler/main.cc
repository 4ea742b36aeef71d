// kctl-scheduler: flags (named as kube-scheduler names them), informers, Lease leader election (only the leader
// schedules; losing the Lease ends the process, as kube-scheduler does), org.kctl.Scheduler1, READY=1 and STATUS=
// lines, and a clean stop on SIGTERM.
#include <atomic>
#include <charconv>
#include <csignal>
#include <iostream>
#include <random>

#include <unistd.h>

#include "api/leader_election.h"
#include "daemons/common/daemon.h"
#include "daemons/scheduler/dbus_scheduler.h"
#include "daemons/scheduler/scheduler.h"

using namespace kctl;

namespace {

std::string hostname() {
  char buf[256] = {};
  gethostname(buf, sizeof buf - 1);
  return buf;
}

// client-go's identity: the host name and a random suffix, unique per process.
std::string identity() {
  std::random_device rd;
  char suffix[17];
  std::snprintf(suffix, sizeof suffix, "%08x%08x", rd(), rd());
  return hostname() + "_" + suffix;
}

// "15s", "500ms", "2m" (Go duration units kube-scheduler's flags take; one unit per value).
std::atomic<bool> failed_exit{false};

void exit_with_failure(const std::string& why) {
  log(LogLevel::Error, why);
  failed_exit = true;
  ::kill(::getpid(), SIGTERM);
}

}  // namespace

int main(int argc, char** argv) {
  block_termination_signals();
  raise_fd_limit();
  std::string apiserver = "dbus:", dbus_address, dbus_mode = "on";
  api::ClientOptions client;
  bool leader_elect = true;
  api::LeaderElectionConfig le;
  le.lease_name = "kube-scheduler";
  scheduler::SchedulerOptions o;
  int api_workers = int(o.api_workers);
  Flags flags("kctl-scheduler", "The kctl scheduler: binds pending pods to nodes (filter, then score).");
  add_apiserver_flags(flags, &apiserver, &client);
  flags.add("leader-elect", &leader_elect,
            "take the Lease kube-system/kube-scheduler before scheduling, so several copies can run and one acts");
  flags.add("leader-elect-lease-duration", &le.lease_duration, "how long a Lease not renewed keeps others waiting");
  flags.add("leader-elect-renew-deadline", &le.renew_deadline, "how long the leader tries to renew before giving up");
  flags.add("leader-elect-retry-period", &le.retry_period, "how often candidates try to take or renew the Lease");
  flags.add("leader-elect-resource-namespace", &le.lease_namespace, "the namespace of the Lease");
  flags.add("leader-elect-resource-name", &le.lease_name, "the name of the Lease");
  flags.add("api-workers", &api_workers, "how many bindings and status writes may be in flight at once");
  flags.add("dbus-address", &dbus_address, "the bus to own org.kctl.Scheduler1 on (default: the system bus)");
  flags.add("dbus", &dbus_mode, "on: export org.kctl.Scheduler1 on D-Bus; none: do not");
  flags.parse(argc, argv);
  set_log_identifier("kctl-scheduler");
  if (dbus_mode != "on" && dbus_mode != "none") {
    std::cerr << "kctl-scheduler: --dbus must be on or none\n";
    return 2;
  }
  for (auto [flag, value] : {std::pair{"lease-duration", le.lease_duration}, std::pair{"renew-deadline", le.renew_deadline},
                             std::pair{"retry-period", le.retry_period}}) {
    if (value.count() == 0) {
      std::cerr << "kctl-scheduler: --leader-elect-" << flag << " must be longer than 0\n";
      return 2;
    }
  }
  if (api_workers < 1) {
    std::cerr << "kctl-scheduler: --api-workers must be at least 1\n";
    return 2;
  }
  o.api_workers = size_t(api_workers);
  le.identity = identity();

  api::TransportPtr transport;
  try {
    transport = api::make_transport(apiserver, client);
  } catch (const std::exception& e) {
    std::cerr << "kctl-scheduler: --apiserver: " << e.what() << "\n";
    return 2;
  }
  scheduler::Scheduler sched(*transport, o);
  sched.start_informers();

  std::atomic<bool> leading{!leader_elect};
  std::unique_ptr<scheduler::DbusScheduler> dbus;
  if (dbus_mode == "on") {
    std::string bus = dbus_address.empty() ? std::string("the system bus") : dbus_address;
    try {
      dbus = std::make_unique<scheduler::DbusScheduler>(
          sched, [&leading] { return leading.load(); }, dbus_address, [bus](const std::string& why) {
            exit_with_failure("lost the D-Bus connection to " + bus + ": " + why + "; exiting to be restarted");
          });
      log(LogLevel::Info, "serving org.kctl.Scheduler1 on " + bus + " as " + dbus->unique_name());
    } catch (const std::exception& e) {
      if (!dbus_address.empty()) {
        log(LogLevel::Error, "cannot serve on D-Bus at " + dbus_address + ": " + e.what());
        return 1;
      }
      log(LogLevel::Warning, std::string("not on D-Bus: ") + e.what() + " (--dbus=none turns this off)");
    }
  }

  // Wait for the caches, then campaign (or just schedule); on a thread, so SIGTERM is answered meanwhile.
  std::atomic<bool> stopping{false};
  std::unique_ptr<api::LeaderElector> elector;
  if (leader_elect) {
    le.on_started_leading = [&] {
      leading = true;
      log(LogLevel::Info, "became the leader (Lease " + le.lease_namespace + "/" + le.lease_name + " as " +
                              le.identity + "); scheduling");
      sched.start_scheduling();
    };
    le.on_stopped_leading = [&] {
      if (!leading.exchange(false) || stopping) return;
      exit_with_failure("leaderelection lost: another scheduler holds Lease " + le.lease_namespace + "/" +
                        le.lease_name);
    };
    le.on_error = [](const std::string& error) { log(LogLevel::Warning, error); };
    le.on_new_leader = [&](const std::string& who) {
      if (who != le.identity) log(LogLevel::Info, "the leader is " + who);
    };
    elector = std::make_unique<api::LeaderElector>(*transport, le);
  }
  std::thread runner([&] {
    while (!stopping && !sched.wait_for_sync(std::chrono::seconds(1))) {
    }
    if (stopping) return;
    log(LogLevel::Info, "caches synced from " + apiserver);
    if (elector) elector->run();
    else sched.start_scheduling();
  });

  notify_ready("Waiting for the caches and the Lease");
  start_watchdog([] { return true; });
  std::thread status([&] {
    std::string last;
    while (!stopping) {
      auto s = sched.stats();
      std::string line = std::to_string(s.pending) + " pods pending, " + std::to_string(s.scheduled) + " scheduled" +
                         (leading ? "" : " (standby: not the leader)");
      if (line != last) notify_status(line);
      last = line;
      for (int i = 0; i < 10 && !stopping; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  int sig = wait_for_termination();
  notify_stopping();
  log(LogLevel::Info, std::string("stopping on ") + (sig == SIGTERM ? "SIGTERM" : "SIGINT"));
  stopping = true;
  stop_watchdog();
  // Release the Lease (when not lost) only after the last binding, so the next leader does not race us.
  sched.stop();
  if (elector) elector->stop(!failed_exit);
  runner.join();
  status.join();
  dbus.reset();
  return failed_exit ? 1 : 0;
}
