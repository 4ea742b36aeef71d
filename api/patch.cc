// The patch types of patch.h: RFC 7386, RFC 6902 and the Kubernetes strategic merge patch. The strategic
// part follows k8s.io/apimachinery/pkg/util/strategicpatch/patch.go function by function (Go names in comments).
#include "api/patch.h"

#include <algorithm>
#include <climits>
#include <initializer_list>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "api/status.h"

namespace kctl::api {

using json = nlohmann::json;

namespace {

// ---------------------------------------------------------------------------------------------------------
// RFC 7386 JSON merge patch

json merge_into(json target, const json& patch) {
  if (!patch.is_object()) return patch;
  if (!target.is_object()) target = json::object();
  for (auto p = patch.begin(); p != patch.end(); ++p) {
    if (p->is_null()) {
      target.erase(p.key());
      continue;
    }
    auto t = target.find(p.key());
    json old = t == target.end() ? json() : std::move(*t);
    target[p.key()] = merge_into(std::move(old), *p);
  }
  return target;
}

json merge_diff(const json& original, const json& modified) {
  json patch = json::object();
  for (auto o = original.begin(); o != original.end(); ++o)
    if (!modified.contains(o.key())) patch[o.key()] = nullptr;
  for (auto m = modified.begin(); m != modified.end(); ++m) {
    auto o = original.find(m.key());
    if (o != original.end() && *o == *m) continue;
    // Only objects merge; a changed list or scalar is sent whole.
    if (o != original.end() && o->is_object() && m->is_object())
      patch[m.key()] = merge_diff(*o, *m);
    else
      patch[m.key()] = *m;
  }
  return patch;
}

// ---------------------------------------------------------------------------------------------------------
// RFC 6902 JSON patch

// Copies are the only operation whose output can outgrow its input (each `copy` of the root doubles the
// document), so they get a budget: kube-apiserver's JSONPatchMaxCopyBytes, twice etcd's 1.5 MiB request limit.
constexpr size_t kMaxJsonPatchCopyBytes = 3 * 1024 * 1024;

using Tokens = std::vector<std::string>;

// Which operation is being applied, so that every failure names it.
struct OpSite {
  size_t index = 0;
  std::string op;
  std::string path;

  // kube-apiserver answers an operation that does not apply with 422 Invalid (NewGenericServerResponse).
  [[noreturn]] void fail(const std::string& why) const {
    Status s;
    s.code = 422;
    s.reason = "Invalid";
    s.message = "json patch operation #" + std::to_string(index);
    if (!op.empty()) s.message += " (" + op + " at \"" + path + "\")";
    s.message += " failed: " + why;
    s.causes.push_back({"UnexpectedServerResponse", s.message, ""});
    throw StatusError(std::move(s));
  }
};

std::string short_dump(const json& v) {
  std::string s = v.dump();
  return s.size() > 80 ? s.substr(0, 77) + "..." : s;
}

Tokens parse_pointer(const std::string& pointer, const OpSite& site) {
  Tokens tokens;
  if (pointer.empty()) return tokens;
  if (pointer[0] != '/') site.fail("JSON pointer \"" + pointer + "\" must be empty or start with '/'");
  for (size_t pos = 1;;) {
    size_t end = pointer.find('/', pos);
    std::string raw = pointer.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    std::string token;
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] != '~') {
        token += raw[i];
      } else if (i + 1 < raw.size() && (raw[i + 1] == '0' || raw[i + 1] == '1')) {
        token += raw[++i] == '0' ? '~' : '/';
      } else {
        site.fail("JSON pointer \"" + pointer + "\" has a '~' not followed by '0' or '1'");
      }
    }
    tokens.push_back(std::move(token));
    if (end == std::string::npos) return tokens;
    pos = end + 1;
  }
}

// RFC 6901 array indices: decimal digits without leading zeros.
std::optional<size_t> array_index(const std::string& token) {
  if (token.empty() || token.size() > 15) return std::nullopt;
  if (token.size() > 1 && token[0] == '0') return std::nullopt;
  for (char c : token)
    if (c < '0' || c > '9') return std::nullopt;
  return std::stoull(token);
}

// The value the first `count` tokens point at, or nullptr.
json* find_value(json& doc, const Tokens& tokens, size_t count) {
  json* cur = &doc;
  for (size_t i = 0; i < count; ++i) {
    if (cur->is_object()) {
      auto it = cur->find(tokens[i]);
      if (it == cur->end()) return nullptr;
      cur = &*it;
    } else if (cur->is_array()) {
      auto idx = array_index(tokens[i]);
      if (!idx || *idx >= cur->size()) return nullptr;
      cur = &(*cur)[*idx];
    } else {
      return nullptr;
    }
  }
  return cur;
}

void add_value(json& doc, const Tokens& t, json value, const OpSite& site) {
  if (t.empty()) {
    doc = std::move(value);
    return;
  }
  json* parent = find_value(doc, t, t.size() - 1);
  if (!parent) site.fail("the parent of the target location does not exist");
  const std::string& last = t.back();
  if (parent->is_object()) {
    (*parent)[last] = std::move(value);
    return;
  }
  if (!parent->is_array()) site.fail("the parent of the target location is not an object or an array");
  if (last == "-") {
    parent->push_back(std::move(value));
    return;
  }
  auto idx = array_index(last);
  if (!idx) site.fail("\"" + last + "\" is not an array index");
  if (*idx > parent->size())
    site.fail("array index " + last + " is out of range (the array has " + std::to_string(parent->size()) +
              " elements)");
  parent->insert(parent->begin() + static_cast<std::ptrdiff_t>(*idx), std::move(value));
}

