#pragma once
// A small HTTP/1.1 server for the local credential endpoint, on the caller's io_context (no
// threads of its own). Beast parses; `handler` decides (serve/routes.hpp). Hardened for a
// listener that may face hostile local clients:
//  - header and body size limits (431/413, then the connection closes);
//  - a read timeout for each request (a slowloris client is cut off) and an idle timeout
//    between keep-alive requests;
//  - a cap on concurrent connections (beyond it a connection is closed at once);
//  - keep-alive;
//  - one log line per class of rejected request at most every 10 s, with a count.
// Threads: every member runs on the io_context's thread.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "serve/routes.hpp"
#include "util/error.hpp"

namespace awh::serve {

// "127.0.0.1:9911" or "[::1]:9911": an endpoint as it is written in URLs and logs.
std::string endpoint_text(const boost::asio::ip::tcp::endpoint& endpoint);

struct ServerLimits {
  std::size_t header_bytes = 8 * 1024;
  std::size_t body_bytes = 1024;
  std::chrono::milliseconds read_timeout{5000};   // from the first byte of a request to its end
  std::chrono::milliseconds idle_timeout{30000};  // between requests on a kept-alive connection
  std::chrono::milliseconds write_timeout{5000};
  std::size_t max_connections = 4096;
  int hop_limit = 1;  // the IP TTL / IPv6 hop limit of answers (--hop-limit)
};

class Server {
 public:
  using Handler = std::function<Reply(const Request&)>;

  Server(boost::asio::any_io_executor executor, Handler handler, ServerLimits limits = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens on every endpoint (IPv6 ones v6-only), then accepts. errc::network naming
  // the address when one can't be bound (nothing is left listening then).
  Result<void> listen(const std::vector<boost::asio::ip::tcp::endpoint>& endpoints);
  // The bound addresses (port 0 resolved), in the order given.
  std::vector<boost::asio::ip::tcp::endpoint> local_endpoints() const;

  // Stops accepting and closes idle connections; requests in flight finish, then their
  // connections close. `on_drained` runs once no connection is left (at once if none is).
  void stop(std::function<void()> on_drained);

  std::size_t connections() const;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace awh::serve
