#include "ctl/args.h"

#include <set>

#include "absl/strings/str_cat.h"

namespace shmpool::ctl {
namespace {

const std::set<std::string> kValueOptions = {
    "endpoint", "capacity",   "quota",   "owner",  "group",       "max-procs", "max-thread-caches",
    "interval", "iterations", "output",  "cells",  "object-size", "count",     "align",
    "headroom", "shm-dir",    "timeout", "tls-ca", "tls-cert",    "tls-key"};
const std::set<std::string> kSwitches = {"json",           "all",   "help",
                                         "cache-line-pad", "force", "version"};

}  // namespace

std::optional<std::string> Args::Get(const std::string& name) const {
  auto it = options.find(name);
  if (it == options.end()) return std::nullopt;
  return it->second;
}

absl::StatusOr<Args> ParseArgs(int argc, char** argv) {
  Args a;
  bool options_done = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (!options_done && arg == "-h") {
      a.options["help"] = "";
      continue;
    }
    if (options_done || arg.size() < 2 || arg.compare(0, 2, "--") != 0 || arg == "-") {
      a.words.push_back(arg);
      continue;
    }
    if (arg == "--") {
      options_done = true;
      continue;
    }
    std::string name = arg.substr(2), value;
    const size_t eq = name.find('=');
    const bool inline_value = eq != std::string::npos;
    if (inline_value) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (kSwitches.count(name)) {
      if (inline_value)
        return absl::InvalidArgumentError(absl::StrCat("--", name, " takes no value"));
    } else if (kValueOptions.count(name)) {
      if (!inline_value) {
        if (i + 1 >= argc)
          return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
        value = argv[++i];
      }
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown option --", name));
    }
    a.options[name] = value;
  }
  return a;
}

}  // namespace shmpool::ctl
