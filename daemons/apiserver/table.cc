// Table and list serialization by string concatenation of stored JSON: a list of 10,000 pods is never parsed.
#include "daemons/apiserver/table.h"

#include <ctime>

#include <nlohmann/json.hpp>

namespace kctl::apiserver {

std::string human_age(int64_t epoch, int64_t now) {
  if (epoch == 0) return "<unknown>";
  int64_t s = now - epoch;
  if (s < -1) return "<invalid>";
  if (s < 0) return "0s";
  auto f = [](const char* fmt, int64_t a, int64_t b = 0) {
    char buf[32];
    std::snprintf(buf, sizeof buf, fmt, (long long)a, (long long)b);
    return std::string(buf);
  };
  if (s < 120) return f("%llds", s);
  int64_t m = s / 60;
  if (m < 10) return s % 60 == 0 ? f("%lldm", m) : f("%lldm%llds", m, s % 60);
  if (m < 180) return f("%lldm", m);
  int64_t h = s / 3600;
  if (h < 8) return m % 60 == 0 ? f("%lldh", h) : f("%lldh%lldm", h, m % 60);
  if (h < 48) return f("%lldh", h);
  if (h < 24 * 8) return h % 24 == 0 ? f("%lldd", h / 24) : f("%lldd%lldh", h / 24, h % 24);
  if (h < 24 * 365 * 2) return f("%lldd", h / 24);
  if (h < 24 * 365 * 8) {
    int64_t dy = (h / 24) % 365;
    return dy == 0 ? f("%lldy", h / 24 / 365) : f("%lldy%lldd", h / 24 / 365, dy);
  }
  return f("%lldy", h / 24 / 365);
}

void append_json_string(std::string& out, std::string_view s) {
  static const char* hex = "0123456789abcdef";
  out.push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out.push_back(hex[c >> 4]);
          out.push_back(hex[c & 15]);
        } else {
          out.push_back(char(c));
        }
    }
  }
  out.push_back('"');
}

std::string table_columns_json(const api::KindInfo& kind) {
  nlohmann::json cols = nlohmann::json::array();
  for (const auto& c : kind.columns)
    cols.push_back({{"name", c.name}, {"type", c.type}, {"format", c.format}, {"description", c.description},
                    {"priority", c.priority}});
  return cols.dump();
}

void append_table_row(std::string& out, const Record& rec, IncludeObject include, int64_t now) {
  out += "{\"cells\":[";
  bool first = true;
  for (const auto& cell : rec.attrs.cells) {
    if (!first) out.push_back(',');
    first = false;
    switch (cell.kind) {
      case api::TableCell::Kind::Null: out += "null"; break;
      case api::TableCell::Kind::String: append_json_string(out, cell.text); break;
      case api::TableCell::Kind::Integer: out += std::to_string(cell.number); break;
      case api::TableCell::Kind::Age: append_json_string(out, human_age(cell.number, now)); break;
      case api::TableCell::Kind::TextWithAge: {
        std::string t = cell.text;
        if (auto p = t.find("{age}"); p != std::string::npos) t.replace(p, 5, human_age(cell.number, now));
        append_json_string(out, t);
        break;
      }
    }
  }
  out += "]";
  if (include == IncludeObject::Metadata) {
    out += ",\"object\":{\"kind\":\"PartialObjectMetadata\",\"apiVersion\":\"meta.k8s.io/v1\",\"metadata\":";
    out += rec.attrs.table_metadata.empty() ? "{}" : rec.attrs.table_metadata;
    out += "}";
  } else if (include == IncludeObject::Object) {
    out += ",\"object\":";
    out += rec.value;
  }
  out += "}";
}

std::string table_json(const api::KindInfo& kind, const std::vector<RecordPtr>& records, int64_t revision,
                       IncludeObject include, bool with_columns) {
  int64_t now = std::time(nullptr);
  std::string out;
  size_t estimate = 256;
  for (const auto& r : records) estimate += 160 + r->attrs.table_metadata.size() + (include == IncludeObject::Object ? r->value.size() : 0);
  out.reserve(estimate);
  out += "{\"kind\":\"Table\",\"apiVersion\":\"meta.k8s.io/v1\",\"metadata\":{\"resourceVersion\":\"";
  out += std::to_string(revision);
  out += "\"},\"columnDefinitions\":";
  out += with_columns ? table_columns_json(kind) : "[]";
  out += ",\"rows\":[";
  for (size_t i = 0; i < records.size(); ++i) {
    if (i) out.push_back(',');
    append_table_row(out, *records[i], include, now);
  }
  out += "]}";
  return out;
}

std::string list_json(const api::KindInfo& kind, const std::vector<RecordPtr>& records, int64_t revision) {
  std::string out;
  size_t estimate = 128;
  for (const auto& r : records) estimate += r->value.size() + 1;
  out.reserve(estimate);
  out += "{\"kind\":\"";
  out += kind.list_kind();
  out += "\",\"apiVersion\":\"";
  out += kind.api_version();
  out += "\",\"metadata\":{\"resourceVersion\":\"";
  out += std::to_string(revision);
  out += "\"},\"items\":[";
  for (size_t i = 0; i < records.size(); ++i) {
    if (i) out.push_back(',');
    out += records[i]->value;
  }
  out += "]}";
  return out;
}

}  // namespace kctl::apiserver
