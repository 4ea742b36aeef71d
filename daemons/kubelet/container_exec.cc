// spawn_in_container: nsenter --target <init of the container> into all its namespaces and its root, in its working
// directory, with its environment. Everything the child needs is built before fork(): the kubelet has threads, so
// the child may only make async-signal-safe calls until it execs.
#include "daemons/kubelet/container_exec.h"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <system_error>

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

namespace kctl::kubelet {

namespace {

std::vector<char*> c_strings(std::vector<std::string>& v) {
  std::vector<char*> out;
  for (auto& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// In the child: what the kubelet changed for itself (SIGTERM/SIGINT blocked for sigwait, SIGPIPE ignored) would
// otherwise be inherited by the command through exec.
void reset_signals() {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigaction(SIGPIPE, &dfl, nullptr);
}

void connect_stdio(const ContainerCommand& c, const ContainerStdio& s) {
  if (c.tty) {
    ::setsid();
    ::ioctl(s.tty, TIOCSCTTY, 0);
    ::dup2(s.tty, 0);
    ::dup2(s.tty, 1);
    ::dup2(s.tty, 2);
    return;
  }
  ::setpgid(0, 0);
  int in = s.in >= 0 ? s.in : ::open("/dev/null", O_RDONLY);
  ::dup2(in, 0);
  ::dup2(s.out, 1);
  ::dup2(s.err, 2);
}

}  // namespace

std::vector<std::string> container_command_environment(const ContainerCommand& c) {
  std::vector<std::pair<std::string, std::string>> vars = {
      {"PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, {"HOME", "/root"}};
  if (!c.hostname.empty()) vars.emplace_back("HOSTNAME", c.hostname);
  if (c.tty) vars.emplace_back("TERM", "xterm");
  for (const auto& kv : c.target.env) {
    auto same = std::find_if(vars.begin(), vars.end(), [&](const auto& v) { return v.first == kv.first; });
    if (same != vars.end()) same->second = kv.second;
    else vars.push_back(kv);
  }
  std::vector<std::string> env;
  for (const auto& [k, v] : vars) env.push_back(k + "=" + v);
  return env;
}

pid_t spawn_in_container(const ContainerCommand& c, const ContainerStdio& stdio) {
  std::string wd = c.target.working_dir.empty() ? "/" : c.target.working_dir;
  std::vector<std::string> argv = {"nsenter", "--target", std::to_string(c.target.pid), "--mount", "--uts", "--ipc",
                                   "--net", "--pid", "--root", "--wd=" + wd, "--"};
  argv.insert(argv.end(), c.command.begin(), c.command.end());
  std::vector<std::string> env = container_command_environment(c);
  std::vector<char*> a = c_strings(argv), e = c_strings(env);
  static constexpr char kFailed[] = "cannot run nsenter\n";
  pid_t child = ::fork();
  if (child < 0) throw std::system_error(errno, std::generic_category(), "fork");
  if (child == 0) {
    reset_signals();
    connect_stdio(c, stdio);
    ::execvpe(a[0], a.data(), e.data());
    (void)!::write(2, kFailed, sizeof kFailed - 1);
    ::_exit(126);
  }
  return child;
}

}  // namespace kctl::kubelet
