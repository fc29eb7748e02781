#include "server/rpc/metrics_http.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "server/core/log.h"

namespace shmpool::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr uint32_t kHeaderLimit = 16 * 1024;
constexpr uint64_t kBodyLimit = 48 * 1024;
constexpr char kBusy[] =
    "HTTP/1.1 503 Service Unavailable\r\nServer: shmpoold\r\nContent-Type: text/plain\r\n"
    "Content-Length: 21\r\nConnection: close\r\n\r\ntoo many connections\n";

}  // namespace

// The server's state, touched only on its io thread: the acceptor, the options, the body
// callback and the number of open connections (Session objects alive). `open` is declared
// before `ioc` so that it outlives the sessions the io_context destroys with itself.
struct MetricsHttpServer::Impl {
  MetricsHttpOptions options;
  Body body;
  int open = 0;
  asio::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  asio::steady_timer retry{ioc};

  void Accept();
  // Answers 503 on a fresh connection without waiting for anything, and closes it.
  static void Reject(tcp::socket socket);
  http::response<http::string_body> Respond(const http::request<http::string_body>& req);
};

namespace {

// One connection: reads a request, answers it, and waits for the next while the client keeps
// the connection alive. Each pending operation holds a shared_ptr to it, so it lives while
// one is pending; every operation has a deadline (tcp_stream::expires_after), so none is
// pending forever. Counts itself in Impl::open while it lives.
class Session : public std::enable_shared_from_this<Session> {
 public:
  using Respond =
      std::function<http::response<http::string_body>(const http::request<http::string_body>&)>;
  Session(int& open, const MetricsHttpOptions& options, Respond respond, tcp::socket socket)
      : open_(open), options_(options), respond_(std::move(respond)), stream_(std::move(socket)) {
    ++open_;
  }
  ~Session() { --open_; }
  void Start() { ReadRequest(); }

 private:
  void ReadRequest() {
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(kBodyLimit);
    stream_.expires_after(options_.read_timeout);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRequest(ec); });
  }

  // Keep-alive: up to idle_timeout for the next request's first byte, then read_timeout for
  // the whole of it.
  void AwaitNext() {
    if (buffer_.size() > 0) return ReadRequest();  // pipelined: already here
    stream_.expires_after(options_.idle_timeout);
    stream_.async_read_some(buffer_.prepare(4096),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
                              if (ec) return self->Close();
                              self->buffer_.commit(n);
                              self->ReadRequest();
                            });
  }

  void OnRequest(beast::error_code ec) {
    if (ec == http::error::header_limit || ec == http::error::body_limit) {
      response_.emplace(http::status::payload_too_large, 11);
      response_->set(http::field::server, "shmpoold");
      response_->body() = "request too large\n";
      response_->keep_alive(false);
      response_->prepare_payload();
      return Write();
    }
    if (ec) return Close();  // end of stream, timeout, malformed
    response_.emplace(respond_(parser_->get()));
    Write();
  }

  void Write() {
    stream_.expires_after(options_.read_timeout);
    http::async_write(stream_, *response_,
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        if (ec || !self->response_->keep_alive()) return self->Close();
                        self->AwaitNext();
                      });
  }

  void Close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.close();
  }

  int& open_;
  const MetricsHttpOptions& options_;
  const Respond respond_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::string_body>> response_;
};

}  // namespace

void MetricsHttpServer::Impl::Accept() {
  acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;  // stopping
    if (ec) {  // out of file descriptors, say: try again shortly
      LogError("metrics_accept_failed").Kv("error", ec.message());
      retry.expires_after(std::chrono::milliseconds(100));
      retry.async_wait([this](beast::error_code) { Accept(); });
      return;
    }
    if (open >= options.max_connections) {
      Reject(std::move(socket));
    } else {
      std::make_shared<Session>(
          open, options, [this](const http::request<http::string_body>& r) { return Respond(r); },
          std::move(socket))
          ->Start();
    }
    Accept();
  });
}

void MetricsHttpServer::Impl::Reject(tcp::socket socket) {
  beast::error_code ec;
  socket.non_blocking(true, ec);
  socket.write_some(asio::buffer(kBusy, sizeof(kBusy) - 1), ec);  // an empty send buffer
  socket.shutdown(tcp::socket::shutdown_send, ec);
}

http::response<http::string_body> MetricsHttpServer::Impl::Respond(
    const http::request<http::string_body>& req) {
  http::response<http::string_body> res{http::status::ok, req.version()};
  res.set(http::field::server, "shmpoold");
  res.keep_alive(req.keep_alive());
  if (req.method() != http::verb::get && req.method() != http::verb::head) {
    res.result(http::status::method_not_allowed);
    res.set(http::field::allow, "GET, HEAD");
    res.body() = "only GET and HEAD\n";
  } else if (req.target() != "/metrics" && req.target().rfind("/metrics?", 0) != 0) {
    res.result(http::status::not_found);
    res.body() = "not found: try /metrics\n";
  } else {
    res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    res.body() = body();
  }
  res.prepare_payload();
  if (req.method() == http::verb::head) res.body().clear();
  return res;
}

MetricsHttpServer::MetricsHttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

absl::StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(
    const std::string& host_port, Body body, const MetricsHttpOptions& options) {
  const size_t colon = host_port.rfind(':');
  const std::string port_text =
      colon == std::string::npos ? host_port : host_port.substr(colon + 1);
  uint32_t port = 0;
  if (!absl::SimpleAtoi(port_text, &port) || port > 65535)
    return absl::InvalidArgumentError(
        absl::StrCat("--metrics-listen: expected HOST:PORT, got \"", host_port, "\""));
  std::string host = colon == std::string::npos ? "" : host_port.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "127.0.0.1";
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->body = std::move(body);
  beast::error_code ec;
  tcp::resolver resolver(impl->ioc);
  auto results = resolver.resolve(host, std::to_string(port), ec);
  if (ec || results.empty())
    return absl::InvalidArgumentError(
        absl::StrCat("--metrics-listen: cannot resolve \"", host, "\": ", ec.message()));
  const tcp::endpoint ep = results.begin()->endpoint();
  impl->acceptor.open(ep.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(ep, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return absl::UnavailableError(
        absl::StrCat("--metrics-listen: cannot listen on ", host_port, ": ", ec.message()));
  std::unique_ptr<MetricsHttpServer> s(new MetricsHttpServer(std::move(impl)));
  s->port_ = s->impl_->acceptor.local_endpoint().port();
  s->impl_->Accept();
  Impl* i = s->impl_.get();
  s->thread_ = std::thread([i] { i->ioc.run(); });
  return s;
}

void MetricsHttpServer::Stop() {
  if (!thread_.joinable()) return;
  asio::post(impl_->ioc, [i = impl_.get()] {
    beast::error_code ec;
    i->acceptor.close(ec);
    i->retry.cancel();
    i->ioc.stop();
  });
  thread_.join();
}

MetricsHttpServer::~MetricsHttpServer() { Stop(); }

}  // namespace shmpool::server
