// Manifests in and out: YAML and JSON documents decoded the way kubectl and sigs.k8s.io/yaml do,
// and objects printed as YAML the way `kubectl get -o yaml` prints them.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace kctl::api {

// A manifest file with more objects than this is not something a person applies; the limit
// bounds the work one request can ask for.
inline constexpr std::size_t kMaxDocuments = 10000;
// Kubernetes objects nest a few dozen levels; deeper input is an attack on the recursion.
// (yaml-cpp itself refuses block nesting beyond about 500.)
inline constexpr std::size_t kMaxNestingDepth = 256;
// Aliases let a small YAML text expand into a huge tree ("billion laughs"). A document may
// expand to at most this many nodes beyond one per input byte.
inline constexpr std::size_t kMinNodeBudget = 100000;

// Decodes a manifest: YAML (documents separated by "---" lines as kubectl splits them, empty
// documents and null documents skipped) or, when the text starts with '{', a stream of JSON
// objects. Plain YAML scalars resolve as go-yaml v2 (YAML 1.1) does under sigs.k8s.io/yaml:
// `3` int, `1.0` float, `true`/`yes`/`on`/`y` bool, `~`/`null` null, `0777` octal, `0x1F` hex,
// integers beyond int64 as uint64 or float; quoted scalars are always strings; non-string
// keys become strings ("1", "true"). Every document must be an object. Throws StatusError 400
// naming the line and the document (counted from 1) on bad input.
std::vector<nlohmann::json> decode_documents(std::string_view text);

// One YAML (or JSON) document of any type; empty text is null. Throws StatusError 400.
nlohmann::json decode_yaml(std::string_view text);

// YAML as `kubectl get -o yaml` prints it (go-yaml v2's emitter): 2-space indent, sequences
// at their parent key's indent, "- key: v" for maps in sequences, keys in the json's order,
// strings quoted only when they would read back as something else ("true", "123", "", "*x"),
// multi-line strings as | / |- / |+ blocks, long lines folded at 80 columns. Ends with "\n".
std::string encode_yaml(const nlohmann::json& value);

// Expands `kind: List` and other `*List` objects (kind ending in "List" with an `items` list)
// into their items, recursively, as kubectl's builder does. Items of a typed list that carry
// neither kind nor apiVersion get the list's apiVersion and its kind without "List".
// Throws StatusError 400 when an item is not an object.
std::vector<nlohmann::json> flatten_lists(std::vector<nlohmann::json> objects);

// Go's strconv.FormatFloat(v, 'g', -1, bit_size): "0.5", "1e+06", "1.5e-07", "+Inf", "NaN".
std::string go_format_float(double v, int bit_size = 64);

}  // namespace kctl::api
