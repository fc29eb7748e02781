// MetricsHttpServer: serves GET /metrics (Prometheus text format) over HTTP/1.1 with
// Boost.Beast on one TCP endpoint (--metrics-listen HOST:PORT). One thread runs an
// io_context: connections are accepted asynchronously and each request is read, answered
// and the connection closed (Prometheus opens one per scrape). Other paths get 404,
// methods other than GET/HEAD 405. The body comes from a callback called per scrape, so
// the numbers are read at scrape time (lock-free, like GetStats).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

namespace shmpool::server {

class MetricsHttpServer {
 public:
  using Body = std::function<std::string()>;
  // Binds HOST:PORT ("127.0.0.1:9100", "[::1]:0", "0.0.0.0:9100"; port 0 picks one) and
  // starts serving. Fails when the address is bad or in use.
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(const std::string& host_port,
                                                                  Body body);
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
