#include "fuzz/dead_process.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>

#include "absl/strings/str_format.h"
#include "fuzz/alloc_model.h"
#include "shm/atomics.h"
#include "shm/heap.h"
#include "shm/recovery.h"

namespace shmpool::fuzz {
namespace {

// The child's report, as words: proc_index, allocs, requested, failed_allocs, then
// (off, size, seed) per held block.
[[noreturn]] void RunChild(int fd, const std::string& path, const DeadPlan& plan) {
  absl::StatusOr<std::unique_ptr<shm::Segment>> seg = shm::Segment::Open(path);
  if (!seg.ok()) _exit(2);
  absl::StatusOr<std::unique_ptr<shm::Heap>> heap =
      shm::Heap::Attach(std::shared_ptr<shm::Segment>(std::move(*seg)), {.name = "dead"});
  if (!heap.ok()) _exit(3);
  shm::Heap& h = **heap;
  std::vector<DeadReport::Block> held;
  uint64_t allocs = 0, requested = 0, failed = 0;
  for (const DeadPlan::Op& op : plan.ops) {
    if (op.kind == DeadPlan::kFreeOwn) {
      if (held.empty()) continue;
      const size_t i = op.arg % held.size();
      h.Free(h.PtrOf(held[i].off));
      held[i] = held.back();
      held.pop_back();
    } else if (op.kind == DeadPlan::kFreeOther) {
      h.Free(h.PtrOf(op.arg));
    } else if (void* p = h.Allocate(op.arg)) {
      FillPattern(static_cast<char*>(p), op.arg, op.seed);
      held.push_back({h.RefOf(p), op.arg, op.seed});
      ++allocs;
      requested += op.arg;
    } else {
      ++failed;
    }
  }
  std::vector<uint64_t> out = {h.proc_index(), allocs, requested, failed};
  for (const DeadReport::Block& b : held) out.insert(out.end(), {b.off, b.size, b.seed});
  const char* bytes = reinterpret_cast<const char*>(out.data());
  for (size_t done = 0, n = out.size() * sizeof(uint64_t); done < n;) {
    const ssize_t w = write(fd, bytes + done, n - done);
    if (w <= 0) _exit(4);
    done += static_cast<size_t>(w);
  }
  _exit(0);  // no detach: the record, its cache and its blocks stay as a kill would leave them
}

uint32_t steps_left = 0;
void DieAtStep() {
  if (--steps_left == 0) _exit(0);
}

}  // namespace

absl::StatusOr<DeadReport> RunDeadProcess(const std::string& path, const DeadPlan& plan) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return absl::InternalError("pipe2 failed");
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    close(fds[0]);
    RunChild(fds[1], path, plan);
  }
  close(fds[1]);
  std::vector<uint64_t> words;
  uint64_t w;
  for (ssize_t n; (n = read(fds[0], &w, sizeof(w))) == sizeof(w);) words.push_back(w);
  close(fds[0]);
  int status = 0;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return absl::InternalError(absl::StrFormat("the dying client failed (status %#x)", status));
  if (words.size() < 4 || (words.size() - 4) % 3 != 0)
    return absl::InternalError("the dying client's report is cut short");
  DeadReport r;
  r.proc_index = static_cast<uint32_t>(words[0]);
  r.allocs = words[1];
  r.requested = words[2];
  r.failed_allocs = words[3];
  for (size_t i = 4; i < words.size(); i += 3)
    r.held.push_back({words[i], words[i + 1], words[i + 2]});
  return r;
}

absl::Status ReclaimDead(const shm::Segment& seg, uint32_t index, uint32_t interrupt_at) {
  uint64_t word = 0;
  if (!shm::ProcessIsDead(seg, index, &word))
    return absl::InternalError(
        absl::StrFormat("process record %d of a dead process is not judged dead", index));
  if (interrupt_at > 0) {
    const pid_t pid = fork();
    if (pid < 0) return absl::InternalError("fork failed");
    if (pid == 0) {
      steps_left = interrupt_at;
      shm::SetReclaimStepHookForTesting(&DieAtStep);
      (void)shm::ReclaimProcess(seg, index, word);
      _exit(0);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
      return absl::InternalError(absl::StrFormat("the reclaimer failed (status %#x)", status));
    word = shm::LoadAcquire(seg.proc(index).xword);
    const uint32_t state = shm::ProcRecord::StateOf(word);
    if (state == shm::ProcRecord::kFree) return absl::OkStatus();  // done before its step
    if (state != shm::ProcRecord::kDead)
      return absl::InternalError(absl::StrFormat(
          "process record %d is in state %d after its reclaimer died", index, state));
  }
  absl::StatusOr<shm::ReclaimReport> r = shm::ReclaimProcess(seg, index, word);
  if (!r.ok()) return r.status();
  if (seg.proc(index).state() != shm::ProcRecord::kFree)
    return absl::InternalError(
        absl::StrFormat("process record %d is not free after its reclaim", index));
  return absl::OkStatus();
}

}  // namespace shmpool::fuzz
