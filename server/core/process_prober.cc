#include "server/core/process_prober.h"

#include <signal.h>

#include <cerrno>

namespace shmpool::server {
namespace {

class Kernel final : public ProcessProber {
 public:
  shm::Liveness Check(const shm::ProcIdentity& id) const override { return id.Check(); }
  shm::Liveness CheckPid(pid_t pid) const override {
    if (pid <= 0) return shm::Liveness::kUnknown;
    if (kill(pid, 0) == 0 || errno == EPERM) return shm::Liveness::kAlive;
    return errno == ESRCH ? shm::Liveness::kGone : shm::Liveness::kUnknown;
  }
};

}  // namespace

const ProcessProber& KernelProber() {
  static const Kernel prober;
  return prober;
}

}  // namespace shmpool::server
