#include "shmpool/client.h"

#include <errno.h>

#include <cstdio>
#include <utility>

#include "absl/strings/str_format.h"
#include "shm/atomics.h"
#include "shm/purge.h"
#include "src/daemon_link.h"

namespace shmpool {
namespace {

// Attempts at attaching when a reset lands between AttachArena and the session stream.
constexpr int kAttachAttempts = 3;

}  // namespace

Client::Client(std::unique_ptr<shm::Heap> heap, std::string path, shm::AttachOptions options)
    : segment_bytes_(heap->segment().sections().total),
      path_(std::move(path)),
      options_(std::move(options)) {
  std::lock_guard<std::mutex> lock(mu_);
  auto g = std::make_unique<MappedGeneration>();
  g->number = heap->segment().header().generation.number;
  g->heap = std::move(heap);
  PublishLocked(std::move(g));
}

absl::StatusOr<std::unique_ptr<Client>> Client::AttachSegment(const std::string& path,
                                                              const shm::AttachOptions& options) {
  absl::StatusOr<std::unique_ptr<shm::Segment>> seg = shm::Segment::Open(path);
  if (!seg.ok()) return seg.status();
  absl::StatusOr<std::unique_ptr<shm::Heap>> heap =
      shm::Heap::Attach(std::shared_ptr<shm::Segment>(std::move(*seg)), options);
  if (!heap.ok()) return heap.status();
  return std::unique_ptr<Client>(new Client(std::move(*heap), path, options));
}

absl::StatusOr<std::unique_ptr<Client>> Client::Attach(const std::string& endpoint,
                                                       const std::string& arena,
                                                       const shm::AttachOptions& options) {
  shm::AttachOptions opts = options;
  if (opts.name.empty()) opts.name = program_invocation_short_name;
  for (int attempt = 1;; ++attempt) {
    absl::StatusOr<std::unique_ptr<internal::DaemonLink>> link =
        internal::DaemonLink::Attach(endpoint, arena, opts.name);
    if (!link.ok()) return link.status();
    const internal::DaemonLink::SegmentInfo& info = (*link)->segment();
    absl::StatusOr<std::unique_ptr<shm::Segment>> seg = shm::Segment::Open(info.path);
    if (!seg.ok()) return seg.status();
    if ((*seg)->sections().total != info.segment_bytes ||
        (*seg)->geometry().capacity != info.capacity ||
        (*seg)->header().layout_version != info.layout_version)
      return absl::FailedPreconditionError(absl::StrFormat(
          "segment %s does not have the geometry the daemon announced (capacity %d, %d bytes)",
          info.path, info.capacity, info.segment_bytes));
    absl::StatusOr<std::unique_ptr<shm::Heap>> heap =
        shm::Heap::Attach(std::shared_ptr<shm::Segment>(std::move(*seg)), opts);
    if (!heap.ok()) return heap.status();
    std::unique_ptr<Client> c(new Client(std::move(*heap), info.path, opts));
    c->link_ = std::move(*link);
    const Current cur = c->current();
    absl::Status st = c->link_->OpenSession(
        internal::Mapping{static_cast<int32_t>(cur.heap->proc_index()), cur.generation},
        [raw = c.get()](uint64_t generation) { return raw->Follow(generation); });
    if (st.ok()) return c;
    // FAILED_PRECONDITION: the arena was reset (or deleted) since AttachArena; UNAVAILABLE:
    // the daemon went away in between (its session died with it). Attach again: the next
    // DaemonLink::Attach waits for a restarted daemon up to the attach timeout.
    if (!(absl::IsFailedPrecondition(st) || absl::IsUnavailable(st)) || attempt == kAttachAttempts)
      return st;
  }
}

Client::~Client() {
  std::vector<std::unique_ptr<MappedGeneration>> gone;
  {
    std::lock_guard<std::mutex> lock(mu_);
    detaching_ = true;  // the link's thread follows no reset from here
    gone.swap(generations_);
  }
  gone.clear();   // detach from every segment first: the process records are free when...
  link_.reset();  // ...the session ends and the daemon counts the client gone
}

void Client::PublishLocked(std::unique_ptr<MappedGeneration> g) {
  g->base = g->heap->segment().base();
  g->ref_tag = RefTag(g->number);
  g->heap->SetOutsideHandler(&Client::FreeOutside, this);
  current_.store(g.get(), std::memory_order_release);
  heap_.store(g->heap.get(), std::memory_order_release);
  heap_id_.store(g->heap->id(), std::memory_order_release);
  generations_.push_back(std::move(g));
}

Client::Current Client::current() const {
  const MappedGeneration* g = current_.load(std::memory_order_acquire);
  return {g->heap.get(), g->number};
}

absl::StatusOr<internal::Mapping> Client::Follow(uint64_t at_least) {
  std::lock_guard<std::mutex> lock(mu_);
  if (detaching_) return absl::CancelledError("detaching");
  const MappedGeneration& cur = *generations_.back();
  if (cur.number < at_least) {
    absl::StatusOr<std::unique_ptr<shm::Segment>> seg = shm::Segment::Open(path_);
    if (!seg.ok()) return seg.status();
    const uint64_t number = (*seg)->header().generation.number;
    if (number <= cur.number)
      return absl::FailedPreconditionError(
          absl::StrFormat("%s holds generation %d, not the generation %d the arena was reset to",
                          path_, number, at_least));
    if ((*seg)->sections().total != segment_bytes_)
      return absl::FailedPreconditionError(
          absl::StrFormat("generation %d of %s has another geometry (%d bytes, not %d)", number,
                          path_, (*seg)->sections().total, segment_bytes_));
    absl::StatusOr<std::unique_ptr<shm::Heap>> heap =
        shm::Heap::Attach(std::shared_ptr<shm::Segment>(std::move(*seg)), options_);
    if (!heap.ok()) return heap.status();
    auto g = std::make_unique<MappedGeneration>();
    g->number = number;
    g->heap = std::move(*heap);
    PublishLocked(std::move(g));
  }
  const MappedGeneration& now = *generations_.back();
  return internal::Mapping{static_cast<int32_t>(now.heap->proc_index()), now.number};
}

uint64_t Client::Generation() {
  const MappedGeneration* g = current_.load(std::memory_order_acquire);
  const uint64_t next = shm::LoadAcquire(g->heap->segment().header().generation.xretired_by);
  if (next != 0) (void)Follow(next);  // on failure: still the current generation
  return current_.load(std::memory_order_acquire)->number;
}

int Client::ReleaseRetired() {
  std::vector<std::unique_ptr<MappedGeneration>> gone;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (generations_.size() <= 1) return 0;
    gone.assign(std::make_move_iterator(generations_.begin()),
                std::make_move_iterator(generations_.end() - 1));
    generations_.erase(generations_.begin(), generations_.end() - 1);
  }
  return static_cast<int>(gone.size());  // destroyed here: caches returned, records freed
}

