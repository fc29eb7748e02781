#include "ctl/table.h"

#include <sstream>

#include "gtest/gtest.h"

namespace shmpool::ctl {
namespace {

Table Sample() {
  Table t({"NAME", "SIZE", "STATE"});
  t.Add({"alpha", "12", "ok"});
  t.Add({"b", "-3", "QUARANTINED"});
  return t;
}

TEST(Table, AlignsColumnsAndNumbers) {
  std::ostringstream out;
  EXPECT_EQ(Sample().Print(out), 0u);
  EXPECT_EQ(out.str(),
            "NAME   SIZE  STATE\n"
            "alpha    12  ok\n"
            "b        -3  QUARANTINED\n");
}

TEST(Table, LeavesOutTheColumnsThatDoNotFit) {
  std::ostringstream out;
  EXPECT_EQ(Sample().Print(out, 12), 1u);  // "alpha    12" is 11 wide
  EXPECT_EQ(out.str(),
            "NAME   SIZE\n"
            "alpha    12\n"
            "b        -3\n");
  std::ostringstream narrow;
  EXPECT_EQ(Sample().Print(narrow, 3), 2u);  // the first column, cut
  EXPECT_EQ(narrow.str(), "NAM\nalp\nb\n");
}

TEST(Table, EscapesCells) {
  Table t({"A"});
  t.Add({"x\x1b[2Jy"});
  std::ostringstream out;
  t.Print(out);
  EXPECT_EQ(out.str(), "A\nx\\x1b[2Jy\n");
}

TEST(FitWidth, CutsWithoutSplittingACharacter) {
  EXPECT_EQ(FitWidth("abcdef", 10), "abcdef");
  EXPECT_EQ(FitWidth("abcdef", 3), "abc");
  EXPECT_EQ(FitWidth("ab\xc3\xa9z", 3), "ab");  // U+00E9 is two bytes: not cut in half
  EXPECT_EQ(FitWidth("ab\xc3\xa9z", 4), "ab\xc3\xa9");
}

}  // namespace
}  // namespace shmpool::ctl
