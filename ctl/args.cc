#include "ctl/args.h"

#include "absl/strings/str_cat.h"

namespace shmpool::ctl {
namespace {

const OptionSpec* Find(const std::vector<OptionSpec>& specs, absl::string_view name) {
  for (const OptionSpec& s : specs)
    if (s.name == name) return &s;
  return nullptr;
}

}  // namespace

std::optional<std::string> Args::Get(const std::string& name) const {
  auto it = options.find(name);
  if (it == options.end()) return std::nullopt;
  return it->second;
}

absl::StatusOr<Parsed> ParseArgs(const std::vector<std::string>& argv, size_t begin,
                                 const std::vector<OptionSpec>& specs, bool stop_at_word) {
  Parsed p;
  Args& a = p.args;
  bool options_done = false;
  size_t i = begin;
  for (; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    const bool word = options_done || arg == "-" || (arg != "-h" && arg.rfind("--", 0) != 0);
    if (word && stop_at_word) break;
    if (word) {
      a.words.push_back(arg);
      continue;
    }
    if (arg == "--") {
      options_done = true;
      continue;
    }
    std::string name = arg == "-h" ? "help" : arg.substr(2), value;
    const size_t eq = name.find('=');
    const bool inline_value = eq != std::string::npos;
    if (inline_value) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    const OptionSpec* spec = Find(specs, name);
    if (spec == nullptr) return absl::InvalidArgumentError(absl::StrCat("unknown option --", name));
    if (spec->value.empty() && inline_value)
      return absl::InvalidArgumentError(absl::StrCat("--", name, " takes no value"));
    if (!spec->value.empty() && !inline_value) {
      if (i + 1 >= argv.size())
        return absl::InvalidArgumentError(
            absl::StrCat("--", name, " needs a value (", spec->value, ")"));
      value = argv[++i];
    }
    a.options[name] = value;
  }
  p.next = i;
  return p;
}

}  // namespace shmpool::ctl
