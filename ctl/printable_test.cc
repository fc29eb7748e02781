#include "ctl/printable.h"

#include <gtest/gtest.h>

namespace shmpool::ctl {
namespace {

TEST(Printable, EscapesControlsAndKeepsPrintableText) {
  EXPECT_EQ(Printable("plain name-1.2"), "plain name-1.2");
  EXPECT_EQ(Printable("x\033[2J\033]0;t\007y"), "x\\x1b[2J\\x1b]0;t\\x07y");
  EXPECT_EQ(Printable("a\nb\tc\rd\x7f"), "a\\x0ab\\x09c\\x0dd\\x7f");
  EXPECT_EQ(Printable("back\\slash"), "back\\\\slash");
  EXPECT_EQ(PrintableLines("one\ntwo\033"), "one\ntwo\\x1b");
}

TEST(Printable, KeepsUtf8TextButNotC1ControlsOrBrokenBytes) {
  EXPECT_EQ(Printable("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
            "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
  EXPECT_EQ(Printable("\xc2\x9b"
                      "2J"),
            "\\xc2\\x9b2J");  // U+009B: CSI
  EXPECT_EQ(Printable("\xe2\x80\xae"
                      "txt"),
            "\\xe2\\x80\\xaetxt");                          // U+202E: right-to-left
  EXPECT_EQ(Printable("\xff\xc3"), "\\xff\\xc3");           // not UTF-8, truncated
  EXPECT_EQ(Printable("\xc0\xaf"), "\\xc0\\xaf");           // overlong '/'
  EXPECT_EQ(Printable("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // a surrogate
  EXPECT_EQ(Printable(std::string_view("a\0b", 3)), "a\\x00b");
}

}  // namespace
}  // namespace shmpool::ctl
