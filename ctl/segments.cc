// shmpoolctl segments list|remove: segment files whose daemon is gone for good. These
// commands read the shm directory and the segment files themselves, without a daemon:
// list shows each segment file (retired generations of reset arenas included), its arena,
// whether it validates, its generation, and its attached processes (live, or dead and not
// yet reclaimed); remove deletes a segment file (and its .meta sidecar), refusing while a
// process is attached and alive unless --force, and while a daemon serves the directory
// (it holds shmpool.lock: use `arena delete` then).
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "ctl/command.h"
#include "ctl/json.h"
#include "ctl/table.h"
#include "proto/api/names.h"
#include "proto/api/size.h"
#include "shm/atomics.h"
#include "shm/proc_identity.h"
#include "shm/segment.h"
#include "shm/untrusted.h"
#include "shm/validate.h"

namespace shmpool::ctl {
namespace {

constexpr const char* kDefaultShmDir = "/dev/shm/shmpool";  // the daemon's default shm_dir

struct SegmentInfo {
  std::string path, arena;
  std::string validation = "ok";  // or why Segment::Open refused it
  uint64_t capacity = 0;
  uint64_t generation = 0;  // the arena's generation this file holds (arena reset)
  uint64_t retired_by = 0;  // 0, or the generation that replaced it
  std::vector<uint32_t> live_pids, dead_pids;  // attached; dead = not yet reclaimed
};

// The arena of a segment file name, current or a retired generation ("" when neither).
std::string ArenaOfFile(absl::string_view name) {
  std::string id = api::ArenaIdOfSegmentFile(name);
  return id.empty() ? api::ArenaIdOfRetiredFile(name) : id;
}

std::string Dir(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, std::max<size_t>(slash, 1));
}

// The pid of the daemon that holds DIR/shmpool.lock, 0 if none does.
bool DaemonHoldsDir(const std::string& dir) {
  const int fd = open((dir + "/shmpool.lock").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool held = flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  close(fd);
  return held;
}

// "ok", or what is wrong with the segment's contents: shm::Validate inside an
// UntrustedScope (a corrupt or truncated file ends the walk, not this process). Validate
// is exact only while nobody allocates: errors are reported when they persist over
// kValidateTries walks.
std::string ValidateContents(const shm::Segment& s) {
  constexpr int kValidateTries = 3;
  std::string verdict;
  for (int i = 0; i < kValidateTries; ++i) {
    try {
      shm::UntrustedScope scope(std::chrono::milliseconds(100));
      const shm::ValidationReport r = shm::Validate(s);
      if (r.ok()) return "ok";
      verdict = absl::StrCat(
          "corrupt: ", r.errors.front(),
          r.errors.size() > 1 ? absl::StrCat(" (+", r.errors.size() - 1, " more)") : "");
    } catch (const shm::SegmentFault& f) {
      verdict = absl::StrCat("corrupt: ", f.what());
    }
    if (s.Faulted()) return "truncated: the file is shorter than its geometry";
  }
  return verdict;
}

SegmentInfo Inspect(const std::string& path) {
  SegmentInfo info;
  info.path = path;
  const size_t slash = path.rfind('/');
  info.arena = ArenaOfFile(slash == std::string::npos ? path : path.substr(slash + 1));
  absl::StatusOr<std::unique_ptr<shm::Segment>> seg = shm::Segment::Open(path);
  if (!seg.ok()) {
    info.validation = std::string(seg.status().message());
    return info;
  }
  const shm::Segment& s = **seg;
  info.validation = ValidateContents(s);
  info.capacity = s.geometry().capacity;
  info.generation = s.header().generation.number;
  info.retired_by = shm::LoadAcquire(s.header().generation.xretired_by);
  for (uint32_t i = 0; i < s.geometry().max_procs; ++i) {
    const shm::ProcRecord& r = s.proc(i);
    const uint32_t state = r.state();
    if (state != shm::ProcRecord::kLive && state != shm::ProcRecord::kDead) continue;
    const bool alive =
        state == shm::ProcRecord::kLive && !shm::ProcIdentity{r.pid, r.start_time}.KnownGone();
    (alive ? info.live_pids : info.dead_pids).push_back(r.pid);
  }
  return info;
}

int List(const Invocation& in) {
  const Args& args = in.args;
  const std::string dir = args.Get("shm-dir").value_or(kDefaultShmDir);
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) {
    std::cerr << "shmpoolctl: cannot read " << dir << ": " << std::strerror(errno) << "\n";
    return kExitFailed;
  }
  std::vector<std::string> paths;
  while (dirent* e = readdir(d))
    if (!ArenaOfFile(e->d_name).empty()) paths.push_back(dir + "/" + e->d_name);
  closedir(d);
  std::sort(paths.begin(), paths.end());
  const bool served = DaemonHoldsDir(dir);
  shm::InstallBusGuard();  // a file cut short while we read it
  std::vector<SegmentInfo> infos;
  for (const std::string& p : paths) infos.push_back(Inspect(p));
  if (in.json) {
    std::vector<std::string> items;
    for (const SegmentInfo& i : infos)
      items.push_back(absl::StrFormat(
          "{\"path\":%s,\"arena\":%s,\"valid\":%s,\"validation\":%s,\"capacity_bytes\":%d,"
          "\"generation\":%d,\"retired_by\":%d,\"live_pids\":[%s],\"dead_pids\":[%s]}",
          JsonString(i.path), JsonString(i.arena), i.validation == "ok" ? "true" : "false",
          JsonString(i.validation), i.capacity, i.generation, i.retired_by,
          absl::StrJoin(i.live_pids, ","), absl::StrJoin(i.dead_pids, ",")));
    std::cout << absl::StrFormat("{\"shm_dir\":%s,\"daemon_running\":%s,\"segments\":[%s]}\n",
                                 JsonString(dir), served ? "true" : "false",
                                 absl::StrJoin(items, ","));
    return kExitOk;
  }
  std::cout << dir << ": "
            << (served ? "a daemon serves this directory (shmpool.lock is held)"
                       : "no daemon serves this directory")
            << "\n";
  Table t({"PATH", "ARENA", "VALID", "CAPACITY", "GENERATION", "LIVE PIDS", "DEAD PIDS"});
  for (const SegmentInfo& i : infos)
    t.Add({i.path, i.arena, i.validation, i.capacity ? api::FormatSize(i.capacity) : "-",
           i.validation != "ok" ? "-"
           : i.retired_by       ? absl::StrCat(i.generation, " (retired by ", i.retired_by, ")")
                                : absl::StrCat(i.generation),
           i.live_pids.empty() ? "-" : absl::StrJoin(i.live_pids, ","),
           i.dead_pids.empty() ? "-" : absl::StrJoin(i.dead_pids, ",")});
  t.Print(std::cout);
  return kExitOk;
}

int Remove(const Invocation& in) {
  const Args& args = in.args;
  const std::string& path = args.words[0];
  const size_t slash = path.rfind('/');
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  const bool retired = !api::ArenaIdOfRetiredFile(name).empty();
  if (!absl::EndsWith(path, ".seg") && !retired) {
    std::cerr << "shmpoolctl: " << path
              << " is not a segment file (shmpool.NAME.seg, or shmpool.NAME.seg.retired-N)\n";
    return kExitUsage;
  }
  const bool force = args.Has("force");
  if (DaemonHoldsDir(Dir(path)) && !force) {
    std::cerr << "shmpoolctl: FAILED_PRECONDITION: a daemon serves " << Dir(path)
              << " (shmpool.lock is held): use `shmpoolctl arena delete`, or --force\n";
    return kExitFailed;
  }
  const SegmentInfo info = Inspect(path);
  if (!info.live_pids.empty() && !force) {
    std::cerr << "shmpoolctl: FAILED_PRECONDITION: " << info.live_pids.size()
              << " live process(es) still attached to " << path << " (pids "
              << absl::StrJoin(info.live_pids, ",") << "): detach them, or --force\n";
    return kExitFailed;
  }
  if (unlink(path.c_str()) != 0) {
    std::cerr << "shmpoolctl: cannot remove " << path << ": " << std::strerror(errno) << "\n";
    return kExitFailed;
  }
  if (!retired) unlink((path.substr(0, path.size() - 4) + ".meta").c_str());  // its sidecar
  if (in.json) {
    std::cout << absl::StrFormat("{\"path\":%s,\"removed\":true,\"live_pids\":[%s]}\n",
                                 JsonString(path), absl::StrJoin(info.live_pids, ","));
    return kExitOk;
  }
  std::cout << "removed " << path
            << (info.live_pids.empty() ? ""
                                       : absl::StrCat(" (", info.live_pids.size(),
                                                      " live process(es) keep their mapping)"))
            << "\n";
  return kExitOk;
}

}  // namespace

std::vector<Command> SegmentsCommands() {
  return {
      {.path = "segments list",
       .summary = "segment files (no daemon needed): validity, generation, processes",
       .details = "Retired generations of reset arenas included; attached processes are live,\n"
                  "or dead and not yet reclaimed.",
       .options = {{"shm-dir", "DIR", "the daemon's shm directory (default /dev/shm/shmpool)"}},
       .run = List,
       .daemon = false},
      {.path = "segments remove",
       .operands = "PATH",
       .min_operands = 1,
       .max_operands = 1,
       .summary = "delete a segment whose daemon is gone for good",
       .details = "Refused while processes are alive or a daemon serves the directory.",
       .options = {{"force", "", "remove it all the same"}},
       .run = Remove,
       .daemon = false},
  };
}

}  // namespace shmpool::ctl
