#include "ctl/args.h"

#include "gtest/gtest.h"

namespace shmpool::ctl {
namespace {

const std::vector<OptionSpec> kSpecs = {
    {"capacity", "SIZE", ""}, {"json", "", ""}, {"help", "", ""}};

absl::StatusOr<Parsed> Parse(std::vector<std::string> argv, bool stop_at_word = false) {
  argv.insert(argv.begin(), "shmpoolctl");
  return ParseArgs(argv, 1, kSpecs, stop_at_word);
}

TEST(ParseArgs, WordsAndOptionsInAnyOrder) {
  absl::StatusOr<Parsed> p = Parse({"a", "--capacity", "1GiB", "b", "--json", "--capacity=2"});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->args.words, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(p->args.Get("capacity"), "2");  // the last one given
  EXPECT_TRUE(p->args.Has("json"));
  EXPECT_EQ(p->args.Get("json"), "");
  EXPECT_FALSE(p->args.Has("help"));
  EXPECT_EQ(p->next, 7u);
}

TEST(ParseArgs, DashHIsHelpAndDoubleDashEndsTheOptions) {
  absl::StatusOr<Parsed> p = Parse({"-h", "--", "--json", "-", "-x"});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_TRUE(p->args.Has("help"));
  EXPECT_FALSE(p->args.Has("json"));
  EXPECT_EQ(p->args.words, (std::vector<std::string>{"--json", "-", "-x"}));
}

TEST(ParseArgs, StopsAtTheFirstWord) {
  absl::StatusOr<Parsed> p = Parse({"--json", "arena", "--capacity", "1"}, true);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_TRUE(p->args.words.empty());
  EXPECT_TRUE(p->args.Has("json"));
  EXPECT_FALSE(p->args.Has("capacity"));
  EXPECT_EQ(p->next, 2u);
}

TEST(ParseArgs, RefusesWhatTheSpecsDoNotDeclare) {
  const std::pair<std::vector<std::string>, std::string> cases[] = {
      {{"--quota", "1"}, "unknown option --quota"},
      {{"--capacity"}, "--capacity needs a value (SIZE)"},
      {{"--json=yes"}, "--json takes no value"},
  };
  for (const auto& [argv, message] : cases) {
    absl::StatusOr<Parsed> p = Parse(argv);
    ASSERT_FALSE(p.ok()) << argv[0];
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(p.status().message(), message);
  }
}

TEST(ParseArgs, AValueMayLookLikeAnOption) {
  absl::StatusOr<Parsed> p = Parse({"--capacity", "--json"});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->args.Get("capacity"), "--json");
  EXPECT_FALSE(p->args.Has("json"));
}

}  // namespace
}  // namespace shmpool::ctl
