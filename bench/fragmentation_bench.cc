// Fragmentation benchmark: how much memory stays resident per live byte after a
// workload that leaves holes, before and after each allocator's purge.
//
//   1. fill to 1 GiB live: 70% of blocks 16-128 B, 25% 129-2048 B, 5% 2-64 KiB, every
//      byte written;
//   2. free a random 90% of the blocks;
//   3. allocate 10% of 1 GiB anew (same mix);
//   4. purge: glibc malloc_trim(0), jemalloc mallctl("arena.<all>.purge"), tcmalloc
//      MallocExtension_ReleaseFreeMemory(), mimalloc mi_collect(true), shmpool
//      FlushThreadCache + shm::Purge; Boost.Interprocess has no purge.
// Resident is RSS growth since start for process-local allocators, and the shm file's
// st_blocks for shmpool and Boost. Prints one line: allocator, live, resident before and
// after purge, and the two ratios resident/live.
//
//   shmpool_fragmentation_<malloc> [--backend malloc|shmpool|boost] [--live-mib N] [--smoke]
//                                  [--breakdown]   (shmpool: where the resident bytes sit)
//
// The process-local allocator is the one the binary is linked with (its purge function is
// found with dlsym, which also names it). Not a test: --smoke only checks that it runs.
#include <dlfcn.h>
#include <malloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/interprocess/managed_shared_memory.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "shm/heap.h"
#include "shm/purge.h"
#include "shm/stats.h"

namespace {

namespace bip = boost::interprocess;

struct Backend {
  virtual ~Backend() = default;
  virtual const char* name() const = 0;
  virtual void* Alloc(size_t n) = 0;
  virtual void Free(void* p) = 0;
  virtual uint64_t Resident() = 0;
  virtual void Purge() = 0;
  virtual void PrintBreakdown() {}
};

uint64_t Rss() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  unsigned long long size = 0, res = 0;
  if (f == nullptr || std::fscanf(f, "%llu %llu", &size, &res) != 2) std::abort();
  std::fclose(f);
  return res * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

uint64_t FileBlocks(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) std::abort();
  return static_cast<uint64_t>(st.st_blocks) * 512;
}

template <typename F>
F Sym(const char* name) {
  return reinterpret_cast<F>(dlsym(RTLD_DEFAULT, name));
}

class Malloc final : public Backend {
 public:
  Malloc() : base_(Rss()) {
    if ((mi_collect_ = Sym<void (*)(bool)>("mi_collect")))
      name_ = "mimalloc";
    else if ((release_ = Sym<void (*)()>("MallocExtension_ReleaseFreeMemory")))
      name_ = "tcmalloc";
    else if ((mallctl_ = Sym<int (*)(const char*, void*, size_t*, void*, size_t)>("mallctl")))
      name_ = "jemalloc";
  }
  const char* name() const override { return name_; }
  void* Alloc(size_t n) override { return std::malloc(n); }
  void Free(void* p) override { std::free(p); }
  uint64_t Resident() override { return Rss() - base_; }
  void Purge() override {
    if (mi_collect_) {
      mi_collect_(true);
    } else if (release_) {
      release_();
    } else if (mallctl_) {
      // MALLCTL_ARENAS_ALL is 4096 in jemalloc 5.
      if (mallctl_("arena.4096.purge", nullptr, nullptr, nullptr, 0) != 0) std::abort();
    } else {
      malloc_trim(0);
    }
  }

 private:
  uint64_t base_;
  const char* name_ = "glibc";
  void (*mi_collect_)(bool) = nullptr;
  void (*release_)() = nullptr;
  int (*mallctl_)(const char*, void*, size_t*, void*, size_t) = nullptr;
};

class Shmpool final : public Backend {
 public:
  explicit Shmpool(uint64_t capacity) {
    char dir[] = "/dev/shm/shmpool-frag-XXXXXX";
    if (mkdtemp(dir) == nullptr) std::abort();
    dir_ = dir;
    path_ = dir_ + "/frag.seg";
    shmpool::shm::Geometry g;
    g.capacity = capacity;
    auto seg = shmpool::shm::Segment::Create(path_, g);
    if (!seg.ok()) std::abort();
    seg_ = std::shared_ptr<shmpool::shm::Segment>(std::move(*seg));
    auto heap = shmpool::shm::Heap::Attach(seg_);
    if (!heap.ok()) std::abort();
    heap_ = std::move(*heap);
  }
  ~Shmpool() override {
    heap_.reset();
    seg_.reset();
    unlink(path_.c_str());
    rmdir(dir_.c_str());
  }
  const char* name() const override { return "shmpool"; }
  void* Alloc(size_t n) override { return heap_->Allocate(n); }
  void Free(void* p) override { heap_->Free(p); }
  uint64_t Resident() override { return seg_->ResidentBytes(); }
  void Purge() override {
    heap_->FlushThreadCache();
    shmpool::shm::Purge(*seg_);
  }
  // Where the resident bytes sit, from the arena's stats (MiB), and the classes whose
  // slabs keep the most free bytes resident.
  void PrintBreakdown() override {
    const shmpool::shm::ArenaStats s = shmpool::shm::CollectStats(*seg_);
    auto mib = [](uint64_t b) { return b / 1048576.0; };
    std::printf(
        "  allocated %.1f  free in slabs %.1f  parked %.1f  cached %.1f  in ring %.1f  "
        "dirty runs %.1f  retained %.1f  metadata %.1f (MiB)\n",
        mib(s.allocated), mib(s.free_in_slabs), mib(s.parked), mib(s.cached), mib(s.in_ring),
        mib(s.dirty), mib(s.retained), mib(s.metadata));
    std::vector<shmpool::shm::ClassStats> cs = s.classes;
    std::sort(cs.begin(), cs.end(),
              [](const auto& a, const auto& b) { return a.free_in_slabs > b.free_in_slabs; });
    for (size_t i = 0; i < cs.size() && i < 8; ++i)
      std::printf("  class %5u B: allocated %7.1f  free in slabs %6.1f  parked %6.1f (MiB)\n",
                  cs[i].size, mib(cs[i].allocated), mib(cs[i].free_in_slabs), mib(cs[i].parked));
  }

