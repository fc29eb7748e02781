#include "server/rpc/metrics_http.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <string>

namespace shmpool::server {
namespace {

using Clock = std::chrono::steady_clock;

// A client TCP connection to 127.0.0.1:port whose reads give up after `recv_timeout_s`.
class Conn {
 public:
  Conn(int port, int recv_timeout_s) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval tv{recv_timeout_s, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  }
  ~Conn() { close(fd_); }
  bool connected() const { return connected_; }
  void Send(const std::string& s) {
    ASSERT_EQ(send(fd_, s.data(), s.size(), MSG_NOSIGNAL), ssize_t(s.size()));
  }
  // Everything until the peer closes, or until a read times out.
  std::string ReadAll() {
    std::string out;
    char buf[4096];
    for (ssize_t n; (n = recv(fd_, buf, sizeof(buf), 0)) > 0;) out.append(buf, size_t(n));
    return out;
  }
  // Whether the peer closed the connection (recv returns 0) before the read timeout.
  bool ClosedByPeer() {
    char buf[4096];
    ssize_t n;
    while ((n = recv(fd_, buf, sizeof(buf), 0)) > 0) {
    }
    return n == 0;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

constexpr char kGet[] = "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

std::string Up() { return "up 1\n"; }

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// A stalled request must not hold the io thread: with a read timeout of 30 s, a concurrent
// scrape completes in well under 10 s however loaded the machine is.
TEST(MetricsHttp, HalfSentRequestDoesNotDelayAnotherScrape) {
  MetricsHttpOptions o;
  o.read_timeout = std::chrono::seconds(30);
  auto server = MetricsHttpServer::Start("127.0.0.1:0", Up, o);
  ASSERT_TRUE(server.ok()) << server.status();
  Conn stalled((*server)->port(), 30);
  ASSERT_TRUE(stalled.connected());
  stalled.Send("GET /metrics HTTP/1.1\r\nHost: x\r\n");  // no blank line: the head never ends
  const auto start = Clock::now();
  Conn scrape((*server)->port(), 10);
  ASSERT_TRUE(scrape.connected());
  scrape.Send(kGet);
  const std::string reply = scrape.ReadAll();
  const double seconds = SecondsSince(start);
  EXPECT_NE(reply.find("200 OK"), std::string::npos) << reply;
  EXPECT_NE(reply.find("up 1"), std::string::npos) << reply;
  EXPECT_LT(seconds, 10.0);
}

TEST(MetricsHttp, StalledRequestIsClosedAfterTheReadTimeout) {
  MetricsHttpOptions o;
  o.read_timeout = std::chrono::milliseconds(300);
  auto server = MetricsHttpServer::Start("127.0.0.1:0", Up, o);
  ASSERT_TRUE(server.ok()) << server.status();
  Conn head((*server)->port(), 20), body((*server)->port(), 20);
  const auto start = Clock::now();
  head.Send("GET /metrics HTTP/1.1\r\nHost: x\r\n");
  body.Send("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc");
  EXPECT_TRUE(head.ClosedByPeer());
  EXPECT_TRUE(body.ClosedByPeer());
  EXPECT_GE(SecondsSince(start), 0.29);
  EXPECT_LT(SecondsSince(start), 15.0);  // closed by the server, not by our 20 s read timeout
}

TEST(MetricsHttp, IdleKeepAliveConnectionIsClosedAfterTheIdleTimeout) {
  MetricsHttpOptions o;
  o.idle_timeout = std::chrono::milliseconds(300);
  auto server = MetricsHttpServer::Start("127.0.0.1:0", Up, o);
  ASSERT_TRUE(server.ok()) << server.status();
  Conn c((*server)->port(), 20);
  c.Send("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\nGET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  const auto start = Clock::now();
  const std::string replies = c.ReadAll();  // both answered, then closed when idle
  const size_t first = replies.find("200 OK");
  ASSERT_NE(first, std::string::npos) << replies;
  EXPECT_NE(replies.find("200 OK", first + 1), std::string::npos) << replies;
  EXPECT_GE(SecondsSince(start), 0.29);
  EXPECT_LT(SecondsSince(start), 15.0);
}

TEST(MetricsHttp, ConnectionsBeyondTheCapGet503) {
  MetricsHttpOptions o;
  o.max_connections = 2;
  auto server = MetricsHttpServer::Start("127.0.0.1:0", Up, o);
  ASSERT_TRUE(server.ok()) << server.status();
  {
    Conn a((*server)->port(), 20), b((*server)->port(), 20);
    a.Send("GET /met");
    b.Send("GET /met");
    Conn third((*server)->port(), 20);
    const std::string reply = third.ReadAll();
    EXPECT_EQ(reply.rfind("HTTP/1.1 503", 0), 0u) << reply;
  }
  // The two stalled ones closed: a scrape is served again once the server has seen that.
  std::string reply;
  for (int i = 0; i < 100 && reply.find("200 OK") == std::string::npos; ++i) {
    Conn again((*server)->port(), 20);
    again.Send(kGet);
    reply = again.ReadAll();
  }
  EXPECT_NE(reply.find("up 1"), std::string::npos) << reply;
}

}  // namespace
}  // namespace shmpool::server