const Client::MappedGeneration* Client::FindLocked(const void* p) const {
  for (const std::unique_ptr<MappedGeneration>& g : generations_)
    if (Holds(*g, p)) return g.get();
  return nullptr;
}

void Client::FreeOutside(void* client, void* p) {
  Client& c = *static_cast<Client*>(client);
  shm::Heap* target;
  bool mapped;
  {
    std::lock_guard<std::mutex> lock(c.mu_);
    MappedGeneration& cur = *c.generations_.back();
    target = cur.heap.get();
    const MappedGeneration* g = c.FindLocked(p);
    mapped = g != nullptr;
    if (mapped && g != &cur) {
      // A block of a retired generation: refused, counted, reported once per generation.
      c.stale_frees_.fetch_add(1, std::memory_order_relaxed);
      shm::FetchAddRelaxed(cur.heap->segment().header().generation.xstale_frees, uint64_t{1});
      if (!g->stale_reported) {
        g->stale_reported = true;
        std::fprintf(stderr,
                     "shmpool: refused free(%p): a block of generation %llu of %s, retired by a "
                     "reset (the arena is at generation %llu); counted as a stale free, further "
                     "ones of that generation silently\n",
                     p, static_cast<unsigned long long>(g->number), c.path_.c_str(),
                     static_cast<unsigned long long>(cur.number));
      }
      return;
    }
  }
  if (!mapped) return target->FreeHere(p);  // in no generation: refused, counted, reported
  // The current generation: the call raced with the switch and reached a retired heap.
  target->Free(p);
}

size_t Client::UsableSize(const void* p) const {
  const MappedGeneration* cur = current_.load(std::memory_order_acquire);
  if (Holds(*cur, p)) return cur->heap->UsableSize(p);
  std::lock_guard<std::mutex> lock(mu_);
  const MappedGeneration* g = FindLocked(p);
  return g != nullptr ? g->heap->UsableSize(p) : 0;
}

uint64_t Client::RefOfOther(const void* p) const {
  std::lock_guard<std::mutex> lock(mu_);
  const MappedGeneration* g = FindLocked(p);
  if (g == nullptr) return 0;
  return static_cast<uint64_t>(static_cast<const char*>(p) - g->base) | g->ref_tag;
}

void* Client::PtrOfOther(uint64_t ref) {
  const uint64_t off = ref & kRefOffsetMask;
  if (off == 0 || off >= segment_bytes_) return nullptr;
  const uint64_t tag = ref & ~kRefOffsetMask;
  for (int pass = 0; pass < 2; ++pass) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const std::unique_ptr<MappedGeneration>& g : generations_)
        if (g->ref_tag == tag) return const_cast<char*>(g->base) + off;
    }
    // A ref of a generation this client does not map: a newer one, if a reset happened.
    if (pass == 0) Generation();
  }
  return nullptr;
}

absl::StatusOr<uint64_t> Client::Purge() {
  heap().FlushThreadCache();
  if (link_ != nullptr) return link_->Purge();
  return shm::Purge(heap().segment()).released_bytes;
}

}  // namespace shmpool
