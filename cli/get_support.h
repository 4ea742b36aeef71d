// Parts of `kctl get` kept apart from cmd_get.cc: the watch (-w, --watch-only, --output-watch-events) and the
// NAME/AGE table kubectl falls back to when a server does not answer with a Table.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/printers.h"
#include "cli/resource_args.h"

namespace kctl::cli {

struct WatchOptions {
  std::string selector, field_selector;
  bool all_namespaces = false, watch_only = false, output_watch_events = false;
  bool show_labels = false, no_headers = false;
  std::vector<std::string> label_columns;
};

// Lists (unless --watch-only), then prints each watch event until the server ends the stream.
int get_watch(Invocation& inv, const OutputFlags& output, const ResourceArgs& refs,
              const std::vector<std::string>& namespaces, const WatchOptions& options);

// A one-row-per-object Table with kubectl's default NAME and AGE columns, for an object or a list.
nlohmann::json table_from_object(const nlohmann::json& obj);

// Kubernetes' duration.HumanDuration ("5s", "3m20s", "2d4h", "3y"); "<unknown>" when `since` is 0.
std::string human_duration(int64_t seconds);
std::string age_since(const std::string& rfc3339_timestamp);

}  // namespace kctl::cli
