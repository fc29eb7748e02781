// The daemon's and shmpoolctl's edges that tenants who do not trust each other reach, end to
// end against a private shmpoold:
//  - shmpoolctl runs no shell: a map's output name is one argument of the converter;
//  - strings a tenant sets (its client name) reach the operator's terminal escaped;
//  - every shmpoolctl RPC has a deadline (--timeout): a daemon that never answers is reported;
//  - a TCP listener without [tls] gives unauthenticated peers nothing of a tenant's; with
//    [tls] it takes only peers with a client certificate signed by the configured CA;
//  - /metrics leaves out per-client series when told to.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <filesystem>

#include "grpc/health/v1/health.grpc.pb.h"
#include "harness.h"
#include "shmpool/v1/pool.grpc.pb.h"

namespace shmpool::testing {
namespace {

using Clock = std::chrono::steady_clock;

// A fresh directory under /tmp, removed with its contents.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/shmpool-edges-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Outcome {
  int rc;
  std::string out, err;
  double seconds;
};

// Runs argv to completion: exit status, stdout, stderr, wall time.
Outcome RunCommand(const std::vector<std::string>& argv) {
  TempDir dir;
  const auto start = Clock::now();
  Child c(argv, dir / "stderr");
  c.CloseInput();
  Outcome r;
  r.out = c.ReadAll();
  r.rc = c.Wait();
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  r.err = ReadFile(dir / "stderr");
  return r;
}

Outcome Ctl(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {SHMPOOLCTL_PATH};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv);
}

// A TCP port of 127.0.0.1 free a moment ago.
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  close(fd);
  return ntohs(a.sin_port);
}

// GET /metrics from 127.0.0.1:port: the whole reply.
std::string Scrape(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0) {
    const std::string req = "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    EXPECT_EQ(send(fd, req.data(), req.size(), MSG_NOSIGNAL), ssize_t(req.size()));
    char buf[4096];
    for (ssize_t n; (n = recv(fd, buf, sizeof(buf), 0)) > 0;) out.append(buf, size_t(n));
  }
  close(fd);
  return out;
}

// A worker attached to the daemon's "default" arena under `name` (the C API names a client
// after its program: the worker runs through a symlink of that name).
std::unique_ptr<Child> NamedWorker(const TempDir& dir, const std::string& name,
                                   const TestDaemon& d) {
  const std::string path = dir / name;
  std::filesystem::create_symlink(SHMPOOL_TEST_WORKER, path);
  auto w = std::make_unique<Child>(std::vector<std::string>{path});
  const std::string reply = w->Ask("attach " + d.endpoint() + " default");
  EXPECT_EQ(reply.rfind("ok ", 0), 0u) << reply;
  return w;
}

// Runs shmpoolctl in `dir` (the test's own working directory meanwhile).
Outcome CtlIn(const TempDir& dir, const std::vector<std::string>& args) {
  const std::filesystem::path before = std::filesystem::current_path();
  std::filesystem::current_path(dir.path());
  Outcome r = Ctl(args);
  std::filesystem::current_path(before);
  return r;
}

