// Args: one part of shmpoolctl's command line, split into positional words and --options,
// parsed against the options a command declares (OptionSpec). "--name value" and
// "--name=value" give a value to an option declared with one (a placeholder such as
// "SIZE"); an option declared without one is a switch. "-h" is --help. "--" ends the
// options: every argument after it is a word.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"

namespace shmpool::ctl {

// One --option a command accepts: its name without "--", the placeholder of its value
// ("" for a switch) and one line of help.
struct OptionSpec {
  absl::string_view name;
  absl::string_view value;
  absl::string_view help;
};

struct Args {
  std::vector<std::string> words;              // positional, in order
  std::map<std::string, std::string> options;  // name without "--" -> value ("" for switches)

  bool Has(const std::string& name) const { return options.count(name) != 0; }
  std::optional<std::string> Get(const std::string& name) const;
};

// The result of ParseArgs: what it parsed, and the index of the first argument it did not
// look at (argv.size() unless it stopped at a word).
struct Parsed {
  Args args;
  size_t next = 0;
};

// Parses argv[begin...] against `specs`. With stop_at_word, stops before the first positional
// word (the command's name after the global options). INVALID_ARGUMENT for an option not in
// `specs`, a missing value, or a value given to a switch.
absl::StatusOr<Parsed> ParseArgs(const std::vector<std::string>& argv, size_t begin,
                                 const std::vector<OptionSpec>& specs, bool stop_at_word);

}  // namespace shmpool::ctl
