// Go's JSON forms of the values Kubernetes objects hold ([]byte, metav1.Time, strings), for code that produces or
// reads them outside nlohmann::json's defaults: the protobuf codec (api/protobuf.h) and field checks.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kctl::api {

// The string as Go's json.Marshal writes it: each byte that is not part of valid UTF-8 (including surrogates and
// overlong forms) becomes U+FFFD. nlohmann::json's dump() would throw on such bytes instead.
std::string valid_utf8(std::string_view s);

// []byte in JSON: the standard alphabet with padding (base64.StdEncoding). Decoding is strict, as Go's is.
std::string base64_encode(std::string_view data);
std::optional<std::string> base64_decode(std::string_view text);

// A Unix time as time.Unix takes it: nanos outside [0, 1e9) carry into the seconds.
struct UnixTime {
  int64_t seconds = 0;
  int32_t nanos = 0;
};

// metav1.Time in UTC with whole seconds ("2026-11-27T21:37:10Z"), or metav1.MicroTime with six fractional digits
// ("2026-11-27T21:37:10.123456Z"). nullopt outside the years 0 to 9999, which Go's json.Marshal refuses.
std::optional<std::string> format_rfc3339(int64_t seconds, int32_t nanos, bool micro);
// RFC 3339 as Go's time.Parse(time.RFC3339, s) reads it: "2006-01-02T15:04:05[.999999999](Z|+07:00)"; nullopt
// when the text is not such a time or names a day that does not exist.
std::optional<UnixTime> parse_rfc3339(std::string_view text);

// A duration as Go's time.ParseDuration reads it ("300ms", "1.5h", "2h45m", "-1m", "0"), in seconds; nullopt when
// the text is not one.
std::optional<double> parse_duration(std::string_view text);

}  // namespace kctl::api
