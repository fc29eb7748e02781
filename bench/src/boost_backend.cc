// Naming and creating the benchmark's Boost.Interprocess segment (see boost_backend.h).
#include "bench/src/boost_backend.h"

#include <unistd.h>

#include <atomic>

namespace shmpool::bench {

namespace bip = boost::interprocess;

BoostShmName::BoostShmName() : creator_(getpid()) {
  static std::atomic<int> counter{0};
  name_ = "shmpool-bench-boost-" + std::to_string(creator_) + "-" + std::to_string(counter++);
  bip::shared_memory_object::remove(name_.c_str());
}

BoostShmName::~BoostShmName() {
  if (getpid() == creator_) bip::shared_memory_object::remove(name_.c_str());
}

BoostBackend::BoostBackend(uint64_t capacity)
    : segment_(bip::create_only, name_.c_str(), capacity) {}

}  // namespace shmpool::bench
