#include "creds/file_sink.hpp"

#include <fmt/format.h>

#include "creds/ini.hpp"
#include "util/atomic_file.hpp"
#include "util/log.hpp"
#include "util/secret.hpp"

namespace awh::creds {
namespace {

Error unparseable(const FileTarget& target, const Error& e) {
  return make_error(
      errc::invalid_input,
      fmt::format("the credentials file {} can't be parsed: {}; it was left unchanged "
                  "(fix it, or use --force to overwrite it)",
                  target.path, e.message));
}

util::AtomicWriteOptions write_options(const FileTarget& target) {
  util::AtomicWriteOptions options;
  options.replace_foreign = target.force;  // --force: a file of another user is replaced
  return options;
}

// What the file is to hold: our profile set in its current contents, or our profile alone
// (--replace, no file yet, a foreign file replaced under --force, or --force over a file that
// can't be parsed). The entry has been validated, so an upsert that fails means the contents
// can't be parsed.
Result<util::SecretString> new_contents(const FileTarget& target, const Credentials& c,
                                        std::optional<std::string_view> existing) {
  if (target.replace || !existing) return util::SecretString(render_profile(target.profile, c));
  auto edited = upsert_profile(*existing, target.profile, c);
  if (edited) return util::SecretString(std::move(*edited));
  if (!target.force) return unparseable(target, edited.error());
  log::warn("the credentials file {} can't be parsed ({}); --force: overwriting it", target.path,
            edited.error().message);
  return util::SecretString(render_profile(target.profile, c));
}

}  // namespace

Result<void> preflight(const FileTarget& target) {
  if (auto dir = util::prepare_directory(target.path, write_options(target)); !dir) {
    return dir.error();
  }
  if (target.replace) return {};
  auto existing = util::read_file_if_exists(target.path);
  if (!existing) {
    if (target.force) return {};  // --force: whatever is there gets overwritten
    return existing.error();
  }
  if (!*existing) return {};
  const util::SecretString contents(std::move(**existing));  // it holds secrets: wipe it after
  if (auto parsed = check_parseable(contents); !parsed && !target.force)
    return unparseable(target, parsed.error());
  return {};
}

Result<void> write_credentials(const FileTarget& target, const Credentials& c) {
  if (auto valid = validate_entry(target.profile, c); !valid) return valid.error();
  return util::update_file_atomically(
      target.path,
      [&](std::optional<std::string_view> existing) { return new_contents(target, c, existing); },
      write_options(target));
}

Result<void> write_profiles(const FileTarget& file,
                            const std::vector<ProfileCredentials>& entries) {
  if (entries.empty()) return {};
  for (const auto& e : entries) {
    if (auto valid = validate_entry(e.profile, *e.credentials); !valid) return valid.error();
  }
  FileTarget first = file;
  first.profile = entries.front().profile;
  // One locked read-modify-rename for every profile (util::update_file_atomically).
  return util::update_file_atomically(
      file.path,
      [&](std::optional<std::string_view> existing) -> Result<util::SecretString> {
        AWH_TRY(contents, new_contents(first, *entries.front().credentials, existing));
        // The rest go into what we just made, which parses: an upsert can't fail on it.
        for (std::size_t i = 1; i < entries.size(); ++i) {
          AWH_TRY(edited, upsert_profile(*contents, entries[i].profile, *entries[i].credentials));
          *contents = util::SecretString(std::move(*edited));
        }
        return std::move(*contents);
      },
      write_options(file));
}

}  // namespace awh::creds
