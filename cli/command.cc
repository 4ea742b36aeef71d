// Dispatch of `kctl VERB ...`, kubectl's help layout (top level, per verb, `kctl options`) and the one place
// where a failed verb's error is printed and turned into the exit code.
#include "cli/command.h"

#include <algorithm>
#include <sstream>

#include "cli/errors.h"

namespace kctl::cli {

namespace {

const char* kGroups[] = {"Basic Commands (Beginner)", "Basic Commands (Intermediate)", "Deploy Commands",
                         "Cluster Management Commands", "Troubleshooting and Debugging Commands", "Advanced Commands", "Settings Commands",
                         "Other Commands"};

void print_top_help(std::ostream& out) {
  out << "kctl controls a kctl (Kubernetes-compatible) cluster, the way kubectl does.\n\n";
  for (const char* group : kGroups) {
    bool any = false;
    for (const auto& c : commands()) {
      if (std::string(c.group) != group) continue;
      if (!any) out << group << ":\n";
      any = true;
      std::string name = c.name;
      out << "  " << name << std::string(name.size() < 16 ? 16 - name.size() : 1, ' ') << c.short_help << "\n";
    }
    if (any) out << "\n";
  }
  out << "Local cluster (the daemons on this machine, without systemd):\n"
         "  local up|down|status  Start, stop or show a local cluster (kctl local --help)\n"
         "  image import|list|rm  Manage the node's images (kctl image --help)\n\n"
         "Usage:\n  kctl [flags] [options]\n\n"
         "Use \"kctl <command> --help\" for more information about a given command.\n"
         "Use \"kctl options\" for a list of global command-line options (applies to all commands).\n";
}

}  // namespace

Invocation::Invocation(const CommandInfo& info, std::string path, std::vector<std::string> args, GlobalOptions globals)
    : info_(info), path_(std::move(path)), raw_args_(std::move(args)), globals_(std::move(globals)) {
  globals_.add_flags(flags_);
}

bool Invocation::parse() {
  flags_.parse(raw_args_);
  if (flags_.help_requested()) {
    print_help(out());
    return false;
  }
  return true;
}

Session& Invocation::session() {
  if (!session_) session_ = std::make_unique<Session>(globals_, err());
  return *session_;
}

void Invocation::print_help(std::ostream& out) const {
  out << info_.long_help << "\n\n";
  if (info_.subcommands) {
    out << "Available Commands:\n";
    for (const auto& s : info_.subcommands()) {
      std::string name = s.name;
      out << "  " << name << std::string(name.size() < 17 ? 17 - name.size() : 1, ' ') << s.short_help << "\n";
    }
    out << "\n";
  }
  if (info_.examples && *info_.examples) out << "Examples:\n" << info_.examples << "\n\n";
  std::ostringstream opts;
  flags_.print_options(opts, false);
  if (!opts.str().empty()) out << "Options:\n" << opts.str();
  out << "Usage:\n  kctl " << info_.usage << "\n\n"
      << "Use \"kctl options\" for a list of global command-line options (applies to all commands).\n";
}

const CommandInfo* find_command(const std::vector<CommandInfo>& list, const std::string& name) {
  for (const auto& c : list)
    if (name == c.name) return &c;
  return nullptr;
}

const std::vector<CommandInfo>& commands() {
  static const std::vector<CommandInfo> all = {
      create_command(),        expose_command(),        run_command(),          set_command(),
      explain_command(),       get_command(),           edit_command(),         delete_command(),
      rollout_command(),
      scale_command(),         cluster_info_command(),  describe_command(),     logs_command(),
      exec_command(),          port_forward_command(),  apply_command(),        patch_command(),
      replace_command(),       wait_command(),          label_command(),        annotate_command(),
      completion_command(),    api_resources_command(), config_command(),       version_command(),
      options_command(),       token_command(),         node_command(),
  };
  return all;
}

namespace {

int run_verb(const CommandInfo& cmd, Invocation& inv) {
  try {
    if (cmd.subcommands) return run_subcommand(inv, cmd.subcommands());
    return cmd.run(inv);
  } catch (const UsageError& e) {
    std::cerr << "error: " << e.what() << "\nSee 'kctl " << inv.path() << " --help' for usage.\n";
    return kErrorExitCode;
  } catch (const std::exception& e) {
    std::cout.flush();
    std::cerr << final_error_message(e) << "\n";
    return error_exit_code(e);
  }
}

}  // namespace

int run_subcommand(Invocation& inv, const std::vector<CommandInfo>& subs) {
  const auto& raw = inv.raw_args();
  // The sub-verb is the first argument that is not a flag (or a flag's value).
  size_t i = 0;
  while (i < raw.size() && raw[i].size() > 1 && raw[i][0] == '-') i += inv.flags().takes_value(raw[i]) ? 2 : 1;
  if (i >= raw.size()) {
    // kubectl's DefaultSubCommandRun: the help, and exit 1 unless the help was asked for.
    inv.print_help(inv.out());
    bool asked = std::find(raw.begin(), raw.end(), "--help") != raw.end() || std::find(raw.begin(), raw.end(), "-h") != raw.end();
    return asked ? 0 : kErrorExitCode;
  }
  const CommandInfo* sub = find_command(subs, raw[i]);
  if (!sub) throw UsageError("unknown command \"" + raw[i] + "\" for \"kctl " + inv.path() + "\"");
  std::vector<std::string> rest(raw.begin(), raw.begin() + long(i));
  rest.insert(rest.end(), raw.begin() + long(i) + 1, raw.end());
  GlobalOptions globals;
  Invocation child(*sub, inv.path() + " " + sub->name, rest, globals);
  return run_verb(*sub, child);
}

int run_kctl(const std::vector<std::string>& args) {
  GlobalOptions globals;
  FlagSet probe;
  globals.add_flags(probe);
  size_t i = 0;
  bool help = false;
  while (i < args.size() && args[i].size() > 1 && args[i][0] == '-') {
    if (args[i] == "-h" || args[i] == "--help") help = true;
    i += probe.takes_value(args[i]) ? 2 : 1;
  }
  if (i >= args.size() || args[i] == "help") {
    print_top_help(std::cout);
    return help || i < args.size() ? 0 : kErrorExitCode;
  }
  const CommandInfo* cmd = find_command(commands(), args[i]);
  if (!cmd) {
    std::cerr << "error: unknown command \"" << args[i] << "\" for \"kctl\"\nRun 'kctl --help' for usage.\n";
    return kErrorExitCode;
  }
  std::vector<std::string> rest(args.begin(), args.begin() + long(i));
  rest.insert(rest.end(), args.begin() + long(i) + 1, args.end());
  Invocation inv(*cmd, cmd->name, rest, globals);
  return run_verb(*cmd, inv);
}

}  // namespace kctl::cli
