// shmpoolctl top [NAME] [--interval DURATION] [--iterations N]: stats of every arena (or
// one) live from the WatchStats stream, as a plain table redrawn at each update, with the
// malloc and free rates since the previous update. --iterations N stops after N updates
// (for scripts and tests); otherwise it runs until interrupted. With --json: each update as
// one JSON object (the stats message) on a line of its own, no rates, no redrawing.
#include <unistd.h>

#include <iostream>
#include <map>
#include <optional>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "ctl/command.h"
#include "ctl/json.h"
#include "ctl/rpc_common.h"
#include "ctl/stats_view.h"
#include "ctl/table.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/client_context.h"
#include "proto/api/names.h"
#include "proto/api/size.h"
#include "shmpool/v1/stats.grpc.pb.h"

namespace shmpool::ctl {
namespace {

using api::FormatSize;

struct Previous {
  uint64_t nmalloc = 0, nfree = 0;
  int64_t at_ns = 0;
};

std::string Rate(uint64_t now, uint64_t before, double seconds) {
  if (seconds <= 0 || now < before) return "-";
  return absl::StrFormat("%.0f", double(now - before) / seconds);
}

void Draw(const v1::GetStatsResponse& r, std::map<std::string, Previous>& prev, bool clear) {
  const int64_t at = google::protobuf::util::TimeUtil::TimestampToNanoseconds(r.read_time());
  if (clear) std::cout << "\033[H\033[2J";
  std::cout << "shmpool top  " << google::protobuf::util::TimeUtil::ToString(r.read_time()) << "\n";
  Table t({"ARENA", "ALLOCATED", "ACTIVE", "RESIDENT", "CACHED", "RETAINED", "EXT_FRAG",
           "RSS_RATIO", "MALLOC/S", "FREE/S", "PROCS", "PURGES"});
  for (const v1::ArenaStats& s : r.arenas()) {
    Previous& p = prev[s.name()];
    const double dt = p.at_ns ? double(at - p.at_ns) / 1e9 : 0;
    t.Add({ArenaIdOf(s.name()), FormatSize(s.allocated_bytes()), FormatSize(s.active_bytes()),
           FormatSize(s.resident_bytes()), FormatSize(s.cached_bytes()),
           FormatSize(s.retained_bytes()),
           FormatRatio(s.has_external_fragmentation(), s.external_fragmentation()),
           FormatRatio(s.has_rss_ratio(), s.rss_ratio()), Rate(s.nmalloc(), p.nmalloc, dt),
           Rate(s.nfree(), p.nfree, dt), absl::StrCat(s.attached_procs()),
           absl::StrCat(s.purge_count())});
    p = {s.nmalloc(), s.nfree(), at};
  }
  t.Print(std::cout);
  std::cout.flush();
}

// The deadline of a watch, which has no end of its own: it cancels the stream when no frame
// came within `limit` of the previous one (or of the start). Its thread waits on a
// condition of done_ with the frame's deadline; last_ is the time of the latest frame.
class FrameWatchdog {
 public:
  FrameWatchdog(grpc::ClientContext& ctx, absl::Duration limit)
      : ctx_(ctx), limit_(limit), last_(absl::Now()), thread_([this] { Watch(); }) {}
  ~FrameWatchdog() {
    {
      absl::MutexLock lock(&mu_);
      done_ = true;
    }
    thread_.join();
  }
  void Frame() {
    absl::MutexLock lock(&mu_);
    last_ = absl::Now();
  }
  bool fired() {
    absl::MutexLock lock(&mu_);
    return fired_;
  }

 private:
  void Watch() {
    absl::MutexLock lock(&mu_);
    while (!done_) {
      if (mu_.AwaitWithDeadline(absl::Condition(&done_), last_ + limit_)) return;
      if (absl::Now() >= last_ + limit_) {
        fired_ = true;
        ctx_.TryCancel();
        return;
      }
    }
  }

  grpc::ClientContext& ctx_;
  const absl::Duration limit_;
  absl::Mutex mu_;
  absl::Time last_ ABSL_GUARDED_BY(mu_);
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  bool fired_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: starts once the fields above are set
};

int Run(const Invocation& in) {
  const Args& args = in.args;
  absl::Duration interval = absl::Seconds(1);
  if (auto v = args.Get("interval"); v && !absl::ParseDuration(*v, &interval)) {
    std::cerr << "shmpoolctl: --interval: not a duration (e.g. 500ms, 2s): " << *v << "\n";
    return kExitUsage;
  }
  int64_t iterations = -1;
  if (auto v = args.Get("iterations");
      v && (!absl::SimpleAtoi(*v, &iterations) || iterations < 1)) {
    std::cerr << "shmpoolctl: --iterations: not a positive number: " << *v << "\n";
    return kExitUsage;
  }
  v1::WatchStatsRequest req;
  req.set_name(args.words.size() == 1 ? ArenaNameOf(args.words[0]) : std::string(api::kAllArenas));
  const int64_t ns = absl::ToInt64Nanoseconds(interval);
  req.mutable_interval()->set_seconds(ns / 1000000000);
  req.mutable_interval()->set_nanos(static_cast<int32_t>(ns % 1000000000));
  auto stub = v1::StatsService::NewStub(in.channel);
  grpc::ClientContext ctx;
  // Each frame is due an interval after the previous one, and gets --timeout on top.
  std::optional<FrameWatchdog> watchdog;
  if (Timeout() != absl::InfiniteDuration()) watchdog.emplace(ctx, interval + Timeout());
  auto reader = stub->WatchStats(&ctx, req);
  std::map<std::string, Previous> prev;
  const bool json = in.json;
  const bool clear = !json && isatty(STDOUT_FILENO);
  v1::GetStatsResponse resp;
  int64_t n = 0;
  bool done = false;  // every iteration drawn
  while (reader->Read(&resp)) {
    if (watchdog) watchdog->Frame();
    if (json)
      std::cout << ToJson(resp) << std::endl;  // one frame per line, as it comes
    else
      Draw(resp, prev, clear);
    if (iterations > 0 && ++n >= iterations) {
      done = true;
      ctx.TryCancel();
      break;
    }
  }
  grpc::Status st = reader->Finish();
  if (!done && watchdog && watchdog->fired())
    return Failed(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                               absl::StrCat("no stats in the --interval (",
                                            absl::FormatDuration(interval), ") and the timeout")));
  if (!st.ok() && st.error_code() != grpc::StatusCode::CANCELLED) return Failed(st);
  return kExitOk;
}

}  // namespace

std::vector<Command> TopCommands() {
  return {
      {.path = "top",
       .operands = "[NAME]",
       .max_operands = 1,
       .summary = "live stats of every arena (or one), redrawn every interval",
       .options = {{"interval", "D", "time between updates (default 1s)"},
                   {"iterations", "N", "stop after N updates (default: until interrupted)"}},
       .run = Run},
  };
}

}  // namespace shmpool::ctl
