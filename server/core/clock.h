// Clock: the time the daemon's decisions read (attach grace, audit schedule, reclaim
// times). SystemClock() is absl::Now(); tests pass a clock they move by hand
// (fakes_test.h), so a decision that depends on time passing is tested without sleeping.
#pragma once

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace shmpool::server {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
};

// absl::Now(); one instance for the daemon's life.
const Clock& SystemClock();

}  // namespace shmpool::server
