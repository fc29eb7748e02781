#include "ctl/cli.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"

namespace shmpool::ctl {
namespace {

constexpr const char* kNotes =
    R"(SIZE: bytes, or with a unit: 4096, 64MiB, 1GiB, 512K.
Strings that clients set (client names, pool holders) are printed with control characters
and other unprintable bytes as \xNN (a backslash as \\); --json escapes them the JSON way.
exit status: 0 success, 1 the daemon refused, failed or did not answer in time (its message,
or DEADLINE_EXCEEDED, on stderr), 2 bad usage.
)";

std::vector<std::string> WordsOf(const Command& c) { return absl::StrSplit(c.path, ' '); }

std::string FirstWord(const Command& c) { return WordsOf(c).front(); }

// "--name VALUE" (or "-h, --help") as the options' lists show it.
std::string OptionName(const OptionSpec& o) {
  std::string s = absl::StrCat(o.name == "help" ? "-h, " : "", "--", o.name);
  if (!o.value.empty()) absl::StrAppend(&s, " ", o.value);
  return s;
}

// Two columns: `left` padded to the widest, then `right`, whose further lines are indented
// to the second column.
std::string Columns(const std::vector<std::pair<std::string, std::string>>& rows) {
  size_t width = 0;
  for (const auto& [left, right] : rows) width = std::max(width, left.size());
  std::string out;
  for (const auto& [left, right] : rows) {
    const std::string indent(width + 4, ' ');
    absl::StrAppend(&out, "  ", left, std::string(width - left.size() + 2, ' '),
                    absl::StrReplaceAll(right, {{"\n", "\n" + indent}}), "\n");
  }
  return out;
}

std::string OptionList(const std::vector<OptionSpec>& specs) {
  std::vector<std::pair<std::string, std::string>> rows;
  for (const OptionSpec& o : specs) rows.emplace_back(OptionName(o), std::string(o.help));
  return Columns(rows);
}

std::string UsageLine(const Command& c) {
  return absl::StrCat("shmpoolctl ", c.path, c.operands.empty() ? "" : " ", c.operands,
                      c.options.empty() ? "" : " [OPTION...]");
}

bool IsGroup(const std::vector<Command>& table, const std::string& word) {
  return std::any_of(table.begin(), table.end(),
                     [&](const Command& c) { return c.path != word && FirstWord(c) == word; });
}

// The command whose words start argv[i...], the longest if several do.
const Command* Match(const std::vector<Command>& table, const std::vector<std::string>& argv,
                     size_t i) {
  const Command* best = nullptr;
  size_t best_words = 0;
  for (const Command& c : table) {
    const std::vector<std::string> words = WordsOf(c);
    if (i + words.size() > argv.size() || words.size() <= best_words) continue;
    if (std::equal(words.begin(), words.end(), argv.begin() + static_cast<ptrdiff_t>(i))) {
      best = &c;
      best_words = words.size();
    }
  }
  return best;
}

std::vector<std::string> Verbs(const std::vector<Command>& table, const std::string& group) {
  std::vector<std::string> verbs;
  for (const Command& c : table)
    if (FirstWord(c) == group) verbs.push_back(WordsOf(c).back());
  return verbs;
}

bool AsksForHelp(const std::vector<std::string>& argv, size_t from) {
  return std::any_of(argv.begin() + static_cast<ptrdiff_t>(from), argv.end(),
                     [](const std::string& a) { return a == "-h" || a == "--help"; });
}

}  // namespace

std::vector<Command> AllCommands() {
  std::vector<Command> all;
  for (std::vector<Command> (*group)() :
       {ArenaCommands, PoolCommands, StatsCommands, TopCommands, MapCommands, SegmentsCommands})
    for (Command& c : group()) all.push_back(std::move(c));
  return all;
}

const std::vector<OptionSpec>& GlobalOptions() {
  static const std::vector<OptionSpec> kGlobal = {
      {"endpoint", "E",
       "unix:PATH or HOST:PORT (default: $SHMPOOL_ENDPOINT, else the default\nsocket: "
       "/run/shmpool/shmpoold.sock or $XDG_RUNTIME_DIR/shmpool/shmpoold.sock)"},
      {"timeout", "D",
       "deadline of each RPC (10s, 500ms, or seconds; default 10s; 0: none);\ntop: of each "
       "frame after its --interval. Past it: DEADLINE_EXCEEDED, exit 1"},
      {"tls-ca", "F", "TCP endpoints with TLS: the CA (PEM) that signed the daemon's certificate;"},
      {"tls-cert", "F", "with the client certificate (PEM) and its key that the daemon requires"},
      {"tls-key", "F", "(its [tls] ca_file must have signed them). Unix sockets need none of this"},
      {"json", "",
       "print one JSON document on stdout instead of tables (top: one per update,\na line "
       "each; map: not with --output)"},
      {"help", "", "this help; after a command, that command's usage and options"},
      {"version", "", "print the version"},
  };
  return kGlobal;
}

