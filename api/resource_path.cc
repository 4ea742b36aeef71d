// Resource URL paths built from a KindInfo.
#include "api/resource_path.h"

#include "api/http.h"

namespace kctl::api {

std::string collection_path(const KindInfo& kind, const std::string& ns) {
  std::string p = kind.group.empty() ? "/api/" + kind.version : "/apis/" + kind.group + "/" + kind.version;
  if (kind.namespaced && !ns.empty()) p += "/namespaces/" + http::url_encode(ns);
  return p + "/" + kind.plural;
}

std::string object_path(const KindInfo& kind, const std::string& ns, const std::string& name,
                        const std::string& subresource) {
  std::string p = collection_path(kind, ns) + "/" + http::url_encode(name);
  if (!subresource.empty()) p += "/" + subresource;
  return p;
}

}  // namespace kctl::api