void remove_value(json& doc, const Tokens& t, const OpSite& site) {
  if (t.empty()) site.fail("the whole document cannot be removed");
  json* parent = find_value(doc, t, t.size() - 1);
  if (parent && parent->is_object() && parent->erase(t.back()) == 1) return;
  if (parent && parent->is_array()) {
    auto idx = array_index(t.back());
    if (idx && *idx < parent->size()) {
      parent->erase(*idx);
      return;
    }
  }
  site.fail("the target location does not exist");
}

const json& op_member(const json& op, const char* name, const OpSite& site) {
  auto it = op.find(name);
  if (it == op.end()) site.fail(std::string("the operation has no \"") + name + "\" member");
  return *it;
}

class JsonPatcher {
 public:
  explicit JsonPatcher(json doc) : doc_(std::move(doc)) {}
  void apply(size_t index, const json& op);
  json take() { return std::move(doc_); }

 private:
  json& value_at(const std::string& pointer, const OpSite& site, const char* what);

  json doc_;
  size_t copied_bytes_ = 0;
};

json& JsonPatcher::value_at(const std::string& pointer, const OpSite& site, const char* what) {
  Tokens t = parse_pointer(pointer, site);
  json* v = find_value(doc_, t, t.size());
  if (!v) site.fail(std::string("the ") + what + " location \"" + pointer + "\" does not exist");
  return *v;
}

void JsonPatcher::apply(size_t index, const json& op) {
  OpSite site{index, "", ""};
  if (!op.is_object()) throw_bad_request("json patch operation #" + std::to_string(index) + " is not a JSON object");
  const json& name = op_member(op, "op", site);
  const json& path = op_member(op, "path", site);
  if (!name.is_string()) site.fail("\"op\" must be a string");
  site.op = name.get<std::string>();
  if (!path.is_string()) site.fail("\"path\" must be a string");
  site.path = path.get<std::string>();
  Tokens target = parse_pointer(site.path, site);

  if (site.op == "add") {
    add_value(doc_, target, op_member(op, "value", site), site);
  } else if (site.op == "remove") {
    remove_value(doc_, target, site);
  } else if (site.op == "replace") {
    json* v = find_value(doc_, target, target.size());
    if (!v) site.fail("the target location does not exist");
    *v = op_member(op, "value", site);
  } else if (site.op == "test") {
    const json& actual = value_at(site.path, site, "target");
    const json& expected = op_member(op, "value", site);
    if (actual != expected) site.fail("the value is " + short_dump(actual) + ", not " + short_dump(expected));
  } else if (site.op == "move" || site.op == "copy") {
    const json& from = op_member(op, "from", site);
    if (!from.is_string()) site.fail("\"from\" must be a string");
    Tokens source = parse_pointer(from.get<std::string>(), site);
    json value = value_at(from.get<std::string>(), site, "\"from\"");  // a copy: move removes the source
    if (site.op == "move") {
      if (source == target) return;
      if (target.size() > source.size() && std::equal(source.begin(), source.end(), target.begin()))
        site.fail("a value cannot be moved into one of its own children");
      remove_value(doc_, source, site);
    } else {
      copied_bytes_ += value.dump().size();
      if (copied_bytes_ > kMaxJsonPatchCopyBytes)
        site.fail("the copies of this patch add more than " + std::to_string(kMaxJsonPatchCopyBytes) + " bytes");
    }
    add_value(doc_, target, std::move(value), site);
  } else {
    site.fail("unknown operation \"" + site.op + "\"");
  }
}

// ---------------------------------------------------------------------------------------------------------
// Strategic merge patch: directives, schema lookups, list element helpers

constexpr char kDirective[] = "$patch";
constexpr char kRetainKeys[] = "$retainKeys";
constexpr char kDeletePrefix[] = "$deleteFromPrimitiveList";
constexpr char kOrderPrefix[] = "$setElementOrder";
constexpr char kBadPrimitiveList[] = "invalid patch format of primitive list";
constexpr char kBadOrderList[] = "invalid patch format of setElementOrder list";
constexpr char kBadRetainKeys[] = "invalid patch format of retainKeys";

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

// extractKey: "$setElementOrder/containers" -> "containers".
std::string directive_field(const std::string& key, const std::string& prefix, const char* error) {
  size_t slash = key.find('/');
  if (slash == std::string::npos || key.substr(0, slash) != prefix || slash + 1 == key.size())
    throw_bad_request(std::string(error) + ": bad key \"" + key + "\"");
  return key.substr(slash + 1);
}

// Where a value sits in the schema: a struct, the values of a map[...] field, or unknown.
struct Shape {
  const TypeDef* def = nullptr;
  const TypeRef* map_value = nullptr;
};

// The patch metadata of one field (forkedjson.LookupPatchMetadata plus extractRetainKeysPatchStrategy).
struct FieldMeta {
  const TypeRef* type = nullptr;  // nullptr: not in the schema
  bool merge = false;
  bool replace = false;
  bool retain_keys = false;
  std::string merge_key;
};

FieldMeta lookup(const Shape& shape, const std::string& key) {
  FieldMeta meta;
  if (shape.map_value) {
    meta.type = shape.map_value;  // map values carry no strategy, as in Go
  } else if (const FieldDef* f = shape.def ? shape.def->field(key) : nullptr) {
    meta.type = &f->type;
    meta.merge_key = f->merge_key;
    size_t pos = 0;
    while (pos <= f->patch_strategy.size()) {
      size_t comma = f->patch_strategy.find(',', pos);
      std::string s = f->patch_strategy.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
      meta.merge |= s == "merge";
      meta.replace |= s == "replace";
      meta.retain_keys |= s == "retainKeys";
      if (comma == std::string::npos) break;
      pos = comma + 1;
    }
  }
  return meta;
}