absl::StatusOr<CommandLine> Resolve(const std::vector<Command>& table,
                                    const std::vector<std::string>& argv) {
  absl::StatusOr<Parsed> lead = ParseArgs(argv, 1, GlobalOptions(), true);
  if (!lead.ok())
    return absl::InvalidArgumentError(
        absl::StrCat(lead.status().message(), " (see shmpoolctl --help)"));
  CommandLine line;
  line.args = lead->args;
  size_t i = lead->next;
  const bool help_word = i < argv.size() && argv[i] == "help";
  if (help_word) ++i;
  const bool help = help_word || line.args.Has("help");
  if (line.args.Has("version")) {
    line.action = CommandLine::Action::kVersion;
    return line;
  }
  if (i == argv.size()) {
    if (!help) return absl::InvalidArgumentError("no command given (see shmpoolctl --help)");
    line.action = CommandLine::Action::kHelp;
    return line;
  }
  const Command* c = Match(table, argv, i);
  if (c == nullptr && IsGroup(table, argv[i])) {
    if (help || AsksForHelp(argv, i + 1)) {
      line.action = CommandLine::Action::kHelp;
      line.group = argv[i];
      return line;
    }
    return absl::InvalidArgumentError(absl::StrCat(
        i + 1 < argv.size() ? absl::StrCat("unknown command \"", argv[i], " ", argv[i + 1], "\"")
                            : absl::StrCat("\"", argv[i], "\" needs a command"),
        ": ", absl::StrJoin(Verbs(table, argv[i]), ", "), " (see shmpoolctl ", argv[i],
        " --help)"));
  }
  if (c == nullptr)
    return absl::InvalidArgumentError(
        absl::StrCat("unknown command \"", argv[i], "\" (see shmpoolctl --help)"));
  std::vector<OptionSpec> specs = c->options;
  specs.insert(specs.end(), GlobalOptions().begin(), GlobalOptions().end());
  const std::string see = absl::StrCat(" (see shmpoolctl ", c->path, " --help)");
  absl::StatusOr<Parsed> rest = ParseArgs(argv, i + WordsOf(*c).size(), specs, false);
  if (!rest.ok())
    return absl::InvalidArgumentError(absl::StrCat(c->path, ": ", rest.status().message(), see));
  rest->args.options.merge(line.args.options);  // after the command wins over before it
  line.args = std::move(rest->args);
  line.command = c;
  if (help || line.args.Has("help")) {
    line.action = CommandLine::Action::kHelp;
    return line;
  }
  if (line.args.Has("version")) {
    line.action = CommandLine::Action::kVersion;
    return line;
  }
  const size_t n = line.args.words.size();
  if (n < c->min_operands || n > c->max_operands)
    return absl::InvalidArgumentError(absl::StrCat("usage: ", UsageLine(*c), see));
  return line;
}

std::string GlobalHelp(const std::vector<Command>& table) {
  std::vector<std::pair<std::string, std::string>> rows;
  for (const Command& c : table)
    rows.emplace_back(absl::StrCat(c.path, c.operands.empty() ? "" : " ", c.operands),
                      std::string(c.summary));
  return absl::StrCat(
      "usage: shmpoolctl [GLOBAL OPTION...] COMMAND [OPERAND|OPTION...]\n"
      "       shmpoolctl COMMAND --help     the command's operands and options\n"
      "       shmpoolctl -h|--help|--version\n\ncommands:\n",
      Columns(rows), "\nglobal options (before or after the command):\n",
      OptionList(GlobalOptions()), "\n", kNotes);
}

std::string GroupHelp(const std::vector<Command>& table, const std::string& group) {
  std::vector<std::pair<std::string, std::string>> rows;
  for (const Command& c : table)
    if (FirstWord(c) == group)
      rows.emplace_back(absl::StrCat(c.path, c.operands.empty() ? "" : " ", c.operands),
                        std::string(c.summary));
  return absl::StrCat(group, " commands (shmpoolctl ", group, " COMMAND --help for one):\n",
                      Columns(rows));
}

std::string CommandHelp(const Command& c) {
  std::string out = absl::StrCat("usage: ", UsageLine(c), "\n", c.summary, "\n");
  if (!c.details.empty()) absl::StrAppend(&out, c.details, "\n");
  if (!c.options.empty()) absl::StrAppend(&out, "\noptions:\n", OptionList(c.options));
  absl::StrAppend(&out,
                  "\nglobal options: --endpoint E, --timeout D, --tls-ca/--tls-cert/--tls-key F, "
                  "--json, -h/--help\n(see shmpoolctl --help)\n");
  return out;
}

}  // namespace shmpool::ctl
