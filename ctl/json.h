// JSON for shmpoolctl --json: any protobuf message as one JSON object, by reflection.
// Unlike protobuf's canonical JSON mapping, 64-bit integers are printed as numbers (not
// strings), so tools like jq and python's json compute with them directly. Field names are
// the .proto names (snake_case); enums print as their names; google.protobuf.Timestamp as
// an RFC 3339 string; google.protobuf.Duration as a number of seconds. Every scalar field
// is printed, including zeros; an unset optional statistic (a ratio whose denominator is
// zero: stat_options.proto) prints null; other unset message and optional fields are left
// out.
#pragma once

#include <string>

#include "google/protobuf/message.h"

namespace shmpool::ctl {

std::string ToJson(const google::protobuf::Message& message);

// `s` as a JSON string literal, quotes included.
std::string JsonString(const std::string& s);

}  // namespace shmpool::ctl
