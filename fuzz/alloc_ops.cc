#include "fuzz/alloc_ops.h"

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "fuzz/alloc_model.h"
#include "fuzz/dead_process.h"
#include "shm/atomics.h"
#include "shm/purge.h"
#include "shm/stats.h"
#include "shm/validate.h"
#include "shmpool/client.h"

namespace shmpool::fuzz {
namespace {

constexpr size_t kMaxSteps = 128;      // per input: keeps one run short
constexpr int kMaxDeadProcesses = 2;   // a fork each (a second one when interrupted)
constexpr size_t kMaxGenerations = 3;  // mapped at once (each is checked at every step)
constexpr size_t kRecentlyFreed = 16;  // refs kept for frees that must be refused

// The input's bytes in order; past its end every byte reads 0.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : p_(data), end_(data + size) {}
  bool empty() const { return p_ == end_; }
  uint8_t u8() { return p_ == end_ ? 0 : *p_++; }
  uint16_t u16() {  // little-endian; the two reads in sequence
    const uint8_t lo = u8();
    return static_cast<uint16_t>(lo | u8() << 8);
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

uint64_t DecodeSize(Reader& r) {
  const uint8_t range = r.u8();
  const uint16_t v = r.u16();
  switch (range % 4) {
    case 0:
      return v % 257;
    case 1:
      return v % 4097;
    case 2:
      return v % (shm::kMaxSmallSize + 1);
    default:
      return shm::kMaxSmallSize + 1 + uint64_t{v} * 3 % (160 << 10);
  }
}

// One generation of the arena as the daemon holds it: its own mapping.
struct Generation {
  uint64_t number = 0;
  std::shared_ptr<shm::Segment> seg;
};

// One input's arena: its generations as the daemon maps them, two clients and the model.
// INVARIANTS between steps: gens_ holds, oldest first, every generation some client maps
// and the current one (last, under path_); maps_[c] holds client_gen_[c], the generation
// client c allocates from, and every retired one it has not released; the model's live
// blocks are exactly the blocks handed out and not freed of the generations in gens_.
class World {
 public:
  explicit World(uint8_t config);
  ~World();
  const std::string& error() const { return error_; }
  void Step(Reader& r);
  // Detaches both clients (the last-out drain runs) and checks once more.
  void Finish();

 private:
  void Fail(const std::string& what) {
    if (error_.empty()) error_ = absl::StrCat("step ", step_, " (", op_, "): ", what);
  }
  uint64_t newest() const { return gens_.back().number; }
  Client& client(int c) { return *clients_[c]; }
  // What PtrOf and Generation() do to a client that has not followed the newest reset.
  void ModelFollow(int c);
  void Malloc(int c, uint64_t size);
  void Free(int c, size_t i);
  void BadFree(int c, Reader& r);
  void DeadProcess(Reader& r);
  void Reset();
  void Release(int c);
  void CheckAll();
  void CheckGeneration(const Generation& g);

  std::string dir_, path_;
  shm::Geometry geometry_;
  std::vector<Generation> gens_;  // mapped by the "daemon"; the current one last
  std::unique_ptr<Client> clients_[2];
  uint64_t client_gen_[2] = {0, 0};
  std::set<uint64_t> maps_[2];  // the generations each client maps
  uint64_t stale_[2] = {0, 0};  // frees each client must have refused as stale
  AllocModel model_;
  std::vector<std::pair<uint64_t, uint64_t>> freed_;  // recently freed (gen, off)
  uint64_t next_seed_ = 1;
  int dead_processes_ = 0;
  size_t step_ = 0;
  const char* op_ = "attach";
  std::string error_;
};

World::World(uint8_t config) {
  char tmpl[] = "/dev/shm/shmpool-allocops-XXXXXX";
  dir_ = mkdtemp(tmpl);
  path_ = dir_ + "/arena.seg";
  static constexpr uint32_t kCaches[] = {0, 1, 2, 8};
  static constexpr uint64_t kMiB[] = {1, 2, 4, 1};
  geometry_.max_thread_caches = kCaches[config & 3];
  geometry_.capacity = kMiB[(config >> 2) & 3] << 20;
  geometry_.ring_slots = (config & 16) ? 2 : 64;
  geometry_.max_procs = 4;  // A, B and a dying process
  absl::StatusOr<std::unique_ptr<shm::Segment>> seg = shm::Segment::Create(path_, geometry_);
  if (!seg.ok()) {
    Fail(seg.status().ToString());
    return;
  }
  gens_.push_back({0, std::move(*seg)});
  for (int c = 0; c < 2; ++c) {
    absl::StatusOr<std::unique_ptr<Client>> cl =
        Client::AttachSegment(path_, {.name = c ? "b" : "a"});
    if (!cl.ok()) {
      Fail(cl.status().ToString());
      return;
    }
    clients_[c] = std::move(*cl);
    maps_[c] = {0};
  }
  CheckAll();
}

World::~World() {
  for (auto& c : clients_) c.reset();
  gens_.clear();
  unlink(path_.c_str());
  unlink((path_ + ".creating").c_str());
  rmdir(dir_.c_str());
}

void World::ModelFollow(int c) {
  if (client_gen_[c] == newest()) return;
  client_gen_[c] = newest();
  maps_[c].insert(newest());
}

void World::Step(Reader& r) {
  ++step_;
  const uint8_t op = r.u8();
  const int c = op / 10 % 2;
  switch (op % 10) {
    case 0:
      op_ = "malloc";
      Malloc(c, DecodeSize(r));
      break;
    case 1:
      op_ = "free";
      if (const uint16_t i = r.u16(); model_.size() > 0) Free(c, i % model_.size());
      break;
    case 2:
      op_ = "flush";
      client(c).heap().FlushThreadCache();
      break;
    case 3:
      op_ = "purge";
      if (r.u8() & 1) {
        if (absl::StatusOr<uint64_t> p = client(c).Purge(); !p.ok()) Fail(p.status().ToString());
      } else {
        shm::Purge(*gens_.back().seg, shm::PurgeReason::kDecay);
      }
      break;
    case 4:
      op_ = "dead process";
      DeadProcess(r);
      break;
    case 5:
      op_ = "reset";
      Reset();
      break;
    case 6:
      op_ = "follow";
      ModelFollow(c);
      if (client(c).Generation() != client_gen_[c])
        Fail(absl::StrFormat("client %d is not at generation %d", c, client_gen_[c]));
      break;
    case 7:
      op_ = "release retired";
      Release(c);
      break;
    case 8:
      op_ = "refused free";
      BadFree(c, r);
      break;
    case 9: {
      op_ = "mallocs";
      const int n = r.u8() % 32;
      const uint64_t size = DecodeSize(r);
      for (int i = 0; i < n && error_.empty(); ++i) Malloc(c, size);
      break;
    }
  }
  if (error_.empty()) CheckAll();
}

void World::Malloc(int c, uint64_t size) {
  Client& cl = client(c);
  void* p = cl.Allocate(size);
  if (p == nullptr) return model_.Failed(client_gen_[c]);
  const uint64_t ref = cl.RefOf(p);
  if ((ref & ~Client::kRefOffsetMask) != Client::RefTag(client_gen_[c]))
    return Fail(absl::StrFormat("a block of another generation than %d", client_gen_[c]));
  const ModelBlock b{client_gen_[c], ref & Client::kRefOffsetMask, size, UsableSizeOf(size),
                     next_seed_++};
  if (cl.UsableSize(p) != b.usable)
    return Fail(absl::StrFormat("usable size %d of a malloc(%d), not %d", cl.UsableSize(p), size,
                                b.usable));
  if (!model_.Add(b))
    return Fail(
        absl::StrFormat("malloc(%d) handed out offset %d, inside a live block", size, b.off));
  FillPattern(static_cast<char*>(p), size, b.seed);
}

void World::Free(int c, size_t i) {
  const ModelBlock b = model_.at(i);
  if (!maps_[c].count(b.gen)) ModelFollow(c);  // PtrOf of a ref it does not map follows
  void* p = client(c).PtrOf(Client::RefTag(b.gen) | b.off);
  if ((p != nullptr) != (maps_[c].count(b.gen) > 0))
    return Fail(
        absl::StrFormat("PtrOf of a block of generation %d by client %d gave %p", b.gen, c, p));
  if (p == nullptr) return;  // a generation this client no longer maps
  client(c).Free(p);
  if (b.gen != client_gen_[c]) {
    ++stale_[c];  // refused: a block of a retired generation
    return;
  }
  model_.Remove(i);
  if (freed_.size() == kRecentlyFreed) freed_.erase(freed_.begin());
  freed_.emplace_back(b.gen, b.off);
}

void World::BadFree(int c, Reader& r) {
  static char outside[16];
  const uint8_t kind = r.u8() % 3;
  const uint16_t pick = r.u16();
  const uint64_t gen = client_gen_[c];
  uint64_t off = 0;
  if (kind == 0 && !freed_.empty()) {
    const auto [g, o] = freed_[pick % freed_.size()];
    if (g != gen || model_.StartingAt(g, o) != nullptr) return;  // handed out again
    off = o;
  } else if (kind == 1 && model_.size() > 0) {
    const ModelBlock& b = model_.at(pick % model_.size());
    if (b.gen != gen || b.usable <= 16) return;
    off = b.off + 16 * (1 + pick / 7 % (b.usable / 16 - 1));
  }
  void* p = off ? client(c).PtrOf(Client::RefTag(gen) | off) : outside;
  client(c).Free(p);
  model_.Refused(gen);
}

void World::DeadProcess(Reader& r) {
  DeadPlan plan;
  std::vector<std::pair<uint64_t, uint64_t>> freed;  // (gen, off) the plan frees
  for (int n = r.u8() % 12; n > 0; --n) {
    DeadPlan::Op op;
    op.kind = static_cast<DeadPlan::Kind>(r.u8() % 3);
    if (op.kind == DeadPlan::kAlloc) {
      op.arg = DecodeSize(r);
      op.seed = next_seed_++;
    } else if (op.kind == DeadPlan::kFreeOwn) {
      op.arg = r.u8();
    } else {
      const uint16_t i = r.u16();
      if (model_.size() == 0) continue;
      const ModelBlock& b = model_.at(i % model_.size());
      const std::pair<uint64_t, uint64_t> key(b.gen, b.off);
      if (b.gen != newest() || std::find(freed.begin(), freed.end(), key) != freed.end()) continue;
      freed.push_back(key);
      op.arg = b.off;
    }
    plan.ops.push_back(op);
  }
  const uint8_t interrupt = r.u8();
  if (dead_processes_++ >= kMaxDeadProcesses) return;
  absl::StatusOr<DeadReport> report = RunDeadProcess(path_, plan);
  if (!report.ok()) return Fail(report.status().ToString());
  const uint64_t gen = newest();
  for (const auto& [g, off] : freed) {
    for (size_t i = 0; i < model_.size(); ++i)
      if (model_.at(i).gen == g && model_.at(i).off == off) {
        model_.Remove(i);
        break;
      }
  }
  uint64_t held_bytes = 0;
  for (const DeadReport::Block& h : report->held) {
    held_bytes += h.size;
    if (!model_.Add({gen, h.off, h.size, UsableSizeOf(h.size), h.seed}))
      return Fail(absl::StrFormat("the dead process held offset %d, inside a live block", h.off));
  }
  model_.Transient(gen, report->allocs - report->held.size(), report->requested - held_bytes);
  model_.Failed(gen, report->failed_allocs);
  const uint32_t interrupt_at = (interrupt & 7) == 0 ? 1 + interrupt / 8 : 0;
  if (interrupt_at > 0) model_.ReclaimerDied(gen);
  if (absl::Status s = ReclaimDead(*gens_.back().seg, report->proc_index, interrupt_at); !s.ok())
    Fail(s.ToString());
}

void World::Reset() {
  if (gens_.size() == kMaxGenerations) return;
  const std::string creating = path_ + ".creating";
  absl::StatusOr<std::unique_ptr<shm::Segment>> seg = shm::Segment::Create(creating, geometry_);
  if (!seg.ok()) return Fail(seg.status().ToString());
  const uint64_t next = newest() + 1;
  (*seg)->header().generation.number = next;
  if (rename(creating.c_str(), path_.c_str()) != 0) return Fail("rename failed");
  shm::StoreRelease(gens_.back().seg->header().generation.xretired_by, next);
  gens_.push_back({next, std::move(*seg)});
}

void World::Release(int c) {
  const int released = client(c).ReleaseRetired();
  if (released != static_cast<int>(maps_[c].size()) - 1)
    Fail(absl::StrFormat("client %d released %d generations, not %d", c, released,
                         maps_[c].size() - 1));
  maps_[c] = {client_gen_[c]};
  CheckAll();
  // A retired generation no client maps is done with: its blocks are unreachable.
  for (size_t i = 0; i + 1 < gens_.size();) {
    const uint64_t n = gens_[i].number;
    if (maps_[0].count(n) || maps_[1].count(n)) {
      ++i;
      continue;
    }
    if (shm::CollectStats(*gens_[i].seg).attached_procs != 0)
      Fail(absl::StrFormat("generation %d still has processes attached", n));
    model_.DropGeneration(n);
    gens_.erase(gens_.begin() + static_cast<ptrdiff_t>(i));
  }
}

void World::CheckGeneration(const Generation& g) {
  const shm::ValidationReport v = shm::Validate(*g.seg);
  if (!v.ok()) return Fail(absl::StrCat("generation ", g.number, ": ", v.ToString()));
  const shm::ArenaStats s = shm::CollectStats(*g.seg);
  const ModelCounts& m = model_.Counts(g.number);
  const std::pair<const char*, std::pair<uint64_t, uint64_t>> figures[] = {
      {"allocated", {s.allocated, m.allocated}},
      {"large_allocated", {s.large_allocated, m.large}},
      {"nmalloc", {s.nmalloc, m.nmalloc}},
      {"requested", {s.requested, m.requested}},
      {"invalid+double frees", {s.invalid_frees + s.double_frees, m.refused}},
      {"failed_allocs", {s.failed_allocs, m.failed}},
  };
  std::string differ;
  for (const auto& [name, v2] : figures)
    if (v2.first != v2.second)
      absl::StrAppendFormat(&differ, "%s%s %d, the model %d", differ.empty() ? "" : "; ", name,
                            v2.first, v2.second);
  // Signed: a missed chain can take the derived figure below zero (it wraps).
  const int64_t nfree_off = static_cast<int64_t>(s.nfree - m.nfree);
  if (nfree_off < -static_cast<int64_t>(m.nfree_slack) ||
      nfree_off > static_cast<int64_t>(m.nfree_slack))
    absl::StrAppendFormat(&differ, "%snfree %d, the model %d (give or take %d)",
                          differ.empty() ? "" : "; ", s.nfree, m.nfree, m.nfree_slack);
  if (!differ.empty())
    return Fail(absl::StrFormat("generation %d: stats say %s", g.number, differ));
  for (size_t i = 0; i < model_.size(); ++i) {
    const ModelBlock& b = model_.at(i);
    if (b.gen != g.number) continue;
    const uint64_t at = CheckPattern(g.seg->base() + b.off, b.size, b.seed);
    if (at != b.size)
      return Fail(absl::StrFormat("generation %d: the block at %d (malloc(%d)) changed at byte %d",
                                  g.number, b.off, b.size, at));
  }
}

void World::CheckAll() {
  for (const Generation& g : gens_) CheckGeneration(g);
  for (int c = 0; c < 2 && clients_[c]; ++c) {
    if (client(c).current().generation != client_gen_[c])
      Fail(absl::StrFormat("client %d is at generation %d, not %d", c,
                           client(c).current().generation, client_gen_[c]));
    if (client(c).StaleFrees() != stale_[c])
      Fail(absl::StrFormat("client %d refused %d stale frees, not %d", c, client(c).StaleFrees(),
                           stale_[c]));
  }
}

void World::Finish() {
  op_ = "detach";
  for (auto& c : clients_) c.reset();
  for (const Generation& g : gens_) {
    CheckGeneration(g);
    if (shm::CollectStats(*g.seg).attached_procs != 0)
      Fail(absl::StrFormat("generation %d still has processes attached", g.number));
  }
}

}  // namespace

std::string RunAllocOps(const uint8_t* data, size_t size) {
  Reader r(data, size);
  World w(r.u8());
  for (size_t i = 0; i < kMaxSteps && !r.empty() && w.error().empty(); ++i) w.Step(r);
  if (w.error().empty()) w.Finish();
  return w.error();
}

}  // namespace shmpool::fuzz
