#include "engine/exchangers.hpp"

#include <fmt/format.h>

#include "aws/clients.hpp"
#include "aws/request_text.hpp"
#include "util/log.hpp"

namespace awh::engine {

namespace asio = boost::asio;

asio::awaitable<Result<creds::Credentials>> RolesAnywhereExchanger::exchange(
    const Identity& identity, Deadline deadline) {
  if (!identity.x509) co_return make_error(errc::internal, "Roles Anywhere needs an X.509-SVID");
  const auto& svid = *identity.x509;
  if (auto usable = spiffe::check_signing_leaf(svid, std::chrono::system_clock::now()); !usable)
    co_return usable.error();
  const aws::SigningIdentity signing{svid.key.get(), svid.leaf_der, svid.intermediates_der,
                                     svid.serial_decimal};
  auto credentials = co_await aws::create_session(http_, endpoint_, params_, signing,
                                                  aws::RetryPolicy{}, deadline);
  if (credentials)
    log::debug("received credentials {} expiring {}", credentials->access_key_id,
               credentials->expiration);
  co_return credentials;
}

Result<std::string> RolesAnywhereExchanger::dry_run(const Identity& identity) {
  if (!identity.x509) return make_error(errc::internal, "Roles Anywhere needs an X.509-SVID");
  const auto& svid = *identity.x509;
  const aws::SigningIdentity signing{svid.key.get(), svid.leaf_der, svid.intermediates_der,
                                     svid.serial_decimal};
  AWH_TRY(request,
          aws::build_create_session(params_, endpoint_, signing, std::chrono::system_clock::now()));
  return aws::request_text(endpoint_, request->request, &request->signature);
}

aws::WebIdentityParams StsExchanger::with_session_name() const {
  aws::WebIdentityParams params = params_;
  if (params.role_arn && !params.role_session_name) {
    params.role_session_name = fmt::format("aws-spiffe-workload-helper-{}",
                                           std::chrono::duration_cast<std::chrono::seconds>(
                                               std::chrono::system_clock::now().time_since_epoch())
                                               .count());
  }
  return params;
}

Result<std::string> StsExchanger::dry_run(const Identity& identity) {
  if (identity.jwt.empty()) return make_error(errc::internal, "STS needs a JWT-SVID");
  // AssumeRoleWithWebIdentity is not signed: the JWT-SVID is the proof. It is shown without its
  // signature, so the text can't be replayed.
  auto request = aws::build_assume_role_with_web_identity(endpoint_, with_session_name(),
                                                          aws::redact_jwt_signature(identity.jwt));
  return aws::request_text(endpoint_, request, nullptr);
}

asio::awaitable<Result<creds::Credentials>> StsExchanger::exchange(const Identity& identity,
                                                                   Deadline deadline) {
  if (identity.jwt.empty()) co_return make_error(errc::internal, "STS needs a JWT-SVID");
  auto credentials = co_await aws::assume_role_with_web_identity(
      http_, endpoint_, with_session_name(), identity.jwt, aws::RetryPolicy{}, deadline);
  if (credentials)
    log::debug("received credentials {} expiring {}", credentials->access_key_id,
               credentials->expiration);
  co_return credentials;
}

}  // namespace awh::engine
