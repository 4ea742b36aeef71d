// ObjectService: the generic create/get/list/update/patch/delete paths with Kubernetes' rules for metadata,
// defaulting, validation, namespaces, optimistic concurrency, graceful deletion and finalizers. Subresources
// (scale, binding) and the bootstrap objects live in object_subresources.cc.
#include "daemons/apiserver/object_service.h"

#include <chrono>
#include <ctime>
#include <random>

#include "api/patch.h"
#include "api/schema_check.h"
#include "api/selector.h"
#include "api/validation.h"
#include "daemons/apiserver/access.h"
#include "daemons/apiserver/csr_strategy.h"
#include "daemons/apiserver/node_restriction.h"
#include "daemons/apiserver/rbac_escalation.h"
#include "daemons/apiserver/service_account_admission.h"

namespace kctl::apiserver {

using api::Status;
using api::StatusError;
using nlohmann::json;

namespace {

// A writer that keeps losing the compare-and-swap race gives up after this many rounds (kube-apiserver retries
// without bound but each round re-reads; a bound turns a livelock into a visible 409).
// A write that names no resourceVersion is retried on conflict until it applies (kube-apiserver's GuaranteedUpdate
// loops without a bound); this bound only stops a pathological storm.
constexpr int kMaxUpdateRetries = 1000;
constexpr int kGenerateNameRetries = 8;
// generateName suffixes use Kubernetes' alphabet (no vowels, no confusable digits) and length.
constexpr char kNameAlphabet[] = "bcdfghjklmnpqrstvwxz2456789";
constexpr int kGeneratedSuffixLength = 5;

bool is_csr(const KindInfo& kind) {
  return kind.kind == "CertificateSigningRequest" && kind.group == "certificates.k8s.io";
}

thread_local std::mt19937_64 rng{std::random_device{}()};

std::string random_suffix() {
  std::uniform_int_distribution<size_t> pick(0, sizeof kNameAlphabet - 2);
  std::string s;
  for (int i = 0; i < kGeneratedSuffixLength; ++i) s.push_back(kNameAlphabet[pick(rng)]);
  return s;
}

json& meta(json& obj) {
  if (!obj.contains("metadata") || !obj["metadata"].is_object()) obj["metadata"] = json::object();
  return obj["metadata"];
}

std::string str_at(const json& obj, const char* ptr) {
  json v = obj.value(json::json_pointer(ptr), json());
  return v.is_string() ? v.get<std::string>() : std::string();
}

Status from_store_error(const StoreError& e, const KindInfo& kind, const std::string& name) {
  switch (e.code()) {
    case StoreError::Code::NotFound: return Status::not_found(kind.plural, name, kind.group);
    case StoreError::Code::AlreadyExists: return Status::already_exists(kind.plural, name, kind.group);
    case StoreError::Code::Conflict:
      return Status::conflict(kind.plural, name,
                              "the object has been modified; please apply your changes to the latest version and "
                              "try again",
                              kind.group);
    case StoreError::Code::Compacted: return Status::gone(e.what());
    case StoreError::Code::Unavailable: return Status::service_unavailable(std::string("storage: ") + e.what());
  }
  return Status::internal(e.what());
}

// Everything but metadata and status: a change here bumps metadata.generation.
bool spec_changed(const json& a, const json& b) {
  json x = a, y = b;
  for (auto* o : {&x, &y}) {
    o->erase("metadata");
    o->erase("status");
  }
  return x != y;
}

bool has_deletion_timestamp(const json& obj) {
  return obj.contains("/metadata/deletionTimestamp"_json_pointer) && !obj["metadata"]["deletionTimestamp"].is_null();
}

bool has_finalizers(const json& obj) {
  json f = obj.value("/metadata/finalizers"_json_pointer, json::array());
  return f.is_array() && !f.empty();
}

}  // namespace

std::string format_rfc3339(int64_t epoch) {
  std::time_t t = std::time_t(epoch);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string now_rfc3339() { return format_rfc3339(std::time(nullptr)); }

std::string new_uid() {
  std::uniform_int_distribution<uint64_t> d;
  uint64_t a = d(rng), b = d(rng);
  a = (a & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // variant 10
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", unsigned(a >> 32), unsigned((a >> 16) & 0xffff),
                unsigned(a & 0xffff), unsigned(b >> 48), (unsigned long long)(b & 0xffffffffffffULL));
  return buf;
}

std::string storage_prefix(const KindInfo& kind) { return "/" + kind.qualified_plural() + "/"; }

DeleteOptions DeleteOptions::from_json(const json& body) {
  DeleteOptions o;
  if (body.is_null()) return o;
  if (!body.is_object()) throw StatusError(Status::bad_request("DeleteOptions must be a JSON object"));
  if (body.contains("gracePeriodSeconds") && !body["gracePeriodSeconds"].is_null()) {
    if (!body["gracePeriodSeconds"].is_number_integer())
      throw StatusError(Status::bad_request("gracePeriodSeconds must be an integer"));
    o.grace_period_seconds = body["gracePeriodSeconds"].get<int64_t>();
  }
  if (body.contains("propagationPolicy") && body["propagationPolicy"].is_string())
    o.propagation_policy = body["propagationPolicy"];
  if (body.contains("orphanDependents") && body["orphanDependents"].is_boolean() && o.propagation_policy.empty())
    o.propagation_policy = body["orphanDependents"].get<bool>() ? "Orphan" : "Background";
  if (!o.propagation_policy.empty() && o.propagation_policy != "Orphan" && o.propagation_policy != "Background" &&
      o.propagation_policy != "Foreground")
    throw StatusError(Status::invalid(
        "DeleteOptions", "",
        {api::cause_not_supported("propagationPolicy", o.propagation_policy, {"Foreground", "Background", "Orphan"})}));
  if (body.contains("preconditions") && body["preconditions"].is_object()) {
    o.precondition_uid = body["preconditions"].value("uid", "");
    o.precondition_resource_version = body["preconditions"].value("resourceVersion", "");
  }
  if (body.contains("dryRun") && body["dryRun"].is_array() && !body["dryRun"].empty()) o.dry_run = true;
  return o;
}

ObjectService::ObjectService(Store& store, const api::Registry& registry, ServiceAllocator& allocator)
    : store_(store), registry_(registry), allocator_(allocator) {}

std::string ObjectService::key(const KindInfo& kind, const std::string& ns, const std::string& name) const {
  return kind.namespaced ? storage_prefix(kind) + ns + "/" + name : storage_prefix(kind) + name;
}

std::string ObjectService::prefix(const KindInfo& kind, const std::string& ns) const {
  return kind.namespaced && !ns.empty() ? storage_prefix(kind) + ns + "/" : storage_prefix(kind);
}

RecordPtr ObjectService::get(const KindInfo& kind, const std::string& ns, const std::string& name) const {
  auto rec = store_.get(key(kind, ns, name));
  if (!rec) throw StatusError(Status::not_found(kind.plural, name, kind.group));
  return rec;
}

std::vector<RecordPtr> ObjectService::list(const KindInfo& kind, const std::string& ns, const Selectors& sel,
                                           int64_t* revision) const {
  auto labels = api::LabelSelector::parse(sel.label_selector);
  auto fields = api::FieldSelector::parse(sel.field_selector);
  check_field_selector(kind, fields);
  std::string pfx = prefix(kind, ns);
  // An exact metadata.name in one namespace is a point lookup (kubectl's delete wait and get -w NAME).
  if (auto name = fields.exact_value("metadata.name"); name && (!kind.namespaced || !ns.empty()))
    pfx = key(kind, ns, *name);
  auto all = store_.list(pfx, revision);
  if (labels.empty() && fields.empty()) return all;
  std::vector<RecordPtr> out;
  for (auto& rec : all) {
    std::map<std::string, std::string> lm(rec->attrs.labels.begin(), rec->attrs.labels.end());
    if (!labels.matches(lm)) continue;
    if (!fields.matches([&](std::string_view f) -> std::optional<std::string> {
          if (const auto* v = rec->attrs.field(f)) return *v;
          return std::string();
        }))
      continue;
    out.push_back(rec);
  }
  return out;
}

void check_field_selector(const KindInfo& kind, const api::FieldSelector& fields) {
  for (const auto& r : fields.requirements()) {
    bool known = r.field == "metadata.name" || r.field == "metadata.namespace";
    for (const auto& f : kind.selectable_fields) known = known || f == r.field;
    if (!known) throw StatusError(Status::bad_request("field label not supported: " + r.field));
  }
}

void ObjectService::check_namespace_accepts(const KindInfo& kind, const std::string& ns) const {
  if (!kind.namespaced) return;
  auto rec = store_.get("/namespaces/" + ns);
  if (!rec) throw StatusError(Status::not_found("namespaces", ns));
  if (has_deletion_timestamp(json::parse(rec->value)))
    throw StatusError(Status::forbidden(kind.plural, "",
                                        "unable to create new content in namespace " + ns +
                                            " because it is being terminated",
                                        kind.group));
}

void ObjectService::check_fields(const KindInfo& kind, const json& obj, const WriteOptions& opts,
                                 const json* old) const {
  const api::TypeDef* type = kind.schema();
  if (!type) return;
  auto problems = api::check_against_schema(obj, *type);
  if (old) {
    // On update only what the write adds counts: unknown fields kept from an earlier lenient write must not make
    // every later strict write fail.
    auto before = api::check_against_schema(*old, *type);
    auto drop_known = [](std::vector<std::string>& now, const std::vector<std::string>& earlier) {
      std::erase_if(now, [&](const std::string& p) { return std::find(earlier.begin(), earlier.end(), p) != earlier.end(); });
    };
    drop_known(problems.unknown_fields, before.unknown_fields);
    drop_known(problems.type_errors, before.type_errors);
  }
  std::string prefix = kind.kind + " in version \"" + kind.version + "\" cannot be handled as a " + kind.kind + ": ";
  if (!problems.type_errors.empty()) throw StatusError(Status::bad_request(prefix + problems.type_errors.front()));
  if (problems.unknown_fields.empty() || opts.field_validation == "Ignore") return;
  if (opts.field_validation == "Strict") {
    std::string msg = "strict decoding error: ";
    for (size_t i = 0; i < problems.unknown_fields.size(); ++i)
      msg += (i ? ", " : "") + std::string("unknown field \"") + problems.unknown_fields[i] + "\"";
    throw StatusError(Status::bad_request(prefix + msg));
  }
  if (opts.warnings)
    for (const auto& f : problems.unknown_fields) opts.warnings->push_back("unknown field \"" + f + "\"");
}

void ObjectService::validate(const KindInfo& kind, const json& obj, const json* old, const std::string& sub) const {
  std::vector<api::StatusCause> causes;
  api::validate_object_meta(obj.value("metadata", json::object()), kind.namespaced, kind.validate_name, causes);
  api::ValidationContext ctx{old, sub};
  kind.validate(obj, ctx, causes);
  if (!causes.empty())
    throw StatusError(Status::invalid(kind.kind, str_at(obj, "/metadata/name"), std::move(causes), kind.group));
}

// ---------------------------------------------------------------------------------------------------------------
// create

RecordPtr ObjectService::create(const KindInfo& kind, const std::string& ns, json obj, const WriteOptions& opts) {
  if (!obj.is_object()) throw StatusError(Status::bad_request("the body of the request must be a JSON object"));
  check_fields(kind, obj, opts);
  std::string api_version = obj.value("apiVersion", ""), obj_kind = obj.value("kind", "");
  if (!obj_kind.empty() && obj_kind != kind.kind)
    throw StatusError(Status::bad_request("the kind in the data (" + obj_kind + ") does not match the kind of the "
                                          "resource (" + kind.kind + ")"));
  if (!api_version.empty() && api_version != kind.api_version())
    throw StatusError(Status::bad_request("the API version in the data (" + api_version +
                                          ") does not match the expected API version (" + kind.api_version() + ")"));
  obj["apiVersion"] = kind.api_version();
  obj["kind"] = kind.kind;
  json& m = meta(obj);
  if (kind.namespaced) {
    std::string body_ns = m.value("namespace", "");
    if (!body_ns.empty() && body_ns != ns)
      throw StatusError(Status::bad_request("the namespace of the provided object does not match the namespace sent "
                                            "on the request"));
    m["namespace"] = ns;
  } else {
    m.erase("namespace");
  }
  if (m.contains("resourceVersion") && m["resourceVersion"].is_string() && !m["resourceVersion"].get<std::string>().empty())
    throw StatusError(Status::bad_request("resourceVersion should not be set on objects to be created"));
  for (const char* f : {"uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink",
                        "managedFields", "resourceVersion"})
    m.erase(f);
  m["uid"] = new_uid();
  m["creationTimestamp"] = now_rfc3339();
  m["generation"] = 1;
  bool generate = (!m.contains("name") || m["name"] == "") && m.contains("generateName") &&
                  m["generateName"].is_string() && !m["generateName"].get<std::string>().empty();
  if (generate) m["name"] = m["generateName"].get<std::string>() + random_suffix();
  // Status is what controllers and kubelets observe, not what a creator says (PrepareForCreate in kube-apiserver);
  // a Node is the exception: the kubelet registers it with its status.
  if (kind.has_subresource("status") && kind.kind != "Node" && obj.contains("status")) obj["status"] = json::object();
  if (is_csr(kind)) prepare_csr_for_create(obj, request_user());
  kind.apply_defaults(obj);
  if (kind.kind == "Pod" && kind.group.empty()) admit_service_account(obj, object_getter(*this), random_suffix);
  validate(kind, obj, nullptr);
  admit_node_restriction(kind, obj, nullptr, "", request_user());
  if (rbac_escalation_) rbac_escalation_->admit(kind, obj, nullptr, request_user());
  check_namespace_accepts(kind, ns);
  bool allocated = false;
  if (kind.kind == "Service" && kind.group.empty()) {
    allocator_.allocate(obj);
    allocated = true;
  }
  try {
    for (int attempt = 0;; ++attempt) {
      std::string name = str_at(obj, "/metadata/name");
      if (opts.dry_run) {
        if (store_.get(key(kind, ns, name))) throw StatusError(Status::already_exists(kind.plural, name, kind.group));
        auto r = std::make_shared<Record>();
        r->key = key(kind, ns, name);
        r->value = obj.dump();
        if (allocated) allocator_.release(obj);
        return r;
      }
      try {
        return store_.create(key(kind, ns, name), obj);
      } catch (const StoreError& e) {
        if (e.code() == StoreError::Code::AlreadyExists && generate && attempt < kGenerateNameRetries) {
          obj["metadata"]["name"] = obj["metadata"]["generateName"].get<std::string>() + random_suffix();
          continue;
        }
        throw StatusError(from_store_error(e, kind, name));
      }
    }
  } catch (...) {
    if (allocated) allocator_.release(obj);
    throw;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// update and patch

RecordPtr ObjectService::guaranteed_update(const KindInfo& kind, const std::string& ns, const std::string& name,
                                           const std::string& sub, const WriteOptions& opts,
                                           const std::function<void(json&)>& mutate) {
  std::string k = key(kind, ns, name);
  for (int attempt = 0;; ++attempt) {
    RecordPtr cur = store_.get(k);
    if (!cur) throw StatusError(Status::not_found(kind.plural, name, kind.group));
    const json old = json::parse(cur->value);
    // The mutation starts without a resourceVersion, so that one in its result is the client's precondition (a PUT's
    // object, a patch naming it); a patch that does not name one applies to whatever is current, retried on conflict.
    json obj = old;
    if (obj.contains("metadata") && obj["metadata"].is_object()) obj["metadata"].erase("resourceVersion");
    mutate(obj);
    if (!obj.is_object()) throw StatusError(Status::bad_request("the result must be a JSON object"));
    check_fields(kind, obj, opts, &old);
    json& m = meta(obj);
    std::string want_rv = m.value("resourceVersion", "");
    if (!want_rv.empty() && want_rv != std::to_string(cur->revision))
      throw StatusError(Status::conflict(kind.plural, name,
                                         "the object has been modified; please apply your changes to the latest "
                                         "version and try again",
                                         kind.group));
    m["resourceVersion"] = std::to_string(cur->revision);
    if (m.value("name", name) != name)
      throw StatusError(Status::bad_request("the name of the object (" + m.value("name", "") +
                                            ") does not match the name on the URL (" + name + ")"));
    if (kind.namespaced && m.contains("namespace") && m["namespace"] != ns && m["namespace"] != "")
      throw StatusError(Status::bad_request("the namespace of the provided object does not match the namespace sent "
                                            "on the request"));
    // What a client may not change, whatever it sends.
    obj["apiVersion"] = kind.api_version();
    obj["kind"] = kind.kind;
    m["name"] = name;
    if (kind.namespaced) m["namespace"] = ns;
    const json& om = old["metadata"];
    for (const char* f : {"uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"}) {
      if (om.contains(f))
        m[f] = om[f];
      else
        m.erase(f);
    }
    m.erase("managedFields");
    m.erase("selfLink");
    if (sub == "status") {
      // A status write changes status only.
      json status = obj.value("status", json());
      obj = old;
      obj["status"] = status;
      if (status.is_null()) obj.erase("status");
    } else if (sub.empty() && kind.has_subresource("status")) {
      // The main resource cannot change status when the kind has a status subresource.
      if (old.contains("status")) obj["status"] = old["status"];
      else obj.erase("status");
    }
    if (is_csr(kind)) prepare_csr_for_update(sub, obj, old);
    kind.apply_defaults(obj);
    if (sub != "status" && spec_changed(obj, old)) obj["metadata"]["generation"] = old["metadata"].value("generation", 1) + 1;
    validate(kind, obj, &old, sub);
    admit_node_restriction(kind, obj, &old, sub, request_user());
    if (rbac_escalation_) rbac_escalation_->admit(kind, obj, &old, request_user());
    bool is_service = kind.kind == "Service" && kind.group.empty();
    if (is_service) allocator_.reallocate(old, obj);
    // Nothing changed: no write, no event, same resourceVersion (like kube-apiserver).
    json cmp = obj;
    cmp["metadata"]["resourceVersion"] = std::to_string(cur->revision);
    if (cmp == old) {
      if (is_service) allocator_.release_difference(old, obj);
      return cur;
    }
    // The last finalizer removed from an object being deleted: now it goes.
    if (has_deletion_timestamp(obj) && !has_finalizers(obj) &&
        !(kind.kind == "Pod" && kind.group.empty() && obj.value("/metadata/deletionGracePeriodSeconds"_json_pointer, 0) > 0) &&
        !(kind.kind == "Namespace" && !obj.value("/spec/finalizers"_json_pointer, json::array()).empty())) {
      if (is_service) allocator_.release_difference(old, obj);
      return delete_now(kind, k, cur, obj, opts.dry_run);
    }
    if (opts.dry_run) {
      if (is_service) allocator_.release_difference(old, obj);
      auto r = std::make_shared<Record>(*cur);
      r->value = obj.dump();
      return r;
    }
    try {
      auto rec = store_.update(k, obj, cur->revision);
      if (is_service) allocator_.release_difference(obj, old);
      return rec;
    } catch (const StoreError& e) {
      if (is_service) allocator_.release_difference(old, obj);
      bool client_precondition = !want_rv.empty();
      if ((e.code() == StoreError::Code::Conflict || e.code() == StoreError::Code::NotFound) && !client_precondition &&
          attempt < kMaxUpdateRetries)
        continue;
      throw StatusError(from_store_error(e, kind, name));
    }
  }
}

RecordPtr ObjectService::update(const KindInfo& kind, const std::string& ns, const std::string& name,
                                const std::string& sub, json obj, const WriteOptions& opts) {
  if (!obj.is_object()) throw StatusError(Status::bad_request("the body of the request must be a JSON object"));
  std::string obj_kind = obj.value("kind", "");
  if (!obj_kind.empty() && obj_kind != kind.kind)
    throw StatusError(Status::bad_request("the kind in the data (" + obj_kind + ") does not match the kind of the "
                                          "resource (" + kind.kind + ")"));
  if (!obj.contains("metadata") || !obj["metadata"].is_object() || obj["metadata"].value("name", "") == "")
    throw StatusError(Status::invalid(kind.kind, "", {api::cause_required("metadata.name", "name is required")}, kind.group));
  return guaranteed_update(kind, ns, name, sub, opts, [&](json& cur) {
    // Finalize of a namespace changes spec.finalizers only.
    if (sub == "finalize") {
      cur["spec"]["finalizers"] = obj.value("/spec/finalizers"_json_pointer, json::array());
      if (obj["metadata"].contains("resourceVersion")) cur["metadata"]["resourceVersion"] = obj["metadata"]["resourceVersion"];
      return;
    }
    cur = obj;
  });
}

RecordPtr ObjectService::patch(const KindInfo& kind, const std::string& ns, const std::string& name,
                               const std::string& sub, PatchType type, const json& patch, const WriteOptions& opts,
                               bool* created) {
  if (created) *created = false;
  if (type == PatchType::Apply && sub.empty() && !store_.get(key(kind, ns, name))) {
    json obj = patch;
    if (!obj.is_object()) throw StatusError(Status::bad_request("the apply configuration must be an object"));
    if (obj.value("/metadata/name"_json_pointer, std::string()) != name)
      throw StatusError(Status::bad_request("the name of the object (" + obj.value("/metadata/name"_json_pointer, std::string()) +
                                            ") does not match the name on the URL (" + name + ")"));
    if (created) *created = true;
    return create(kind, ns, obj, opts);
  }
  if ((type == PatchType::Merge || type == PatchType::Strategic || type == PatchType::Apply) && !patch.is_object())
    throw StatusError(Status::bad_request("the patch must be a JSON object"));
  return guaranteed_update(kind, ns, name, sub, opts, [&](json& cur) {
    switch (type) {
      case PatchType::Json: cur = api::json_patch(cur, patch); break;
      case PatchType::Merge: cur = api::merge_patch(cur, patch); break;
      case PatchType::Strategic: cur = api::strategic_merge_patch(cur, patch, kind.schema()); break;
      case PatchType::Apply: {
        // Server-side apply without field ownership tracking: the configuration is merged like a strategic patch,
        // so fields it names are set and fields it does not name are kept.
        json p = patch;
        if (p.contains("metadata")) p["metadata"].erase("resourceVersion");
        cur = api::strategic_merge_patch(cur, p, kind.schema());
        break;
      }
    }
  });
}

// ---------------------------------------------------------------------------------------------------------------
// delete

RecordPtr ObjectService::delete_now(const KindInfo& kind, const std::string& k, const RecordPtr& current, json last,
                                    bool dry_run) {
  if (dry_run) {
    auto r = std::make_shared<Record>(*current);
    r->value = last.dump();
    return r;
  }
  RecordPtr rec;
  try {
    rec = store_.remove(k, last, current->revision);
  } catch (const StoreError& e) {
    throw StatusError(from_store_error(e, kind, str_at(last, "/metadata/name")));
  }
  if (kind.kind == "Service" && kind.group.empty()) allocator_.release(last);
  return rec;
}

ObjectService::DeleteResult ObjectService::remove(const KindInfo& kind, const std::string& ns, const std::string& name,
                                                  const DeleteOptions& opts) {
  if (kind.kind == "Namespace" && (name == "default" || name == "kube-system" || name == "kube-public"))
    throw StatusError(Status::forbidden("namespaces", name, "this namespace may not be deleted"));
  std::string k = key(kind, ns, name);
  for (int attempt = 0;; ++attempt) {
    RecordPtr cur = store_.get(k);
    if (!cur) throw StatusError(Status::not_found(kind.plural, name, kind.group));
    json obj = json::parse(cur->value);
    json& m = meta(obj);
    if (!opts.precondition_uid.empty() && opts.precondition_uid != m.value("uid", ""))
      throw StatusError(Status::conflict(kind.plural, name,
                                         "Precondition failed: UID in precondition: " + opts.precondition_uid +
                                             ", UID in object meta: " + m.value("uid", ""),
                                         kind.group));
    if (!opts.precondition_resource_version.empty() &&
        opts.precondition_resource_version != std::to_string(cur->revision))
      throw StatusError(Status::conflict(kind.plural, name,
                                         "Precondition failed: ResourceVersion in precondition: " +
                                             opts.precondition_resource_version +
                                             ", ResourceVersion in object meta: " + std::to_string(cur->revision),
                                         kind.group));
    bool is_pod = kind.kind == "Pod" && kind.group.empty();
    // How long the object may take to go: pods bound to a node get their grace period for the kubelet to stop them.
    int64_t grace = 0;
    if (is_pod) {
      std::string phase = str_at(obj, "/status/phase");
      bool bound = !str_at(obj, "/spec/nodeName").empty();
      grace = opts.grace_period_seconds.value_or(obj.value("/spec/terminationGracePeriodSeconds"_json_pointer, int64_t(30)));
      if (!bound || phase == "Succeeded" || phase == "Failed") grace = 0;
      if (grace < 0) grace = 1;
    }
    json finalizers = m.value("finalizers", json::array());
    if (!finalizers.is_array()) finalizers = json::array();
    auto add_finalizer = [&](const std::string& f) {
      for (const auto& x : finalizers)
        if (x == f) return;
      finalizers.push_back(f);
    };
    if (opts.propagation_policy == "Foreground") add_finalizer("foregroundDeletion");
    if (opts.propagation_policy == "Orphan") add_finalizer("orphan");
    bool ns_pending = kind.kind == "Namespace" && !obj.value("/spec/finalizers"_json_pointer, json::array()).empty();
    bool already = has_deletion_timestamp(obj);
    if (finalizers.empty() && grace == 0 && !ns_pending) {
      return {delete_now(kind, k, cur, obj, opts.dry_run), true};
    }
    // Graceful: mark, keep. A second delete can only shorten a pod's grace period.
    if (already && is_pod) {
      int64_t existing = m.value("deletionGracePeriodSeconds", int64_t(0));
      if (grace >= existing && finalizers == m.value("finalizers", json::array())) return {cur, false};
      if (grace == 0 && finalizers.empty()) return {delete_now(kind, k, cur, obj, opts.dry_run), true};
    } else if (already && finalizers == m.value("finalizers", json::array())) {
      return {cur, false};
    }
    int64_t now = std::time(nullptr);
    if (!already || is_pod) m["deletionTimestamp"] = format_rfc3339(now + grace);
    m["deletionGracePeriodSeconds"] = grace;
    if (!finalizers.empty()) m["finalizers"] = finalizers;
    if (kind.kind == "Namespace") obj["status"]["phase"] = "Terminating";
    if (opts.dry_run) {
      auto r = std::make_shared<Record>(*cur);
      r->value = obj.dump();
      return {r, false};
    }
    try {
      return {store_.update(k, obj, cur->revision), false};
    } catch (const StoreError& e) {
      if (e.code() == StoreError::Code::Conflict && attempt < kMaxUpdateRetries) continue;
      throw StatusError(from_store_error(e, kind, name));
    }
  }
}

}  // namespace kctl::apiserver
