#pragma once
// The exchanges (aws/clients.hpp): IAM Roles Anywhere CreateSession with an X.509-SVID, and STS
// AssumeRoleWithWebIdentity with a JWT-SVID.

#include "aws/rolesanywhere.hpp"
#include "aws/sts.hpp"
#include "engine/pieces.hpp"
#include "net/http_client.hpp"

namespace awh::engine {

class RolesAnywhereExchanger final : public Exchanger {
 public:
  RolesAnywhereExchanger(net::HttpClient& http, net::Url endpoint, aws::CreateSessionParams params)
      : http_(http), endpoint_(std::move(endpoint)), params_(std::move(params)) {}
  boost::asio::awaitable<Result<creds::Credentials>> exchange(const Identity& identity,
                                                              Deadline deadline) override;
  std::string describe() const override { return "Roles Anywhere " + endpoint_.host_header(); }
  Result<std::string> dry_run(const Identity& identity) override;

 private:
  net::HttpClient& http_;
  net::Url endpoint_;
  aws::CreateSessionParams params_;
};

// Without --role-session-name, a role needs one anyway (AWS STS requires it):
// "aws-spiffe-workload-helper-<unix time>", made up the way the AWS SDKs do.
class StsExchanger final : public Exchanger {
 public:
  StsExchanger(net::HttpClient& http, net::Url endpoint, aws::WebIdentityParams params)
      : http_(http), endpoint_(std::move(endpoint)), params_(std::move(params)) {}
  boost::asio::awaitable<Result<creds::Credentials>> exchange(const Identity& identity,
                                                              Deadline deadline) override;
  std::string describe() const override { return "STS " + endpoint_.host_header(); }
  Result<std::string> dry_run(const Identity& identity) override;

 private:
  aws::WebIdentityParams with_session_name() const;
  net::HttpClient& http_;
  net::Url endpoint_;
  aws::WebIdentityParams params_;
};

}  // namespace awh::engine
