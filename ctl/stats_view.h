// shmpoolctl stats: an arena's figures as tables, laid out from the (stat) declarations of
// proto/shmpool/v1/stats.proto (proto/stat_fields.h): every declared ArenaStats field in
// field order, two to a row, and the size classes with one column per SizeClassStats field
// that declares a column heading; then the clients (client_tables.h). Each value is shown
// by its declared unit: bytes as sizes, seconds as a time, a timestamp in RFC 3339, ratios
// with three decimals, counts as numbers; "n/a" where undefined (unset).
#pragma once

#include <optional>
#include <ostream>
#include <string>

#include "shmpool/v1/stat_options.pb.h"
#include "shmpool/v1/stats.pb.h"

namespace shmpool::ctl {

// `value` shown by `unit`; "n/a" when empty.
std::string FormatStat(std::optional<double> value, v1::Stat::Unit unit);

// An optional ratio (has_x(), x()) as FormatStat shows it.
inline std::string FormatRatio(bool has, double value) {
  return FormatStat(has ? std::optional<double>(value) : std::nullopt, v1::Stat::RATIO);
}

void PrintStats(const v1::ArenaStats& stats, std::ostream& out);

}  // namespace shmpool::ctl
