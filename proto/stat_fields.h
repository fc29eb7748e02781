// The declared statistics of a stats message (proto/shmpool/v1/stat_options.proto): its
// fields that carry a (stat) option, in field order, with their values read and written by
// reflection. What /metrics, shmpoolctl's tables, the daemon's conversion of the segment's
// counters and the schema for the dashboard generator iterate over.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "shmpool/v1/stat_options.pb.h"

namespace shmpool::api {

struct StatField {
  const google::protobuf::FieldDescriptor* field;
  const v1::Stat* stat;  // the field's option, owned by the descriptor pool
};

// The fields of `message` that declare a (stat), in field-number order.
const std::vector<StatField>& StatFields(const google::protobuf::Descriptor* message);

// The field's value as a number: integers as they are, a Duration in seconds, a Timestamp
// in Unix seconds, an optional double as it is; empty for an unset optional (an undefined
// ratio) or Timestamp.
std::optional<double> StatValue(const google::protobuf::Message& m,
                                const google::protobuf::FieldDescriptor* field);

// Sets a uint64 field to `n`, a Duration field to `n` nanoseconds, a Timestamp field to `n`
// Unix nanoseconds (0 leaves it unset). False for a field of another type, or none of that
// name.
bool SetCounter(google::protobuf::Message& m, const std::string& field, uint64_t n);

// "gauge" or "counter"; "count", "bytes", "seconds", "ratio" or "timestamp".
const char* KindName(v1::Stat::Kind k);
const char* UnitName(v1::Stat::Unit u);

}  // namespace shmpool::api
