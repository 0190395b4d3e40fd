#include "app/build_info.hpp"

#include <openssl/crypto.h>
#include <openssl/opensslv.h>

#include <fmt/format.h>

#include "revision.h"  // generated: AWH_REVISION (vcs_tag in src/meson.build)

#ifndef AWH_GRPC_VERSION
#error "AWH_GRPC_VERSION must be set by the build (src/meson.build)"
#endif

namespace awh::app {

const char* build_revision() { return AWH_REVISION; }

std::string version_text() {
  std::string out = fmt::format(
      "aws-spiffe-workload-helper {}\n"
      "revision: {}\n"
      "built with: gRPC {}, {}",
      AWH_VERSION, AWH_REVISION, AWH_GRPC_VERSION, OPENSSL_VERSION_TEXT);
  // OpenSSL is linked shared: Debian's security updates replace it under the binary.
  const char* running = OpenSSL_version(OPENSSL_VERSION);
  if (running != nullptr && std::string_view(running) != OPENSSL_VERSION_TEXT) {
    out += fmt::format(" (running with {})", running);
  }
  return out;
}

}  // namespace awh::app
