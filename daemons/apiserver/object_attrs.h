// What the apiserver derives from an object once, when it is written, so that lists, selectors, watches and Table
// output never have to parse the stored JSON again.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "api/registry.h"

namespace kctl::apiserver {

using api::TableCell;

struct ObjectAttrs {
  std::vector<std::pair<std::string, std::string>> labels;  // sorted by key
  std::vector<std::pair<std::string, std::string>> fields;  // the kind's selectable fields (metadata.name, ...)
  std::vector<TableCell> cells;                             // one per Table column of the kind
  std::string table_metadata;  // metadata JSON for the Table's PartialObjectMetadata (no managedFields)

  const std::string* field(std::string_view name) const {
    for (const auto& [k, v] : fields)
      if (k == name) return &v;
    return nullptr;
  }
};

}  // namespace kctl::apiserver
