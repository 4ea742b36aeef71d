// The three Kubernetes patch types (JSON merge patch, JSON patch, strategic merge patch) and the patch
// computations kubectl's apply needs (two- and three-way strategic merge patches, merge patch diffs).
#pragma once

#include <nlohmann/json.hpp>

#include "api/schema.h"

namespace kctl::api {

// The four PATCH content types kube-apiserver accepts.
enum class PatchType { Json, Merge, Strategic, Apply };
// "application/json-patch+json" ... and back; parse returns false for anything else.
const char* patch_content_type(PatchType t);
bool parse_patch_content_type(std::string_view content_type, PatchType& out);

// kube-apiserver refuses JSON patches with more operations than this (maxJSONPatchOperations): 413.
inline constexpr size_t kMaxJsonPatchOperations = 10000;

// RFC 7386 (application/merge-patch+json): objects merge recursively, null deletes, anything else replaces.
nlohmann::json merge_patch(const nlohmann::json& target, const nlohmann::json& patch);

// RFC 6902 (application/json-patch+json). A patch that is not an array of operation objects is a 400
// BadRequest; an operation that does not apply (missing path, index out of range, failed `test`, unknown op)
// is a 422 Invalid as kube-apiserver answers it, naming the operation and its path.
nlohmann::json json_patch(const nlohmann::json& target, const nlohmann::json& patch);

// Kubernetes strategic merge patch (application/strategic-merge-patch+json), as
// k8s.io/apimachinery/pkg/util/strategicpatch StrategicMergePatch applies it. `type` is the kind's top-level
// struct (e.g. Deployment); unknown fields and a nullptr type merge maps like a JSON merge patch and replace
// lists. Malformed patches and unknown $patch directives throw StatusError 400.
nlohmann::json strategic_merge_patch(const nlohmann::json& original, const nlohmann::json& patch,
                                     const TypeDef* type);

// The strategic merge patch that turns `original` into `modified` (strategicpatch.CreateTwoWayMergePatch).
nlohmann::json create_two_way_merge_patch(const nlohmann::json& original, const nlohmann::json& modified,
                                          const TypeDef* type);

// kubectl's client-side apply patch (strategicpatch.CreateThreeWayMergePatch): `original` is the
// last-applied configuration, `modified` the new configuration, `current` the live object. Fields in original
// but not in modified are deleted; everything else is the difference current -> modified, so fields set out
// of band survive. Returns {} when nothing changes. With overwrite=false, a patch that changes a field that
// was also changed between original and current throws StatusError 409 Conflict.
nlohmann::json create_three_way_merge_patch(const nlohmann::json& original, const nlohmann::json& modified,
                                            const nlohmann::json& current, const TypeDef* type,
                                            bool overwrite = true);

// The RFC 7386 merge patch that turns `original` into `modified`, for kinds without a schema (custom
// resources). Lists are replaced as a whole. Returns {} when they are equal.
nlohmann::json create_merge_patch(const nlohmann::json& original, const nlohmann::json& modified);

}  // namespace kctl::api
