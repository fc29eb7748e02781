#include "ctl/map.h"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ctl/command.h"
#include "ctl/json.h"
#include "ctl/printable.h"
#include "ctl/rpc_common.h"
#include "proto/api/names.h"
#include "proto/api/size.h"
#include "shmpool/v1/stats.grpc.pb.h"

extern char** environ;

namespace shmpool::ctl {
namespace {

constexpr int kColumns = 64;

struct StateStyle {
  const char* name;
  char glyph;
  const char* ansi;  // background colour
  const char* rgb;   // SVG fill
};
// In the order of the cell's fields.
constexpr std::array<StateStyle, 7> kStyles = {{
    {"full slab", '#', "\033[41m", "#c0392b"},
    {"partial slab", '%', "\033[43m", "#e67e22"},
    {"empty slab", 'o', "\033[45m", "#8e44ad"},
    {"large", 'L', "\033[44m", "#2c6fbb"},
    {"free (backed)", '.', "\033[42m", "#27ae60"},
    {"purged", '_', "\033[47m", "#bdc3c7"},
    {"unused", ' ', "", "#f4f4f4"},
}};

std::array<uint32_t, 7> PagesOf(const v1::SegmentCell& c) {
  return {c.full(), c.partial(), c.empty(), c.large(), c.free(), c.purged(), c.unused()};
}

// The state most of the cell's pages are in.
size_t Dominant(const v1::SegmentCell& c) {
  const auto p = PagesOf(c);
  size_t best = 6;
  for (size_t i = 0; i < p.size(); ++i)
    if (p[i] > p[best] || (p[best] == 0 && p[i] > 0)) best = i;
  return best;
}

std::string Title(const v1::SegmentMap& m) {
  return absl::StrFormat("%s: %d pages of %s (%s); the %s below the frontier, %d pages per cell",
                         m.name(), m.pages(), api::FormatSize(m.page_size()),
                         api::FormatSize(m.pages() * m.page_size()),
                         api::FormatSize(m.frontier() * m.page_size()), m.pages_per_cell());
}

std::array<uint64_t, 7> Totals(const v1::SegmentMap& m) {
  std::array<uint64_t, 7> t{};
  for (const v1::SegmentCell& c : m.cells()) {
    const auto p = PagesOf(c);
    for (size_t i = 0; i < p.size(); ++i) t[i] += p[i];
  }
  if (m.frontier()) t[6] += m.pages() - m.frontier();  // above the frontier: not in cells
  return t;
}

// `path` as one argument of a program: a relative name that starts with '-' gets "./", so
// the program cannot take it for an option.
std::string FileArgument(const std::string& path) {
  return !path.empty() && path[0] == '-' ? "./" + path : path;
}

// Runs rsvg-convert on the SVG file `svg` to write the PNG file `png`, with no shell: each
// name is one argument. True when it ran and succeeded.
bool ConvertToPng(const std::string& svg, const std::string& png) {
  std::vector<std::string> argv = {"rsvg-convert", "-o", FileArgument(png), FileArgument(svg)};
  std::vector<char*> args;
  for (std::string& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawnp(&pid, args[0], nullptr, nullptr, args.data(), environ) != 0) return false;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace

std::string MapText(const v1::SegmentMap& m, bool color) {
  std::string out = Title(m) + "\n";
  for (int i = 0; i < m.cells_size(); ++i) {
    if (i % kColumns == 0)
      absl::StrAppendFormat(&out, "%10s |",
                            api::FormatSize(uint64_t(i) * m.pages_per_cell() * m.page_size()));
    const StateStyle& s = kStyles[Dominant(m.cells(i))];
    if (color && *s.ansi)
      absl::StrAppend(&out, s.ansi, std::string(1, s.glyph), "\033[0m");
    else
      out += s.glyph;
    if (i % kColumns == kColumns - 1 || i + 1 == m.cells_size()) out += "|\n";
  }
  const auto t = Totals(m);
  for (size_t i = 0; i < kStyles.size(); ++i)
    absl::StrAppendFormat(&out, "  '%c' %-14s %s\n", kStyles[i].glyph, kStyles[i].name,
                          api::FormatSize(t[i] * m.page_size()));
  return out;
}

std::string MapSvg(const v1::SegmentMap& m) {
  constexpr int kCell = 12, kTop = 40, kLeft = 90;
  const int rows = (m.cells_size() + kColumns - 1) / kColumns;
  const int width = kLeft + kColumns * kCell + 20;
  const int legend_y = kTop + rows * kCell + 24;
  const int height = legend_y + 20 * static_cast<int>(kStyles.size()) + 10;
  std::string out = absl::StrFormat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
      "font-family=\"monospace\" font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" "
      "fill=\"white\"/>\n<text x=\"10\" y=\"22\" font-size=\"14\">%s</text>\n",
      width, height, Title(m));
  for (int i = 0; i < m.cells_size(); ++i) {
    const v1::SegmentCell& c = m.cells(i);
    const size_t d = Dominant(c);
    const int x = kLeft + (i % kColumns) * kCell, y = kTop + (i / kColumns) * kCell;
    if (i % kColumns == 0)
      absl::StrAppendFormat(&out, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>\n",
                            kLeft - 6, y + kCell - 2,
                            api::FormatSize(uint64_t(i) * m.pages_per_cell() * m.page_size()));
    // Partial cells: the fuller their slabs, the more opaque.
    const double opacity = d == 1 ? 0.3 + 0.7 * c.slab_fill() : 1.0;
    absl::StrAppendFormat(&out,
                          "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\" "
                          "fill-opacity=\"%.2f\" stroke=\"white\" stroke-width=\"0.5\">"
                          "<title>cell %d: full %d, partial %d, empty %d, large %d, free %d, "
                          "purged %d, unused %d pages; slab fill %.0f%%</title></rect>\n",
                          x, y, kCell, kCell, kStyles[d].rgb, opacity, i, c.full(), c.partial(),
                          c.empty(), c.large(), c.free(), c.purged(), c.unused(),
                          100 * c.slab_fill());
  }
  const auto t = Totals(m);
  for (size_t i = 0; i < kStyles.size(); ++i) {
    const int y = legend_y + 20 * static_cast<int>(i);
    absl::StrAppendFormat(&out,
                          "<rect x=\"%d\" y=\"%d\" width=\"14\" height=\"14\" fill=\"%s\" "
                          "stroke=\"#888\"/><text x=\"%d\" y=\"%d\">%s: %s</text>\n",
                          kLeft, y, kStyles[i].rgb, kLeft + 20, y + 12, kStyles[i].name,
                          api::FormatSize(t[i] * m.page_size()));
  }
  out += "</svg>\n";
  return out;
}

absl::StatusOr<MapFormat> MapFormatOf(const std::string& path) {
  if (absl::EndsWithIgnoreCase(path, ".svg")) return MapFormat::kSvg;
  if (absl::EndsWithIgnoreCase(path, ".png")) return MapFormat::kPng;
  return absl::InvalidArgumentError(absl::StrCat("map --output: cannot write ", Printable(path),
                                                 ": give a file name ending in .svg or .png"));
}

namespace {

int Run(const Invocation& in) {
  const Args& args = in.args;
  v1::GetSegmentMapRequest req;
  req.set_name(ArenaNameOf(args.words[0]));
  uint32_t cells = 1024;
  if (auto v = args.Get("cells"); v && (!absl::SimpleAtoi(*v, &cells) || cells == 0)) {
    std::cerr << "shmpoolctl: --cells: not a positive number: " << *v << "\n";
    return kExitUsage;
  }
  req.set_cells(cells);
  const std::optional<std::string> output = args.Get("output");
  if (output && in.json) {
    std::cerr << "shmpoolctl: map: --json prints the map on stdout and --output writes it to a "
                 "file: give one of them\n";
    return kExitUsage;
  }
  absl::StatusOr<MapFormat> format = MapFormat::kSvg;
  if (output) format = MapFormatOf(*output);
  if (!format.ok()) return Usage(std::string(format.status().message()));
  auto stub = v1::StatsService::NewStub(in.channel);
  v1::SegmentMap map;
  grpc::ClientContext ctx;
  Prepare(ctx);
  if (grpc::Status st = stub->GetSegmentMap(&ctx, req, &map); !st.ok()) return Failed(st);
  if (in.json) {
    std::cout << ToJson(map) << "\n";
    return kExitOk;
  }
  if (!output) {
    std::cout << MapText(map, isatty(STDOUT_FILENO));
    return kExitOk;
  }
  const bool png = *format == MapFormat::kPng;
  const std::string svg_path = png ? *output + ".svg" : *output;
  {
    std::ofstream f(svg_path);
    f << MapSvg(map);
    if (!f) {
      std::cerr << "shmpoolctl: cannot write " << Printable(svg_path) << "\n";
      return kExitFailed;
    }
  }
  if (png) {
    const bool converted = ConvertToPng(svg_path, *output);
    std::remove(svg_path.c_str());
    if (!converted) {
      std::cerr << "shmpoolctl: PNG needs rsvg-convert (Debian package librsvg2-bin); "
                   "write an .svg instead\n";
      return kExitFailed;
    }
  }
  std::cout << "wrote " << Printable(*output) << "\n";
  return kExitOk;
}

}  // namespace

std::vector<Command> MapCommands() {
  return {
      {.path = "map",
       .operands = "NAME",
       .min_operands = 1,
       .max_operands = 1,
       .summary = "heat map of the arena's pages (in the terminal, or to a file)",
       .options = {{"cells", "N", "cells in the map (default 1024)"},
                   {"output", "FILE", "write the map to FILE.svg, or FILE.png (rsvg-convert)"}},
       .run = Run},
  };
}

}  // namespace shmpool::ctl
