// Kubernetes protobuf bodies to and from JSON objects: the wire format (varints, tags, length-delimited fields), the
// well-known apimachinery messages (Time, Quantity, IntOrString, RawExtension) and the walk over schema types.
#include "api/protobuf.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "api/codec.h"
#include "api/go_json.h"
#include "api/quantity.h"
#include "api/status.h"

namespace kctl::api {

namespace {

using json = nlohmann::json;
using Kind = TypeRef::Kind;

// A tag holds the field number in its upper 29 bits.
constexpr uint64_t kMaxFieldNumber = (uint64_t{1} << 29) - 1;
// 64 bits at 7 bits per byte.
constexpr int kMaxVarintBytes = 10;
constexpr int64_t kInt32Min = std::numeric_limits<int32_t>::min(), kInt32Max = std::numeric_limits<int32_t>::max();
constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min(), kInt64Max = std::numeric_limits<int64_t>::max();

enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

[[noreturn]] void malformed(const std::string& what) { throw_bad_request("invalid protobuf body: " + what); }

// ---- The wire format ----

class WireReader {
 public:
  struct Tag {
    int field;
    WireType wire;
  };

  explicit WireReader(std::string_view data) : data_(data) {}
  bool done() const { return pos_ == data_.size(); }

  uint64_t varint() {
    uint64_t v = 0;
    for (int i = 0; i < kMaxVarintBytes; ++i) {
      if (pos_ == data_.size()) malformed("truncated varint");
      auto b = static_cast<unsigned char>(data_[pos_++]);
      if (i == kMaxVarintBytes - 1 && b > 1) malformed("varint overflows 64 bits");
      v |= static_cast<uint64_t>(b & 0x7F) << (7 * i);
      if (b < 0x80) return v;
    }
    malformed("varint longer than 10 bytes");
  }

  uint64_t fixed(size_t size) {
    if (data_.size() - pos_ < size) malformed("truncated fixed-size field");
    uint64_t v = 0;
    for (size_t i = 0; i < size; ++i)
      v |= static_cast<uint64_t>(static_cast<unsigned char>(data_[pos_ + i])) << (8 * i);
    pos_ += size;
    return v;
  }

  std::string_view bytes() {
    uint64_t n = varint();
    if (n > data_.size() - pos_) malformed("length " + std::to_string(n) + " runs past the end of the message");
    auto out = data_.substr(pos_, n);
    pos_ += n;
    return out;
  }

  Tag tag() {
    uint64_t t = varint();
    uint64_t field = t >> 3;
    auto wire = static_cast<uint32_t>(t & 7);
    if (field == 0 || field > kMaxFieldNumber) malformed("field number " + std::to_string(field));
    // Groups (3, 4) are deprecated and never written by Kubernetes; 6 and 7 do not exist.
    if (wire != kVarint && wire != kFixed64 && wire != kLengthDelimited && wire != kFixed32)
      malformed("unsupported wire type " + std::to_string(wire) + " for field " + std::to_string(field));
    return {static_cast<int>(field), static_cast<WireType>(wire)};
  }

  void skip(WireType wire) {
    switch (wire) {
      case kVarint: varint(); break;
      case kFixed64: fixed(8); break;
      case kLengthDelimited: bytes(); break;
      case kFixed32: fixed(4); break;
    }
  }

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

class WireWriter {
 public:
  void varint(uint64_t v) {
    while (v >= 0x80) {
      out_ += static_cast<char>(v | 0x80);
      v >>= 7;
    }
    out_ += static_cast<char>(v);
  }
  void tag(int field, WireType wire) { varint(static_cast<uint64_t>(field) << 3 | wire); }
  void uint(int field, uint64_t v) {
    tag(field, kVarint);
    varint(v);
  }
  void bytes(int field, std::string_view b) {
    tag(field, kLengthDelimited);
    varint(b.size());
    out_.append(b);
  }
  void fixed64(int field, uint64_t v) {
    tag(field, kFixed64);
    for (int i = 0; i < 8; ++i) out_ += static_cast<char>(v >> (8 * i));
  }
  const std::string& str() const { return out_; }

