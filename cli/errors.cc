// The wording of kubectl's cmdutil.CheckErr, StandardErrorMessage and MultilineError, for the Status objects the
// server answers with and the errors kctl raises itself.
#include "cli/errors.h"

#include <set>

#include "cli/flags.h"
#include "api/kubeconfig.h"

namespace kctl::cli {

std::string standard_error_message(const api::Status& s) {
  if (s.reason == "Unauthorized" || s.code == 401)
    return "error: You must be logged in to the server (" + (s.message.empty() ? std::string("Unauthorized") : s.message) + ")";
  if (!s.reason.empty()) return "Error from server (" + s.reason + "): " + s.message;
  return "Error from server: " + s.message;
}

namespace {

std::string invalid_message(const api::Status& s) {
  std::string head = "The request is invalid";
  if (!s.kind.empty() || !s.name.empty()) head = "The " + s.kind + " \"" + s.name + "\" is invalid";
  std::vector<std::string> msgs;
  std::set<std::string> seen;
  for (const auto& c : s.causes) {
    std::string m = c.field + ": " + c.message;
    if (seen.insert(m).second) msgs.push_back(m);
  }
  if (msgs.empty()) return head;
  if (msgs.size() == 1) return head + ": " + msgs[0];
  std::string out = head + ": \n";
  for (const auto& m : msgs) out += "* " + m + "\n";
  out.pop_back();
  return out;
}

}  // namespace

std::string final_error_message(const std::exception& e) {
  if (auto* se = dynamic_cast<const api::StatusError*>(&e)) {
    const api::Status& s = se->status();
    if (s.reason == "Invalid") return invalid_message(s);
    return standard_error_message(s);
  }
  if (auto* ce = dynamic_cast<const CliError*>(&e)) return ce->verbatim() ? ce->what() : std::string("error: ") + ce->what();
  if (dynamic_cast<const api::ConfigError*>(&e)) {
    std::string m = e.what();
    return m.rfind("Error in configuration", 0) == 0 ? m : "error: " + m;
  }
  std::string m = e.what();
  return m.rfind("error: ", 0) == 0 ? m : "error: " + m;
}

int error_exit_code(const std::exception& e) {
  if (auto* ce = dynamic_cast<const CliError*>(&e)) return ce->exit_code();
  return kErrorExitCode;
}

}  // namespace kctl::cli
