// Errors as kubectl prints them: "Error from server (NotFound): pods "x" not found", a 422's causes, refused
// connections, and plain "error: ..." lines for mistakes kctl finds itself. All go to stderr and exit 1.
#pragma once

#include <exception>
#include <stdexcept>
#include <string>

#include "api/status.h"

namespace kctl::cli {

// kubectl's DefaultErrorExitCode.
inline constexpr int kErrorExitCode = 1;

// A failure kctl detects itself. Printed as "error: MESSAGE" unless `verbatim` (then MESSAGE as it is).
class CliError : public std::runtime_error {
 public:
  explicit CliError(const std::string& message, bool verbatim = false, int exit_code = kErrorExitCode)
      : std::runtime_error(message), verbatim_(verbatim), exit_code_(exit_code) {}
  bool verbatim() const { return verbatim_; }
  int exit_code() const { return exit_code_; }

 private:
  bool verbatim_;
  int exit_code_;
};

// cmdutil.StandardErrorMessage for a Status ("Error from server (Reason): message"); "error: You must be logged
// in to the server (...)" for a 401.
std::string standard_error_message(const api::Status& s);
// cmdutil.CheckErr's text for an error that ends the command, without the final newline: a 422 lists its causes
// ("The Pod \"x\" is invalid: spec.containers: Required value"), anything else as standard_error_message.
std::string final_error_message(const std::exception& e);
// The exit code kubectl would use for it.
int error_exit_code(const std::exception& e);

}  // namespace kctl::cli
