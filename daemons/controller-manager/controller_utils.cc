// The pod predicates, the deletion ranking, slow-start batches, pods from templates and claiming.
#include "daemons/controller-manager/controller_utils.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <mutex>
#include <thread>

#include "api/go_json.h"
#include "daemons/controller-manager/controller.h"

namespace kctl::controllers {

using nlohmann::json;

namespace {

const json* ready_condition(const json& pod) {
  const json* conds = nullptr;
  if (auto s = pod.find("status"); s != pod.end() && s->is_object())
    if (auto c = s->find("conditions"); c != s->end() && c->is_array()) conds = &*c;
  if (!conds) return nullptr;
  for (const auto& c : *conds)
    if (c.is_object() && c.value("type", "") == "Ready") return &c;
  return nullptr;
}

std::string str_at(const json& obj, const char* pointer) {
  const json::json_pointer p(pointer);
  if (!obj.contains(p) || !obj[p].is_string()) return "";
  return obj[p].get<std::string>();
}

int phase_ordinal(const json& pod) {
  std::string phase = str_at(pod, "/status/phase");
  if (phase == "Pending") return 0;
  if (phase == "Unknown") return 1;
  if (phase == "Running") return 2;
  return 0;  // kube's map answers 0 for any other phase
}

int deletion_cost(const json& pod) {
  std::string v = str_at(pod, "/metadata/annotations/controller.kubernetes.io~1pod-deletion-cost");
  if (v.empty()) return 0;
  try {
    size_t used = 0;
    long long n = std::stoll(v, &used);
    if (used != v.size() || n < INT32_MIN || n > INT32_MAX) return 0;
    return static_cast<int>(n);
  } catch (const std::exception&) {
    return 0;
  }
}

int max_restarts(const json& pod) {
  int m = 0;
  const json::json_pointer p("/status/containerStatuses");
  if (!pod.contains(p) || !pod[p].is_array()) return 0;
  for (const auto& c : pod[p])
    if (c.is_object() && c.contains("restartCount") && c["restartCount"].is_number_integer())
      m = std::max(m, c["restartCount"].get<int>());
  return m;
}

SysClock::time_point ready_time(const json& pod) {
  const json* c = ready_condition(pod);
  if (!c || c->value("status", "") != "True") return {};
  return time_of(c->value("lastTransitionTime", json()));
}

SysClock::time_point creation_time(const json& pod) {
  return time_of(pod.value("/metadata/creationTimestamp"_json_pointer, json()));
}

bool is_zero(SysClock::time_point t) { return t == SysClock::time_point{}; }

// kube's afterOrZero: a zero time sorts first, otherwise the later one.
bool after_or_zero(SysClock::time_point a, SysClock::time_point b) {
  if (is_zero(a) || is_zero(b)) return is_zero(a);
  return a > b;
}

// floor(log2(age in ns)), -1 for no age: times in one bucket are the same age as far as deletion is concerned, so
// that scale-down does not always pick the very newest pods (LogarithmicScaleDown).
int64_t log_bucket(SysClock::time_point t, SysClock::time_point now) {
  auto d = std::chrono::duration_cast<std::chrono::nanoseconds>(now - t).count();
  return d > 0 ? static_cast<int64_t>(std::log2(static_cast<double>(d))) : -1;
}

// true: a before b when the times differ, compared as kube does with LogarithmicScaleDown on.
std::optional<bool> compare_times(SysClock::time_point a, SysClock::time_point b, SysClock::time_point now,
                                  const json& pa, const json& pb) {
  if (a == b) return std::nullopt;
  if (is_zero(now) || is_zero(a) || is_zero(b)) return after_or_zero(a, b);
  int64_t diff = log_bucket(a, now) - log_bucket(b, now);
  if (diff == 0) return str_at(pa, "/metadata/uid") < str_at(pb, "/metadata/uid");
  return diff < 0;
}

}  // namespace

bool pod_active(const json& pod) {
  std::string phase = str_at(pod, "/status/phase");
  return phase != "Succeeded" && phase != "Failed" && !being_deleted(pod);
}

SysClock::time_point time_of(const json& value) {
  if (!value.is_string()) return {};
  return parse_time(value.get<std::string>()).value_or(SysClock::time_point{});
}

std::map<std::string, std::string> labels_of(const json& obj) {
  std::map<std::string, std::string> out;
  const json::json_pointer p("/metadata/labels");
  if (!obj.contains(p) || !obj[p].is_object()) return out;
  for (auto it = obj[p].begin(); it != obj[p].end(); ++it)
    if (it->is_string()) out[it.key()] = it->get<std::string>();
  return out;
}

void rank_pods_for_deletion(std::vector<api::ObjectPtr>& pods, std::vector<int> ranks, SysClock::time_point now) {
  std::vector<size_t> order(pods.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  auto less = [&](size_t i, size_t j) {
    const json& a = *pods[i];
    const json& b = *pods[j];
    std::string na = str_at(a, "/spec/nodeName"), nb = str_at(b, "/spec/nodeName");
    if (na != nb && (na.empty() || nb.empty())) return na.empty();
    if (phase_ordinal(a) != phase_ordinal(b)) return phase_ordinal(a) < phase_ordinal(b);
    if (pod_ready(a) != pod_ready(b)) return !pod_ready(a);
    if (deletion_cost(a) != deletion_cost(b)) return deletion_cost(a) < deletion_cost(b);
    if (ranks[i] != ranks[j]) return ranks[i] > ranks[j];
    if (pod_ready(a) && pod_ready(b))
      if (auto r = compare_times(ready_time(a), ready_time(b), now, a, b)) return *r;
    if (max_restarts(a) != max_restarts(b)) return max_restarts(a) > max_restarts(b);
    if (auto r = compare_times(creation_time(a), creation_time(b), now, a, b)) return *r;
    return false;
  };
  // Stable: the logarithmic buckets do not make a strict weak order, which std::sort may not be given.
  std::stable_sort(order.begin(), order.end(), less);
  std::vector<api::ObjectPtr> sorted;
  sorted.reserve(pods.size());
  for (size_t i : order) sorted.push_back(pods[i]);
  pods = std::move(sorted);
}

std::vector<api::ObjectPtr> pods_to_delete(std::vector<api::ObjectPtr> pods, const std::vector<api::ObjectPtr>& related,
                                           size_t count, SysClock::time_point now) {
  if (count < pods.size()) {
    std::map<std::string, int> on_node;
    for (const auto& p : related)
      if (pod_active(*p)) ++on_node[str_at(*p, "/spec/nodeName")];
    std::vector<int> ranks;
    ranks.reserve(pods.size());
    for (const auto& p : pods) ranks.push_back(on_node[str_at(*p, "/spec/nodeName")]);
    rank_pods_for_deletion(pods, std::move(ranks), now);
  }
  pods.resize(std::min(count, pods.size()));
  return pods;
}

std::exception_ptr parallel_for(int count, const std::function<void(int)>& fn) {
  std::atomic<int> next{0};
  std::mutex error_mutex;
  std::exception_ptr error;  // guarded by error_mutex
  auto work = [&] {
    for (int i = next.fetch_add(1); i < count; i = next.fetch_add(1)) {
      try {
        fn(i);
      } catch (...) {
        std::lock_guard lock(error_mutex);
        if (!error) error = std::current_exception();
      }
    }
  };
  std::vector<std::thread> pool;
  for (int i = 1; i < std::min(count, kMaxParallelWrites); ++i) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  return error;
}

int slow_start_batch(int count, int initial, const std::function<void()>& fn, std::exception_ptr& error) {
  int remaining = count, successes = 0;
  for (int batch = std::min(remaining, initial); batch > 0; batch = std::min(2 * batch, remaining)) {
    std::atomic<int> failed{0};
    std::exception_ptr batch_error = parallel_for(batch, [&](int) {
      try {
        fn();
      } catch (...) {
        ++failed;
        throw;
      }
    });
    successes += batch - failed;
    if (batch_error) {
      error = batch_error;
      return successes;
    }
    remaining -= batch;
  }
  return successes;
}

json make_controller_ref(const json& owner, const std::string& api_version, const std::string& kind) {
  return {{"apiVersion", api_version},
          {"kind", kind},
          {"name", str_at(owner, "/metadata/name")},
          {"uid", str_at(owner, "/metadata/uid")},
          {"controller", true},
          {"blockOwnerDeletion", true}};
}

json pod_from_template(const json& tmpl, const json& owner, const json& ref) {
  json pod = {{"apiVersion", "v1"}, {"kind", "Pod"}};
  json meta = json::object();
  json tmeta = tmpl.value("metadata", json::object());
  for (const char* f : {"labels", "annotations", "finalizers"})
    if (tmeta.contains(f) && !tmeta[f].is_null()) meta[f] = tmeta[f];
  // kube's getPodsPrefix: "<owner>-" unless that is no valid prefix of a pod name (a DNS subdomain, 253 at most).
  std::string name = str_at(owner, "/metadata/name");
  meta["generateName"] = name.size() + 1 <= 253 ? name + "-" : name;
  meta["namespace"] = str_at(owner, "/metadata/namespace");
  meta["ownerReferences"] = json::array({ref});
  pod["metadata"] = std::move(meta);
  pod["spec"] = tmpl.value("spec", json::object());
  return pod;
}

std::function<void()> recheck_deletion_timestamp(const api::ResourceClient& owners, const json& owner) {
  std::string name = str_at(owner, "/metadata/name");
  std::string ns = str_at(owner, "/metadata/namespace");
  std::string uid = str_at(owner, "/metadata/uid");
  return [client = owners.in(ns), name, ns, uid] {
    json fresh = client.get(name);
    std::string got = str_at(fresh, "/metadata/uid");
    if (got != uid)
      throw std::runtime_error("original " + ns + "/" + name + " is gone: got uid " + got + ", wanted " + uid);
    if (being_deleted(fresh))
      throw std::runtime_error(ns + "/" + name + " has just been deleted at " +
                               str_at(fresh, "/metadata/deletionTimestamp"));
  };
}

std::vector<api::ObjectPtr> claim_objects(const api::ResourceClient& client, const ClaimOptions& o,
                                          const std::vector<api::ObjectPtr>& objects) {
  std::string owner_uid = o.ref.value("uid", "");
  bool owner_deleting = being_deleted(o.owner);
  bool adoption_checked = false;
  std::vector<api::ObjectPtr> claimed;
  for (const auto& obj : objects) {
    json ref = controller_ref(*obj);
    bool matches = o.selector.matches(obj->value("/metadata/labels"_json_pointer, json()));
    std::string name = str_at(*obj, "/metadata/name");
    std::string uid = str_at(*obj, "/metadata/uid");
    api::ResourceClient in_ns = client.in(str_at(*obj, "/metadata/namespace"));
    if (!ref.is_null()) {
      if (ref.value("uid", "") != owner_uid) continue;  // someone else's
      if (matches) {
        claimed.push_back(obj);
        continue;
      }
      if (owner_deleting) continue;  // an owner being deleted releases nothing
      json patch = {{"metadata",
                     {{"ownerReferences", json::array({{{"$patch", "delete"}, {"uid", owner_uid}}})}, {"uid", uid}}}};
      try {
        in_ns.patch(name, api::PatchType::Strategic, patch);
      } catch (const api::StatusError& e) {
        // Gone already, or no longer ours (the uid precondition): nothing to release.
        if (e.status().code != 404 && e.status().code != 422) throw;
      }
      continue;
    }
    if (owner_deleting || !matches || being_deleted(*obj)) continue;
    if (!adoption_checked) {
      if (o.can_adopt) o.can_adopt();
      adoption_checked = true;
    }
    json patch = {{"metadata", {{"ownerReferences", json::array({o.ref})}, {"uid", uid}}}};
    try {
      claimed.push_back(std::make_shared<const json>(in_ns.patch(name, api::PatchType::Strategic, patch)));
    } catch (const api::StatusError& e) {
      if (e.status().code != 404) throw;  // deleted meanwhile: ignored, as kube does
    }
  }
  return claimed;
}

}  // namespace kctl::controllers
