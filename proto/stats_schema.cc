// shmpool_stats_schema: prints every declared statistic (stat_options.proto) of the stats
// messages as one JSON object, {"stats":[{"message", "field", "metric", "kind", "unit",
// "help", "label"}, ...]} in message and field order. The build writes it to
// <build>/proto/stats_schema.json for deploy/grafana/make_dashboard.py.
#include <iostream>
#include <string>

#include "proto/stat_fields.h"
#include "shmpool/v1/stats.pb.h"

namespace {

std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

int main() {
  using namespace shmpool;
  std::string sep;
  std::cout << "{\"stats\": [";
  for (const google::protobuf::Descriptor* d :
       {v1::ArenaStats::descriptor(), v1::SizeClassStats::descriptor(),
        v1::ClientStats::descriptor(), v1::ClientClassStats::descriptor(),
        v1::ClientPoolStats::descriptor()})
    for (const api::StatField& f : api::StatFields(d)) {
      std::cout << sep << "\n  {\"message\": " << Quote(d->name())
                << ", \"field\": " << Quote(f.field->name())
                << ", \"metric\": " << Quote(f.stat->metric())
                << ", \"kind\": " << Quote(api::KindName(f.stat->kind()))
                << ", \"unit\": " << Quote(api::UnitName(f.stat->unit()))
                << ", \"label\": " << Quote(f.stat->label())
                << ", \"help\": " << Quote(f.stat->help()) << "}";
      sep = ",";
    }
  std::cout << "\n]}\n";
  return 0;
}
