#pragma once
// The validated, immutable configuration of one run, produced by parse_cli().

#include <chrono>
#include <optional>
#include <string>

#include "aws/rolesanywhere.hpp"
#include "aws/sts.hpp"
#include "creds/file_sink.hpp"
#include "net/url.hpp"
#include "spiffe/svid.hpp"
#include "util/log.hpp"

namespace awh::app {

enum class Command {
  x509_credential_process,
  x509_credential_file,
  x509_credential_file_oneshot,
  jwt_credential_process,
  jwt_credential_file,
  jwt_credential_file_oneshot,
};

inline bool is_jwt(Command c) {
  return c == Command::jwt_credential_process || c == Command::jwt_credential_file ||
         c == Command::jwt_credential_file_oneshot;
}
// The daemons (*-credential-file).
inline bool is_daemon(Command c) { return c == Command::x509_credential_file || c == Command::jwt_credential_file; }
// The commands that write a credentials file (the daemons and *-credential-file-oneshot).
inline bool writes_file(Command c) {
  return is_daemon(c) || c == Command::x509_credential_file_oneshot || c == Command::jwt_credential_file_oneshot;
}


struct Options {
  Command command = Command::x509_credential_process;
  log::Level log_level = log::Level::info;
  log::Format log_format = log::Format::text;

  aws::CreateSessionParams session;  // X.509: ARNs, region, duration, session name
  aws::WebIdentityParams web_identity;  // JWT: role, session name, duration
  std::string audience;              // JWT: the JWT-SVID's audience
  net::Url endpoint;                 // Roles Anywhere (X.509) or STS (JWT)
  std::string workload_api_target;   // gRPC target, translated from the address
  spiffe::Selector selector;
  std::string ca_bundle;             // PEM path; empty: system trust store
  std::chrono::seconds timeout{30};  // one-shot: the whole run; daemon: each exchange
  creds::FileTarget file;            // the file modes only
};

}  // namespace awh::app
