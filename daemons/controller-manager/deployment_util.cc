// Deployment rules over JSON: hashes, revisions, fenceposts, replica sums, proportions and conditions.
#include "daemons/controller-manager/deployment_util.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <stdexcept>

#include "daemons/controller-manager/controller_utils.h"

namespace kctl::controllers::deployment {

using nlohmann::json;

namespace {

int64_t int_at(const json& obj, const json::json_pointer& p, int64_t fallback) {
  return obj.contains(p) && obj[p].is_number_integer() ? obj[p].get<int64_t>() : fallback;
}

// strconv.ParseInt / Atoi: the whole string, base 10.
std::optional<int64_t> parse_int(const std::string& s) {
  if (s.empty()) return std::nullopt;
  try {
    size_t used = 0;
    long long v = std::stoll(s, &used, 10);
    if (used != s.size()) return std::nullopt;
    return v;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// Go's omitempty and apimachinery's semantic equality treat null, {} and [] as absent.
void drop_empty(json& v) {
  if (v.is_object()) {
    for (auto it = v.begin(); it != v.end();) {
      drop_empty(*it);
      if (it->is_null() || ((it->is_object() || it->is_array()) && it->empty()))
        it = v.erase(it);
      else
        ++it;
    }
  } else if (v.is_array()) {
    for (auto& e : v) drop_empty(e);
  }
}

bool skip_copy_annotation(const std::string& key) {
  return key == "kubectl.kubernetes.io/last-applied-configuration" || key == kRevisionAnnotation ||
         key == kRevisionHistoryAnnotation || key == kDesiredReplicasAnnotation || key == kMaxReplicasAnnotation ||
         key == "deprecated.deployment.rollback.to";
}

json& annotations_of(json& obj) {
  json& m = obj["metadata"];
  if (!m.contains("annotations") || !m["annotations"].is_object()) m["annotations"] = json::object();
  return m["annotations"];
}

}  // namespace

int32_t spec_replicas(const json& obj) {
  return static_cast<int32_t>(int_at(obj, "/spec/replicas"_json_pointer, 1));
}

int32_t status_count(const json& obj, const char* field) {
  return static_cast<int32_t>(int_at(obj, json::json_pointer(std::string("/status/") + field), 0));
}

std::string name_of(const json& obj) { return obj.value("/metadata/name"_json_pointer, std::string()); }

std::string annotation(const json& obj, const std::string& key) {
  const json::json_pointer p("/metadata/annotations");
  if (!obj.contains(p) || !obj[p].is_object()) return "";
  auto it = obj[p].find(key);
  return it != obj[p].end() && it->is_string() ? it->get<std::string>() : "";
}

std::string compute_hash(const json& pod_template, std::optional<int32_t> collision_count) {
  uint32_t h = 2166136261u;
  auto add = [&](unsigned char b) {
    h ^= b;
    h *= 16777619u;
  };
  for (unsigned char c : pod_template.dump()) add(c);
  if (collision_count) {
    auto n = static_cast<uint32_t>(*collision_count);
    for (int i = 0; i < 4; ++i) add(static_cast<unsigned char>(n >> (8 * i)));
  }
  static constexpr char kAlphabet[] = "bcdfghjklmnpqrstvwxz2456789";
  std::string out;
  for (char c : std::to_string(h)) out += kAlphabet[static_cast<unsigned char>(c) % (sizeof kAlphabet - 1)];
  return out;
}

bool equal_ignore_hash(const json& a, const json& b) {
  json x = a, y = b;
  for (json* t : {&x, &y}) {
    if (t->contains("/metadata/labels"_json_pointer) && (*t)["metadata"]["labels"].is_object())
      (*t)["metadata"]["labels"].erase(kUniqueLabelKey);
    drop_empty(*t);
  }
  return x == y;
}

int64_t revision(const json& rs) { return parse_int(annotation(rs, kRevisionAnnotation)).value_or(0); }

int64_t max_revision(const RsList& rss) {
  int64_t m = 0;
  for (const json* rs : rss) m = std::max(m, revision(*rs));
  return m;
}

int scaled_value(const json& v, int total, bool round_up) {
  if (v.is_number_integer()) return v.get<int>();
  if (v.is_null()) return 0;
  if (!v.is_string()) throw std::invalid_argument("invalid value for IntOrString: invalid type: not a number");
  std::string s = v.get<std::string>();
  if (s.empty() || s.back() != '%')
    throw std::invalid_argument("invalid value for IntOrString: invalid type: string is not a percentage");
  auto n = parse_int(s.substr(0, s.size() - 1));
  if (!n) throw std::invalid_argument("invalid value \"" + s + "\": not a percentage");
  double scaled = static_cast<double>(*n) * static_cast<double>(total) / 100.0;
  return static_cast<int>(round_up ? std::ceil(scaled) : std::floor(scaled));
}

std::pair<int, int> resolve_fenceposts(const json& max_surge, const json& max_unavailable, int desired) {
  int surge = scaled_value(max_surge, desired, true);
  int unavailable = scaled_value(max_unavailable, desired, false);
  // Both zero would let a rolling update make no progress: one pod may then be unavailable.
  if (surge == 0 && unavailable == 0) unavailable = 1;
  return {surge, unavailable};
}

bool is_rolling_update(const json& d) {
  return d.value("/spec/strategy/type"_json_pointer, std::string("RollingUpdate")) == "RollingUpdate";
}

int32_t max_surge(const json& d) {
  if (!is_rolling_update(d)) return 0;
  try {
    json ru = d.value("/spec/strategy/rollingUpdate"_json_pointer, json::object());
    return resolve_fenceposts(ru.value("maxSurge", json()), ru.value("maxUnavailable", json()), spec_replicas(d))
        .first;
  } catch (const std::invalid_argument&) {
    return 0;
  }
}

int32_t max_unavailable(const json& d) {
  if (!is_rolling_update(d) || spec_replicas(d) == 0) return 0;
  try {
    json ru = d.value("/spec/strategy/rollingUpdate"_json_pointer, json::object());
    int u = resolve_fenceposts(ru.value("maxSurge", json()), ru.value("maxUnavailable", json()), spec_replicas(d))
                .second;
    return std::min(u, spec_replicas(d));
  } catch (const std::invalid_argument&) {
    return 0;
  }
}

int32_t replica_count(const RsList& rss) {
  int32_t n = 0;
  for (const json* rs : rss) n += spec_replicas(*rs);
  return n;
}
int32_t actual_replica_count(const RsList& rss) {
  int32_t n = 0;
  for (const json* rs : rss) n += status_count(*rs, "replicas");
  return n;
}
int32_t ready_replica_count(const RsList& rss) {
  int32_t n = 0;
  for (const json* rs : rss) n += status_count(*rs, "readyReplicas");
  return n;
}
int32_t available_replica_count(const RsList& rss) {
  int32_t n = 0;
  for (const json* rs : rss) n += status_count(*rs, "availableReplicas");
  return n;
}

RsList active(const RsList& rss) {
  RsList out;
  for (json* rs : rss)
    if (rs && spec_replicas(*rs) > 0) out.push_back(rs);
  return out;
}

RsList with(const RsList& rss, json* rs) {
  RsList out = rss;
  if (rs) out.push_back(rs);
  return out;
}

namespace {
bool created_before(const json* a, const json* b) {
  auto ta = time_of(a->value("/metadata/creationTimestamp"_json_pointer, json()));
  auto tb = time_of(b->value("/metadata/creationTimestamp"_json_pointer, json()));
  if (ta == tb) return name_of(*a) < name_of(*b);
  return ta < tb;
}
}  // namespace

void sort_by_creation(RsList& rss) { std::stable_sort(rss.begin(), rss.end(), created_before); }

void sort_by_revision(RsList& rss) {
  std::stable_sort(rss.begin(), rss.end(), [](const json* a, const json* b) {
    if (revision(*a) == revision(*b)) return created_before(a, b);
    return revision(*a) < revision(*b);
  });
}

json* find_new_replica_set(const json& d, const RsList& rss) {
  RsList sorted = rss;
  sort_by_creation(sorted);
  json tmpl = d.value("/spec/template"_json_pointer, json::object());
  for (json* rs : sorted)
    if (equal_ignore_hash(rs->value("/spec/template"_json_pointer, json::object()), tmpl)) return rs;
  return nullptr;
}

RsList find_old_replica_sets(const RsList& rss, const json* new_rs) {
  RsList out;
  for (json* rs : rss)
    if (!new_rs || rs->value("/metadata/uid"_json_pointer, std::string()) !=
                       new_rs->value("/metadata/uid"_json_pointer, std::string()))
      out.push_back(rs);
  return out;
}

int32_t new_rs_new_replicas(const json& d, const RsList& all, const json& new_rs) {
  if (!is_rolling_update(d)) return spec_replicas(d);
  int32_t surge = scaled_value(d.value("/spec/strategy/rollingUpdate/maxSurge"_json_pointer, json()),
                               spec_replicas(d), true);
  int32_t current = replica_count(all);
  int32_t max_total = spec_replicas(d) + surge;
  if (current >= max_total) return spec_replicas(new_rs);
  int32_t scale_up = std::min(max_total - current, spec_replicas(d) - spec_replicas(new_rs));
  return spec_replicas(new_rs) + scale_up;
}

bool set_replicas_annotations(json& rs, int32_t desired, int32_t max) {
  bool updated = false;
  json& a = annotations_of(rs);
  for (auto [key, value] : {std::pair{kDesiredReplicasAnnotation, desired}, std::pair{kMaxReplicasAnnotation, max}}) {
    std::string s = std::to_string(value);
    if (a.value(key, "") != s) {
      a[key] = s;
      updated = true;
    }
  }
  return updated;
}

bool replicas_annotations_need_update(const json& rs, int32_t desired, int32_t max) {
  return annotation(rs, kDesiredReplicasAnnotation) != std::to_string(desired) ||
         annotation(rs, kMaxReplicasAnnotation) != std::to_string(max);
}

bool set_new_replica_set_annotations(const json& d, json& rs, const std::string& new_revision, bool exists) {
  bool changed = false;
  json& a = annotations_of(rs);
  const json from = d.value("/metadata/annotations"_json_pointer, json::object());
  for (const auto& [key, value] : from.items()) {
    if (skip_copy_annotation(key) || (a.contains(key) && a[key] == value)) continue;
    a[key] = value;
    changed = true;
  }
  std::string old_revision = a.value(kRevisionAnnotation, "");
  bool had_revision = a.contains(kRevisionAnnotation);
  auto old_int = parse_int(old_revision);
  if (!old_int && !old_revision.empty()) return false;  // not a number: left alone, as kube does
  int64_t old_n = old_int.value_or(0);
  auto new_n = parse_int(new_revision);
  if (!new_n) return false;
  // Only ever raised: a ReplicaSet whose revision is above new_revision (old ones deleted since) keeps it.
  if (old_n < *new_n) {
    a[kRevisionAnnotation] = new_revision;
    changed = true;
  }
  // A ReplicaSet that had a revision and gets a newer one is being rolled back to: remember its old revisions.
  if (had_revision && old_n < *new_n) {
    std::string history = a.value(kRevisionHistoryAnnotation, "");
    if (history.empty()) {
      a[kRevisionHistoryAnnotation] = old_revision;
    } else {
      std::vector<std::string> parts;
      for (size_t start = 0;;) {
        size_t comma = history.find(',', start);
        parts.push_back(history.substr(start, comma - start));
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
      size_t total = history.size() + old_revision.size() + 1, first = 0;
      while (total > kMaxRevisionHistoryChars && first < parts.size()) total -= parts[first++].size() + 1;
      if (total <= kMaxRevisionHistoryChars) {
        std::string joined;
        for (size_t i = first; i < parts.size(); ++i) joined += parts[i] + ",";
        a[kRevisionHistoryAnnotation] = joined + old_revision;
      }
    }
  }
  if (!exists && set_replicas_annotations(rs, spec_replicas(d), spec_replicas(d) + max_surge(d))) changed = true;
  return changed;
}

bool set_deployment_revision(json& d, const std::string& revision) {
  if (annotation(d, kRevisionAnnotation) == revision) return false;
  annotations_of(d)[kRevisionAnnotation] = revision;
  return true;
}

json* find_active_or_latest(json* new_rs, RsList old_rss) {
  if (!new_rs && old_rss.empty()) return nullptr;
  sort_by_creation(old_rss);
  std::reverse(old_rss.begin(), old_rss.end());
  RsList all = active(with(old_rss, new_rs));
  if (all.empty()) return new_rs ? new_rs : old_rss.front();
  if (all.size() == 1) return all.front();
  return nullptr;
}

bool is_saturated(const json& d, const json* rs) {
  if (!rs) return false;
  auto desired = parse_int(annotation(*rs, kDesiredReplicasAnnotation));
  if (!desired) return false;
  return spec_replicas(*rs) == spec_replicas(d) && *desired == spec_replicas(d) &&
         status_count(*rs, "availableReplicas") == spec_replicas(d);
}

int32_t proportion(const json& rs, const json& d, int32_t to_add, int32_t added) {
  if (spec_replicas(rs) == 0 || to_add == 0 || to_add == added) return 0;
  int32_t fraction;
  if (spec_replicas(d) == 0) {
    fraction = -spec_replicas(rs);
  } else {
    int32_t deployment_replicas = spec_replicas(d) + max_surge(d);
    auto annotated = parse_int(annotation(rs, kMaxReplicasAnnotation));
    int64_t base = annotated ? *annotated : status_count(d, "replicas");
    if (base == 0) return 0;  // nothing to be proportional to
    double size = static_cast<double>(spec_replicas(rs)) * deployment_replicas / static_cast<double>(base);
    fraction = static_cast<int32_t>(std::floor(size + 0.5)) - spec_replicas(rs);
  }
  int32_t allowed = to_add - added;
  return to_add > 0 ? std::min(fraction, allowed) : std::max(fraction, allowed);
}

const json& status_of(const json& obj) {
  static const json empty = json::object();
  auto it = obj.find("status");
  return it != obj.end() && it->is_object() ? *it : empty;
}

const json* get_condition(const json& status, const std::string& type) {
  if (!status.is_object() || !status.contains("conditions") || !status["conditions"].is_array()) return nullptr;
  for (const auto& c : status["conditions"])
    if (c.is_object() && c.value("type", "") == type) return &c;
  return nullptr;
}

json new_condition(const std::string& type, const std::string& status, const std::string& reason,
                   const std::string& message, SysClock::time_point now) {
  std::string t = format_time(now);
  return {{"type", type},         {"status", status},   {"lastUpdateTime", t},
          {"lastTransitionTime", t}, {"reason", reason}, {"message", message}};
}

void set_condition(json& status, json condition) {
  const json* cur = get_condition(status, condition.value("type", ""));
  if (cur && cur->value("status", "") == condition.value("status", "") &&
      cur->value("reason", "") == condition.value("reason", ""))
    return;
  if (cur && cur->value("status", "") == condition.value("status", ""))
    condition["lastTransitionTime"] = cur->value("lastTransitionTime", json());
  remove_condition(status, condition.value("type", ""));
  if (!status.contains("conditions") || !status["conditions"].is_array()) status["conditions"] = json::array();
  status["conditions"].push_back(std::move(condition));
}

void remove_condition(json& status, const std::string& type) {
  if (!status.is_object() || !status.contains("conditions") || !status["conditions"].is_array()) return;
  json kept = json::array();
  for (const auto& c : status["conditions"])
    if (c.value("type", "") != type) kept.push_back(c);
  status["conditions"] = kept;
}

bool has_progress_deadline(const json& d) {
  const json::json_pointer p("/spec/progressDeadlineSeconds");
  return d.contains(p) && d[p].is_number_integer() && d[p].get<int64_t>() != INT32_MAX;
}

bool has_revision_history_limit(const json& d) {
  const json::json_pointer p("/spec/revisionHistoryLimit");
  return d.contains(p) && d[p].is_number_integer() && d[p].get<int64_t>() != INT32_MAX;
}

bool deployment_complete(const json& d, const json& st) {
  int32_t want = spec_replicas(d);
  auto count = [&](const char* f) { return st.is_object() && st.contains(f) && st[f].is_number_integer() ? st[f].get<int64_t>() : 0; };
  return count("updatedReplicas") == want && count("replicas") == want && count("availableReplicas") == want &&
         count("observedGeneration") >= int_at(d, "/metadata/generation"_json_pointer, 0);
}

bool deployment_progressing(const json& d, const json& st) {
  auto count = [](const json& s, const char* f) {
    return s.is_object() && s.contains(f) && s[f].is_number_integer() ? s[f].get<int64_t>() : 0;
  };
  json old = d.value("status", json::object());
  int64_t old_old = count(old, "replicas") - count(old, "updatedReplicas");
  int64_t new_old = count(st, "replicas") - count(st, "updatedReplicas");
  return count(st, "updatedReplicas") > count(old, "updatedReplicas") || new_old < old_old ||
         count(st, "readyReplicas") > count(old, "readyReplicas") ||
         count(st, "availableReplicas") > count(old, "availableReplicas");
}

bool deployment_timed_out(const json& d, const json& st, SysClock::time_point now) {
  if (!has_progress_deadline(d)) return false;
  const json* c = get_condition(st, kProgressing);
  if (!c) return false;
  std::string reason = c->value("reason", "");
  if (reason == kNewRSAvailableReason) return false;
  if (reason == kTimedOutReason) return true;
  auto from = time_of(c->value("lastUpdateTime", json()));
  auto deadline = std::chrono::seconds(int_at(d, "/spec/progressDeadlineSeconds"_json_pointer, 0));
  return from + deadline < now;
}

}  // namespace kctl::controllers::deployment
