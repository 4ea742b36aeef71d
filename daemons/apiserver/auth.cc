// The shared authentication and authorization vocabulary: JSON forms for the reviews, and the 403 message.
#include "daemons/apiserver/auth.h"

#include <algorithm>

namespace kctl::apiserver {

using nlohmann::json;

bool UserInfo::in_group(const std::string& group) const {
  return std::find(groups.begin(), groups.end(), group) != groups.end();
}

json UserInfo::to_json() const {
  json j = json::object();
  if (!name.empty()) j["username"] = name;
  if (!uid.empty()) j["uid"] = uid;
  if (!groups.empty()) j["groups"] = groups;
  if (!extra.empty()) j["extra"] = extra;
  return j;
}

json RequestAttributes::to_review_json() const {
  if (!resource_request) return {{"nonResourceAttributes", {{"path", path}, {"verb", verb}}}};
  json r = {{"verb", verb}, {"resource", resource}};
  if (!api_group.empty()) r["group"] = api_group;
  if (!api_version.empty()) r["version"] = api_version;
  if (!subresource.empty()) r["subresource"] = subresource;
  if (!ns.empty()) r["namespace"] = ns;
  if (!name.empty()) r["name"] = name;
  return {{"resourceAttributes", r}};
}

std::string forbidden_message(const RequestAttributes& a) {
  std::string user = "User \"" + a.user.name + "\" cannot " + a.verb;
  if (!a.resource_request) return "forbidden: " + user + " path \"" + a.path + "\"";
  // The subject is the group-qualified resource ("deployments.apps"), with the object's name when there is one.
  std::string subject = a.resource + (a.api_group.empty() ? "" : "." + a.api_group);
  if (!a.name.empty()) subject += " \"" + a.name + "\"";
  std::string resource = a.resource + (a.subresource.empty() ? "" : "/" + a.subresource);
  std::string where = a.ns.empty() ? " at the cluster scope" : " in the namespace \"" + a.ns + "\"";
  return subject + " is forbidden: " + user + " resource \"" + resource + "\" in API group \"" + a.api_group + "\"" +
         where;
}

}  // namespace kctl::apiserver
