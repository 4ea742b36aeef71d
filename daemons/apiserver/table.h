// The meta.k8s.io/v1 Table output kubectl asks for (Accept: application/json;as=Table;...), built from the cells
// computed when each object was written, and the JSON list envelope for plain output.
#pragma once

#include <string>
#include <vector>

#include "api/registry.h"
#include "daemons/apiserver/store.h"

namespace kctl::apiserver {

enum class IncludeObject { None, Metadata, Object };

// "5m", "3h2m", "12d": Kubernetes' duration.HumanDuration of now - epoch; "<unknown>" for 0.
std::string human_age(int64_t epoch, int64_t now);
// Appends s as a JSON string literal.
void append_json_string(std::string& out, std::string_view s);

std::string table_columns_json(const api::KindInfo& kind);
// One row object {"cells":[...],"object":...}.
void append_table_row(std::string& out, const Record& rec, IncludeObject include, int64_t now);
// A whole Table; with_columns=false leaves columnDefinitions empty (later watch events).
std::string table_json(const api::KindInfo& kind, const std::vector<RecordPtr>& records, int64_t revision,
                       IncludeObject include, bool with_columns = true);
// {"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"N"},"items":[...]}
std::string list_json(const api::KindInfo& kind, const std::vector<RecordPtr>& records, int64_t revision);

}  // namespace kctl::apiserver