 private:
  std::string dir_, path_;
  std::shared_ptr<shmpool::shm::Segment> seg_;
  std::unique_ptr<shmpool::shm::Heap> heap_;
};

class Boost final : public Backend {
 public:
  explicit Boost(uint64_t capacity)
      : name_("shmpool-frag-boost-" + std::to_string(getpid())),
        shm_(bip::create_only, name_.c_str(), capacity) {}
  ~Boost() override { bip::shared_memory_object::remove(name_.c_str()); }
  const char* name() const override { return "boost"; }
  void* Alloc(size_t n) override { return shm_.allocate(n, std::nothrow); }
  void Free(void* p) override { shm_.deallocate(p); }
  uint64_t Resident() override { return FileBlocks("/dev/shm/" + name_); }
  void Purge() override {}  // managed_shared_memory cannot return pages while mapped

 private:
  std::string name_;
  bip::managed_shared_memory shm_;
};

struct Block {
  void* p;
  uint32_t size;
};

size_t SizeOf(std::mt19937_64& rng) {
  const uint64_t r = rng() % 100;
  if (r < 70) return 16 + rng() % (128 - 16 + 1);
  if (r < 95) return 129 + rng() % (2048 - 129 + 1);
  return 2049 + rng() % (65536 - 2049 + 1);
}

void Fill(Backend& b, std::mt19937_64& rng, uint64_t bytes, std::vector<Block>& out,
          uint64_t& live) {
  for (uint64_t done = 0; done < bytes;) {
    const size_t n = SizeOf(rng);
    void* p = b.Alloc(n);
    if (p == nullptr) {
      std::fprintf(stderr, "%s: out of memory at %llu bytes\n", b.name(),
                   static_cast<unsigned long long>(live));
      std::exit(1);
    }
    std::memset(p, 0xa5, n);
    out.push_back({p, static_cast<uint32_t>(n)});
    done += n;
    live += n;
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string backend = "malloc";
  uint64_t live_target = uint64_t{1} << 30;
  bool breakdown = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--smoke") {
      live_target = 8 << 20;
    } else if (a == "--breakdown") {
      breakdown = true;
    } else if (a == "--backend" && i + 1 < argc) {
      backend = argv[++i];
    } else if (a == "--live-mib" && i + 1 < argc) {
      live_target = std::strtoull(argv[++i], nullptr, 10) << 20;
    } else {
      std::fprintf(
          stderr,
          "usage: %s [--backend malloc|shmpool|boost] [--live-mib N] [--smoke] [--breakdown]\n",
          argv[0]);
      return 2;
    }
  }
  std::unique_ptr<Backend> b;
  if (backend == "malloc")
    b = std::make_unique<Malloc>();
  else if (backend == "shmpool")
    b = std::make_unique<Shmpool>(std::max<uint64_t>(4 * live_target, 64 << 20));
  else if (backend == "boost")
    b = std::make_unique<Boost>(2 * live_target + (16 << 20));
  else
    return 2;
  std::mt19937_64 rng(42);
  std::vector<Block> blocks;
  blocks.reserve(live_target / 1024);
  uint64_t live = 0;
  Fill(*b, rng, live_target, blocks, live);
  std::shuffle(blocks.begin(), blocks.end(), rng);
  const size_t keep = blocks.size() / 10;
  for (size_t i = keep; i < blocks.size(); ++i) {
    b->Free(blocks[i].p);
    live -= blocks[i].size;
  }
  blocks.resize(keep);
  Fill(*b, rng, live_target / 10, blocks, live);
  const uint64_t before = b->Resident();
  b->Purge();
  const uint64_t after = b->Resident();
  std::printf(
      "%-9s live %8.1f MiB  resident before purge %8.1f MiB (%.2f)  after %8.1f MiB (%.2f)\n",
      b->name(), live / 1048576.0, before / 1048576.0, double(before) / live, after / 1048576.0,
      double(after) / live);
  if (breakdown) b->PrintBreakdown();
  for (const Block& x : blocks) b->Free(x.p);
  return 0;
}
