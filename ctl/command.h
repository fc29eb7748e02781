// Command: one entry of shmpoolctl's table of commands. Each command group (arena, pool,
// stats, top, map, segments) declares its entries in its own file; cli.cc finds the entry a
// command line names, parses that command's own options with the global ones, prints its
// --help, and runs its handler. A command prints a readable table or, with --json, one JSON
// document on stdout (top: one per update, a line each).
// Exit codes: 0 success, 1 the daemon refused or failed (its message on stderr), 2 bad usage.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>
#include "absl/strings/string_view.h"

#include "ctl/args.h"
#include "grpcpp/channel.h"

namespace shmpool::ctl {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;

// What a handler gets: its operands (the words after the command's name) and options, the
// global --json, and the channel to the daemon (null for a command that needs none).
struct Invocation {
  const Args& args;
  bool json;
  std::shared_ptr<grpc::Channel> channel;
};

// One command. Invariants: `path` is unique in the table; min_operands <= max_operands;
// `options` does not repeat a global option's name.
struct Command {
  absl::string_view path;      // its words: "arena create", "stats"
  absl::string_view operands;  // the operands in its usage line: "NAME SIZE", "[NAME]"
  size_t min_operands = 0, max_operands = 0;
  absl::string_view summary;  // one line, for the list of commands
  absl::string_view details;  // more lines for its --help ("" for none)
  std::vector<OptionSpec> options;
  int (*run)(const Invocation&) = nullptr;
  bool daemon = true;  // talks to shmpoold (segments reads files only)
};

// The entries of each group, in the order --help lists them.
std::vector<Command> ArenaCommands();
std::vector<Command> PoolCommands();
std::vector<Command> StatsCommands();
std::vector<Command> TopCommands();
std::vector<Command> MapCommands();
std::vector<Command> SegmentsCommands();

}  // namespace shmpool::ctl
