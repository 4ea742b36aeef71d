// kctl: the command-line client. Every verb is kubectl's, dispatched by run_kctl (cli/command.h), except
// `kctl local ...`, which runs the local cluster from the kctl-local binary beside this one (it needs D-Bus,
// which would slow down kctl's start-up).
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "cli/command.h"

namespace {

int exec_local(int argc, char** argv) {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  std::string local = (ec ? std::filesystem::path(argv[0]) : self).parent_path() / "kctl-local";
  std::vector<char*> args = {const_cast<char*>(local.c_str())};
  for (int i = 1; i < argc; ++i) args.push_back(argv[i]);
  args.push_back(nullptr);
  ::execv(local.c_str(), args.data());
  std::cerr << "error: cannot run " << local << " for `kctl local`: it should be installed beside kctl\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && (args[0] == "local" || args[0] == "image")) return exec_local(argc, argv);
  return kctl::cli::run_kctl(args);
}
