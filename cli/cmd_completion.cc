// kctl completion bash: a completion script for verbs, sub-verbs, resource types (from the registry), object names
// (asked from the server with `kctl get TYPE -o name`) and flags.
#include "api/registry.h"
#include "cli/command.h"
#include "cli/errors.h"

namespace kctl::cli {

namespace {

// Verbs whose first argument is a resource type and second an object name.
const char* kResourceVerbs = "get describe delete edit label annotate patch scale explain wait expose rollout";

std::string words(const std::vector<std::string>& list) {
  std::string out;
  for (const auto& w : list) out += (out.empty() ? "" : " ") + w;
  return out;
}

int run_completion(Invocation& inv) {
  if (!inv.parse()) return 0;
  if (inv.args().size() != 1) throw CliError("Shell not specified.\nSee 'kctl completion -h' for help and examples");
  if (inv.args()[0] != "bash") throw CliError("Unsupported shell type \"" + inv.args()[0] + "\".\nSee 'kctl completion -h' for help and examples");
  std::vector<std::string> verbs, types;
  for (const auto& c : commands()) verbs.push_back(c.name);
  verbs.push_back("local");
  for (const auto& k : api::Registry::builtin().kinds()) {
    types.push_back(k.plural);
    for (const auto& s : k.short_names) types.push_back(s);
  }
  types.push_back("all");
  FlagSet globals;
  GlobalOptions g;
  g.add_flags(globals);
  std::string flags = words(globals.names()) +
                      " --output --selector --all-namespaces --filename --recursive --watch --show-labels --sort-by "
                      "--field-selector --dry-run --force --grace-period --now --wait --timeout --overwrite --replicas "
                      "--image --port --type --patch --server-side --help";
  std::ostream& o = inv.out();
  o << "# bash completion for kctl                                  -*- shell-script -*-\n"
       "# Load it with: source <(kctl completion bash)\n\n"
       "__kctl_types=\"" << words(types) << "\"\n"
       "__kctl_verbs=\"" << words(verbs) << "\"\n"
       "__kctl_flags=\"" << flags << "\"\n"
       "__kctl_resource_verbs=\"" << kResourceVerbs << "\"\n\n"
       "__kctl_sub() {\n"
       "    case \"$1\" in\n"
       "        config) echo \"current-context delete-context get-clusters get-contexts get-users set-cluster set-context set-credentials use-context view\" ;;\n"
       "        rollout) echo \"history pause restart resume status undo\" ;;\n"
       "        local) echo \"up down status\" ;;\n"
       "        completion) echo \"bash\" ;;\n"
       "        create) echo \"configmap deployment namespace secret service serviceaccount\" ;;\n"
       "    esac\n"
       "}\n\n"
       "_kctl() {\n"
       "    local cur=\"${COMP_WORDS[COMP_CWORD]}\"\n"
       "    local verb=\"\" type=\"\" i word args=()\n"
       "    for ((i = 1; i < COMP_CWORD; i++)); do\n"
       "        word=\"${COMP_WORDS[i]}\"\n"
       "        [[ \"$word\" == -* ]] && continue\n"
       "        args+=(\"$word\")\n"
       "    done\n"
       "    verb=\"${args[0]}\"\n"
       "    if [[ \"$cur\" == -* ]]; then\n"
       "        COMPREPLY=( $(compgen -W \"$__kctl_flags\" -- \"$cur\") )\n"
       "        return\n"
       "    fi\n"
       "    if [[ ${#args[@]} -eq 0 ]]; then\n"
       "        COMPREPLY=( $(compgen -W \"$__kctl_verbs\" -- \"$cur\") )\n"
       "        return\n"
       "    fi\n"
       "    local sub=\"$(__kctl_sub \"$verb\")\"\n"
       "    if [[ -n \"$sub\" && ${#args[@]} -eq 1 ]]; then\n"
       "        COMPREPLY=( $(compgen -W \"$sub\" -- \"$cur\") )\n"
       "        return\n"
       "    fi\n"
       "    [[ \"$verb\" == rollout ]] && args=(\"${args[@]:1}\")\n"
       "    if [[ \" $__kctl_resource_verbs \" == *\" $verb \"* ]]; then\n"
       "        if [[ ${#args[@]} -eq 1 ]]; then\n"
       "            COMPREPLY=( $(compgen -W \"$__kctl_types\" -- \"$cur\") )\n"
       "        else\n"
       "            type=\"${args[1]}\"\n"
       "            local names=\"$(kctl get \"$type\" -o 'jsonpath={.items[*].metadata.name}' 2>/dev/null)\"\n"
       "            COMPREPLY=( $(compgen -W \"$names\" -- \"$cur\") )\n"
       "        fi\n"
       "        return\n"
       "    fi\n"
       "    COMPREPLY=( $(compgen -f -- \"$cur\") )\n"
       "}\n\n"
       "complete -o default -F _kctl kctl\n";
  return 0;
}

}  // namespace

CommandInfo completion_command() {
  return {"completion", "Settings Commands", "Output shell completion code for the specified shell (bash)",
          "Output shell completion code for the specified shell (bash).\n\n The shell code must be evaluated to "
          "provide interactive completion of kctl commands. This can be done by sourcing it from the .bash_profile.",
          "completion SHELL [options]",
          "  # Load the kctl completion code for bash into the current shell\n  source <(kctl completion bash)\n\n"
          "  # Write bash completion code to a file and source it from .bash_profile\n"
          "  kctl completion bash > ~/.kube/completion.bash.inc\n"
          "  printf \"\n  # kctl shell completion\n  source '$HOME/.kube/completion.bash.inc'\n  \" >> $HOME/.bash_profile",
          run_completion};
}

}  // namespace kctl::cli
