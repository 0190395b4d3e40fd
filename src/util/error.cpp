#include "util/error.hpp"

namespace awh {
namespace {

class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "awh"; }
  std::string message(int ev) const override { return class_name(static_cast<errc>(ev)); }
};

}  // namespace

const char* class_name(errc cls) noexcept {
  switch (cls) {
    case errc::ok:
      return "ok";
    case errc::usage:
      return "usage";
    case errc::invalid_input:
      return "invalid_input";
    case errc::not_found:
      return "not_found";
    case errc::network:
      return "network";
    case errc::timeout:
      return "timeout";
    case errc::tls:
      return "tls";
    case errc::protocol:
      return "protocol";
    case errc::throttled:
      return "throttled";
    case errc::denied:
      return "denied";
    case errc::server:
      return "server";
    case errc::workload_unavailable:
      return "workload_unavailable";
    case errc::workload_rejected:
      return "workload_rejected";
    case errc::file:
      return "file";
    case errc::crypto:
      return "crypto";
    case errc::internal:
      return "internal";
  }
  return "unknown";
}

const std::error_category& error_category() noexcept {
  static const Category category;
  return category;
}

}  // namespace awh
