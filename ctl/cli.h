// shmpoolctl's command line as a whole: the table of every command (command.h), the global
// options (--endpoint, --timeout, --tls-*, --json, -h/--help, --version: accepted before or
// after the command), and the help texts drawn from the table.
//   shmpoolctl [GLOBAL...] COMMAND [OPERAND|OPTION...]   runs COMMAND
//   shmpoolctl COMMAND --help | help COMMAND              COMMAND's usage and options
//   shmpoolctl GROUP --help (e.g. arena --help)           the group's commands
//   shmpoolctl -h | --help | help                         every command, the global options
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ctl/args.h"
#include "ctl/command.h"

namespace shmpool::ctl {

// Every command, grouped, in the order --help lists them.
std::vector<Command> AllCommands();
const std::vector<OptionSpec>& GlobalOptions();

// A command line resolved against the table.
struct CommandLine {
  enum class Action { kRun, kHelp, kVersion };
  Action action = Action::kRun;
  const Command* command = nullptr;  // kRun: the command; kHelp: the one asked about, or null
  std::string group;                 // kHelp of a group ("arena"), else ""
  Args args;                         // the command's operands; its options and global ones
};

// INVALID_ARGUMENT, with the message to print, for an unknown command or option, a missing
// value, or a number of operands the command does not take.
absl::StatusOr<CommandLine> Resolve(const std::vector<Command>& table,
                                    const std::vector<std::string>& argv);

std::string GlobalHelp(const std::vector<Command>& table);
std::string GroupHelp(const std::vector<Command>& table, const std::string& group);
std::string CommandHelp(const Command& command);

}  // namespace shmpool::ctl
