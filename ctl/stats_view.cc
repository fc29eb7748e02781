#include "ctl/stats_view.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ctl/client_tables.h"
#include "ctl/rpc_common.h"
#include "ctl/table.h"
#include "google/protobuf/util/time_util.h"
#include "proto/api/size.h"
#include "proto/stat_fields.h"

namespace shmpool::ctl {
namespace {

void PrintClasses(const v1::ArenaStats& s, std::ostream& out) {
  if (s.size_classes_size() == 0) return;
  std::vector<api::StatField> columns;
  std::vector<std::string> header = {"CLASS", "SIZE"};
  for (const api::StatField& f : api::StatFields(v1::SizeClassStats::descriptor()))
    if (!f.stat->column().empty()) {
      columns.push_back(f);
      header.push_back(f.stat->column());
    }
  Table t(header);
  for (const v1::SizeClassStats& c : s.size_classes()) {
    std::vector<std::string> row = {absl::StrCat(c.size_class()), absl::StrCat(c.size())};
    for (const api::StatField& f : columns)
      row.push_back(FormatStat(api::StatValue(c, f.field), f.stat->unit()));
    t.Add(row);
  }
  out << "\n";
  t.Print(out);
}

}  // namespace

std::string FormatStat(std::optional<double> value, v1::Stat::Unit unit) {
  if (!value) return "n/a";
  const double v = *value;
  switch (unit) {
    case v1::Stat::BYTES:
      return api::FormatSize(static_cast<uint64_t>(v));
    case v1::Stat::RATIO:
      return absl::StrFormat("%.3f", v);
    case v1::Stat::TIMESTAMP: {
      google::protobuf::Timestamp t;
      t.set_seconds(static_cast<int64_t>(v));
      return google::protobuf::util::TimeUtil::ToString(t);
    }
    case v1::Stat::SECONDS:
      if (v < 1e-3) return absl::StrFormat("%.0f us", v * 1e6);
      if (v < 1) return absl::StrFormat("%.1f ms", v * 1e3);
      return absl::StrFormat("%.2f s", v);
    default:
      return absl::StrFormat("%.0f", v);
  }
}

void PrintStats(const v1::ArenaStats& s, std::ostream& out) {
  out << "arena " << ArenaIdOf(s.name()) << "\n";
  if (s.has_quarantine()) {
    out << "  QUARANTINED (" << s.quarantine().kind() << "): " << s.quarantine().reason() << "\n";
    return;
  }
  std::vector<std::string> cells;
  for (const api::StatField& f : api::StatFields(v1::ArenaStats::descriptor())) {
    cells.push_back(f.field->name());
    cells.push_back(f.field->name() == "quota_bytes" && s.quota_bytes() == 0
                        ? "none"
                        : FormatStat(api::StatValue(s, f.field), f.stat->unit()));
  }
  Table t({"STAT", "VALUE", "STAT", "VALUE"}, false);
  for (size_t i = 0; i < cells.size(); i += 4)
    t.Add({cells[i], cells[i + 1], i + 2 < cells.size() ? cells[i + 2] : "",
           i + 3 < cells.size() ? cells[i + 3] : ""});
  t.Print(out);
  PrintClasses(s, out);
  PrintClients(s, out);
}

}  // namespace shmpool::ctl
