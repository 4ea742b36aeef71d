// The shared flags, result lines and error aggregation of kctl's writing verbs, worded as kubectl words them.
#include "cli/writes.h"

#include "cli/errors.h"
#include "cli/jsonpath.h"
#include "cli/rest_client.h"

namespace kctl::cli {

using nlohmann::json;

void WriteFlags::add_flags(FlagSet& f, const std::string& manager, bool validation, bool with_dry_run) {
  field_manager = manager;
  if (with_dry_run)
    f.add_string("dry-run", 0, &dry_run,
                 "Must be \"none\", \"server\", or \"client\". If client strategy, only print the object that would be "
                 "sent, without sending it. If server strategy, submit server-side request without persisting the "
                 "resource.")
        .no_value_default = "unchanged";
  if (validation)
    f.add_string("validate", 0, &validate,
                 "Must be one of: strict (or true), warn, ignore (or false). \"true\" or \"strict\" will use a schema "
                 "to validate the input and fail the request if invalid. \"warn\" will warn about unknown or duplicate "
                 "fields without blocking the request. \"false\" or \"ignore\" will not perform any schema validation, "
                 "silently dropping any unknown or duplicate fields.")
        .no_value_default = "strict";
  f.add_string("field-manager", 0, &field_manager, "Name of the manager used to track field ownership.");
  output.add_flags(f, "json, yaml, name, go-template, go-template-file, template, templatefile, jsonpath, "
                      "jsonpath-as-json, jsonpath-file");
}

DryRun WriteFlags::dry_run_mode() const {
  if (dry_run == "none" || dry_run == "false" || dry_run.empty()) return DryRun::None;
  if (dry_run == "client" || dry_run == "unchanged" || dry_run == "true") return DryRun::Client;
  if (dry_run == "server") return DryRun::Server;
  throw UsageError("Invalid dry-run value (" + dry_run + "). Must be \"none\", \"server\", or \"client\".");
}

std::string WriteFlags::field_validation() const {
  if (validate == "strict" || validate == "true") return "Strict";
  if (validate == "warn") return "Warn";
  if (validate == "ignore" || validate == "false") return "Ignore";
  throw UsageError("invalid - validate option \"" + validate +
                   "\"; must be one of: strict (or true), warn, ignore (or false)");
}

std::string WriteFlags::query(bool with_validation) const {
  Query q;
  if (dry_run_mode() == DryRun::Server) q.add("dryRun", "All");
  q.add("fieldManager", field_manager);
  if (with_validation) q.add("fieldValidation", field_validation());
  return q.str();
}

OperationPrinter::OperationPrinter(const WriteFlags& flags) : dry_run_(flags.dry_run_mode()) {
  if (!flags.output.output.empty() || !flags.output.template_text.empty()) {
    name_only_ = flags.output.output == "name";
    if (!name_only_) printer_ = make_object_printer(flags.output);
  }
}

std::string OperationPrinter::suffix() const {
  if (!suffix_) return "";
  if (dry_run_ == DryRun::Client) return " (dry run)";
  if (dry_run_ == DryRun::Server) return " (server dry run)";
  return "";
}

void OperationPrinter::print(std::ostream& out, const json& obj, const std::string& operation) {
  if (printer_) {
    printer_->print(obj, out);
    return;
  }
  std::string name = obj.value("/metadata/name"_json_pointer, std::string());
  out << kind_group_of(obj) << "/" << name;
  if (!name_only_) out << " " << operation << suffix();
  out << "\n";
}

void OperationPrinter::print_name(std::ostream& out, const api::KindInfo& kind, const std::string& name,
                                  const std::string& operation, bool quoted) {
  std::string kg = kind_group(kind.kind, kind.group);
  if (name_only_ || printer_) {
    out << kg << "/" << name << "\n";
    return;
  }
  if (quoted) out << kg << " \"" << name << "\" " << operation << suffix() << "\n";
  else out << kg << "/" << name << " " << operation << suffix() << "\n";
}

void OperationPrinter::finish(std::ostream& out) {
  if (printer_) printer_->finish(out);
}

int ErrorList::report(std::ostream& err) const {
  if (errors_.empty()) return 0;
  int code = kErrorExitCode;
  for (const auto& ep : errors_) {
    try {
      std::rethrow_exception(ep);
    } catch (const api::StatusError& e) {
      err << (errors_.size() == 1 ? final_error_message(e) : standard_error_message(e.status())) << "\n";
    } catch (const std::exception& e) {
      err << (errors_.size() == 1 ? final_error_message(e) : std::string(e.what())) << "\n";
      code = error_exit_code(e);
    }
  }
  return code;
}

api::StatusError with_source(const api::StatusError& e, const std::string& verb, const std::string& source) {
  api::Status s = e.status();
  if (!source.empty()) s.message = "error when " + verb + " \"" + source + "\": " + s.message;
  return api::StatusError(s);
}

json with_last_applied(json obj) {
  json& meta = obj["metadata"];
  if (!meta.contains("annotations") || !meta["annotations"].is_object()) meta["annotations"] = json::object();
  meta["annotations"].erase(kLastAppliedAnnotation);
  std::string applied = go_json(obj, false) + "\n";
  meta["annotations"][kLastAppliedAnnotation] = applied;
  return obj;
}

}  // namespace kctl::cli
