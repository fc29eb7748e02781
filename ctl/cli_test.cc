#include "ctl/cli.h"

#include <set>

#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace shmpool::ctl {
namespace {

absl::StatusOr<CommandLine> Resolve(std::vector<std::string> argv) {
  static const std::vector<Command> table = AllCommands();
  argv.insert(argv.begin(), "shmpoolctl");
  return ctl::Resolve(table, argv);
}

TEST(CommandTable, EveryEntryIsWellFormed) {
  std::set<std::string> paths;
  for (const Command& c : AllCommands()) {
    const std::string path(c.path);
    EXPECT_TRUE(paths.insert(path).second) << path << " twice";
    EXPECT_FALSE(c.summary.empty()) << path;
    EXPECT_NE(c.run, nullptr) << path;
    EXPECT_LE(c.min_operands, c.max_operands) << path;
    for (const OptionSpec& o : c.options) {
      EXPECT_FALSE(o.help.empty()) << path << " --" << o.name;
      for (const OptionSpec& g : GlobalOptions())
        EXPECT_NE(o.name, g.name) << path << " repeats a global option";
    }
  }
  for (const char* expected :
       {"arena create", "arena list", "arena get", "arena delete", "arena reset", "arena set-quota",
        "pool create", "pool list", "pool delete", "stats", "purge", "doctor", "top", "map",
        "segments list", "segments remove"})
    EXPECT_EQ(paths.count(expected), 1u) << expected;
}

TEST(CommandTable, EachCommandHasItsOwnHelp) {
  for (const Command& c : AllCommands()) {
    const std::vector<std::string> words = absl::StrSplit(c.path, ' ');
    for (const char* flag : {"--help", "-h"}) {
      std::vector<std::string> argv = words;
      argv.push_back(flag);
      absl::StatusOr<CommandLine> line = Resolve(argv);
      ASSERT_TRUE(line.ok()) << c.path << " " << flag << ": " << line.status();
      EXPECT_EQ(line->action, CommandLine::Action::kHelp) << c.path;
      ASSERT_NE(line->command, nullptr) << c.path;
      EXPECT_EQ(line->command->path, c.path);
    }
    const std::string help = CommandHelp(c);
    EXPECT_EQ(help.rfind("usage: shmpoolctl " + std::string(c.path), 0), 0u) << help;
    for (const OptionSpec& o : c.options)
      EXPECT_NE(help.find("--" + std::string(o.name)), std::string::npos) << help;
  }
}

TEST(Resolve, ArenaCreateHelpIsThatCommandsHelp) {
  absl::StatusOr<CommandLine> line = Resolve({"arena", "create", "--help"});
  ASSERT_TRUE(line.ok()) << line.status();
  ASSERT_EQ(line->action, CommandLine::Action::kHelp);
  const std::string help = CommandHelp(*line->command);
  EXPECT_NE(help.find("--max-thread-caches N"), std::string::npos) << help;
  EXPECT_EQ(help.find("pool create"), std::string::npos) << help;
  line = Resolve({"help", "arena", "create"});
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_EQ(line->action, CommandLine::Action::kHelp);
  EXPECT_EQ(line->command->path, "arena create");
}

TEST(Resolve, AGroupAloneListsItsCommands) {
  absl::StatusOr<CommandLine> line = Resolve({"pool", "--help"});
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_EQ(line->action, CommandLine::Action::kHelp);
  EXPECT_EQ(line->group, "pool");
  line = Resolve({"pool"});
  ASSERT_FALSE(line.ok());
  EXPECT_EQ(line.status().message(),
            "\"pool\" needs a command: create, list, delete (see shmpoolctl pool --help)");
}

TEST(Resolve, ACommandRefusesAnotherCommandsOption) {
  absl::StatusOr<CommandLine> line = Resolve({"arena", "list", "--capacity", "1GiB"});
  ASSERT_FALSE(line.ok());
  EXPECT_EQ(line.status().message(),
            "arena list: unknown option --capacity (see shmpoolctl arena list --help)");
  line = Resolve({"--capacity", "1GiB", "arena", "create", "x"});
  ASSERT_FALSE(line.ok());
  EXPECT_EQ(line.status().message(), "unknown option --capacity (see shmpoolctl --help)");
}

TEST(Resolve, GlobalOptionsBeforeOrAfterTheCommand) {
  absl::StatusOr<CommandLine> line =
      Resolve({"--endpoint", "unix:/a", "--timeout=2s", "pool", "list", "p", "--json"});
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_EQ(line->action, CommandLine::Action::kRun);
  EXPECT_EQ(line->command->path, "pool list");
  EXPECT_EQ(line->args.words, (std::vector<std::string>{"p"}));
  EXPECT_EQ(line->args.Get("endpoint"), "unix:/a");
  EXPECT_EQ(line->args.Get("timeout"), "2s");
  EXPECT_TRUE(line->args.Has("json"));
}

TEST(Resolve, OperandCountsAreChecked) {
  absl::StatusOr<CommandLine> line = Resolve({"arena", "set-quota", "t1"});
  ASSERT_FALSE(line.ok());
  EXPECT_EQ(line.status().message(),
            "usage: shmpoolctl arena set-quota NAME SIZE (see shmpoolctl arena set-quota --help)");
  EXPECT_FALSE(Resolve({"stats", "a", "b"}).ok());
  EXPECT_TRUE(Resolve({"stats"}).ok());
}

TEST(Resolve, HelpAndVersionWithoutACommand) {
  for (const char* flag : {"-h", "--help", "help"}) {
    absl::StatusOr<CommandLine> line = Resolve({flag});
    ASSERT_TRUE(line.ok()) << flag;
    EXPECT_EQ(line->action, CommandLine::Action::kHelp);
    EXPECT_EQ(line->command, nullptr);
    EXPECT_TRUE(line->group.empty());
  }
  absl::StatusOr<CommandLine> line = Resolve({"--version"});
  ASSERT_TRUE(line.ok());
  EXPECT_EQ(line->action, CommandLine::Action::kVersion);
  EXPECT_EQ(Resolve({}).status().message(), "no command given (see shmpoolctl --help)");
  EXPECT_EQ(Resolve({"frobnicate"}).status().message(),
            "unknown command \"frobnicate\" (see shmpoolctl --help)");
}

TEST(GlobalHelp, ListsEveryCommandAndGlobalOption) {
  const std::vector<Command> table = AllCommands();
  const std::string help = GlobalHelp(table);
  for (const Command& c : table) EXPECT_NE(help.find(std::string(c.path)), std::string::npos);
  for (const OptionSpec& o : GlobalOptions())
    EXPECT_NE(help.find("--" + std::string(o.name)), std::string::npos) << o.name;
}

}  // namespace
}  // namespace shmpool::ctl
