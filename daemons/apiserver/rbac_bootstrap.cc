// The default ClusterRoles and ClusterRoleBindings (kube's bootstrappolicy, Kubernetes 1.33, without the resources of
// APIs kctl does not serve at all, such as resource.k8s.io), kctl's additions, their reconciliation at start, and
// ClusterRole aggregation.
#include "daemons/apiserver/rbac_bootstrap.h"

#include <algorithm>

#include "api/selector.h"
#include "daemons/apiserver/auth.h"
#include "daemons/apiserver/rbac.h"

namespace kctl::apiserver {

using api::StatusError;
using nlohmann::json;
using Strings = std::vector<std::string>;

namespace {

// A write that loses a race with another writer is tried again this often before the start fails.
constexpr int kConflictRetries = 5;

const Strings kRead = {"get", "list", "watch"};
const Strings kReadWrite = {"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"};
const Strings kWrite = {"create", "update", "patch", "delete", "deletecollection"};

const char* kBootstrapLabel = "kubernetes.io/bootstrapping";
const char* kAutoUpdate = "rbac.authorization.kubernetes.io/autoupdate";

Strings sorted(Strings v) {
  std::sort(v.begin(), v.end());
  return v;
}

// rbacv1helpers.NewRule(...).Groups(...).Resources(...).Names(...).RuleOrDie(): every list sorted.
PolicyRule rule(Strings verbs, Strings groups, Strings resources, Strings names = {}) {
  return {sorted(std::move(verbs)), sorted(std::move(groups)), sorted(std::move(resources)), sorted(std::move(names)), {}};
}
PolicyRule url_rule(Strings verbs, Strings urls) { return {sorted(std::move(verbs)), {}, {}, {}, sorted(std::move(urls))}; }

PolicyRule events_rule() { return rule({"create", "update", "patch"}, {"", "events.k8s.io"}, {"events"}); }

json metadata(const std::string& name, json labels = json::object()) {
  labels[kBootstrapLabel] = "rbac-defaults";
  return {{"name", name}, {"labels", labels}, {"annotations", {{kAutoUpdate, "true"}}}};
}

json cluster_role(const std::string& name, const std::vector<PolicyRule>& rules, json labels = json::object()) {
  json rs = json::array();
  for (const auto& r : rules) rs.push_back(r.to_json());
  return {{"apiVersion", "rbac.authorization.k8s.io/v1"}, {"kind", "ClusterRole"}, {"metadata", metadata(name, labels)},
          {"rules", rs}};
}

json aggregated_role(const std::string& name, const std::string& aggregate_label, json labels = json::object()) {
  json r = cluster_role(name, {}, std::move(labels));
  r["aggregationRule"] = {{"clusterRoleSelectors", {{{"matchLabels", {{aggregate_label, "true"}}}}}}};
  return r;
}

json group(const std::string& name) { return {{"kind", "Group"}, {"apiGroup", kRbacGroup}, {"name", name}}; }
json user(const std::string& name) { return {{"kind", "User"}, {"apiGroup", kRbacGroup}, {"name", name}}; }
json service_account(const std::string& ns, const std::string& name) {
  return {{"kind", "ServiceAccount"}, {"name", name}, {"namespace", ns}};
}

json cluster_binding(const std::string& role, json subjects) {
  json b = {{"apiVersion", "rbac.authorization.k8s.io/v1"},
            {"kind", "ClusterRoleBinding"},
            {"metadata", metadata(role)},
            {"roleRef", {{"apiGroup", kRbacGroup}, {"kind", "ClusterRole"}, {"name", role}}}};
  if (!subjects.empty()) b["subjects"] = std::move(subjects);
  return b;
}

json named_cluster_binding(const std::string& name, const std::string& role, json subjects) {
  json b = cluster_binding(role, std::move(subjects));
  b["metadata"]["name"] = name;
  return b;
}

std::vector<PolicyRule> node_rules() {
  return {
      rule({"create"}, {"authentication.k8s.io"}, {"tokenreviews"}),
      rule({"create"}, {"authorization.k8s.io"}, {"subjectaccessreviews", "localsubjectaccessreviews"}),
      rule(kRead, {""}, {"services"}),
      rule({"create", "get", "list", "watch"}, {""}, {"nodes"}),
      rule({"update", "patch"}, {""}, {"nodes/status"}),
      rule({"update", "patch"}, {""}, {"nodes"}),
      events_rule(),
      rule(kRead, {""}, {"pods"}),
      rule({"create", "delete"}, {""}, {"pods"}),
      rule({"update", "patch"}, {""}, {"pods/status"}),
      rule({"create"}, {""}, {"pods/eviction"}),
      rule(kRead, {""}, {"secrets", "configmaps"}),
      rule({"get"}, {""}, {"persistentvolumeclaims", "persistentvolumes"}),
      rule({"get"}, {""}, {"endpoints"}),
      rule({"create", "get", "list", "watch"}, {"certificates.k8s.io"}, {"certificatesigningrequests"}),
      rule({"get", "create", "update", "patch", "delete"}, {"coordination.k8s.io"}, {"leases"}),
      rule({"get"}, {"storage.k8s.io"}, {"volumeattachments"}),
      rule({"create"}, {""}, {"serviceaccounts/token"}),
      rule({"get", "update", "patch"}, {""}, {"persistentvolumeclaims/status"}),
      rule(kRead, {"storage.k8s.io"}, {"csidrivers"}),
      rule({"get", "create", "update", "patch", "delete"}, {"storage.k8s.io"}, {"csinodes"}),
      rule(kRead, {"node.k8s.io"}, {"runtimeclasses"}),
      rule({"get"}, {""}, {"serviceaccounts"}),
  };
}

std::vector<PolicyRule> aggregate_to_edit_rules() {
  return {
      rule(kRead, {""}, {"pods/attach", "pods/proxy", "pods/exec", "pods/portforward", "secrets", "services/proxy"}),
      rule({"impersonate"}, {""}, {"serviceaccounts"}),
      rule(kWrite, {""}, {"pods", "pods/attach", "pods/proxy", "pods/exec", "pods/portforward"}),
      rule({"create"}, {""}, {"pods/eviction"}),
      rule(kWrite, {""},
           {"replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts", "services", "services/proxy",
            "persistentvolumeclaims", "configmaps", "secrets"}),
      rule({"create"}, {""}, {"serviceaccounts/token"}),
      rule(kWrite, {"", "events.k8s.io"}, {"events"}),
      rule(kWrite, {"apps"},
           {"statefulsets", "statefulsets/scale", "daemonsets", "deployments", "deployments/scale",
            "deployments/rollback", "replicasets", "replicasets/scale"}),
      rule(kWrite, {"autoscaling"}, {"horizontalpodautoscalers"}),
      rule(kWrite, {"batch"}, {"jobs", "cronjobs"}),
      rule(kWrite, {"extensions"},
           {"daemonsets", "deployments", "deployments/scale", "deployments/rollback", "ingresses", "replicasets",
            "replicasets/scale", "replicationcontrollers/scale", "networkpolicies"}),
      rule(kWrite, {"policy"}, {"poddisruptionbudgets"}),
      rule(kWrite, {"networking.k8s.io"}, {"networkpolicies", "ingresses"}),
      rule(kReadWrite, {"coordination.k8s.io"}, {"leases"}),
  };
}

std::vector<PolicyRule> aggregate_to_view_rules() {
  return {
      rule(kRead, {""},
           {"pods", "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts", "services",
            "services/status", "endpoints", "persistentvolumeclaims", "persistentvolumeclaims/status", "configmaps"}),
      rule(kRead, {""},
           {"limitranges", "resourcequotas", "bindings", "events", "pods/status", "resourcequotas/status",
            "namespaces/status", "replicationcontrollers/status", "pods/log"}),
      rule(kRead, {""}, {"namespaces"}),
      rule(kRead, {"", "events.k8s.io"}, {"events"}),
      rule(kRead, {"discovery.k8s.io"}, {"endpointslices"}),
      rule(kRead, {"apps"},
           {"controllerrevisions", "statefulsets", "statefulsets/status", "statefulsets/scale", "daemonsets",
            "daemonsets/status", "deployments", "deployments/status", "deployments/scale", "replicasets",
            "replicasets/status", "replicasets/scale"}),
      rule(kRead, {"autoscaling"}, {"horizontalpodautoscalers", "horizontalpodautoscalers/status"}),
      rule(kRead, {"batch"}, {"jobs", "cronjobs", "cronjobs/status", "jobs/status"}),
      rule(kRead, {"extensions"},
           {"daemonsets", "daemonsets/status", "deployments", "deployments/scale", "deployments/status", "ingresses",
            "ingresses/status", "replicasets", "replicasets/scale", "replicasets/status",
            "replicationcontrollers/scale", "networkpolicies"}),
      rule(kRead, {"policy"}, {"poddisruptionbudgets", "poddisruptionbudgets/status"}),
      rule(kRead, {"networking.k8s.io"}, {"networkpolicies", "ingresses", "ingresses/status"}),
  };
}

std::vector<PolicyRule> kube_scheduler_rules() {
  return {
      events_rule(),
      rule({"create"}, {"coordination.k8s.io"}, {"leases"}),
      rule({"get", "list", "update", "watch"}, {"coordination.k8s.io"}, {"leases"}, {"kube-scheduler"}),
      rule(kReadWrite, {"coordination.k8s.io"}, {"leasecandidates"}),
      rule(kRead, {""}, {"nodes"}),
      rule({"get", "list", "watch", "delete"}, {""}, {"pods"}),
      rule({"create"}, {""}, {"pods/binding", "bindings"}),
      rule({"patch", "update"}, {""}, {"pods/status"}),
      rule(kRead, {""}, {"services", "replicationcontrollers"}),
      rule(kRead, {"apps", "extensions"}, {"replicasets"}),
      rule(kRead, {"apps"}, {"statefulsets"}),
      rule(kRead, {"policy"}, {"poddisruptionbudgets"}),
      rule(kRead, {""}, {"persistentvolumeclaims", "persistentvolumes"}),
      rule({"create"}, {"authentication.k8s.io"}, {"tokenreviews"}),
      rule({"create"}, {"authorization.k8s.io"}, {"subjectaccessreviews"}),
      rule(kRead, {"storage.k8s.io"}, {"csinodes"}),
      rule(kRead, {"storage.k8s.io"}, {"volumeattachments"}),
      rule(kRead, {""}, {"namespaces"}),
      rule(kRead, {"storage.k8s.io"}, {"csidrivers"}),
      rule(kRead, {"storage.k8s.io"}, {"csistoragecapacities"}),
  };
}

std::vector<PolicyRule> kube_controller_manager_rules() {
  std::vector<PolicyRule> rules = {
      // kube's own: what the controller manager needs before it hands each controller its service account.
      events_rule(),
      rule({"create"}, {"coordination.k8s.io"}, {"leases"}),
      rule({"get", "update"}, {"coordination.k8s.io"}, {"leases"}, {"kube-controller-manager"}),
      rule({"create"}, {""}, {"secrets", "serviceaccounts"}),
      rule({"delete"}, {""}, {"secrets"}),
      rule({"get"}, {""}, {"namespaces", "secrets", "serviceaccounts", "configmaps"}),
      rule({"update"}, {""}, {"secrets", "serviceaccounts"}),
      rule({"create"}, {"authentication.k8s.io"}, {"tokenreviews"}),
      rule({"create"}, {"authorization.k8s.io"}, {"subjectaccessreviews"}),
      rule({"list", "watch"}, {"*"}, {"*"}),
      rule({"create"}, {""}, {"serviceaccounts/token"}),
  };
  // kctl runs every controller under this one identity (as kube does with --use-service-account-credentials=false),
  // so the role also grants what controller_policy.go gives the controllers kctl runs: the garbage collector and the
  // namespace controller act on every kind; the workload, endpoints, node and certificate controllers create what
  // they own.
  std::vector<PolicyRule> controllers = {
      rule({"get", "list", "watch", "patch", "update", "delete"}, {"*"}, {"*"}),  // generic-garbage-collector
      rule({"delete", "deletecollection"}, {"*"}, {"*"}),                         // namespace-controller
      rule({"update"}, {""}, {"namespaces/finalize", "namespaces/status"}),
      rule({"create"}, {""}, {"pods", "endpoints", "configmaps"}),  // replicaset, daemonset, endpoints, root-ca
      rule({"create"}, {"apps"}, {"replicasets", "controllerrevisions"}),
      rule({"create"}, {"discovery.k8s.io"}, {"endpointslices"}),
      rule({"update", "patch"}, {""},
           {"pods/status", "nodes/status", "replicationcontrollers/status", "replicationcontrollers/finalizers",
            "services/finalizers"}),
      rule({"update", "patch"}, {"apps"},
           {"deployments/status", "deployments/finalizers", "replicasets/status", "replicasets/finalizers",
            "daemonsets/status", "daemonsets/finalizers"}),
      rule({"create"}, {""}, {"pods/binding", "pods/eviction"}),
      rule({"update"}, {"certificates.k8s.io"}, {"certificatesigningrequests/approval", "certificatesigningrequests/status"}),
      rule({"approve", "sign"}, {"certificates.k8s.io"}, {"signers"},
           {"kubernetes.io/kube-apiserver-client", "kubernetes.io/kube-apiserver-client-kubelet",
            "kubernetes.io/kubelet-serving", "kubernetes.io/legacy-unknown"}),
      rule({"escalate", "get", "list", "watch", "update", "patch"}, {"rbac.authorization.k8s.io"}, {"clusterroles"}),
  };
  rules.insert(rules.end(), controllers.begin(), controllers.end());
  return rules;
}

}  // namespace

std::vector<json> bootstrap_cluster_roles() {
  const std::string to_admin = "rbac.authorization.k8s.io/aggregate-to-admin";
  const std::string to_edit = "rbac.authorization.k8s.io/aggregate-to-edit";
  const std::string to_view = "rbac.authorization.k8s.io/aggregate-to-view";
  return {
      cluster_role("cluster-admin", {rule({"*"}, {"*"}, {"*"}), url_rule({"*"}, {"*"})}),
      cluster_role("system:discovery",
                   {url_rule({"get"}, {"/livez", "/readyz", "/healthz", "/version", "/version/", "/openapi",
                                       "/openapi/*", "/api", "/api/*", "/apis", "/apis/*"})}),
      cluster_role("system:monitoring",
                   {url_rule({"get"}, {"/metrics", "/metrics/slis", "/livez", "/readyz", "/healthz", "/livez/*",
                                       "/readyz/*", "/healthz/*", "/statusz"}),
                    rule({"get"}, {""}, {"nodes/metrics"})}),
      cluster_role("system:basic-user",
                   {rule({"create"}, {"authorization.k8s.io"}, {"selfsubjectaccessreviews", "selfsubjectrulesreviews"}),
                    rule({"create"}, {"authentication.k8s.io"}, {"selfsubjectreviews"})}),
      cluster_role("system:public-info-viewer",
                   {url_rule({"get"}, {"/livez", "/readyz", "/healthz", "/version", "/version/"})}),
      aggregated_role("admin", to_admin),
      aggregated_role("edit", to_edit, {{to_admin, "true"}}),
      aggregated_role("view", to_view, {{to_edit, "true"}}),
      cluster_role("system:aggregate-to-admin",
                   {rule({"create"}, {"authorization.k8s.io"}, {"localsubjectaccessreviews"}),
                    rule(kReadWrite, {"rbac.authorization.k8s.io"}, {"roles", "rolebindings"})},
                   {{to_admin, "true"}}),
      cluster_role("system:aggregate-to-edit", aggregate_to_edit_rules(), {{to_edit, "true"}}),
      cluster_role("system:aggregate-to-view", aggregate_to_view_rules(), {{to_view, "true"}}),
      cluster_role("system:node", node_rules()),
      cluster_role("system:node-proxier",
                   {rule({"list", "watch"}, {""}, {"services", "endpoints"}), rule(kRead, {""}, {"nodes"}),
                    events_rule(), rule({"list", "watch"}, {"networking.k8s.io"}, {"servicecidrs"}),
                    rule({"list", "watch"}, {"discovery.k8s.io"}, {"endpointslices"})}),
      cluster_role("system:node-bootstrapper",
                   {rule({"create", "get", "list", "watch"}, {"certificates.k8s.io"}, {"certificatesigningrequests"})}),
      cluster_role("system:certificates.k8s.io:certificatesigningrequests:nodeclient",
                   {rule({"create"}, {"certificates.k8s.io"}, {"certificatesigningrequests/nodeclient"})}),
      cluster_role("system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
                   {rule({"create"}, {"certificates.k8s.io"}, {"certificatesigningrequests/selfnodeclient"})}),
      cluster_role("system:kubelet-api-admin",
                   {rule(kRead, {""}, {"nodes"}), rule({"proxy"}, {""}, {"nodes"}),
                    rule({"*"}, {""}, {"nodes/proxy", "nodes/metrics", "nodes/stats", "nodes/log"}),
                    rule({"*"}, {""}, {"nodes/pods", "nodes/healthz", "nodes/configz"})}),
      cluster_role("system:auth-delegator", {rule({"create"}, {"authentication.k8s.io"}, {"tokenreviews"}),
                                             rule({"create"}, {"authorization.k8s.io"}, {"subjectaccessreviews"})}),
      // kube's rule, plus the EndpointSlices kctl-dns (like CoreDNS) reads.
      cluster_role("system:kube-dns", {rule({"list", "watch"}, {""}, {"endpoints", "services"}),
                                       rule({"list", "watch"}, {"discovery.k8s.io"}, {"endpointslices"})}),
      cluster_role("system:kube-scheduler", kube_scheduler_rules()),
      cluster_role("system:kube-controller-manager", kube_controller_manager_rules()),
      // kubeadm's: a joining node checks whether its name is taken.
      cluster_role("kubeadm:get-nodes", {rule({"get"}, {""}, {"nodes"})}),
  };
}

std::vector<json> bootstrap_cluster_role_bindings() {
  return {
      cluster_binding("cluster-admin", {group(kSystemMasters)}),
      cluster_binding("system:basic-user", {group(kSystemAuthenticated)}),
      cluster_binding("system:discovery", {group(kSystemAuthenticated)}),
      cluster_binding("system:public-info-viewer", {group(kSystemAuthenticated), group(kSystemUnauthenticated)}),
      cluster_binding("system:monitoring", {group("system:monitoring")}),
      // Kept without subjects, as kube does since the node authorizer took over.
      cluster_binding("system:node", json::array()),
      cluster_binding("system:node-proxier", {user("system:kube-proxy")}),
      cluster_binding("system:kube-controller-manager", {user("system:kube-controller-manager")}),
      cluster_binding("system:kube-scheduler", {user("system:kube-scheduler")}),
      cluster_binding("system:kube-dns", {service_account("kube-system", "kube-dns"), user(kKctlDnsUser)}),
      // What kubeadm binds for TLS bootstrapping: bootstrap tokens may ask for a node client certificate, and have it
      // approved; nodes may renew their own.
      named_cluster_binding("kubeadm:kubelet-bootstrap", "system:node-bootstrapper", {group("system:bootstrappers")}),
      named_cluster_binding("kubeadm:node-autoapprove-bootstrap",
                            "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
                            {group("system:bootstrappers")}),
      named_cluster_binding("kubeadm:node-autoapprove-certificate-rotation",
                            "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
                            {group("system:nodes")}),
      named_cluster_binding("kubeadm:get-nodes", "kubeadm:get-nodes", {group("system:bootstrappers")}),
      // kctl's proxy is a node service, not a DaemonSet with the kube-proxy ServiceAccount that kubeadm binds here
      // (kubeadm:node-proxier): a joined worker's proxy reads Services and EndpointSlices with its node's
      // credentials.
      named_cluster_binding("kctl:node-proxier", "system:node-proxier", {group("system:nodes")}),
  };
}

std::vector<json> bootstrap_namespace_roles() {
  // Creates cannot be restricted by name; everything else only touches the kube-dns objects.
  std::vector<PolicyRule> rules = {
      rule({"create"}, {""}, {"services", "endpoints"}),
      rule({"create"}, {"discovery.k8s.io"}, {"endpointslices"}),
  };
  using Resource = std::pair<const char*, const char*>;
  for (auto [grp, res] : {Resource{"", "services"}, Resource{"", "endpoints"}, Resource{"discovery.k8s.io", "endpointslices"}})
    rules.push_back(rule({"get", "update", "patch", "delete"}, {grp}, {res}, {"kube-dns"}));
  auto in = [](json role, const char* ns) {
    role["kind"] = "Role";
    role["metadata"]["namespace"] = ns;
    return role;
  };
  return {in(cluster_role(kKctlDnsUser, rules), "kube-system"),
          // kubeadm's: joining nodes read kube-public/cluster-info before they have credentials.
          in(cluster_role(kClusterInfoRole, {rule({"get"}, {""}, {"configmaps"}, {"cluster-info"})}), "kube-public")};
}

std::vector<json> bootstrap_namespace_role_bindings() {
  auto in = [](json b, const char* ns) {
    b["kind"] = "RoleBinding";
    b["metadata"]["namespace"] = ns;
    b["roleRef"]["kind"] = "Role";
    return b;
  };
  return {in(cluster_binding(kKctlDnsUser, {user(kKctlDnsUser)}), "kube-system"),
          in(cluster_binding(kClusterInfoRole, {user(kAnonymousUser)}), "kube-public")};
}

// ---------------------------------------------------------------------------------------------------------------
// Reconciliation

namespace {

const api::KindInfo& rbac_kind(const ObjectService& objects, const char* kind) {
  const api::KindInfo* k = objects.registry().by_kind(kRbacGroup, kind);
  if (!k) throw std::logic_error(std::string("the registry has no ") + kind);
  return *k;
}

RecordPtr get_or_null(ObjectService& objects, const api::KindInfo& kind, const std::string& ns, const std::string& name) {
  try {
    return objects.get(kind, ns, name);
  } catch (const StatusError& e) {
    if (e.status().code == 404) return nullptr;
    throw;
  }
}

std::vector<PolicyRule> rules_of(const json& role) {
  std::vector<PolicyRule> out;
  json rs = role.value("rules", json::array());
  if (rs.is_array())
    for (const auto& r : rs) out.push_back(PolicyRule::from_json(r));
  return out;
}

// merge(expected, existing): the existing values win.
bool merge_map(json& existing, const json& expected) {
  bool changed = false;
  if (!existing.is_object()) existing = json::object();
  for (auto it = expected.begin(); it != expected.end(); ++it)
    if (!existing.contains(it.key())) {
      existing[it.key()] = it.value();
      changed = true;
    }
  return changed;
}

// computeReconciledRole with RemoveExtraPermissions=false: what `existing` must become, or null when nothing changes.
json reconciled_role(const json& existing, const json& expected) {
  json result = existing;
  bool changed = merge_map(result["metadata"]["labels"], expected["metadata"]["labels"]);
  changed |= merge_map(result["metadata"]["annotations"], expected["metadata"]["annotations"]);
  std::vector<PolicyRule> missing;
  rules_cover(rules_of(existing), rules_of(expected), &missing);
  if (!missing.empty()) {
    if (!result.contains("rules") || !result["rules"].is_array()) result["rules"] = json::array();
    for (const auto& r : missing) result["rules"].push_back(r.to_json());
    changed = true;
  }
  if (expected.contains("aggregationRule")) {
    json& have = result["aggregationRule"]["clusterRoleSelectors"];
    if (!have.is_array()) have = json::array();
    for (const auto& sel : expected["aggregationRule"]["clusterRoleSelectors"])
      if (std::find(have.begin(), have.end(), sel) == have.end()) {
        have.push_back(sel);
        changed = true;
      }
  }
  return changed ? result : json();
}

// computeReconciledRoleBinding with RemoveExtraSubjects=false; sets `recreate` when the roleRef differs.
json reconciled_binding(const json& existing, const json& expected, bool& recreate) {
  recreate = existing.value("roleRef", json()) != expected["roleRef"];
  json result = existing;
  if (recreate) {
    result["roleRef"] = expected["roleRef"];
    result["metadata"] = {{"name", existing["metadata"].value("name", "")}};
    if (existing["metadata"].contains("namespace")) result["metadata"]["namespace"] = existing["metadata"]["namespace"];
    for (const char* m : {"labels", "annotations"})
      if (existing["metadata"].contains(m)) result["metadata"][m] = existing["metadata"][m];
  }
  bool changed = merge_map(result["metadata"]["labels"], expected["metadata"]["labels"]);
  changed |= merge_map(result["metadata"]["annotations"], expected["metadata"]["annotations"]);
  for (const auto& s : expected.value("subjects", json::array())) {
    json& have = result["subjects"];
    if (!have.is_array()) have = json::array();
    if (std::find(have.begin(), have.end(), s) == have.end()) {
      have.push_back(s);
      changed = true;
    }
  }
  return changed || recreate ? result : json();
}

bool protected_from_update(const json& existing) {
  return existing.value("/metadata/annotations"_json_pointer, json::object()).value(kAutoUpdate, "") == "false";
}

std::string describe(const api::KindInfo& kind, const json& obj) {
  std::string ns = obj["metadata"].value("namespace", "");
  return kind.kind + " " + (ns.empty() ? "" : ns + "/") + obj["metadata"].value("name", "");
}

// Makes one default object exist and cover what it should; returns a sentence when it changed something.
std::string ensure(ObjectService& objects, const api::KindInfo& kind, const json& expected) {
  const std::string name = expected["metadata"]["name"], ns = expected["metadata"].value("namespace", "");
  bool is_binding = expected.contains("roleRef");
  for (int attempt = 0;; ++attempt) {
    try {
      RecordPtr rec = get_or_null(objects, kind, ns, name);
      if (!rec) {
        objects.create(kind, ns, expected, WriteOptions{});
        return "created " + describe(kind, expected);
      }
      json existing = json::parse(rec->value);
      if (protected_from_update(existing)) return "";
      bool recreate = false;
      json want = is_binding ? reconciled_binding(existing, expected, recreate) : reconciled_role(existing, expected);
      if (want.is_null()) return "";
      if (recreate) {
        DeleteOptions del;
        del.precondition_resource_version = std::to_string(rec->revision);
        objects.remove(kind, ns, name, del);
        objects.create(kind, ns, want, WriteOptions{});
        return "recreated " + describe(kind, expected) + " with the default roleRef";
      }
      objects.update(kind, ns, name, "", want, WriteOptions{});
      return "added missing defaults to " + describe(kind, expected);
    } catch (const StatusError& e) {
      int code = e.status().code;
      if ((code != 409 && code != 404) || attempt + 1 >= kConflictRetries) throw;  // lost a race: read again
    }
  }
}

bool rule_present(const std::vector<PolicyRule>& rules, const PolicyRule& r) {
  return std::find(rules.begin(), rules.end(), r) != rules.end();
}

}  // namespace

std::vector<std::string> ensure_bootstrap_rbac(ObjectService& objects) {
  std::vector<std::string> changes;
  auto run = [&](const char* kind_name, const std::vector<json>& wanted) {
    const api::KindInfo& kind = rbac_kind(objects, kind_name);
    for (const auto& obj : wanted)
      if (auto c = ensure(objects, kind, obj); !c.empty()) changes.push_back(c);
  };
  run("ClusterRole", bootstrap_cluster_roles());
  run("ClusterRoleBinding", bootstrap_cluster_role_bindings());
  run("Role", bootstrap_namespace_roles());
  run("RoleBinding", bootstrap_namespace_role_bindings());
  for (const auto& name : aggregate_cluster_roles(objects)) changes.push_back("aggregated the rules of ClusterRole " + name);
  return changes;
}

std::vector<std::string> aggregate_cluster_roles(ObjectService& objects) {
  const api::KindInfo& kind = rbac_kind(objects, "ClusterRole");
  std::vector<std::string> changed;
  // Aggregated roles may aggregate each other (view into edit into admin): repeat until nothing changes, at most
  // once per role plus one pass.
  for (size_t pass = 0;; ++pass) {
    auto roles = objects.list(kind, "", Selectors{}, nullptr);  // in name order
    if (pass > roles.size()) break;
    std::vector<json> parsed;
    for (const auto& r : roles) parsed.push_back(json::parse(r->value));
    bool any = false;
    for (size_t i = 0; i < parsed.size(); ++i) {
      json selectors = parsed[i].value("/aggregationRule/clusterRoleSelectors"_json_pointer, json());
      if (!selectors.is_array()) continue;
      std::vector<PolicyRule> rules;
      for (const auto& sel : selectors) {
        auto selector = api::LabelSelector::from_json(sel);
        for (size_t j = 0; j < parsed.size(); ++j) {
          if (j == i || !selector.matches(parsed[j].value("/metadata/labels"_json_pointer, json()))) continue;
          for (const auto& r : rules_of(parsed[j]))
            if (!rule_present(rules, r)) rules.push_back(r);
        }
      }
      if (rules == rules_of(parsed[i])) continue;
      json updated = parsed[i];
      updated["rules"] = json::array();
      for (const auto& r : rules) updated["rules"].push_back(r.to_json());
      updated["metadata"]["resourceVersion"] = std::to_string(roles[i]->revision);
      const std::string name = updated["metadata"]["name"];
      objects.update(kind, "", name, "", updated, WriteOptions{});
      if (std::find(changed.begin(), changed.end(), name) == changed.end()) changed.push_back(name);
      any = true;
      break;  // the list is stale now: start the pass again
    }
    if (!any) break;
  }
  return changed;
}

}  // namespace kctl::apiserver
