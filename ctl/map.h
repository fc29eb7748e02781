// shmpoolctl map ARENA [--cells N] [--output FILE.svg|FILE.png | --json]: a heat map of the
// arena's data pages from GetSegmentMap. Each cell is a span of pages drawn by the state
// most of its pages are in (full, partial, empty slab, large, free, purged, unused); a
// partial cell's shade says how full its slabs are. In the terminal: one character per
// cell, 64 per row, coloured when stdout is a terminal, with a legend and the totals. With
// --output, an SVG file (or PNG through rsvg-convert, when librsvg2-bin is installed,
// started with posix_spawnp and the file names as its arguments: no shell). With --json
// (not with --output): the map message as one JSON object, its cells included.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "shmpool/v1/stats.pb.h"

namespace shmpool::ctl {

// The drawings, pure functions of the map (tested without a daemon).
std::string MapText(const v1::SegmentMap& map, bool color);
std::string MapSvg(const v1::SegmentMap& map);

// What --output writes, by the file's extension (.svg or .png, in any case); INVALID_ARGUMENT,
// naming the supported extensions, for any other name.
enum class MapFormat { kSvg, kPng };
absl::StatusOr<MapFormat> MapFormatOf(const std::string& path);

}  // namespace shmpool::ctl