Shape shape_of(const TypeRef* t) {
  if (t && t->kind == TypeRef::Kind::Named) return {t->named, nullptr};
  if (t && t->kind == TypeRef::Kind::Map) return {nullptr, t->elem.get()};
  return {};
}

// The shape of a field's value if it is an object, or of its elements if it is a list.
Shape child_shape(const FieldMeta& meta) {
  if (meta.type && meta.type->is_list()) return shape_of(meta.type->elem.get());
  return shape_of(meta.type);
}

enum class Cat { Null, Object, Array, String, Number, Bool };

Cat category(const json& v) {
  if (v.is_object()) return Cat::Object;
  if (v.is_array()) return Cat::Array;
  if (v.is_string()) return Cat::String;
  if (v.is_number()) return Cat::Number;
  if (v.is_boolean()) return Cat::Bool;
  return Cat::Null;
}

// sliceElementType: the one kind of element all lists share; nullopt when they are all empty.
std::optional<Cat> element_category(std::initializer_list<const json*> lists) {
  std::optional<Cat> cat;
  for (const json* list : lists) {
    for (const json& v : *list) {
      Cat c = category(v);
      if (c == Cat::Array) throw_bad_request("lists of lists are not supported");
      if (cat && *cat != c) throw_bad_request("list element types are not identical: " + short_dump(*list));
      cat = c;
    }
  }
  return cat;
}

// Go's fmt "%v" of a scalar, which orders list elements and merge keys when diffing.
std::string go_string(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "<nil>";
  return v.dump();
}

const json& merge_key_value(const json& elem, const std::string& key) {
  if (!elem.is_object())
    throw_bad_request("expected a map in a list merged by \"" + key + "\", got " + short_dump(elem));
  auto it = elem.find(key);
  if (it == elem.end()) throw_bad_request("map: " + short_dump(elem) + " does not contain declared merge key: " + key);
  return *it;
}

bool has_directive(const json& v) { return v.is_object() && v.contains(kDirective); }
bool is_delete(const json& v) { return has_directive(v) && v.at(kDirective) == "delete"; }

// mergeKeyValueEqual
bool same_element(const json& left, const json& right, const std::string& key) {
  if (key.empty()) return left == right;
  return merge_key_value(left, key) == merge_key_value(right, key);
}

// Go's index(): the first position of an element in a list, by merge key for maps and by value otherwise.
// A map rather than Go's linear scan, which runs inside sorts and turns a long list from a user quadratic.
class ElementIndex {
 public:
  ElementIndex(const json& list, const std::string& key, bool maps) : key_(key), maps_(maps) {
    for (size_t i = 0; i < list.size(); ++i) add(list[i], static_cast<long>(i));
  }
  void add(const json& v, long position) { first_.emplace(key_of(v), position); }
  long find(const json& v) const {
    auto it = first_.find(key_of(v));
    return it == first_.end() ? -1 : it->second;
  }
  bool contains(const json& v) const { return find(v) >= 0; }

 private:
  // (has the key, its value): elements without the key match each other, as nil == nil does in Go.
  std::pair<bool, json> key_of(const json& item) const {
    if (!maps_) return {true, item};
    auto it = item.is_object() ? item.find(key_) : item.end();
    if (!item.is_object() || it == item.end()) return {false, nullptr};
    return {true, *it};
  }

  std::string key_;
  bool maps_;
  std::map<std::pair<bool, json>, long> first_;
};

// A set of JSON values, for unions and deletions in lists of primitives.
std::set<json> value_set(const json& list) { return std::set<json>(list.begin(), list.end()); }

