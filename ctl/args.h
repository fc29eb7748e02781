// Args: shmpoolctl's command line, split into positional words and --options.
// "--name value" and "--name=value" take a value when the option is declared as taking one
// (kValueOptions in args.cc); others are switches. "-h" is --help. "--" ends the options.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace shmpool::ctl {

struct Args {
  std::vector<std::string> words;              // positional, in order
  std::map<std::string, std::string> options;  // name without "--" -> value ("" for switches)

  bool Has(const std::string& name) const { return options.count(name) != 0; }
  std::optional<std::string> Get(const std::string& name) const;
};

// INVALID_ARGUMENT for an unknown option or a missing value.
absl::StatusOr<Args> ParseArgs(int argc, char** argv);

}  // namespace shmpool::ctl
