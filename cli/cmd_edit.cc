// kctl edit: the object in $KUBE_EDITOR / $EDITOR (vi by default) as YAML or JSON, the change sent as a strategic
// merge patch, and the file reopened with the server's error on top when the change is refused, like kubectl.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "api/codec.h"
#include "api/patch.h"
#include "api/resource_path.h"
#include "cli/command.h"
#include "cli/errors.h"
#include "cli/jsonpath.h"
#include "cli/resource_args.h"
#include "cli/writes.h"

namespace kctl::cli {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const char* kEditHeader =
    "# Please edit the object below. Lines beginning with a '#' will be ignored,\n"
    "# and an empty file will abort the edit. If an error occurs while saving this file will be\n"
    "# reopened with the relevant failures.\n"
    "#\n";

// Runs the editor on `path` as kubectl does: a command with spaces goes through the shell.
void run_editor(const std::string& path) {
  const char* env = std::getenv("KUBE_EDITOR");
  if (!env || !*env) env = std::getenv("EDITOR");
  std::string editor = env && *env ? env : "vi";
  pid_t pid = fork();
  if (pid < 0) throw CliError("cannot start the editor: fork failed");
  if (pid == 0) {
    if (editor.find(' ') != std::string::npos) {
      std::string cmd = editor + " '" + path + "'";
      execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    } else {
      execlp(editor.c_str(), editor.c_str(), path.c_str(), static_cast<char*>(nullptr));
    }
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw CliError("there was a problem with the editor \"" + editor + "\"");
}

std::string strip_comments(const std::string& text) {
  std::istringstream in(text);
  std::string out, line;
  while (std::getline(in, line))
    if (line.rfind("#", 0) != 0) out += line + "\n";
  return out;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Edited {
  const api::KindInfo* kind;
  json original;
};

// Applies the edited objects; returns the error texts to show in the reopened file (empty when all went well).
std::vector<std::string> apply_edits(Invocation& inv, const std::vector<Edited>& items, const std::vector<json>& edited,
                                     const WriteFlags& w, OperationPrinter& printer, bool& changed_any) {
  std::vector<std::string> problems;
  for (size_t i = 0; i < items.size() && i < edited.size(); ++i) {
    const auto& it = items[i];
    json original = without_managed_fields(it.original);
    if (edited[i] == original) continue;
    changed_any = true;
    std::string name = original.value("/metadata/name"_json_pointer, std::string());
    if (edited[i].value("/metadata/name"_json_pointer, std::string()) != name ||
        edited[i].value("kind", "") != original.value("kind", "")) {
      problems.push_back(it.kind->qualified_plural() + " \"" + name + "\" was not valid:\n* the name, kind or apiVersion may not be changed");
      continue;
    }
    try {
      json patch = api::create_two_way_merge_patch(original, edited[i], it.kind->schema());
      std::string ns = it.kind->namespaced ? original.value("/metadata/namespace"_json_pointer, std::string()) : "";
      json result = inv.session().rest().call("PATCH", api::object_path(*it.kind, ns, name) + w.query(),
                                              patch.dump(), api::patch_content_type(api::PatchType::Strategic));
      printer.print(inv.out(), result, "edited");
    } catch (const api::StatusError& e) {
      std::string text = it.kind->qualified_plural() + " \"" + name + "\" was not valid:\n";
      if (e.status().causes.empty()) text += "* " + e.status().message;
      for (const auto& c : e.status().causes) text += "* " + c.field + ": " + c.message + "\n";
      problems.push_back(text);
    }
  }
  return problems;
}

int run_edit(Invocation& inv) {
  FilenameOptions files;
  WriteFlags w;
  bool windows = false, save_config = false;
  std::string output = "yaml";
  files.add_flags(inv.flags(), "to use to edit the resource");
  w.add_flags(inv.flags(), "kubectl-edit", true, false);
  inv.flags().add_bool("windows-line-endings", 0, &windows, "Defaults to the line ending native to your platform.");
  inv.flags().add_bool("save-config", 0, &save_config, "If true, the configuration of current object will be saved in its annotation.");
  if (!inv.parse()) return 0;
  if (!w.output.output.empty()) output = w.output.output;
  if (output != "yaml" && output != "json") throw CliError("the edit mode must be yaml or json, not \"" + output + "\"");
  w.output.output.clear();
  std::vector<Edited> items;
  RestClient& rest = inv.session().rest();
  if (!files.empty()) {
    for (const auto& m : read_manifests(files, inv.session(), inv.in(), false))
      items.push_back({m.kind, rest.call("GET", api::object_path(*m.kind, m.ns, m.name))});
  } else {
    ResourceArgs ra = parse_resource_args(inv.args());
    if (ra.refs.empty()) throw CliError("You must provide one or more resources by argument or filename.");
    for (const auto& r : ra.refs) {
      std::string ns = r.kind->namespaced ? inv.session().ns() : "";
      if (r.name.empty()) {
        for (const auto& o : rest.call("GET", api::collection_path(*r.kind, ns)).value("items", json::array())) {
          json obj = o;
          obj["kind"] = r.kind->kind;
          obj["apiVersion"] = r.kind->api_version();
          items.push_back({r.kind, obj});
        }
      } else {
        items.push_back({r.kind, rest.call("GET", api::object_path(*r.kind, ns, r.name))});
      }
    }
  }
  if (items.empty()) throw CliError("no objects passed to edit");
  json doc;
  if (items.size() == 1) {
    doc = without_managed_fields(items[0].original);
  } else {
    doc = {{"apiVersion", "v1"}, {"kind", "List"}, {"items", json::array()}, {"metadata", {{"resourceVersion", ""}}}};
    for (const auto& it : items) doc["items"].push_back(without_managed_fields(it.original));
  }
  std::string body = output == "json" ? go_json(doc, true) + "\n" : api::encode_yaml(doc);
  std::string path = (fs::temp_directory_path() / ("kctl-edit-" + std::to_string(getpid()) + (output == "json" ? ".json" : ".yaml"))).string();
  OperationPrinter printer(w);
  std::string previous = body, header = kEditHeader;
  for (;;) {
    std::ofstream(path, std::ios::trunc) << header << body;
    run_editor(path);
    std::string text = strip_comments(read_text(path));
    if (text.find_first_not_of(" \t\r\n") == std::string::npos) {
      fs::remove(path);
      inv.err() << "Edit cancelled, saved file was empty.\n";
      return 0;
    }
    if (text == previous) {
      fs::remove(path);
      if (header != kEditHeader) {
        inv.err() << "error: Edit cancelled, no valid changes were saved.\n";
        return kErrorExitCode;
      }
      inv.err() << "Edit cancelled, no changes made.\n";
      return 0;
    }
    std::vector<json> edited;
    std::vector<std::string> problems;
    try {
      edited = api::flatten_lists(api::decode_documents(text));
    } catch (const api::StatusError& e) {
      problems.push_back("The edited file had a syntax error: " + e.status().message);
    }
    bool changed = false;
    if (problems.empty()) problems = apply_edits(inv, items, edited, w, printer, changed);
    if (problems.empty()) {
      fs::remove(path);
      if (!changed) inv.err() << "Edit cancelled, no changes made.\n";
      return 0;
    }
    header = std::string(kEditHeader);
    for (const auto& p : problems) {
      std::istringstream lines(p);
      for (std::string l; std::getline(lines, l);) header += "# " + l + "\n";
      header += "#\n";
    }
    body = text;
    previous = text;
  }
}

}  // namespace

CommandInfo edit_command() {
  return {"edit", "Basic Commands (Intermediate)", "Edit a resource on the server",
          "Edit a resource from the default editor.\n\n"
          " The edit command allows you to directly edit any API resource you can retrieve via the command-line "
          "tools. It will open the editor defined by your KUBE_EDITOR, or EDITOR environment variables, or fall back "
          "to 'vi' for Linux. You can edit multiple objects, although changes are applied one at a time. The "
          "command accepts file names as well as command-line arguments, although the files you point to must be "
          "previously saved versions of resources.\n\n"
          " The default format is YAML. To edit in JSON, specify \"-o json\".\n\n"
          " In the event an error occurs while updating, the file is reopened with the errors at the top.",
          "edit (RESOURCE/NAME | -f FILENAME) [options]",
          "  # Edit the service named 'registry'\n  kctl edit svc/docker-registry\n\n"
          "  # Use an alternative editor\n  KUBE_EDITOR=\"nano\" kctl edit svc/docker-registry\n\n"
          "  # Edit the deployment 'mydeployment' in YAML and save the modified config in its annotation\n"
          "  kctl edit deployment/mydeployment -o yaml --save-config",
          run_edit};
}

}  // namespace kctl::cli
