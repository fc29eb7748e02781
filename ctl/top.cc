#include "ctl/top.h"

#include <unistd.h>

#include <iostream>
#include <optional>
#include <sstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "ctl/command.h"
#include "ctl/json.h"
#include "ctl/keyboard.h"
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

std::string Rate(uint64_t now, uint64_t before, double seconds) {
  if (seconds <= 0 || now < before) return "-";
  return absl::StrFormat("%.0f", double(now - before) / seconds);
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

// The WatchStats stream of `req`, each frame due --interval and --timeout after the previous
// (the watchdog, when there is a timeout). Finish says DEADLINE_EXCEEDED when the watchdog
// ended the stream.
class GrpcStatsFeed : public StatsFeed {
 public:
  GrpcStatsFeed(v1::StatsService::Stub& stub, const v1::WatchStatsRequest& req,
                absl::Duration interval)
      : interval_(interval) {
    if (Timeout() != absl::InfiniteDuration()) watchdog_.emplace(ctx_, interval + Timeout());
    reader_ = stub.WatchStats(&ctx_, req);
  }
  bool Read(v1::GetStatsResponse* frame) override {
    if (!reader_->Read(frame)) return false;
    if (watchdog_) watchdog_->Frame();
    return true;
  }
  void Cancel() override { ctx_.TryCancel(); }
  grpc::Status Finish() override {
    grpc::Status st = reader_->Finish();
    if (watchdog_ && watchdog_->fired())
      return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                          absl::StrCat("no stats in the --interval (",
                                       absl::FormatDuration(interval_), ") and the timeout"));
    return st;
  }

 private:
  const absl::Duration interval_;
  grpc::ClientContext ctx_;
  std::optional<FrameWatchdog> watchdog_;  // after ctx_, which it cancels
  std::unique_ptr<grpc::ClientReader<v1::GetStatsResponse>> reader_;
};

int Run(const Invocation& in) {
  const Args& args = in.args;
  absl::Duration interval = absl::Seconds(1);
  if (auto v = args.Get("interval"); v && !absl::ParseDuration(*v, &interval)) {
    std::cerr << "shmpoolctl: --interval: not a duration (e.g. 500ms, 2s): " << *v << "\n";
    return kExitUsage;
  }
  int64_t iterations = 0;
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
  GrpcStatsFeed feed(*stub, req, interval);
  const TopScreen screen{STDIN_FILENO, [] { return TerminalWidth(STDOUT_FILENO); }, &std::cout,
                         !in.json && isatty(STDOUT_FILENO)};
  return RunTop(feed, screen, in.json, iterations);
}

}  // namespace

std::string TopView::Frame(const v1::GetStatsResponse& r, size_t width) {
  const int64_t at = google::protobuf::util::TimeUtil::TimestampToNanoseconds(r.read_time());
  Table t({"ARENA", "ALLOCATED", "ACTIVE", "RESIDENT", "CACHED", "RETAINED", "EXT_FRAG",
           "RSS_RATIO", "MALLOC/S", "FREE/S", "PROCS", "PURGES"});
  for (const v1::ArenaStats& s : r.arenas()) {
    Previous& p = previous_[s.name()];
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
  std::ostringstream table;
  const size_t hidden = t.Print(table, width);
  const std::string title =
      absl::StrCat("shmpool top  ", hidden ? absl::StrCat(hidden, " columns hidden  ") : "",
                   "q: quit  ", google::protobuf::util::TimeUtil::ToString(r.read_time()));
  return absl::StrCat(FitWidth(title, width), "\n", table.str());
}

int RunTop(StatsFeed& feed, const TopScreen& screen, bool json, int64_t iterations) {
  KeyboardMode keyboard(screen.input_fd);
  // A terminal top could not take (it runs in the background) is not read: reading it would
  // stop the process.
  const bool watch = keyboard.active() || !isatty(screen.input_fd);
  KeyWatcher keys(watch ? screen.input_fd : -1, [&feed] { feed.Cancel(); });
  TopView view;
  v1::GetStatsResponse frame;
  int64_t n = 0;
  bool done = false;  // every iteration drawn
  while (feed.Read(&frame)) {
    if (json) {
      *screen.out << ToJson(frame) << std::endl;  // one frame per line, as it comes
    } else {
      if (screen.clear) *screen.out << "\033[H\033[2J";
      *screen.out << view.Frame(frame, screen.width()) << std::flush;
    }
    if (iterations > 0 && ++n >= iterations) {
      done = true;
      feed.Cancel();
      break;
    }
  }
  const grpc::Status st = feed.Finish();
  if (done || keys.quit()) return kExitOk;
  if (!st.ok()) return Failed(st);
  std::cerr << "shmpoolctl: top: the daemon ended the stats stream (it stopped?)\n";
  return kExitFailed;
}

std::vector<Command> TopCommands() {
  return {
      {.path = "top",
       .operands = "[NAME]",
       .max_operands = 1,
       .summary = "live stats of every arena (or one), redrawn every interval; q quits",
       .details = "The table fits the terminal's width (else $COLUMNS, else 80 columns).",
       .options = {{"interval", "D", "time between updates (default 1s)"},
                   {"iterations", "N", "stop after N updates (default: until q)"}},
       .run = Run},
  };
}

}  // namespace shmpool::ctl
