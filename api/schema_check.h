// Checks an object against the schema the way Kubernetes' typed decoding does: wrong JSON types are errors,
// unknown fields are reported (rejected with fieldValidation=Strict, warned about with Warn).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/schema.h"

namespace kctl::api {

struct SchemaProblems {
  std::vector<std::string> unknown_fields;  // "spec.containers[0].foo"
  std::vector<std::string> type_errors;     // "json: cannot unmarshal string into Go struct field ..."
};

// Walks `obj` against `type`. Fields of free-form types (object) are not checked.
SchemaProblems check_against_schema(const nlohmann::json& obj, const TypeDef& type);

}  // namespace kctl::api