 private:
  std::string out_;
};

// ---- Schema fields in a message ----

// Where a field sits, for error messages: "DeploymentSpec.replicas".
std::string where(const TypeDef& type, const FieldDef& f) { return type.name + "." + f.name; }

bool starts_with(const std::vector<int>& path, const std::vector<int>& prefix) {
  return path.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), path.begin());
}

// One field number of the message that holds `type`'s fields embedded at `embed` (empty: the type's own message):
// either a schema field, or an embedded message (an inline Go struct) holding some of them.
struct Member {
  int number;
  const FieldDef* field;  // nullptr for an embedded message
};

std::vector<Member> members(const TypeDef& type, const std::vector<int>& embed) {
  std::vector<Member> out;
  for (const auto& f : type.fields) {
    if (f.proto <= 0 || !starts_with(f.proto_embed, embed)) continue;
    if (f.proto_embed.size() == embed.size()) {
      out.push_back({f.proto, &f});
    } else {
      int number = f.proto_embed[embed.size()];
      bool seen = std::any_of(out.begin(), out.end(), [&](const Member& m) { return !m.field && m.number == number; });
      if (!seen) out.push_back({number, nullptr});
    }
  }
  // Go writes fields in number order; a schema field wins over an embedding with the same number (a schema error).
  std::stable_sort(out.begin(), out.end(), [](const Member& a, const Member& b) {
    return a.number != b.number ? a.number < b.number : a.field && !b.field;
  });
  return out;
}

WireType wire_type_of(Kind kind) {
  switch (kind) {
    case Kind::Boolean:
    case Kind::Int32:
    case Kind::Int64: return kVarint;
    case Kind::Number: return kFixed64;
    default: return kLengthDelimited;
  }
}

bool is_scalar(Kind kind) {
  return kind == Kind::String || kind == Kind::Boolean || kind == Kind::Int32 || kind == Kind::Int64 ||
         kind == Kind::Number || kind == Kind::Bytes;
}

bool is_zero_scalar(const json& v) {
  return (v.is_string() && v.get_ref<const std::string&>().empty()) || (v.is_boolean() && !v.get<bool>()) ||
         (v.is_number_integer() && v.get<int64_t>() == 0) || (v.is_number_float() && v.get<double>() == 0.0);
}

// ---- Decoding ----

struct DecodeContext {
  const TypeDef& owner;  // for error messages and the Go facts
  const FieldDef& field;
  bool micro;  // a metav1.MicroTime
};

void decode_message(std::string_view data, const TypeDef& type, const std::vector<int>& embed, json& out, int depth);

json decode_varint_scalar(Kind kind, uint64_t v) {
  if (kind == Kind::Boolean) return v != 0;
  if (kind == Kind::Int32) return static_cast<int32_t>(v);  // int32 is sign-extended to 64 bits on the wire
  return static_cast<int64_t>(v);
}

json decode_double(uint64_t bits) {
  double d;
  std::memcpy(&d, &bits, sizeof d);
  if (!std::isfinite(d)) malformed("a number is not finite");  // Go's json.Marshal refuses NaN and infinities
  return d;
}

json decode_time(std::string_view data, bool micro) {
  if (data.empty()) return nullptr;  // a zero metav1.Time is written as an empty message and printed as null
  WireReader r(data);
  int64_t seconds = 0;
  int32_t nanos = 0;
  while (!r.done()) {
    auto t = r.tag();
    if ((t.field == 1 || t.field == 2) && t.wire != kVarint)
      malformed("time field with wire type " + std::to_string(t.wire));
    if (t.field == 1)
      seconds = static_cast<int64_t>(r.varint());
    else if (t.field == 2)
      nanos = static_cast<int32_t>(r.varint());
    else
      r.skip(t.wire);
  }
  auto text = format_rfc3339(seconds, nanos, micro);
  if (!text) malformed("time outside of the years 0 to 9999");
  return *text;
}

json decode_quantity(std::string_view data) {
  WireReader r(data);
  std::string text;
  while (!r.done()) {
    auto t = r.tag();
    if (t.field == 1 && t.wire == kLengthDelimited)
      text = std::string(r.bytes());
    else
      r.skip(t.wire);
  }
  if (text.empty()) return "0";
  std::string error;
  auto q = Quantity::try_parse(text, &error);
  if (!q) malformed("quantity " + valid_utf8(text) + ": " + error);
  return q->to_string();
}

json decode_int_or_string(std::string_view data) {
  WireReader r(data);
  uint64_t type = 0;
  int32_t int_val = 0;
  std::string str_val;
  while (!r.done()) {
    auto t = r.tag();
    if (t.field == 1 && t.wire == kVarint)
      type = r.varint();
    else if (t.field == 2 && t.wire == kVarint)
      int_val = static_cast<int32_t>(r.varint());
    else if (t.field == 3 && t.wire == kLengthDelimited)
      str_val = valid_utf8(r.bytes());
    else
      r.skip(t.wire);
  }
  if (type == 0) return int_val;
  if (type == 1) return str_val;
  malformed("IntOrString of type " + std::to_string(type));
}

// runtime.RawExtension and FieldsV1 carry JSON in their field 1.
json decode_raw_json(std::string_view data) {
  WireReader r(data);
  std::string_view raw;
  while (!r.done()) {
    auto t = r.tag();
    if (t.field == 1 && t.wire == kLengthDelimited)
      raw = r.bytes();
    else
      r.skip(t.wire);
  }
  if (raw.empty()) return nullptr;
  auto limit_depth = [](int depth, json::parse_event_t, json&) {
    if (depth > static_cast<int>(kMaxNestingDepth)) malformed("embedded JSON nests too deeply");
    return true;
  };
  try {
    return json::parse(raw, limit_depth);
  } catch (const json::parse_error&) {
    return valid_utf8(raw);  // not JSON: keep the text rather than lose it
  }
}

// One value of a field (an element for lists, the value for maps) written with the given wire type.
json decode_value(const TypeRef& t, WireType wire, WireReader& r, int depth, const DecodeContext& cx) {
  if (wire != wire_type_of(t.kind))
    malformed("field " + where(cx.owner, cx.field) + " has wire type " + std::to_string(wire) + ", expected " +
              std::to_string(wire_type_of(t.kind)) + " for " + t.to_string());
  switch (t.kind) {
    case Kind::Boolean:
    case Kind::Int32:
    case Kind::Int64: return decode_varint_scalar(t.kind, r.varint());
    case Kind::Number: return decode_double(r.fixed(8));
    case Kind::String: return valid_utf8(r.bytes());
    case Kind::Bytes: return base64_encode(r.bytes());
    case Kind::Time: return decode_time(r.bytes(), cx.micro);
    case Kind::Quantity: return decode_quantity(r.bytes());
    case Kind::IntOrString: return decode_int_or_string(r.bytes());
    case Kind::Object: return decode_raw_json(r.bytes());
    case Kind::Named: {
      json obj = json::object();
      decode_message(r.bytes(), *t.named, {}, obj, depth + 1);
      return obj;
    }
    case Kind::List: {  // a list as a map value: Go wraps it in a message whose field 1 repeats the elements
      if (depth + 1 > kMaxProtobufDepth) malformed("messages nest deeper than " + std::to_string(kMaxProtobufDepth));
      WireReader inner(r.bytes());
      json list = json::array();
      while (!inner.done()) {
        auto tag = inner.tag();
        if (tag.field != 1)
          inner.skip(tag.wire);
        else
          list.push_back(decode_value(*t.elem, tag.wire, inner, depth + 1, cx));
      }
      return list;
    }
    case Kind::Map: malformed("field " + where(cx.owner, cx.field) + ": maps of maps have no protobuf form");
  }
  return nullptr;
}

json zero_value(const TypeRef& t) {
  switch (t.kind) {
    case Kind::String:
    case Kind::Bytes: return "";
    case Kind::Boolean: return false;
    case Kind::Int32:
    case Kind::Int64:
    case Kind::IntOrString: return 0;
    case Kind::Number: return 0.0;
    case Kind::Quantity: return "0";
    case Kind::Named: return json::object();
    default: return nullptr;
  }
}

void decode_map_entry(std::string_view data, const TypeRef& value_type, int depth, const DecodeContext& cx, json& map) {
  WireReader r(data);
  std::string key;
  json value = zero_value(value_type);  // Go's generated code starts from the zero value too
  while (!r.done()) {
    auto t = r.tag();
    if (t.field == 1) {
      if (t.wire != kLengthDelimited) malformed("map key of " + where(cx.owner, cx.field) + " is not a string");
      key = valid_utf8(r.bytes());
    } else if (t.field == 2) {
      value = decode_value(value_type, t.wire, r, depth, cx);
    } else {
      r.skip(t.wire);
    }
  }
  map[key] = std::move(value);
}

void decode_field(const TypeDef& owner, const FieldDef& f, WireType wire, WireReader& r, json& out, int depth) {
  DecodeContext cx{owner, f, f.type.kind == Kind::Time && is_micro_time_field(owner.name, f.name)};
  const TypeRef& t = f.type;
  if (t.kind == Kind::List) {
    json& list = out[f.name];
    if (!list.is_array()) list = json::array();
    Kind ek = t.elem->kind;
    if (wire == kLengthDelimited && wire_type_of(ek) != kLengthDelimited) {  // packed scalars
      WireReader packed(r.bytes());
      while (!packed.done())
        list.push_back(ek == Kind::Number ? decode_double(packed.fixed(8)) : decode_varint_scalar(ek, packed.varint()));
    } else {
      list.push_back(decode_value(*t.elem, wire, r, depth, cx));
    }
  } else if (t.kind == Kind::Map) {
    if (wire != kLengthDelimited)
      malformed("field " + where(owner, f) + " is a map but has wire type " + std::to_string(wire));
    json& map = out[f.name];
    if (!map.is_object()) map = json::object();
    decode_map_entry(r.bytes(), *t.elem, depth + 1, cx, map);
  } else if (t.kind == Kind::Named && wire == kLengthDelimited && out.contains(f.name) && out[f.name].is_object()) {
    decode_message(r.bytes(), *t.named, {}, out[f.name], depth + 1);  // a repeated message field merges
  } else {
    json v = decode_value(t, wire, r, depth, cx);
    // Go always writes its non-pointer fields; json.Marshal drops their zero values again (omitempty), while a
    // pointer's zero ("replicas": 0) and a field without omitempty (our `required`) are printed.
    if (is_scalar(t.kind) && is_zero_scalar(v) && !f.required && !is_go_pointer_field(owner.name, f.name))
      out.erase(f.name);
    else
      out[f.name] = std::move(v);
  }
}

void decode_message(std::string_view data, const TypeDef& type, const std::vector<int>& embed, json& out, int depth) {
  if (depth > kMaxProtobufDepth) malformed("messages nest deeper than " + std::to_string(kMaxProtobufDepth));
  auto fields = members(type, embed);
  WireReader r(data);
  while (!r.done()) {
    auto t = r.tag();
    auto it = std::find_if(fields.begin(), fields.end(), [&](const Member& m) { return m.number == t.field; });
    if (it == fields.end()) {
      r.skip(t.wire);
    } else if (it->field) {
      decode_field(type, *it->field, t.wire, r, out, depth);
    } else {
      if (t.wire != kLengthDelimited)
        malformed("embedded message " + std::to_string(t.field) + " of " + type.name + " has wire type " +
                  std::to_string(t.wire));
      std::vector<int> inner = embed;
      inner.push_back(t.field);
      decode_message(r.bytes(), type, inner, out, depth + 1);  // an inline Go struct: same JSON object
    }
  }
}

// ---- Encoding ----

[[noreturn]] void cannot_encode(const TypeDef& type, const FieldDef& f, const char* expected) {
  throw_bad_request("cannot encode " + where(type, f) + " as protobuf: expected " + expected);
}

int64_t json_integer(const json& v, const TypeDef& type, const FieldDef& f, int64_t min, int64_t max) {
  int64_t n = 0;
  if (v.is_number_integer() && !(v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(max))) {
    n = v.get<int64_t>();
  } else if (v.is_number_float() && std::trunc(v.get<double>()) == v.get<double>() &&
             std::fabs(v.get<double>()) < 9e18) {
    n = static_cast<int64_t>(v.get<double>());
  } else {
    cannot_encode(type, f, "an integer");
  }
  if (n < min || n > max) cannot_encode(type, f, "an integer in range");
  return n;
}

std::string encode_message(const TypeDef& type, const std::vector<int>& embed, const json& obj, int depth);

// Writes one value as field `number`; null stands for Go's zero value (an absent non-pointer field, a null element).
void encode_value(WireWriter& w, int number, const TypeRef& t, const json& v, const TypeDef& owner, const FieldDef& f,
                  int depth) {
  switch (t.kind) {
    case Kind::String:
      if (!v.is_null() && !v.is_string()) cannot_encode(owner, f, "a string");
      return w.bytes(number, v.is_string() ? v.get_ref<const std::string&>() : std::string());
    case Kind::Boolean:
      if (!v.is_null() && !v.is_boolean()) cannot_encode(owner, f, "a boolean");
      return w.uint(number, v.is_boolean() && v.get<bool>() ? 1 : 0);
    case Kind::Int32:
      return w.uint(number, static_cast<uint64_t>(v.is_null() ? 0 : json_integer(v, owner, f, kInt32Min, kInt32Max)));
    case Kind::Int64:
      return w.uint(number, static_cast<uint64_t>(v.is_null() ? 0 : json_integer(v, owner, f, kInt64Min, kInt64Max)));
    case Kind::Number: {
      if (!v.is_null() && !v.is_number()) cannot_encode(owner, f, "a number");
      double d = v.is_null() ? 0.0 : v.get<double>();
      uint64_t bits;
      std::memcpy(&bits, &d, sizeof bits);
      return w.fixed64(number, bits);
    }
    case Kind::Bytes: {
      if (v.is_null()) return;  // a nil []byte is not written
      auto raw = v.is_string() ? base64_decode(v.get_ref<const std::string&>()) : std::nullopt;
      if (!raw) cannot_encode(owner, f, "base64 data");
      return w.bytes(number, *raw);
    }
    case Kind::Time: {
      // A zero time (null) is an empty message, any other writes both fields of the Timestamp message. metav1.Time
      // drops the nanoseconds on the wire as JSON does (ProtoTime), metav1.MicroTime keeps them.
      WireWriter m;
      auto time = v.is_string() ? parse_rfc3339(v.get_ref<const std::string&>()) : std::nullopt;
      if (time) {
        m.uint(1, static_cast<uint64_t>(time->seconds));
        m.uint(2, is_micro_time_field(owner.name, f.name) ? static_cast<uint64_t>(int64_t{time->nanos}) : 0);
      } else if (!v.is_null()) {
        cannot_encode(owner, f, "an RFC 3339 time");
      }
      return w.bytes(number, m.str());
    }
    case Kind::Quantity: {
      WireWriter m;
      m.bytes(1, v.is_null() ? std::string("0") : Quantity::from_json(v).to_string());
      return w.bytes(number, m.str());
    }
    case Kind::IntOrString: {
      WireWriter m;
      if (!v.is_null() && !v.is_string() && !v.is_number()) cannot_encode(owner, f, "an integer or a string");
      m.uint(1, v.is_string() ? 1 : 0);
      m.uint(2, v.is_number() ? static_cast<uint64_t>(json_integer(v, owner, f, kInt32Min, kInt32Max)) : 0);
      m.bytes(3, v.is_string() ? v.get_ref<const std::string&>() : std::string());
      return w.bytes(number, m.str());
    }
    case Kind::Object: {
      WireWriter m;
      if (!v.is_null()) m.bytes(1, v.dump());
      return w.bytes(number, m.str());
    }
    case Kind::Named:
      if (!v.is_null() && !v.is_object()) cannot_encode(owner, f, "an object");
      return w.bytes(number, encode_message(*t.named, {}, v.is_object() ? v : json::object(), depth + 1));
    case Kind::List: {  // a list as a map value: wrapped in a message whose field 1 repeats the elements
      if (!v.is_null() && !v.is_array()) cannot_encode(owner, f, "a list");
      WireWriter m;
      if (v.is_array())
        for (const auto& e : v) encode_value(m, 1, *t.elem, e, owner, f, depth + 1);
      return w.bytes(number, m.str());
    }
    case Kind::Map: throw_bad_request("cannot encode " + where(owner, f) + ": maps of maps have no protobuf form");
  }
}

void encode_field(WireWriter& w, const TypeDef& owner, const FieldDef& f, const json& obj, int depth) {
  static const json kAbsent;  // null: absent and null fields are the same to Go
  auto it = obj.find(f.name);
  const json& v = it == obj.end() ? kAbsent : *it;
  const TypeRef& t = f.type;
  if (t.kind == Kind::List) {
    if (!v.is_null() && !v.is_array()) cannot_encode(owner, f, "a list");
    if (v.is_array())
      for (const auto& e : v) encode_value(w, f.proto, *t.elem, e, owner, f, depth);
  } else if (t.kind == Kind::Map) {
    if (!v.is_null() && !v.is_object()) cannot_encode(owner, f, "an object");
    if (v.is_object())
      for (const auto& [key, value] : v.items()) {  // nlohmann::json keeps keys sorted, as Go sorts them
        WireWriter entry;
        entry.bytes(1, key);
        encode_value(entry, 2, *t.elem, value, owner, f, depth + 1);
        w.bytes(f.proto, entry.str());
      }
  } else if (!v.is_null() || !is_go_pointer_field(owner.name, f.name)) {
    encode_value(w, f.proto, t, v, owner, f, depth);  // a nil pointer is not written, a non-pointer always is
  }
}

std::string encode_message(const TypeDef& type, const std::vector<int>& embed, const json& obj, int depth) {
  if (depth > kMaxProtobufDepth) throw_bad_request("cannot encode " + type.name + " as protobuf: nested too deeply");
  WireWriter w;
  for (const auto& m : members(type, embed)) {
    if (m.field) {
      encode_field(w, type, *m.field, obj, depth);
    } else {
      std::vector<int> inner = embed;
      inner.push_back(m.number);
      w.bytes(m.number, encode_message(type, inner, obj, depth + 1));  // inline Go structs are never pointers
    }
  }
  return w.str();
}

}  // namespace

