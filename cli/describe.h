// kubectl describe's building blocks: the PrefixWriter over a Go tabwriter (minwidth 0, padding 2), label,
// annotation and toleration blocks, events, dates, and the per-kind describers (describe_kinds.cc).
#pragma once

#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/registry.h"
#include "cli/tabwriter.h"

namespace kctl::cli {

class RestClient;

// describe's tabbedString: tabwriter.Init(buf, 0, 8, 2, ' ', 0).
inline constexpr int kDescribePadding = 2;
// printAnnotationsMultiline folds values longer than this.
inline constexpr size_t kMaxAnnotationLength = 140;

class DescribeWriter {
 public:
  explicit DescribeWriter(std::string& out) : stream_(), tw_(stream_, 0, kDescribePadding, false), out_(out) {}
  ~DescribeWriter() { finish(); }
  // PrefixWriter.Write: two spaces per level, then the text.
  void write(int level, const std::string& text) { tw_.write(std::string(size_t(level) * 2, ' ') + text); }
  void line(const std::string& text) { tw_.write(text + "\n"); }
  void flush() { tw_.flush(); }
  void finish() {
    tw_.flush();
    out_ += stream_.str();
    stream_.str("");
  }

 private:
  std::ostringstream stream_;
  TabWriter tw_;
  std::string& out_;
};

// Helpers shared by the describers, named after kubectl's.
std::string str(const nlohmann::json& obj, const char* pointer, const std::string& fallback = "");
void print_labels_multiline(DescribeWriter& w, const std::string& title, const nlohmann::json& labels,
                            const std::string& initial_indent = "");
void print_annotations_multiline(DescribeWriter& w, const std::string& title, const nlohmann::json& annotations);
void print_tolerations_multiline(DescribeWriter& w, const std::string& title, nlohmann::json tolerations);
void print_taints_multiline(DescribeWriter& w, const std::string& title, nlohmann::json taints);
// "Sat, 28 Nov 2026 00:52:30 +0000" (Go's time.RFC1123Z in local time) from RFC 3339.
std::string rfc1123z(const std::string& rfc3339);
// labels.FormatLabels: "a=b,c=d" sorted, "<none>" when empty.
std::string format_labels(const nlohmann::json& labels);
// The events about an object (searchEvents), sorted as kubectl sorts them; `with_kind` adds
// involvedObject.kind to the field selector (every kind but pods).
nlohmann::json search_events(RestClient& rest, const nlohmann::json& obj, bool with_kind, const std::string& uid_override = "");
void describe_events(DescribeWriter& w, nlohmann::json events);

// The describers: each returns kubectl's text for one object (fetching what it needs besides the object).
std::string describe_object(RestClient& rest, const api::KindInfo& kind, const nlohmann::json& obj, bool show_events);
std::string describe_pod(const nlohmann::json& pod, const nlohmann::json* events);
std::string describe_generic(const nlohmann::json& obj, const nlohmann::json* events);
void describe_pod_template(DescribeWriter& w, const nlohmann::json& tmpl);

}  // namespace kctl::cli
