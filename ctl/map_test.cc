#include "ctl/map.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"

namespace shmpool::ctl {
namespace {

v1::SegmentMap Sample() {
  v1::SegmentMap m;
  m.set_name("arenas/a");
  m.set_page_size(4096);
  m.set_pages(400);
  m.set_frontier(300);
  m.set_pages_per_cell(4);
  for (int i = 0; i < 100; ++i) {
    v1::SegmentCell* c = m.add_cells();
    if (i < 10)
      c->set_full(4);
    else if (i < 20) {
      c->set_partial(3);
      c->set_free(1);
      c->set_slab_fill(0.5);
    } else if (i < 30)
      c->set_large(4);
    else if (i < 50)
      c->set_purged(4);
    else if (i < 75)
      c->set_free(4);
    else
      c->set_unused(4);
  }
  return m;
}

TEST(Map, TextDrawsOneGlyphPerCellByDominantState) {
  const std::string t = MapText(Sample(), /*color=*/false);
  const std::string row1 = std::string(10, '#') + std::string(10, '%') + std::string(10, 'L') +
                           std::string(20, '_') + std::string(14, '.');
  EXPECT_NE(t.find("|" + row1 + "|"), std::string::npos) << t;
  EXPECT_NE(t.find(absl::StrCat("|", std::string(11, '.'), std::string(25, ' '), "|")),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("full slab      160 KiB"), std::string::npos) << t;  // 40 pages
  EXPECT_NE(t.find("purged         320 KiB"), std::string::npos) << t;  // 80 pages
  EXPECT_EQ(t.find("\033["), std::string::npos);
  EXPECT_NE(MapText(Sample(), true).find("\033[41m#"), std::string::npos);
}

TEST(Map, SvgHasOneRectPerCellAndALegend) {
  const std::string s = MapSvg(Sample());
  EXPECT_EQ(s.rfind("<svg", 0), 0u);
  EXPECT_NE(s.find("</svg>"), std::string::npos);
  size_t cells = 0;
  for (size_t at = s.find("<title>cell "); at != std::string::npos;
       at = s.find("<title>cell ", at + 1))
    ++cells;
  EXPECT_EQ(cells, 100u);
  EXPECT_NE(s.find("slab fill 50%"), std::string::npos);
  EXPECT_NE(s.find("purged: 320 KiB"), std::string::npos);
}

TEST(Map, OutputFormatByExtension) {
  EXPECT_EQ(MapFormatOf("m.svg").value(), MapFormat::kSvg);
  EXPECT_EQ(MapFormatOf("dir/m.SVG").value(), MapFormat::kSvg);
  EXPECT_EQ(MapFormatOf("m.png").value(), MapFormat::kPng);
  EXPECT_EQ(MapFormatOf("m.Png").value(), MapFormat::kPng);
  for (const char* refused : {"m.jpg", "m.svg.gz", "m", "svg", "m.png/"}) {
    const absl::StatusOr<MapFormat> f = MapFormatOf(refused);
    ASSERT_FALSE(f.ok()) << refused;
    EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(f.status().message().find(".svg or .png"), absl::string_view::npos);
    EXPECT_NE(f.status().message().find(refused), absl::string_view::npos);
  }
}

}  // namespace
}  // namespace shmpool::ctl
