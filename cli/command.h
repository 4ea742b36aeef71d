// The verbs of kctl: each one's name, help text and entry point, and the Invocation a verb runs with (its flags,
// its arguments, the session and the output streams). Help is printed in kubectl's layout.
#pragma once

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli/flags.h"
#include "cli/session.h"

namespace kctl::cli {

class Invocation;

struct CommandInfo {
  const char* name;
  const char* group;       // the heading in `kctl --help` ("Basic Commands (Beginner)")
  const char* short_help;  // one line
  const char* long_help;
  const char* usage;  // after "kctl ": "get [(-o|--output=)json|yaml|...] (TYPE[.VERSION][.GROUP] ...) [flags]"
  const char* examples;
  int (*run)(Invocation&);
  // Sub-verbs (config view, rollout status); a verb with these has no run of its own.
  std::vector<CommandInfo> (*subcommands)() = nullptr;
};

class Invocation {
 public:
  // `path` is the verb as typed ("get", "config view"); `args` everything after it, global flags included.
  Invocation(const CommandInfo& info, std::string path, std::vector<std::string> args, GlobalOptions globals);

  // Parses the flags the verb registered plus the global ones. Returns false when --help was asked for (the help
  // is printed; the verb returns 0). Throws UsageError.
  bool parse();
  FlagSet& flags() { return flags_; }
  const std::vector<std::string>& args() const { return flags_.args(); }
  const std::vector<std::string>& raw_args() const { return raw_args_; }
  const CommandInfo& info() const { return info_; }
  const std::string& path() const { return path_; }
  Session& session();
  std::ostream& out() { return std::cout; }
  std::ostream& err() { return std::cerr; }
  std::istream& in() { return std::cin; }
  void print_help(std::ostream& out) const;

 private:
  const CommandInfo& info_;
  std::string path_;
  std::vector<std::string> raw_args_;
  GlobalOptions globals_;
  FlagSet flags_;
  std::unique_ptr<Session> session_;
};

// All verbs, in `kctl --help` order.
const std::vector<CommandInfo>& commands();
const CommandInfo* find_command(const std::vector<CommandInfo>& list, const std::string& name);
// Runs kctl with argv[1:]; returns the exit code. Errors are printed here, as kubectl's CheckErr does.
int run_kctl(const std::vector<std::string>& args);
// Dispatches `inv`'s first argument to one of `subs` (config view, rollout status).
int run_subcommand(Invocation& inv, const std::vector<CommandInfo>& subs);

// The entry points of the verbs, each defined in its cmd_*.cc.
CommandInfo get_command();
CommandInfo describe_command();
CommandInfo create_command();
CommandInfo replace_command();
CommandInfo apply_command();
CommandInfo delete_command();
CommandInfo patch_command();
CommandInfo label_command();
CommandInfo annotate_command();
CommandInfo edit_command();
CommandInfo scale_command();
CommandInfo set_command();
CommandInfo run_command();
CommandInfo expose_command();
CommandInfo rollout_command();
CommandInfo wait_command();
CommandInfo logs_command();
CommandInfo exec_command();
CommandInfo port_forward_command();
CommandInfo api_resources_command();
CommandInfo explain_command();
CommandInfo cluster_info_command();
CommandInfo version_command();
CommandInfo config_command();
CommandInfo completion_command();
CommandInfo options_command();
CommandInfo token_command();
CommandInfo node_command();

}  // namespace kctl::cli
