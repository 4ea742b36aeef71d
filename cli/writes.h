// What the writing verbs (create, apply, replace, delete, patch, label, annotate, scale, run, expose, edit) share:
// --dry-run, --validate, --field-manager and -o, the "kind/name created" lines, and errors collected along the way
// and printed at the end as kubectl's aggregate.
#pragma once

#include <exception>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/registry.h"
#include "api/status.h"
#include "cli/flags.h"
#include "cli/printers.h"

namespace kctl::cli {

enum class DryRun { None, Client, Server };

struct WriteFlags {
  std::string dry_run = "none";
  std::string validate = "strict";
  std::string field_manager;
  OutputFlags output;

  // `manager`: kubectl's default field manager for the verb ("kubectl-create"); `validation`: the verb has
  // --validate (it sends whole objects).
  void add_flags(FlagSet& flags, const std::string& manager, bool validation, bool dry_run = true);
  DryRun dry_run_mode() const;         // throws UsageError for a value kubectl refuses
  std::string field_validation() const;  // Strict, Warn or Ignore
  // "?fieldManager=...&fieldValidation=...&dryRun=All" for a write request.
  std::string query(bool with_validation = true) const;
};

// "pod/web created", "deployment.apps/api configured (server dry run)", or the object in the -o format.
class OperationPrinter {
 public:
  explicit OperationPrinter(const WriteFlags& flags);
  void print(std::ostream& out, const nlohmann::json& obj, const std::string& operation);
  // The same for an object known by kind and name only (delete's `pod "web" deleted` uses quoted form).
  void print_name(std::ostream& out, const api::KindInfo& kind, const std::string& name, const std::string& operation,
                  bool quoted = false);
  void finish(std::ostream& out);
  // kubectl patch prints its result without the "(dry run)" suffixes.
  void without_suffix() { suffix_ = false; }

 private:
  std::string suffix() const;
  DryRun dry_run_;
  ObjectPrinterPtr printer_;  // null: the "kind/name operation" line
  bool name_only_ = false;
  bool suffix_ = true;
};

// Errors that do not stop a verb (one object of several failed), printed at the end.
class ErrorList {
 public:
  void add(std::exception_ptr e) { errors_.push_back(std::move(e)); }
  void add_current() { errors_.push_back(std::current_exception()); }
  bool empty() const { return errors_.empty(); }
  // One error as kubectl's CheckErr prints it; several as its aggregate (one line each). Returns the exit code.
  int report(std::ostream& err) const;

 private:
  std::vector<std::exception_ptr> errors_;
};

// cmdutil.AddSourceToErr: `error when creating "pod.yaml": <message>`.
api::StatusError with_source(const api::StatusError& e, const std::string& verb, const std::string& source);

// The kubectl.kubernetes.io/last-applied-configuration annotation, and the object with it set as kubectl's
// GetModifiedConfiguration makes it (the object's own JSON, sorted and compact, with a trailing newline).
inline constexpr const char* kLastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration";
nlohmann::json with_last_applied(nlohmann::json obj);

}  // namespace kctl::cli