// normalizeSliceOrder: sort by position in `order`; `$patch: delete` elements go last.
json normalize_slice_order(json to_sort, const json& order, const std::string& key, bool maps) {
  json deletes = json::array();
  if (maps) {
    for (const json& e : to_sort) merge_key_value(e, key);
    for (const json& e : order) merge_key_value(e, key);
    json keep = json::array();
    for (json& e : to_sort) (is_delete(e) ? deletes : keep).push_back(std::move(e));
    to_sort = std::move(keep);
  }
  ElementIndex index(order, key, maps);
  std::vector<std::pair<long, size_t>> ranks;
  for (size_t i = 0; i < to_sort.size(); ++i) {
    long idx = index.find(to_sort[i]);
    ranks.emplace_back(idx < 0 ? LONG_MAX : idx, i);
  }
  std::stable_sort(ranks.begin(), ranks.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  json out = json::array();
  for (const auto& r : ranks) out.push_back(std::move(to_sort[r.second]));
  for (json& d : deletes) out.push_back(std::move(d));
  return out;
}

// mergeSortedSlice: interleave server-only items (left) with patch items (right), keeping the relative
// order of each; a server-only item goes first only if the live list had it before the patch item.
json merge_sorted(const json& left, const json& right, const json& server_order, const std::string& key, bool maps) {
  ElementIndex index(server_order, key, maps);
  json out = json::array();
  size_t i = 0, j = 0;
  while (i < left.size() || j < right.size()) {
    if (i >= left.size()) {
      out.push_back(right[j++]);
    } else if (j >= right.size()) {
      out.push_back(left[i++]);
    } else {
      long li = index.find(left[i]), ri = index.find(right[j]);
      out.push_back(li >= 0 && ri >= 0 && li < ri ? left[i++] : right[j++]);
    }
  }
  return out;
}

// normalizeElementOrder: precedence is patch order (or $setElementOrder) > live order.
json normalize_element_order(const json& patch_items, const json& server_only, const json& patch_order,
                             const json& server_order, const std::string& key, bool maps) {
  return merge_sorted(normalize_slice_order(server_only, server_order, key, maps),
                      normalize_slice_order(patch_items, patch_order, key, maps), server_order, key, maps);
}

// partitionMapsByPresentInList / partitionPrimitivesByPresentInList: (items in `by`, the others).
std::pair<json, json> partition(const json& merged, const json& by, const std::string& key, bool maps) {
  if (maps)
    for (const json& b : by)
      if (!b.is_object()) throw_bad_request("list element " + short_dump(b) + " is not a map");
  ElementIndex index(by, key, maps);
  json in = json::array(), out = json::array();
  for (const json& v : merged) {
    if (maps) merge_key_value(v, key);
    (index.contains(v) ? in : out).push_back(v);
  }
  return {std::move(in), std::move(out)};
}

// validatePatchWithSetOrderList: the patch list must be in $setElementOrder's order (deletions aside).
void validate_order(const json& patch_list, const json& order, const std::string& key) {
  if (order.empty() || patch_list.empty()) return;
  std::vector<const json*> items;
  for (const json& e : patch_list) {
    if (!key.empty() && !e.is_object()) throw_bad_request(std::string(kBadOrderList) + ": " + short_dump(e));
    if (key.empty() || !is_delete(e)) items.push_back(&e);
  }
  size_t pi = 0, oi = 0;
  while (pi < items.size() && oi < order.size()) {
    if (has_directive(*items[pi])) {
      ++pi;
      continue;
    }
    if (same_element(*items[pi], order[oi], key)) ++pi;
    ++oi;
  }
  if (pi < items.size())
    throw_bad_request("the order in patch list " + short_dump(patch_list) + " doesn't match $setElementOrder list " +
                      short_dump(order));
}

// ---------------------------------------------------------------------------------------------------------
// Strategic merge patch: merging (mergeMap and friends)

// A patch list split by mergeSliceWithSpecialElements.
struct SpecialElements {
  json remaining = json::array();  // the live elements no `$patch: delete` removed
  json plain = json::array();      // the patch elements without a directive
  bool replace = false;            // a `{"$patch": "replace"}` element: the plain elements are the whole list
};

// Apply merges a patch into a live object (StrategicMergeMapPatch: MergeParallelList, IgnoreUnmatchedNulls).
// CombinePatches merges two patches into one for the three-way patch, keeping directives and nulls.
enum class MergeMode { Apply, CombinePatches };

class StrategicMerger {
 public:
  explicit StrategicMerger(MergeMode mode) : mode_(mode) {}
  json merge_map(json original, json patch, const Shape& shape) const;

 private:
  void apply_retain_keys(json& original, json& patch) const;
  void merge_ordered_lists(json& original, json& patch, const Shape& shape) const;
  void merge_ordered_list(json& original, json& patch, const std::string& field, const json& order,
                          const FieldMeta& meta) const;
  void merge_field(json& original, const std::string& key, json value, const Shape& shape) const;
  json merge_slice(json original, json patch, const Shape& elem, const std::string& key,
                   json* live_view = nullptr) const;
  SpecialElements split_special_elements(json original, const json& patch, const std::string& key) const;
  json merge_elements(json original, const json& patch, const Shape& elem, const std::string& key) const;
  json fresh(json value, const FieldMeta& meta) const;

  MergeMode mode_;
};

json StrategicMerger::merge_map(json original, json patch, const Shape& shape) const {
  if (auto d = patch.find(kDirective); d != patch.end()) {
    std::string directive = d->is_string() ? d->get<std::string>() : d->dump();
    if (directive == "delete") return json::object();  // Go leaves an empty map, not a missing one
    if (directive != "replace" && directive != "merge")
      throw_bad_request("unknown patch type: " + directive + " in map: " + short_dump(patch));
    patch.erase(kDirective);
    if (directive == "replace") {
      if (mode_ == MergeMode::CombinePatches) return patch;
      original = json::object();  // merging into nothing still drops nulls and applies nested directives
    }
  }
  if (!original.is_object()) original = json::object();
  apply_retain_keys(original, patch);
  merge_ordered_lists(original, patch, shape);
  for (auto p = patch.begin(); p != patch.end(); ++p) merge_field(original, p.key(), std::move(*p), shape);
  return original;
}

// applyRetainKeysDirective: keep only the listed keys of the original; the patch may only set listed keys.
void StrategicMerger::apply_retain_keys(json& original, json& patch) const {
  auto it = patch.find(kRetainKeys);
  if (it == patch.end()) return;
  json keys = std::move(*it);
  patch.erase(it);
  if (mode_ == MergeMode::CombinePatches) {
    auto o = original.find(kRetainKeys);
    if (o == original.end()) original[kRetainKeys] = std::move(keys);
    else if (*o != keys) throw_bad_request(std::string(kBadRetainKeys) + ": the two patches disagree");
    return;
  }
  if (!keys.is_array()) throw_bad_request(std::string(kBadRetainKeys) + ": $retainKeys must be a list");
  std::set<json> listed = value_set(keys);
  auto retained = [&](const std::string& k) { return listed.count(json(k)) > 0; };
  for (auto p = patch.begin(); p != patch.end(); ++p) {
    if (p->is_null() || starts_with(p.key(), kDeletePrefix) || starts_with(p.key(), kOrderPrefix)) continue;
    if (!retained(p.key()))
      throw_bad_request("patch content doesn't match retainKeys list: \"" + p.key() + "\" is not in $retainKeys");
  }
  for (auto o = original.begin(); o != original.end();) o = retained(o.key()) ? std::next(o) : original.erase(o);
}

// mergePatchIntoOriginal: merge each list that has a $setElementOrder directive, then put it in that order.
void StrategicMerger::merge_ordered_lists(json& original, json& patch, const Shape& shape) const {
  std::vector<std::string> keys;
  for (auto p = patch.begin(); p != patch.end(); ++p)
    if (starts_with(p.key(), kOrderPrefix)) keys.push_back(p.key());
  for (const std::string& key : keys) {
    json order = std::move(patch[key]);
    patch.erase(key);
    if (mode_ == MergeMode::CombinePatches) {
      auto o = original.find(key);
      if (o == original.end()) original[key] = order;
      else if (*o != order) throw_bad_request(std::string(kBadOrderList) + ": the two patches disagree");
    }
    if (!order.is_array()) throw_bad_request(std::string(kBadOrderList) + ": " + key + " must be a list");
    std::string field = directive_field(key, kOrderPrefix, kBadOrderList);
    FieldMeta meta = lookup(shape, field);
    // Go fails on fields without a merge strategy; ordering a list that is replaced anyway means nothing.
    if (meta.merge) merge_ordered_list(original, patch, field, order, meta);
  }
}

void StrategicMerger::merge_ordered_list(json& original, json& patch, const std::string& field, const json& order,
                                         const FieldMeta& meta) const {
  auto o = original.find(field);
  auto p = patch.find(field);
  bool has_o = o != original.end() && !o->is_null();
  bool has_p = p != patch.end();
  if (!has_p && !has_o) return;
  if (has_p && p->is_null()) return;  // the list is deleted; the main loop does that
  if ((has_o && !o->is_array()) || (has_p && !p->is_array()))
    throw_bad_request("\"" + field + "\" must be a list to be ordered by " + kOrderPrefix);
  json orig_list = has_o ? *o : json::array();
  json patch_list = has_p ? *p : json::array();
  validate_order(patch_list, order, meta.merge_key);
  json merged, live_view = orig_list;
  if (!has_p) merged = orig_list;
  else if (!has_o) merged = fresh(patch_list, meta);
  else merged = merge_slice(orig_list, patch_list, child_shape(meta), meta.merge_key, &live_view);
  if (has_p) patch.erase(field);
  auto cat = element_category({&orig_list, &patch_list});
  if (merged.empty() || !cat) {
    original[field] = std::move(merged);
    return;
  }
  bool maps = *cat == Cat::Object && !meta.merge_key.empty();
  auto [in, out] = partition(merged, order, meta.merge_key, maps);
  original[field] = normalize_element_order(in, out, order, live_view, meta.merge_key, maps);
}

void StrategicMerger::merge_field(json& original, const std::string& key, json value, const Shape& shape) const {
  if (starts_with(key, kDeletePrefix)) {
    if (mode_ == MergeMode::CombinePatches) {
      original[key] = std::move(value);
      return;
    }
    std::string field = directive_field(key, kDeletePrefix, kBadPrimitiveList);
    if (!value.is_array()) throw_bad_request(std::string(kBadPrimitiveList) + ": " + key + " must be a list");
    // Go stores the deletion list itself when the list is missing; deleting from nothing is nothing.
    auto it = original.find(field);
    if (it == original.end() || it->is_null()) return;
    if (!it->is_array()) throw_bad_request("\"" + field + "\" is not a list, so " + key + " cannot apply");
    std::set<json> doomed = value_set(value);
    json kept = json::array();
    for (json& v : *it)
      if (!doomed.count(v)) kept.push_back(std::move(v));
    *it = std::move(kept);
    return;
  }
  if (value.is_null()) {
    original.erase(key);
    if (mode_ == MergeMode::CombinePatches) original[key] = nullptr;  // the null is the deletion
    return;
  }
  FieldMeta meta = lookup(shape, key);
  auto it = original.find(key);
  if (it == original.end() || category(*it) != category(value)) {
    original[key] = fresh(std::move(value), meta);
  } else if (value.is_object()) {
    *it = meta.replace ? fresh(std::move(value), meta) : merge_map(std::move(*it), std::move(value), child_shape(meta));
  } else if (value.is_array() && meta.merge) {
    *it = merge_slice(std::move(*it), std::move(value), child_shape(meta), meta.merge_key);
  } else {
    *it = fresh(std::move(value), meta);
  }
}

// A patch value that lands where nothing was. Go copies it verbatim and lets decoding into the typed struct
// drop nulls and directives; we keep JSON, so we merge maps into an empty value to the same effect.
// Lists of primitives stay verbatim, duplicates included, as in Go.
json StrategicMerger::fresh(json value, const FieldMeta& meta) const {
  if (mode_ == MergeMode::CombinePatches) return value;
  if (value.is_object()) return merge_map(json::object(), std::move(value), child_shape(meta));
  if (value.is_array() && meta.merge && element_category({&value}) == Cat::Object)
    return merge_slice(json::array(), std::move(value), child_shape(meta), meta.merge_key);
  return value;
}

// mergeSlice: primitives become a union; maps merge by `key`; the result follows the patch's order.
// `live_view` receives what Go's caller still sees of the live list afterwards: Go deletes `$patch: delete`
// elements in place and appends new elements into the slots that freed, and mergePatchIntoOriginal orders
// the result by that view. Reproducing it reproduces kube-apiserver's list order.
json StrategicMerger::merge_slice(json original, json patch, const Shape& elem, const std::string& key,
                                  json* live_view) const {
  if (original.empty() && patch.empty()) return original;
  bool maps = element_category({&original, &patch}) == Cat::Object;
  json merged = json::array();
  if (!maps) {
    std::set<json> seen;
    for (const json* list : {&original, &patch})
      for (const json& v : *list)
        if (seen.insert(v).second) merged.push_back(v);
    if (live_view) *live_view = original;
  } else {
    if (key.empty()) throw_bad_request("cannot merge lists of maps without a merge key");
    size_t live_size = original.size();
    SpecialElements special = split_special_elements(std::move(original), patch, key);
    json view = special.remaining;
    if (special.replace) {
      original = std::move(special.plain);
      if (mode_ == MergeMode::Apply)
        for (json& v : original) v = merge_map(json::object(), std::move(v), elem);
      patch = json::array();
    } else {
      original = std::move(special.remaining);
      patch = std::move(special.plain);
    }
    merged = merge_elements(original, patch, elem, key);
    for (size_t i = view.size(); !special.replace && i < merged.size() && i < live_size; ++i) view.push_back(merged[i]);
    if (live_view) *live_view = std::move(view);
  }
  auto [in, out] = partition(merged, patch, key, maps);
  return normalize_element_order(in, out, patch, original, key, maps);
}

// mergeSliceWithSpecialElements: apply the `$patch` elements of a patch list. Each `$patch: delete` removes
// the first live element with its key (deleteMatchingEntry), so duplicates need one directive each.
SpecialElements StrategicMerger::split_special_elements(json original, const json& patch, const std::string& key) const {
  SpecialElements out;
  std::map<json, std::vector<size_t>> positions;  // live positions by key, descending: back() is the first
  for (size_t i = original.size(); i-- > 0;)
    if (original[i].is_object() && original[i].contains(key)) positions[original[i].at(key)].push_back(i);
  std::vector<bool> deleted(original.size(), false);
  for (const json& v : patch) {
    auto d = v.find(kDirective);
    if (d == v.end()) {
      out.plain.push_back(v);
      continue;
    }
    std::string directive = d->is_string() ? d->get<std::string>() : d->dump();
    if (directive == "delete") {
      auto p = positions.find(merge_key_value(v, key));
      if (p != positions.end() && !p->second.empty()) {
        deleted[p->second.back()] = true;
        p->second.pop_back();
      }
    } else if (directive == "replace") {
      out.replace = true;
    } else if (directive == "merge") {
      // Go rejects this ("merging lists cannot yet be specified"); merging is what happens anyway.
      json rest = v;
      rest.erase(kDirective);
      if (!rest.empty()) out.plain.push_back(std::move(rest));
    } else {
      throw_bad_request("unknown patch type: " + directive + " in map: " + short_dump(v));
    }
  }
  for (size_t i = 0; i < original.size(); ++i)
    if (!deleted[i]) out.remaining.push_back(std::move(original[i]));
  return out;
}

// mergeSliceWithoutSpecialElements: merge elements with a matching key, append the others.
json StrategicMerger::merge_elements(json original, const json& patch, const Shape& elem, const std::string& key) const {
  ElementIndex index(original, key, true);
  for (const json& v : patch) {
    merge_key_value(v, key);
    long match = index.find(v);
    if (match >= 0) {
      json& live = original[static_cast<size_t>(match)];
      live = merge_map(std::move(live), v, elem);
    } else {
      original.push_back(mode_ == MergeMode::Apply ? merge_map(json::object(), v, elem) : v);
      index.add(v, static_cast<long>(original.size() - 1));
    }
  }
  return original;
}

// ---------------------------------------------------------------------------------------------------------
// Strategic merge patch: diffing (diffMaps and friends)

struct DiffOptions {
  bool set_element_order = false;
  bool ignore_changes = false;    // IgnoreChangesAndAdditions
  bool ignore_deletions = false;
  bool build_retain_keys = false;
};

json diff_maps(const json& original, const json& modified, const Shape& shape, const DiffOptions& opts);

std::vector<const json*> sorted_elements(const json& list, const std::string& key) {
  std::vector<std::pair<std::string, const json*>> keyed;
  for (const json& e : list) keyed.emplace_back(go_string(key.empty() ? e : merge_key_value(e, key)), &e);
  std::stable_sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<const json*> out;
  for (const auto& k : keyed) out.push_back(k.second);
  return out;
}

// diffListsOfMaps: (changed and added elements, `$patch: delete` elements), walking both lists sorted by key.
std::pair<json, json> diff_map_lists(const json& original, const json& modified, const Shape& elem,
                                     const std::string& key, const DiffOptions& opts) {
  json patch = json::array(), deletions = json::array();
  auto o = sorted_elements(original, key), m = sorted_elements(modified, key);
  size_t i = 0, j = 0;
  while (i < o.size() || j < m.size()) {
    std::string os = i < o.size() ? go_string(merge_key_value(*o[i], key)) : "";
    std::string ms = j < m.size() ? go_string(merge_key_value(*m[j], key)) : "";
    if (i < o.size() && j < m.size() && os == ms) {
      json sub = diff_maps(*o[i], *m[j], elem, opts);
      if (!sub.empty()) {
        sub[key] = merge_key_value(*m[j], key);
        patch.push_back(std::move(sub));
      }
      ++i, ++j;
    } else if (i >= o.size() || (j < m.size() && os > ms)) {
      if (!opts.ignore_changes) patch.push_back(*m[j]);
      ++j;
    } else {
      if (!opts.ignore_deletions) deletions.push_back(json::object({{key, merge_key_value(*o[i], key)}, {kDirective, "delete"}}));
      ++i;
    }
  }
  return {std::move(patch), std::move(deletions)};
}

// diffListsOfScalars: (added values, deleted values).
std::pair<json, json> diff_scalar_lists(const json& original, const json& modified, const DiffOptions& opts) {
  json adds = json::array(), dels = json::array();
  std::set<json> deleted;
  auto o = sorted_elements(original, ""), m = sorted_elements(modified, "");
  size_t i = 0, j = 0;
  while (i < o.size() || j < m.size()) {
    std::string os = i < o.size() ? go_string(*o[i]) : "", ms = j < m.size() ? go_string(*m[j]) : "";
    if (i < o.size() && j < m.size() && os == ms) {
      ++i, ++j;
    } else if (i >= o.size() || (j < m.size() && os > ms)) {
      if (!opts.ignore_changes) adds.push_back(*m[j]);
      ++j;
    } else {
      if (!opts.ignore_deletions && deleted.insert(*o[i]).second) dels.push_back(*o[i]);
      ++i;
    }
  }
  return {std::move(adds), std::move(dels)};
}

bool same_order(const json& original, const json& modified, const std::string& key) {
  if (original.size() != modified.size()) return false;
  for (size_t i = 0; i < modified.size(); ++i)
    if (!same_element(original[i], modified[i], key)) return false;
  return true;
}

struct ListDiff {
  json add = json::array();    // the patch list: changes, additions, then `$patch: delete` elements
  json del = json::array();    // $deleteFromPrimitiveList
  json order = json::array();  // $setElementOrder
};

// diffLists, for a list whose strategy is merge.
ListDiff diff_lists(const json& original, const json& modified, const Shape& elem, const std::string& key,
                    const DiffOptions& opts) {
  ListDiff d;
  if (original.empty()) {
    if (!opts.ignore_changes) d.add = modified;
    return d;
  }
  if (element_category({&original, &modified}) == Cat::Object) {
    if (key.empty()) throw_bad_request("cannot diff lists of maps without a merge key");
    auto [changes, deletions] = diff_map_lists(original, modified, elem, key, opts);
    d.add = normalize_slice_order(std::move(changes), modified, key, true);
    for (json& x : deletions) d.add.push_back(std::move(x));
    bool changed = !d.add.empty();
    if (opts.set_element_order && ((!opts.ignore_changes && (changed || !same_order(original, modified, key))) ||
                                   (!opts.ignore_deletions && changed)))
      for (const json& v : modified) d.order.push_back(json::object({{key, merge_key_value(v, key)}}));
  } else {
    auto [adds, dels] = diff_scalar_lists(original, modified, opts);
    d.add = normalize_slice_order(std::move(adds), modified, key, false);
    d.del = std::move(dels);
    if (opts.set_element_order &&
        ((!opts.ignore_deletions && !d.del.empty()) || (!opts.ignore_changes && original != modified)))
      d.order = modified;
  }
  return d;
}

// handleMapDiff
void diff_map_field(const std::string& key, const json& o, const json& m, json& patch, const Shape& shape,
                    DiffOptions opts) {
  FieldMeta meta = lookup(shape, key);
  opts.build_retain_keys = meta.retain_keys;
  if (meta.replace) {
    if (!opts.ignore_changes && o != m) patch[key] = m;
    return;
  }
  json sub = diff_maps(o, m, child_shape(meta), opts);
  if (!sub.empty()) patch[key] = std::move(sub);
}

// handleSliceDiff
void diff_list_field(const std::string& key, const json& o, const json& m, json& patch, const Shape& shape,
                     DiffOptions opts) {
  FieldMeta meta = lookup(shape, key);
  if (!meta.merge) {
    if (!opts.ignore_changes && o != m) patch[key] = m;
    return;
  }
  opts.build_retain_keys = meta.retain_keys;
  ListDiff d = diff_lists(o, m, child_shape(meta), meta.merge_key, opts);
  if (!d.add.empty()) patch[key] = std::move(d.add);
  if (!d.del.empty()) patch[std::string(kDeletePrefix) + "/" + key] = std::move(d.del);
  if (!d.order.empty()) patch[std::string(kOrderPrefix) + "/" + key] = std::move(d.order);
}

bool has_additional_new_field(const json& original, const json& modified) {
  for (auto o = original.begin(); o != original.end(); ++o)
    if (!o->is_null() && !modified.contains(o.key())) return true;
  return false;
}

json diff_maps(const json& original, const json& modified, const Shape& shape, const DiffOptions& opts) {
  json patch = json::object();
  json retain = json::array();  // object keys iterate sorted, as Go's sortScalars leaves them
  for (auto m = modified.begin(); m != modified.end(); ++m) {
    const std::string& key = m.key();
    if (opts.build_retain_keys && !m->is_null()) retain.push_back(key);
    auto o = original.find(key);
    if (o == original.end() || category(*o) != category(*m)) {
      if (!opts.ignore_changes) patch[key] = *m;
    } else if (key == kDirective) {
      if (!o->is_string() || !m->is_string()) throw_bad_request("invalid value for special key: $patch");
      if (*o != *m) patch[key] = *m;
    } else if (m->is_object()) {
      diff_map_field(key, *o, *m, patch, shape, opts);
    } else if (m->is_array()) {
      diff_list_field(key, *o, *m, patch, shape, opts);
    } else if (!opts.ignore_changes && *o != *m) {
      patch[key] = *m;
    }
  }
  if (!opts.ignore_deletions)
    for (auto o = original.begin(); o != original.end(); ++o)
      if (!modified.contains(o.key())) patch[o.key()] = nullptr;
  if (!retain.empty() && (!patch.empty() || has_additional_new_field(original, modified)))
    patch[kRetainKeys] = std::move(retain);
  return patch;
}

// ---------------------------------------------------------------------------------------------------------
// Strategic merge patch: conflicts for apply without --overwrite (MergingMapsHaveConflicts)

bool have_conflicts(const json& left, const json& right, const Shape& shape, const FieldMeta& meta);

bool maps_have_conflicts(const json& left, const json& right, const Shape& shape) {
  for (auto l = left.begin(); l != left.end(); ++l) {
    if (l.key() == kDirective || l.key() == kRetainKeys) continue;
    auto r = right.find(l.key());
    if (r == right.end()) continue;
    FieldMeta meta = lookup(shape, l.key());
    if (have_conflicts(*l, *r, child_shape(meta), meta)) return true;
  }
  return false;
}

bool lists_have_conflicts(const json& left, const json& right, const Shape& elem, const FieldMeta& meta) {
  auto cat = element_category({&left, &right});
  if (!cat) return false;
  if (meta.merge) {
    if (*cat != Cat::Object) return false;  // merging primitives never conflicts
    for (const json& r : right) merge_key_value(r, meta.merge_key);
    ElementIndex index(right, meta.merge_key, true);
    for (const json& l : left) {
      merge_key_value(l, meta.merge_key);
      long r = index.find(l);
      if (r >= 0 && have_conflicts(l, right[static_cast<size_t>(r)], elem, {})) return true;
    }
    return false;
  }
  if (left.size() != right.size()) return true;
  std::vector<const json*> ls, rs;
  if (*cat == Cat::Object) {
    for (size_t i = 0; i < left.size(); ++i) ls.push_back(&left[i]), rs.push_back(&right[i]);
  } else {
    ls = sorted_elements(left, ""), rs = sorted_elements(right, "");
  }
  for (size_t i = 0; i < ls.size(); ++i)
    if (have_conflicts(*ls[i], *rs[i], elem, {})) return true;
  return false;
}

bool have_conflicts(const json& left, const json& right, const Shape& shape, const FieldMeta& meta) {
  if (left.is_object()) {
    if (!right.is_object()) return true;
    auto lm = left.find(kDirective), rm = right.find(kDirective);
    if ((lm == left.end()) != (rm == right.end())) return true;
    if (lm != left.end() && *lm != *rm) return true;
    return !meta.replace && maps_have_conflicts(left, right, shape);
  }
  if (left.is_array()) return !right.is_array() || lists_have_conflicts(left, right, shape, meta);
  return left != right;
}

json as_document(const json& v, const char* what) {
  if (v.is_null()) return json::object();
  if (!v.is_object()) throw_bad_request(std::string(what) + " must be a JSON object");
  return v;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// Public API

json merge_patch(const json& target, const json& patch) { return merge_into(target, patch); }

json create_merge_patch(const json& original, const json& modified) {
  return merge_diff(as_document(original, "the original document"), as_document(modified, "the modified document"));
}

json json_patch(const json& target, const json& patch) {
  if (!patch.is_array()) throw_bad_request("a json patch must be a JSON array of operations");
  if (patch.size() > kMaxJsonPatchOperations) {
    throw StatusError(Status::request_entity_too_large("The allowed maximum operations in a JSON patch is " +
                                                       std::to_string(kMaxJsonPatchOperations) + ", got " +
                                                       std::to_string(patch.size())));
  }
  JsonPatcher patcher(target);
  for (size_t i = 0; i < patch.size(); ++i) patcher.apply(i, patch[i]);
  return patcher.take();
}

json strategic_merge_patch(const json& original, const json& patch, const TypeDef* type) {
  if (!patch.is_object()) throw_bad_request("a strategic merge patch must be a JSON object");
  return StrategicMerger(MergeMode::Apply).merge_map(as_document(original, "the object"), patch, Shape{type, nullptr});
}

json create_two_way_merge_patch(const json& original, const json& modified, const TypeDef* type) {
  DiffOptions opts;
  opts.set_element_order = true;
  return diff_maps(as_document(original, "the original document"), as_document(modified, "the modified document"),
                   Shape{type, nullptr}, opts);
}

// The patch is the difference current -> modified without deletions, plus the deletions original ->
// modified; the first is applied onto the second as a patch, which is strictly additive.
json create_three_way_merge_patch(const json& original, const json& modified, const json& current,
                                  const TypeDef* type, bool overwrite) {
  json o = as_document(original, "the original document"), m = as_document(modified, "the modified document");
  json c = as_document(current, "the current document");
  Shape shape{type, nullptr};
  DiffOptions delta_opts;
  delta_opts.set_element_order = true;
  delta_opts.ignore_deletions = true;
  json delta = diff_maps(c, m, shape, delta_opts);
  DiffOptions deletion_opts;
  deletion_opts.set_element_order = true;
  deletion_opts.ignore_changes = true;
  json deletions = diff_maps(o, m, shape, deletion_opts);
  json patch = StrategicMerger(MergeMode::CombinePatches).merge_map(std::move(deletions), std::move(delta), shape);
  if (!overwrite) {
    json changed = diff_maps(o, c, shape, DiffOptions{});
    if (have_conflicts(patch, changed, shape, FieldMeta{})) {
      Status s;
      s.code = 409;
      s.reason = "Conflict";
      s.message = "patch:\n" + patch.dump() + "\nconflicts with changes made from original to current:\n" +
                  changed.dump();
      throw StatusError(std::move(s));
    }
  }
  return patch;
}

const char* patch_content_type(PatchType t) {
  switch (t) {
    case PatchType::Json: return "application/json-patch+json";
    case PatchType::Merge: return "application/merge-patch+json";
    case PatchType::Strategic: return "application/strategic-merge-patch+json";
    case PatchType::Apply: return "application/apply-patch+yaml";
  }
  return "";
}

bool parse_patch_content_type(std::string_view ct, PatchType& out) {
  ct = ct.substr(0, ct.find(';'));
  for (PatchType t : {PatchType::Json, PatchType::Merge, PatchType::Strategic, PatchType::Apply})
    if (ct == patch_content_type(t)) {
      out = t;
      return true;
    }
  return false;
}

}  // namespace kctl::api