TEST(TenantEdges, MapOutputNameIsOneArgumentNotAShellCommand) {
  TestDaemon d;
  d.Start();
  TempDir dir;
  const std::string name = "a';touch PWNED;'.png";
  Outcome r = CtlIn(dir, {"--endpoint", d.endpoint(), "map", "default", "--output", name});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "PWNED"));
  EXPECT_TRUE(std::filesystem::exists(dir / name)) << r.out << r.err;
  EXPECT_EQ(ReadFile(dir / name).substr(1, 3), "PNG");
  // A name that starts with '-' is a file, not an option of the converter.
  r = CtlIn(dir, {"--endpoint", d.endpoint(), "map", "default", "--output", "-o.png"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(ReadFile(dir / "-o.png").substr(1, 3), "PNG") << r.out << r.err;
}

TEST(TenantEdges, ClientNamesReachTheTerminalEscaped) {
  TestDaemon d;
  d.Start();
  TempDir dir;
  const std::string evil = "x\033[2J\033]0;own\007y";
  auto w = NamedWorker(dir, evil, d);
  ASSERT_TRUE(WaitForClients(d, "default", 1));
  Outcome stats = Ctl({"--endpoint", d.endpoint(), "stats", "default"});
  EXPECT_EQ(stats.rc, 0) << stats.err;
  EXPECT_EQ(stats.out.find('\033'), std::string::npos) << stats.out;
  EXPECT_EQ(stats.out.find('\007'), std::string::npos) << stats.out;
  EXPECT_NE(stats.out.find("x\\x1b[2J\\x1b]0;own\\x07y"), std::string::npos) << stats.out;
  Outcome json = Ctl({"--endpoint", d.endpoint(), "stats", "default", "--json"});
  EXPECT_EQ(json.rc, 0) << json.err;
  EXPECT_EQ(json.out.find('\033'), std::string::npos) << json.out;
  EXPECT_NE(json.out.find("x\\u001b[2J\\u001b]0;own\\u0007y"), std::string::npos) << json.out;
  // top shows arenas only; its frame holds no control character either.
  Outcome top = Ctl({"--endpoint", d.endpoint(), "top", "--iterations", "1", "--interval", "10ms"});
  EXPECT_EQ(top.rc, 0) << top.err;
  EXPECT_EQ(top.out.find('\033'), std::string::npos) << top.out;
}

// A Unix socket that takes connections (the kernel completes them: listen, never accept)
// and never says a word, like a stopped daemon.
class SilentSocket {
 public:
  SilentSocket() {
    path_ = dir_ / "silent.sock";
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", path_.c_str());
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    EXPECT_EQ(listen(fd_, 64), 0);
  }
  ~SilentSocket() { close(fd_); }
  std::string endpoint() const { return "unix:" + path_; }

 private:
  TempDir dir_;
  std::string path_;
  int fd_ = -1;
};

TEST(TenantEdges, EveryRpcOfShmpoolctlHasADeadline) {
  SilentSocket silent;
  for (const std::vector<std::string>& cmd : {std::vector<std::string>{"arena", "list"},
                                              {"stats"},
                                              {"map", "default"},
                                              {"pool", "list"},
                                              {"top", "--interval", "100ms"}}) {
    std::vector<std::string> args = {"--endpoint", silent.endpoint(), "--timeout", "1s"};
    args.insert(args.end(), cmd.begin(), cmd.end());
    const Outcome r = Ctl(args);
    SCOPED_TRACE(cmd[0]);
    EXPECT_EQ(r.rc, 1) << r.err;
    EXPECT_NE(r.err.find("DEADLINE_EXCEEDED"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("within 1s"), std::string::npos) << r.err;
    EXPECT_LT(r.seconds, 8.0);
  }
  const Outcome bad = Ctl({"--endpoint", silent.endpoint(), "--timeout", "soon", "stats"});
  EXPECT_EQ(bad.rc, 2) << bad.err;
}

// A request of 100 KiB (an unknown field the daemon would skip) is refused by gRPC before
// any handler runs.
TEST(TenantEdges, OversizedRequestIsRefused) {
  TestDaemon d;
  d.Start();
  v1::ListArenasRequest req;
  req.GetReflection()->MutableUnknownFields(&req)->AddLengthDelimited(1000,
                                                                      std::string(100 << 10, 'a'));
  v1::ListArenasResponse resp;
  grpc::ClientContext ctx;
  const grpc::Status st = d.arenas().ListArenas(&ctx, req, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << st.error_message();
}

// One connection holds at most max_arenas + 64 streams at once (a session per arena, and
// 64 more): with max_arenas = 1 and 65 watches open, one more call on the same connection
// waits for a free stream (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS) and meets its deadline;
// on a connection of its own it is answered.
TEST(TenantEdges, StreamsPerConnectionAreCapped) {
  TempDir conf;
  std::ofstream(conf / "shmpoold.toml") << "[limits]\nmax_arenas = 1\n";
  TestDaemon d;
  d.Start({"--config", conf / "shmpoold.toml"});
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientReader<v1::GetStatsResponse>>> watches;
  v1::WatchStatsRequest req;
  req.mutable_interval()->set_seconds(60);
  for (int i = 0; i < 65; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    watches.push_back(d.stats().WatchStats(contexts.back().get(), req));
    v1::GetStatsResponse first;
    ASSERT_TRUE(watches.back()->Read(&first)) << i;
  }
  auto busy = [](v1::ArenaService::Stub& stub) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(1));
    v1::ListArenasResponse resp;
    return stub.ListArenas(&ctx, {}, &resp).error_code();
  };
  EXPECT_EQ(busy(d.arenas()), grpc::StatusCode::DEADLINE_EXCEEDED);
  grpc::ChannelArguments own;
  own.SetInt("shmpool.test.own_connection", 1);  // a channel (and connection) of its own
  auto other = v1::ArenaService::NewStub(
      grpc::CreateCustomChannel(d.endpoint(), grpc::InsecureChannelCredentials(), own));
  EXPECT_EQ(busy(*other), grpc::StatusCode::OK);
  for (auto& c : contexts) c->TryCancel();
  for (auto& w : watches) w->Finish();
}

TEST(TenantEdges, PlainTcpListenerGivesUnauthenticatedPeersNoTenantData) {
  TestDaemon d;
  const std::string tcp = "127.0.0.1:" + std::to_string(FreePort());
  d.Start({"--listen", d.endpoint() + "," + tcp});
  auto channel = grpc::CreateChannel(tcp, grpc::InsecureChannelCredentials());
  auto arenas = v1::ArenaService::NewStub(channel);
  auto stats = v1::StatsService::NewStub(channel);
  auto pools = v1::PoolService::NewStub(channel);
  auto expect_unauthenticated = [](const grpc::Status& st, const char* what) {
    EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED)
        << what << ": " << st.error_code() << " " << st.error_message();
  };
  {
    grpc::ClientContext ctx;
    v1::ListArenasResponse resp;
    expect_unauthenticated(arenas->ListArenas(&ctx, {}, &resp), "ListArenas");
    EXPECT_EQ(resp.arenas_size(), 0);
  }
  for (const char* name : {"", "arenas/default"}) {
    grpc::ClientContext ctx;
    v1::GetStatsRequest req;
    req.set_name(name);
    v1::GetStatsResponse resp;
    expect_unauthenticated(stats->GetStats(&ctx, req, &resp), "GetStats");
  }
  {
    grpc::ClientContext ctx;
    v1::GetSegmentMapRequest req;
    req.set_name("arenas/default");
    v1::SegmentMap resp;
    expect_unauthenticated(stats->GetSegmentMap(&ctx, req, &resp), "GetSegmentMap");
  }
  {
    grpc::ClientContext ctx;
    v1::GetArenaRequest req;
    req.set_name("arenas/default");
    v1::Arena resp;
    expect_unauthenticated(arenas->GetArena(&ctx, req, &resp), "GetArena");
  }
  {
    grpc::ClientContext ctx;
    v1::ListPoolsResponse resp;
    expect_unauthenticated(pools->ListPools(&ctx, {}, &resp), "ListPools");
  }
  for (const char* name : {"", "arenas/-", "arenas/default"}) {
    grpc::ClientContext ctx;
    v1::PurgeArenaRequest req;
    req.set_name(name);
    v1::PurgeArenaResponse resp;
    expect_unauthenticated(arenas->PurgeArena(&ctx, req, &resp), "PurgeArena");
    EXPECT_EQ(resp.arenas_size(), 0) << name;
  }
  {
    grpc::ClientContext ctx;
    v1::CreateArenaRequest req;
    req.set_arena_id("intruder");
    req.mutable_arena()->set_capacity_bytes(1 << 20);
    v1::Arena resp;
    expect_unauthenticated(arenas->CreateArena(&ctx, req, &resp), "CreateArena");
  }
  {
    grpc::ClientContext ctx;
    grpc::health::v1::HealthCheckRequest req;
    grpc::health::v1::HealthCheckResponse resp;
    ASSERT_TRUE(grpc::health::v1::Health::NewStub(channel)->Check(&ctx, req, &resp).ok());
    EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  }
  const Outcome r = Ctl({"--endpoint", tcp, "stats"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("UNAUTHENTICATED"), std::string::npos) << r.err;
}

// A CA, a server certificate for localhost and 127.0.0.1, and a client certificate, made
// with openssl in a directory of their own.
class TestPki {
 public:
  TestPki() {
    std::ofstream(dir_ / "server.ext")
        << "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n";
    std::ofstream(dir_ / "client.ext") << "extendedKeyUsage=clientAuth\n";
    Openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", dir_ / "ca.key", "-out", dir_ / "ca.pem", "-days", "2", "-subj",
             "/CN=shmpool test CA"});
    for (const std::string who : {"server", "client"}) {
      Openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
               "-keyout", dir_ / (who + ".key"), "-out", dir_ / (who + ".csr"), "-subj",
               "/CN=" + who});
      Openssl({"x509", "-req", "-in", dir_ / (who + ".csr"), "-CA", dir_ / "ca.pem", "-CAkey",
               dir_ / "ca.key", "-CAcreateserial", "-out", dir_ / (who + ".pem"), "-days", "2",
               "-extfile", dir_ / (who + ".ext")});
    }
  }
  std::string operator/(const std::string& name) const { return dir_ / name; }

 private:
  static void Openssl(std::vector<std::string> args) {
    args.insert(args.begin(), "/usr/bin/openssl");
    const Outcome r = RunCommand(args);
    ASSERT_EQ(r.rc, 0) << r.err;
  }
  TempDir dir_;
};

