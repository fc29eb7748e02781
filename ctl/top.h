// shmpoolctl top [NAME] [--interval D] [--iterations N]: stats of every arena (or one) live
// from the WatchStats stream, as a table redrawn at each update, with the malloc and free
// rates since the previous update. The table fits the terminal's width (keyboard.h): the
// columns that do not fit are left out, and the title says how many are hidden. `q` quits (exit 0);
// --iterations N stops after N updates (for scripts and tests); a stream that ends otherwise
// (the daemon stopped, failed, or sent nothing within --interval and --timeout) exits 1
// with a message. With --json: each update as one JSON object (the stats message) on a
// line of its own, no rates, no redrawing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <ostream>
#include <string>

#include "grpcpp/support/status.h"
#include "shmpool/v1/stats.pb.h"

namespace shmpool::ctl {

// The updates top draws: the WatchStats stream, or a test's frames.
class StatsFeed {
 public:
  virtual ~StatsFeed() = default;
  // The next update; false once the stream ended or was cancelled.
  virtual bool Read(v1::GetStatsResponse* frame) = 0;
  // From any thread: a pending or later Read returns false.
  virtual void Cancel() = 0;
  // Why the stream ended, once Read returned false.
  virtual grpc::Status Finish() = 0;
};

// Where top reads its keys and draws.
struct TopScreen {
  int input_fd;                   // 'q' quits; a terminal is in KeyboardMode meanwhile
  std::function<size_t()> width;  // the columns, asked at each update
  std::ostream* out;
  bool clear;  // each update redraws the screen from its top
};

// The table of one update, rates computed from the previous update of each arena.
class TopView {
 public:
  // Lines no wider than `width` columns.
  std::string Frame(const v1::GetStatsResponse& r, size_t width);

 private:
  struct Previous {
    uint64_t nmalloc = 0, nfree = 0;
    int64_t at_ns = 0;
  };
  std::map<std::string, Previous> previous_;  // by arena name
};

// Draws the feed's updates until `iterations` of them (0: no limit) or 'q', or until the
// stream ends. The exit code (command.h); the reason for 1 on stderr.
int RunTop(StatsFeed& feed, const TopScreen& screen, bool json, int64_t iterations);

}  // namespace shmpool::ctl
