// MetricsHttpServer: serves GET /metrics (Prometheus text format) over HTTP/1.1 with
// Boost.Beast on one TCP endpoint (--metrics-listen HOST:PORT). One thread runs an
// io_context and every connection is served asynchronously on it, so a slow or stalled
// client never holds up another scrape:
//  - a request (head and body) must arrive within read_timeout of its first byte (of the
//    connection, for the first request), and a response must be taken within it too;
//  - a keep-alive connection may wait idle_timeout for its next request;
//  - at most max_connections are open at once; one more is answered 503 and closed.
// Other paths get 404, methods other than GET/HEAD 405, a request over 64 KiB 413. The body
// comes from a callback called per scrape, so the numbers are read at scrape time
// (lock-free, like GetStats).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

namespace shmpool::server {

struct MetricsHttpOptions {
  std::chrono::milliseconds read_timeout{10000};  // a request's head and body; a response
  std::chrono::milliseconds idle_timeout{60000};  // between requests of a keep-alive connection
  int max_connections = 64;                       // open at once; more get 503
};

class MetricsHttpServer {
 public:
  using Body = std::function<std::string()>;
  // Binds HOST:PORT ("127.0.0.1:9100", "[::1]:0", "0.0.0.0:9100"; port 0 picks one; a bare
  // PORT or ":PORT" is loopback, 127.0.0.1) and starts serving. Fails when the address is
  // bad or in use.
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(
      const std::string& host_port, Body body, const MetricsHttpOptions& options = {});
  ~MetricsHttpServer();  // stops
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

  int port() const { return port_; }
  void Stop();

 private:
  struct Impl;
  explicit MetricsHttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
  std::thread thread_;
};

}  // namespace shmpool::server
