// The RBAC authorizer: kube's rule matching (RuleAllows), rule resolution (VisitRulesFor) with its messages, rule
// coverage (Covers), and the index of roles and bindings a store watch keeps current.
#include "daemons/apiserver/rbac.h"

#include <algorithm>
#include <set>

#include "api/validation.h"
#include "daemons/apiserver/object_service.h"

namespace kctl::apiserver {

using nlohmann::json;

namespace {

// How long one wait for store events may last: only bounds how late a lost wake-up would be noticed.
constexpr auto kWatchWait = std::chrono::seconds(30);
// Back-off before watching again after the store failed (not a compaction, which relists at once).
constexpr auto kWatchRetry = std::chrono::seconds(1);

bool has(const std::vector<std::string>& set, const std::string& x) {
  return std::find(set.begin(), set.end(), x) != set.end();
}

bool has_all(const std::vector<std::string>& set, const std::vector<std::string>& want) {
  return std::all_of(want.begin(), want.end(), [&](const std::string& w) { return has(set, w); });
}

std::vector<std::string> strings_of(const json& obj, const char* field) {
  std::vector<std::string> out;
  if (!obj.is_object()) return out;
  auto it = obj.find(field);
  if (it == obj.end() || !it->is_array()) return out;
  for (const auto& s : *it)
    if (s.is_string()) out.push_back(s.get<std::string>());
  return out;
}

bool verb_matches(const PolicyRule& r, const std::string& verb) { return has(r.verbs, "*") || has(r.verbs, verb); }

bool group_matches(const PolicyRule& r, const std::string& group) {
  return has(r.api_groups, "*") || has(r.api_groups, group);
}

// "pods/log" matches "pods/log", "*" and "*/log"; a bare "*/log" rule never matches the pods themselves.
bool resource_matches(const PolicyRule& r, const std::string& combined, const std::string& subresource) {
  for (const auto& res : r.resources) {
    if (res == "*" || res == combined) return true;
    if (subresource.empty()) continue;
    if (res.size() == subresource.size() + 2 && res.compare(0, 2, "*/") == 0 && res.compare(2, std::string::npos, subresource) == 0)
      return true;
  }
  return false;
}

// An empty list allows every name; otherwise the request must name one of them (so list, watch and create, which
// name nothing, are not allowed by a rule with resourceNames).
bool resource_name_matches(const PolicyRule& r, const std::string& name) {
  return r.resource_names.empty() || has(r.resource_names, name);
}

bool url_covers(const std::string& rule_url, const std::string& path) {
  if (rule_url == "*" || rule_url == path) return true;
  if (rule_url.empty() || rule_url.back() != '*') return false;
  std::string prefix = rule_url;
  while (!prefix.empty() && prefix.back() == '*') prefix.pop_back();  // strings.TrimRight(url, "*")
  return path.compare(0, prefix.size(), prefix) == 0;
}

bool non_resource_url_matches(const PolicyRule& r, const std::string& path) {
  return std::any_of(r.non_resource_urls.begin(), r.non_resource_urls.end(),
                     [&](const std::string& u) { return url_covers(u, path); });
}

// validation.ruleCovers and its helpers (k8s.io/component-helpers/auth/rbac/validation).
bool resources_cover_all(const std::vector<std::string>& set, const std::vector<std::string>& covers) {
  if (has(set, "*") || has_all(set, covers)) return true;
  for (const auto& path : covers) {
    if (has(set, path)) continue;
    auto slash = path.find('/');
    if (slash == std::string::npos || !has(set, "*/" + path.substr(slash + 1))) return false;
  }
  return true;
}

bool urls_cover_all(const std::vector<std::string>& set, const std::vector<std::string>& covers) {
  for (const auto& path : covers) {
    bool covered = false;
    for (const auto& owner : set)
      if (url_covers(owner, path)) {
        covered = true;
        break;
      }
    if (!covered) return false;
  }
  return true;
}

bool rule_covers(const PolicyRule& owner, const PolicyRule& sub) {
  bool verbs = has(owner.verbs, "*") || has_all(owner.verbs, sub.verbs);
  bool groups = has(owner.api_groups, "*") || has_all(owner.api_groups, sub.api_groups);
  bool resources = resources_cover_all(owner.resources, sub.resources);
  bool urls = urls_cover_all(owner.non_resource_urls, sub.non_resource_urls);
  bool names = owner.resource_names.empty() || (!sub.resource_names.empty() && has_all(owner.resource_names, sub.resource_names));
  return verbs && groups && resources && names && urls;
}

// BreakdownRule: one verb, group, resource (and name) per rule; one verb and URL per non-resource rule.
std::vector<PolicyRule> breakdown(const PolicyRule& r) {
  std::vector<PolicyRule> out;
  for (const auto& g : r.api_groups)
    for (const auto& res : r.resources)
      for (const auto& v : r.verbs) {
        if (r.resource_names.empty()) out.push_back({{v}, {g}, {res}, {}, {}});
        for (const auto& n : r.resource_names) out.push_back({{v}, {g}, {res}, {n}, {}});
      }
  for (const auto& u : r.non_resource_urls)
    for (const auto& v : r.verbs) out.push_back({{v}, {}, {}, {}, {u}});
  return out;
}

// utilerrors.NewAggregate(errs).Error(): one message alone, several de-duplicated in brackets.
std::string aggregate_errors(const std::vector<std::string>& errors) {
  if (errors.size() == 1) return errors[0];
  std::set<std::string> seen;
  std::string out;
  for (const auto& e : errors) {
    if (!seen.insert(e).second) continue;
    if (seen.size() > 1) out += ", ";
    out += e;
  }
  return seen.size() == 1 ? out : "[" + out + "]";
}

}  // namespace

PolicyRule PolicyRule::from_json(const json& r) {
  return {strings_of(r, "verbs"), strings_of(r, "apiGroups"), strings_of(r, "resources"), strings_of(r, "resourceNames"),
          strings_of(r, "nonResourceURLs")};
}

json PolicyRule::to_json() const {
  json r = {{"verbs", verbs}};
  if (!api_groups.empty()) r["apiGroups"] = api_groups;
  if (!resources.empty()) r["resources"] = resources;
  if (!resource_names.empty()) r["resourceNames"] = resource_names;
  if (!non_resource_urls.empty()) r["nonResourceURLs"] = non_resource_urls;
  return r;
}

bool rule_allows(const RequestAttributes& a, const PolicyRule& rule) {
  if (!a.resource_request) return verb_matches(rule, a.verb) && non_resource_url_matches(rule, a.path);
  std::string combined = a.subresource.empty() ? a.resource : a.resource + "/" + a.subresource;
  return verb_matches(rule, a.verb) && group_matches(rule, a.api_group) &&
         resource_matches(rule, combined, a.subresource) && resource_name_matches(rule, a.name);
}

bool rules_cover(const std::vector<PolicyRule>& owner, const std::vector<PolicyRule>& requested,
                 std::vector<PolicyRule>* missing) {
  bool all = true;
  for (const auto& r : requested)
    for (const auto& sub : breakdown(r)) {
      if (std::any_of(owner.begin(), owner.end(), [&](const PolicyRule& o) { return rule_covers(o, sub); })) continue;
      all = false;
      if (missing) missing->push_back(sub);
    }
  return all;
}

std::string service_account_user(const std::string& ns, const std::string& name) {
  return "system:serviceaccount:" + ns + ":" + name;
}

// ---------------------------------------------------------------------------------------------------------------
// Rule resolution

namespace {

template <class Subject>
bool applies_to_user(const UserInfo& user, const Subject& s, const std::string& binding_ns) {
  if (s.kind == "User") return user.name == s.name;
  if (s.kind == "Group") return user.in_group(s.name);
  if (s.kind == "ServiceAccount") {
    // A RoleBinding's service account without a namespace is one of the binding's namespace.
    const std::string& ns = s.ns.empty() ? binding_ns : s.ns;
    return !ns.empty() && user.name == service_account_user(ns, s.name);
  }
  return false;
}

template <class Subject>
std::string describe_subject(const Subject& s, const std::string& binding_ns) {
  if (s.kind == "ServiceAccount") return s.kind + " " + api::go_quote(s.name + "/" + (s.ns.empty() ? binding_ns : s.ns));
  return s.kind + " " + api::go_quote(s.name);
}

}  // namespace

const std::vector<PolicyRule>* RbacAuthorizer::role_rules(const Binding& b, std::vector<std::string>& errors) const {
  if (b.role_kind == "ClusterRole") {
    auto it = cluster_roles_.find(b.role_name);
    if (it != cluster_roles_.end()) return &it->second;
    errors.push_back("clusterrole.rbac.authorization.k8s.io " + api::go_quote(b.role_name) + " not found");
    return nullptr;
  }
  if (b.role_kind == "Role") {
    if (auto ns = roles_.find(b.ns); ns != roles_.end())
      if (auto it = ns->second.find(b.role_name); it != ns->second.end()) return &it->second;
    errors.push_back("role.rbac.authorization.k8s.io " + api::go_quote(b.role_name) + " not found");
    return nullptr;
  }
  errors.push_back("unsupported role reference kind: " + api::go_quote(b.role_kind));
  return nullptr;
}

// ClusterRoleBindings first (they grant everywhere), then the RoleBindings of the request's namespace; each binding
// through the first of its subjects that is the user. `visit(binding, subject, rule)` returns false to stop.
template <class Visit>
void RbacAuthorizer::visit_rules(const UserInfo& user, const std::string& ns, std::vector<std::string>& errors,
                                 Visit&& visit) const {
  auto walk = [&](const Binding& b) {
    auto subject = std::find_if(b.subjects.begin(), b.subjects.end(),
                                [&](const Subject& s) { return applies_to_user(user, s, b.ns); });
    if (subject == b.subjects.end()) return true;
    const auto* rules = role_rules(b, errors);
    if (!rules) return true;
    for (const auto& r : *rules)
      if (!visit(b, *subject, r)) return false;
    return true;
  };
  for (const auto& [name, b] : cluster_role_bindings_)
    if (!walk(b)) return;
  if (ns.empty()) return;
  if (auto it = role_bindings_.find(ns); it != role_bindings_.end())
    for (const auto& [name, b] : it->second)
      if (!walk(b)) return;
}

Decision RbacAuthorizer::authorize(const RequestAttributes& a) const {
  std::shared_lock lock(index_mutex_);
  std::vector<std::string> errors;
  std::string reason;
  visit_rules(a.user, a.ns, errors, [&](const Binding& b, const Subject& s, const PolicyRule& r) {
    if (!rule_allows(a, r)) return true;
    if (b.ns.empty())
      reason = "RBAC: allowed by ClusterRoleBinding " + api::go_quote(b.name) + " of " + b.role_kind + " " +
               api::go_quote(b.role_name) + " to " + describe_subject(s, "");
    else
      reason = "RBAC: allowed by RoleBinding " + api::go_quote(b.name + "/" + b.ns) + " of " + b.role_kind + " " +
               api::go_quote(b.role_name) + " to " + describe_subject(s, b.ns);
    return false;
  });
  if (!reason.empty()) return Decision::allow(reason);
  return Decision::no_opinion(errors.empty() ? "" : "RBAC: " + aggregate_errors(errors));
}

std::vector<PolicyRule> RbacAuthorizer::rules_for(const UserInfo& user, const std::string& ns,
                                                  std::string* errors_out) const {
  std::shared_lock lock(index_mutex_);
  std::vector<std::string> errors;
  std::vector<PolicyRule> rules;
  visit_rules(user, ns, errors, [&](const Binding&, const Subject&, const PolicyRule& r) {
    rules.push_back(r);
    return true;
  });
  if (errors_out) *errors_out = errors.empty() ? "" : aggregate_errors(errors);
  return rules;
}

json RbacAuthorizer::rules_review_status(const UserInfo& user, const std::string& ns) const {
  std::string errors;
  json resource_rules = json::array(), non_resource_rules = json::array();
  for (const auto& r : rules_for(user, ns, &errors)) {
    if (!r.resources.empty()) {
      json rr = {{"verbs", r.verbs}};
      if (!r.api_groups.empty()) rr["apiGroups"] = r.api_groups;
      rr["resources"] = r.resources;
      if (!r.resource_names.empty()) rr["resourceNames"] = r.resource_names;
      resource_rules.push_back(std::move(rr));
    }
    if (!r.non_resource_urls.empty())
      non_resource_rules.push_back({{"verbs", r.verbs}, {"nonResourceURLs", r.non_resource_urls}});
  }
  json status = {{"resourceRules", resource_rules}, {"nonResourceRules", non_resource_rules}, {"incomplete", false}};
  if (!errors.empty()) status["evaluationError"] = errors;
  return status;
}

std::optional<std::vector<PolicyRule>> RbacAuthorizer::role_reference_rules(const std::string& kind,
                                                                            const std::string& name,
                                                                            const std::string& ns) const {
  std::shared_lock lock(index_mutex_);
  std::vector<std::string> errors;
  const auto* rules = role_rules(Binding{"", ns, kind, name, {}}, errors);
  if (!rules) return std::nullopt;
  return *rules;
}

// ---------------------------------------------------------------------------------------------------------------
// The index and its watch

RbacAuthorizer::RbacAuthorizer(Store& store, const api::Registry& registry) : store_(store) {
  const char* kinds[4] = {"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"};
  for (int i = 0; i < 4; ++i) {
    const api::KindInfo* k = registry.by_kind(kRbacGroup, kinds[i]);
    if (!k) throw std::logic_error(std::string("the registry has no ") + kinds[i]);
    prefixes_[i] = storage_prefix(*k);
  }
  relist();
  thread_ = std::thread([this] { run(); });
}

RbacAuthorizer::~RbacAuthorizer() {
  {
    std::lock_guard lock(progress_mutex_);
    stopping_ = true;
    if (watch_) watch_->cancel();
  }
  progress_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

int64_t RbacAuthorizer::revision() const {
  std::lock_guard lock(progress_mutex_);
  return revision_;
}

bool RbacAuthorizer::wait_for_revision(int64_t revision, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(progress_mutex_);
  return progress_cv_.wait_for(lock, timeout, [&] { return revision_ >= revision || stopping_; }) &&
         revision_ >= revision;
}

void RbacAuthorizer::relist() {
  std::vector<RecordPtr> lists[4];
  int64_t revs[4];
  for (int i = 0; i < 4; ++i) lists[i] = store_.list(prefixes_[i], &revs[i]);
  {
    std::unique_lock lock(index_mutex_);
    cluster_roles_.clear();
    roles_.clear();
    cluster_role_bindings_.clear();
    role_bindings_.clear();
    for (int i = 0; i < 4; ++i) {
      listed_[i] = revs[i];
      for (const auto& rec : lists[i]) apply_record(Kind(i), EventType::Added, *rec);
    }
  }
  std::lock_guard lock(progress_mutex_);
  // Each kind is complete up to its own list; all of them up to the first.
  revision_ = std::max(revision_, *std::min_element(revs, revs + 4));
  progress_cv_.notify_all();
}

bool RbacAuthorizer::try_relist() {
  try {
    relist();
    return true;
  } catch (const std::exception&) {
    return false;  // the store is failing: the caller backs off and tries again; the index keeps its last state
  }
}

// Called with index_mutex_ held exclusively. Stored objects passed validation; one that still does not read as a
// role or binding (a field of the wrong type) is left out rather than stopping the index.
void RbacAuthorizer::apply_record(Kind kind, EventType type, const Record& rec) {
  json obj = json::parse(rec.value, nullptr, false);
  if (obj.is_discarded()) return;
  try {
    apply(kind, type, obj);
  } catch (const json::exception&) {
  }
}

// Called with index_mutex_ held exclusively.
void RbacAuthorizer::apply(Kind kind, EventType type, const json& obj) {
  if (!obj.is_object()) return;
  json meta = obj.value("metadata", json::object());
  if (!meta.is_object()) return;
  std::string name = meta.value("name", ""), ns = meta.value("namespace", "");
  bool gone = type == EventType::Deleted;
  auto rules_of = [&] {
    std::vector<PolicyRule> rules;
    json rs = obj.value("rules", json::array());
    if (rs.is_array())
      for (const auto& r : rs) rules.push_back(PolicyRule::from_json(r));
    return rules;
  };
  auto binding_of = [&] {
    Binding b{name, ns, "", "", {}};
    json ref = obj.value("roleRef", json::object());
    if (ref.is_object()) {
      b.role_kind = ref.value("kind", "");
      b.role_name = ref.value("name", "");
    }
    json subjects = obj.value("subjects", json::array());
    if (subjects.is_array())
      for (const auto& s : subjects)
        if (s.is_object()) b.subjects.push_back({s.value("kind", ""), s.value("name", ""), s.value("namespace", "")});
    return b;
  };
  switch (kind) {
    case Kind::ClusterRole:
      if (gone) cluster_roles_.erase(name);
      else cluster_roles_[name] = rules_of();
      break;
    case Kind::Role:
      if (gone) {
        if (auto it = roles_.find(ns); it != roles_.end() && (it->second.erase(name), it->second.empty())) roles_.erase(it);
      } else {
        roles_[ns][name] = rules_of();
      }
      break;
    case Kind::ClusterRoleBinding:
      if (gone) cluster_role_bindings_.erase(name);
      else cluster_role_bindings_[name] = binding_of();
      break;
    case Kind::RoleBinding:
      if (gone) {
        if (auto it = role_bindings_.find(ns); it != role_bindings_.end() && (it->second.erase(name), it->second.empty()))
          role_bindings_.erase(it);
      } else {
        role_bindings_[ns][name] = binding_of();
      }
      break;
  }
}

// One watch on the whole keyspace rather than one per kind: the store wakes every watcher on every write anyway, and
// a watch that sees every revision tells exactly how far the index has caught up (wait_for_revision). Events of
// other kinds are dropped after a prefix compare.
void RbacAuthorizer::run() {
  for (;;) {
    int64_t from;
    {
      std::shared_lock lock(index_mutex_);
      from = *std::min_element(listed_, listed_ + 4);
    }
    {
      std::lock_guard lock(progress_mutex_);
      from = std::max(from, revision_);
    }
    WatchPtr watch;
    try {
      watch = store_.watch("/", from);
    } catch (const StoreError& e) {
      if (e.code() == StoreError::Code::Compacted && try_relist()) continue;
    }
    {
      std::unique_lock lock(progress_mutex_);
      if (stopping_) return;
      if (!watch) {
        progress_cv_.wait_for(lock, kWatchRetry, [&] { return stopping_; });
        continue;
      }
      watch_ = std::move(watch);
    }
    bool relisted = false;
    for (;;) {
      std::vector<Event> events;
      try {
        events = watch_->next(std::chrono::steady_clock::now() + kWatchWait);
      } catch (const StoreError& e) {
        if (e.code() == StoreError::Code::Compacted) relisted = try_relist();
        break;
      }
      {
        std::lock_guard lock(progress_mutex_);
        if (stopping_) return;
      }
      if (!events.empty()) {
        std::unique_lock lock(index_mutex_);
        for (const auto& ev : events) {
          for (int i = 0; i < 4; ++i) {
            if (ev.object->key.compare(0, prefixes_[i].size(), prefixes_[i]) != 0) continue;
            if (ev.revision() > listed_[i]) apply_record(Kind(i), ev.type, *ev.object);
            break;
          }
        }
      }
      int64_t progress = watch_->progress_revision();
      std::lock_guard lock(progress_mutex_);
      revision_ = std::max(revision_, progress);
      progress_cv_.notify_all();
    }
    std::unique_lock lock(progress_mutex_);
    watch_.reset();
    if (stopping_) return;
    if (!relisted) progress_cv_.wait_for(lock, kWatchRetry, [&] { return stopping_; });
  }
}

}  // namespace kctl::apiserver
