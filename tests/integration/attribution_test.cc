// Attribution end to end, against a private shmpoold: three client processes,
// each named at attach (the C API names a client after its program, so each runs the test
// worker through a symlink of that name). A producer allocates blocks of one class and holds
// them, a bystander allocates some too, and a consumer frees part of the bystander's. The
// daemon's per-client, per-class figures must then be exact: nmalloc, nfree, net (negative
// for the consumer), net bytes and the bytes left in each client's thread cache. A client
// attaching after the bystander left reuses its thread-cache record and must start from
// zero. shmpoolctl stats shows the same figures, as a table and as JSON.
#include <filesystem>
#include <map>

#include "harness.h"

namespace shmpool::testing {
namespace {

constexpr uint32_t kSize = 256;   // one size class, exactly this size
constexpr uint32_t kBatch = 64;   // its batch: 64 KiB per batch, at most 64 blocks (size_class.h)
constexpr uint32_t kHeld = 40;    // the producer's blocks
constexpr uint32_t kOthers = 30;  // the bystander's blocks
constexpr uint32_t kFreed = 12;   // of the bystander's, freed by the consumer

// Symlinks to the test worker, one per client name, in a directory of their own.
class NamedWorkers {
 public:
  NamedWorkers() {
    char tmpl[] = "/tmp/shmpool-attr-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  ~NamedWorkers() { std::filesystem::remove_all(dir_); }
  // A worker named `name`, attached to `arena`.
  std::unique_ptr<Child> Attach(const std::string& name, const TestDaemon& d,
                                const std::string& arena) {
    const std::string path = dir_ + "/" + name;
    std::filesystem::create_symlink(SHMPOOL_TEST_WORKER, path);
    auto w = std::make_unique<Child>(std::vector<std::string>{path});
    const std::string reply = w->Ask("attach " + d.endpoint() + " " + arena);
    EXPECT_EQ(reply.rfind("ok ", 0), 0u) << name << ": " << reply;
    return w;
  }

 private:
  std::string dir_;
};

// The refs of an "ok REF..." reply.
std::vector<std::string> Refs(const std::string& reply) {
  std::vector<std::string> w = Words(reply);
  EXPECT_FALSE(w.empty() || w[0] != "ok") << reply;
  return std::vector<std::string>(w.begin() + (w.empty() ? 0 : 1), w.end());
}

// Clients of arena `id` by the name they attached with.
std::map<std::string, v1::ClientStats> ClientsOf(TestDaemon& d, const std::string& id) {
  const v1::ArenaStats stats = StatsOf(d, id);  // a range over a temporary's member dangles
  std::map<std::string, v1::ClientStats> out;
  for (const v1::ClientStats& c : stats.clients()) out[c.session().client_name()] = c;
  return out;
}

// Checks a client's figures: exactly one size class (kSize), and totals equal to it.
void ExpectFigures(const v1::ClientStats& c, uint64_t nmalloc, uint64_t nfree,
                   uint64_t cached_blocks) {
  SCOPED_TRACE(c.session().client_name());
  EXPECT_EQ(c.session().state(), v1::Session::LIVE);
  EXPECT_EQ(c.session().uid(), getuid());
  EXPECT_EQ(c.thread_caches(), 1u);
  ASSERT_EQ(c.size_classes_size(), 1);
  const v1::ClientClassStats& k = c.size_classes(0);
  const int64_t net = static_cast<int64_t>(nmalloc) - static_cast<int64_t>(nfree);
  EXPECT_EQ(k.size(), kSize);
  EXPECT_EQ(k.nmalloc(), nmalloc);
  EXPECT_EQ(k.nfree(), nfree);
  EXPECT_EQ(k.net(), net);
  EXPECT_EQ(k.allocated_bytes(), nmalloc * kSize);
  EXPECT_EQ(k.net_bytes(), net * kSize);
  EXPECT_EQ(k.cached_bytes(), cached_blocks * kSize);
  EXPECT_EQ(c.nmalloc(), nmalloc);
  EXPECT_EQ(c.nfree(), nfree);
  EXPECT_EQ(c.net_bytes(), net * kSize);
  EXPECT_EQ(c.cached_bytes(), cached_blocks * kSize);
  EXPECT_EQ(c.pools_size(), 0);
}

// Runs shmpoolctl; returns its standard output.
std::string Ctl(const TestDaemon& d, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {SHMPOOLCTL_PATH, "--endpoint", d.endpoint()};
  argv.insert(argv.end(), args.begin(), args.end());
  Child c(argv);
  c.CloseInput();
  std::string out = c.ReadAll();
  EXPECT_EQ(c.Wait(), 0) << out;
  return out;
}

TEST(Attribution, PerClientPerClassFiguresAreExact) {
  TestDaemon d;
  d.Start();
  ASSERT_NO_FATAL_FAILURE(CreateArena(d, "attr", 64 << 20));
  NamedWorkers names;
  auto producer = names.Attach("producer", d, "attr");
  auto consumer = names.Attach("consumer", d, "attr");
  auto bystander = names.Attach("bystander", d, "attr");

  const std::vector<std::string> held =
      Refs(producer->Ask("alloc " + std::to_string(kSize) + " " + std::to_string(kHeld)));
  const std::vector<std::string> others =
      Refs(bystander->Ask("alloc " + std::to_string(kSize) + " " + std::to_string(kOthers)));
  ASSERT_EQ(held.size(), kHeld);
  ASSERT_EQ(others.size(), kOthers);
  std::string free_cmd = "free";
  for (uint32_t i = 0; i < kFreed; ++i) free_cmd += " " + others[i];
  ASSERT_EQ(consumer->Ask(free_cmd), "ok");

  std::map<std::string, v1::ClientStats> c = ClientsOf(d, "attr");
  ASSERT_EQ(c.size(), 3u);
  // Each allocating client took one batch into its cache and keeps what it did not use.
  ExpectFigures(c["producer"], kHeld, 0, kBatch - kHeld);
  ExpectFigures(c["bystander"], kOthers, 0, kBatch - kOthers);
  // The consumer allocated nothing and freed the bystander's blocks into its own cache.
  ExpectFigures(c["consumer"], 0, kFreed, kFreed);
  EXPECT_EQ(c["consumer"].size_classes(0).net(), -int64_t{kFreed});
  EXPECT_EQ(c["producer"].session().pid(), static_cast<uint32_t>(producer->pid()));

  // The table and the JSON of shmpoolctl stats carry the same figures.
  const std::string table = Ctl(d, {"stats", "attr"});
  EXPECT_NE(table.find("clients by size class"), std::string::npos) << table;
  EXPECT_NE(table.find("consumer"), std::string::npos) << table;
  const std::string json = Ctl(d, {"stats", "attr", "--json"});
  EXPECT_NE(json.find("\"size\":256,\"nmalloc\":0,\"nfree\":12,\"net\":-12,\"allocated_bytes\":0,"
                      "\"net_bytes\":-3072,\"cached_bytes\":3072}"),
            std::string::npos)
      << json;

  // The bystander leaves; a newcomer reuses its thread-cache record and starts from zero.
  ASSERT_EQ(bystander->Ask("detach"), "ok");
  for (int i = 0; i < 100 && ClientsOf(d, "attr").count("bystander"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // its stream's end
  auto newcomer = names.Attach("newcomer", d, "attr");
  const std::vector<std::string> fresh =
      Refs(newcomer->Ask("alloc " + std::to_string(kSize) + " 5"));
  ASSERT_EQ(fresh.size(), 5u);
  c = ClientsOf(d, "attr");
  ASSERT_EQ(c.size(), 3u);
  ExpectFigures(c["newcomer"], 5, 0, kBatch - 5);
  ExpectFigures(c["producer"], kHeld, 0, kBatch - kHeld);

  // A large block (whole pages) counts too, for who allocated it and for who freed it.
  const std::vector<std::string> big = Refs(producer->Ask("alloc 100000 1"));
  ASSERT_EQ(big.size(), 1u);
  ASSERT_EQ(consumer->Ask("free " + big[0]), "ok");
  c = ClientsOf(d, "attr");
  EXPECT_EQ(c["producer"].large_nmalloc(), 1u);
  EXPECT_EQ(c["producer"].large_net_bytes(), 25 * 4096);  // 100000 B: 25 pages
  EXPECT_EQ(c["producer"].net_bytes(), int64_t{kHeld} * kSize + 25 * 4096);
  EXPECT_EQ(c["consumer"].large_nfree(), 1u);
  EXPECT_EQ(c["consumer"].large_net_bytes(), -25 * 4096);
  const std::string with_large = Ctl(d, {"stats", "attr"});
  EXPECT_NE(with_large.find(" large "), std::string::npos) << with_large;
}

}  // namespace
}  // namespace shmpool::testing