json decode_kubernetes_protobuf(std::string_view body, const Schema& schema, const TypeDef** type_out) {
  if (body.substr(0, kProtobufMagic.size()) != kProtobufMagic) malformed("missing the \"k8s\\0\" prefix");
  WireReader envelope(body.substr(kProtobufMagic.size()));
  std::string api_version, kind, encoding;
  std::string_view raw;
  while (!envelope.done()) {
    auto t = envelope.tag();
    if (t.field >= 1 && t.field <= 4 && t.wire != kLengthDelimited)
      malformed("runtime.Unknown field " + std::to_string(t.field) + " has wire type " + std::to_string(t.wire));
    if (t.field == 1) {
      WireReader meta(envelope.bytes());
      while (!meta.done()) {
        auto m = meta.tag();
        if (m.field == 1 && m.wire == kLengthDelimited)
          api_version = valid_utf8(meta.bytes());
        else if (m.field == 2 && m.wire == kLengthDelimited)
          kind = valid_utf8(meta.bytes());
        else
          meta.skip(m.wire);
      }
    } else if (t.field == 2) {
      raw = envelope.bytes();
    } else if (t.field == 3) {
      encoding = valid_utf8(envelope.bytes());
    } else {
      envelope.skip(t.wire);
    }
  }
  if (!encoding.empty()) malformed("unsupported content encoding \"" + encoding + "\"");
  if (kind.empty()) malformed("the object has no kind");
  const TypeDef* type = schema.type(kind);
  if (!type) throw_bad_request("no kind \"" + kind + "\" is registered for protobuf bodies");
  json out = json::object();
  decode_message(raw, *type, {}, out, 2);  // the envelope is level 1
  if (!api_version.empty()) out["apiVersion"] = api_version;
  out["kind"] = kind;
  if (type_out) *type_out = type;
  return out;
}

std::string encode_kubernetes_protobuf(const json& object, const Schema& schema) {
  if (!object.is_object() || !object.contains("kind") || !object["kind"].is_string())
    throw_bad_request("cannot encode as protobuf: the object has no kind");
  const std::string& kind = object["kind"].get_ref<const std::string&>();
  const TypeDef* type = schema.type(kind);
  if (!type) throw_bad_request("cannot encode as protobuf: no kind \"" + kind + "\" is registered");
  auto av = object.find("apiVersion");
  WireWriter meta;
  meta.bytes(1, av != object.end() && av->is_string() ? av->get_ref<const std::string&>() : std::string());
  meta.bytes(2, kind);
  WireWriter envelope;
  envelope.bytes(1, meta.str());
  envelope.bytes(2, encode_message(*type, {}, object, 2));
  envelope.bytes(3, "");  // contentEncoding and contentType: Go writes its empty strings
  envelope.bytes(4, "");
  return std::string(kProtobufMagic) + envelope.str();
}

}  // namespace kctl::api
