// CertificateSigningRequest (certificates.k8s.io/v1): the registry entry, the validation of
// pkg/apis/certificates/validation and the Table row of kube's printers. Who asked (spec.username, ...) is filled in
// by the apiserver from the request, never from the body.
#include <set>

#include "api/go_json.h"
#include "api/pki.h"
#include "api/registry.h"
#include "api/validation.h"

namespace kctl::api::kinds {

using nlohmann::json;

namespace {

// The usages certificates.k8s.io/v1 knows (KeyUsage constants).
const std::vector<std::string>& known_usages() {
  static const std::vector<std::string> all = {
      "signing",          "digital signature", "content commitment", "key encipherment", "key agreement",
      "data encipherment", "cert sign",        "crl sign",           "encipher only",    "decipher only",
      "any",              "server auth",       "client auth",        "code signing",     "email protection",
      "s/mime",           "ipsec end system",  "ipsec tunnel",       "ipsec user",       "timestamping",
      "ocsp signing",     "microsoft sgc",     "netscape sgc"};
  return all;
}

// A signerName is a qualified name whose prefix is a domain: "kubernetes.io/kube-apiserver-client".
void validate_signer_name(const std::string& name, std::vector<StatusCause>& causes) {
  const std::string field = "spec.signerName";
  if (name.empty()) {
    causes.push_back(cause_required(field));
    return;
  }
  size_t slash = name.find('/');
  if (slash == std::string::npos) {
    causes.push_back(cause_invalid(field, name, "must be a fully qualified domain and path of the form "
                                                "'example.com/signer-name'"));
    return;
  }
  for (const auto& m : is_dns1123_subdomain(name.substr(0, slash))) causes.push_back(cause_invalid(field, name, m));
  if (slash + 1 == name.size()) causes.push_back(cause_invalid(field, name, "validating path: must not be empty"));
}

void validate_spec(const json& csr, std::vector<StatusCause>& causes) {
  json spec = csr.value("spec", json::object());
  if (!spec.is_object()) return;  // the schema check reports the type
  std::string request = spec.value("request", "");
  if (request.empty()) {
    causes.push_back(cause_required("spec.request"));
  } else if (auto pem = base64_decode(request); !pem) {
    causes.push_back(cause_invalid("spec.request", "<binary>", "must be base64"));
  } else {
    try {
      pki::parse_certificate_request(*pem);
    } catch (const pki::PkiError& e) {
      causes.push_back(cause_invalid("spec.request", "<binary>", e.what()));
    }
  }
  validate_signer_name(spec.value("signerName", ""), causes);
  if (spec.contains("expirationSeconds") && spec["expirationSeconds"].is_number_integer() &&
      spec["expirationSeconds"].get<int64_t>() < 600)
    causes.push_back(cause_invalid("spec.expirationSeconds", spec["expirationSeconds"],
                                   "may not specify a duration less than 600 seconds (10 minutes)"));
  json usages = spec.value("usages", json::array());
  if (!usages.is_array() || usages.empty()) {
    causes.push_back(cause_required("spec.usages", "usages must be provided"));
    return;
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < usages.size(); ++i) {
    std::string path = "spec.usages[" + std::to_string(i) + "]";
    std::string u = usages[i].is_string() ? usages[i].get<std::string>() : usages[i].dump();
    const auto& known = known_usages();
    if (std::find(known.begin(), known.end(), u) == known.end())
      causes.push_back(cause_not_supported(path, u, known));
    else if (!seen.insert(u).second)
      causes.push_back(cause_duplicate(path, u));
  }
}

void validate_conditions(const json& csr, std::vector<StatusCause>& causes) {
  json conds = csr.value("/status/conditions"_json_pointer, json::array());
  if (!conds.is_array()) return;
  bool approved = false, denied = false;
  std::set<std::string> seen;
  for (size_t i = 0; i < conds.size(); ++i) {
    if (!conds[i].is_object()) continue;
    std::string path = "status.conditions[" + std::to_string(i) + "]";
    std::string type = conds[i].value("type", ""), status = conds[i].value("status", "");
    if (type.empty()) causes.push_back(cause_required(path + ".type"));
    if (status.empty())
      causes.push_back(cause_required(path + ".status"));
    else if (status != "True" && status != "False" && status != "Unknown")
      causes.push_back(cause_not_supported(path + ".status", status, {"False", "True", "Unknown"}));
    if ((type == "Approved" || type == "Denied" || type == "Failed") && !seen.insert(type).second)
      causes.push_back(cause_duplicate(path + ".type", type));
    if (type == "Approved") approved = true;
    if (type == "Denied") denied = true;
  }
  if (approved && denied)
    causes.push_back(cause_invalid("status.conditions", "Approved",
                                   "Approved and Denied conditions are mutually exclusive"));
}

// duration.HumanDuration, as kubectl prints a requested duration.
std::string human_duration(int64_t s) {
  auto n = [](int64_t v) { return std::to_string(v); };
  if (s < 0) return "0s";
  if (s < 120) return n(s) + "s";
  int64_t m = s / 60;
  if (m < 10) return s % 60 == 0 ? n(m) + "m" : n(m) + "m" + n(s % 60) + "s";
  if (m < 180) return n(m) + "m";
  int64_t h = s / 3600;
  if (h < 8) return m % 60 == 0 ? n(h) + "h" : n(h) + "h" + n(m % 60) + "m";
  if (h < 48) return n(h) + "h";
  if (h < 192) return h % 24 == 0 ? n(h / 24) + "d" : n(h / 24) + "d" + n(h % 24) + "h";
  if (h < 24 * 365 * 2) return n(h / 24) + "d";
  int64_t y = h / (24 * 365);
  if (y < 8) return (h / 24) % 365 == 0 ? n(y) + "y" : n(y) + "y" + n((h / 24) % 365) + "d";
  return n(y) + "y";
}

// kube's printer: Approved/Denied/Failed conditions joined by ",", then ",Issued" once a certificate is there;
// "Pending" when there is neither.
std::string condition_cell(const json& csr) {
  std::vector<std::string> parts;
  for (const auto& c : csr.value("/status/conditions"_json_pointer, json::array()))
    if (c.is_object() && !c.value("type", "").empty()) parts.push_back(c.value("type", ""));
  if (!csr.value("/status/certificate"_json_pointer, std::string()).empty()) parts.push_back("Issued");
  return parts.empty() ? "Pending" : join(parts, ",");
}

}  // namespace

KindInfo certificate_signing_request_kind() {
  KindInfo k = make_kind("certificates.k8s.io", "v1", "CertificateSigningRequest", "certificatesigningrequests", {"csr"});
  k.namespaced = false;
  k.subresources = {"status", "approval"};
  k.columns = {name_column(), age_column(),
               {"SignerName", "string", "", "", 0},
               {"Requestor", "string", "", "", 0},
               {"RequestedDuration", "string", "", "", 0},
               {"Condition", "string", "", "", 0}};
  k.table_cells = [](const json& csr) {
    json spec = csr.value("spec", json::object());
    TableCell duration = TableCell::str("<none>");
    if (spec.is_object() && spec.contains("expirationSeconds") && spec["expirationSeconds"].is_number_integer())
      duration = TableCell::str(human_duration(spec["expirationSeconds"].get<int64_t>()));
    return std::vector<TableCell>{name_cell(csr), age_cell(csr),
                                  TableCell::str(spec.is_object() ? spec.value("signerName", "") : ""),
                                  TableCell::str(spec.is_object() ? spec.value("username", "") : ""), duration,
                                  TableCell::str(condition_cell(csr))};
  };
  k.validate = [](const json& csr, const ValidationContext&, std::vector<StatusCause>& causes) {
    validate_spec(csr, causes);
    validate_conditions(csr, causes);
  };
  return k;
}

}  // namespace kctl::api::kinds