TEST(TenantEdges, TlsListenerTakesOnlyClientsWithACertificate) {
  TestPki pki;
  TestDaemon d;
  const int port = FreePort();
  TempDir conf;
  std::ofstream(conf / "shmpoold.toml") << "[tls]\ncert_file = \"" << pki / "server.pem"
                                        << "\"\nkey_file = \"" << pki / "server.key"
                                        << "\"\nca_file = \"" << pki / "ca.pem"
                                        << "\"\n";
  d.Start({"--config", conf / "shmpoold.toml", "--listen",
           d.endpoint() + ",127.0.0.1:" + std::to_string(port)});
  const std::string tcp = "127.0.0.1:" + std::to_string(port);  // no DNS: the IP SAN
  const std::vector<std::string> tls = {
      "--endpoint",       tcp,         "--tls-ca",        pki / "ca.pem", "--tls-cert",
      pki / "client.pem", "--tls-key", pki / "client.key"};
  std::vector<std::string> args = tls;
  args.push_back("stats");
  Outcome r = Ctl(args);
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("arena default"), std::string::npos) << r.out;
  // An authenticated operator's tool reads; it does not manage.
  args = tls;
  for (const char* w : {"arena", "create", "x", "--capacity", "1MiB"}) args.push_back(w);
  r = Ctl(args);
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("PERMISSION_DENIED"), std::string::npos) << r.err;
  // No client certificate: no connection.
  r = Ctl({"--endpoint", tcp, "--tls-ca", pki / "ca.pem", "--timeout", "3s", "stats"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.out.find("arena default"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("UNAVAILABLE"), std::string::npos) << r.err;
  // Plaintext to the TLS port: no connection either.
  r = Ctl({"--endpoint", tcp, "--timeout", "3s", "stats"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.out.find("arena default"), std::string::npos) << r.out;
}

TEST(TenantEdges, MetricsCanLeaveOutPerClientSeries) {
  TempDir dir;
  for (const bool per_client : {true, false}) {
    SCOPED_TRACE(per_client);
    TestDaemon d;
    const int port = FreePort();
    std::vector<std::string> flags = {"--metrics-listen", ":" + std::to_string(port)};
    if (!per_client) flags.push_back("--metrics-per-client=false");
    d.Start(flags);
    auto w = NamedWorker(dir, per_client ? "named-client" : "hidden-client", d);
    ASSERT_TRUE(WaitForClients(d, "default", 1));
    const std::string m = Scrape(port);
    EXPECT_NE(m.find("shmpool_arena_"), std::string::npos) << m;
    EXPECT_EQ(m.find(",client=\"") != std::string::npos, per_client) << m;
    EXPECT_EQ(m.find("pid=\""), std::string::npos) << m;  // clients are keyed by name only
    EXPECT_EQ(m.find("\nshmpool_client_") != std::string::npos, per_client) << m;
  }
}

}  // namespace
}  // namespace shmpool::testing
