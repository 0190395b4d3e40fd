#include "util/error.hpp"

namespace awh {
namespace {

class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "awh"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::ok: return "success";
      case errc::usage: return "usage error";
      case errc::invalid_input: return "invalid input";
      case errc::not_found: return "not found";
      case errc::unavailable: return "unavailable";
      case errc::timeout: return "timed out";
      case errc::protocol: return "protocol error";
      case errc::denied: return "denied";
      case errc::throttled: return "throttled";
      case errc::server: return "server error";
      case errc::tls: return "TLS error";
      case errc::io: return "I/O error";
      case errc::crypto: return "cryptographic error";
      case errc::internal: return "internal error";
    }
    return "unknown error";
  }
};

}  // namespace

const std::error_category& error_category() noexcept {
  static const Category category;
  return category;
}

}  // namespace awh
