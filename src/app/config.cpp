#include "app/config.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <sstream>

namespace awh::app {
namespace {

constexpr std::array<std::string_view, 5> kGlobalKeys = {
    "workload-api-addr", "ca-bundle", "timeout", "aws-credentials-path", "proxy"};
constexpr std::array<std::string_view, 12> kExchangeKeys = {"profile",
                                                            "aws-credentials-path",
                                                            "trust-anchor-arn",
                                                            "profile-arn",
                                                            "role-arn",
                                                            "audience",
                                                            "region",
                                                            "endpoint",
                                                            "session-duration",
                                                            "role-session-name",
                                                            "hint",
                                                            "spiffe-id"};
constexpr std::array<std::string_view, 2> kX509Keys = {"trust-anchor-arn", "profile-arn"};
constexpr std::array<std::string_view, 3> kX509Required = {"trust-anchor-arn", "profile-arn",
                                                           "role-arn"};

int line_of(const YAML::Node& node) { return node.Mark().line + 1; }  // yaml-cpp counts from 0

template <std::size_t N>
bool known(const std::array<std::string_view, N>& keys, std::string_view key) {
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

template <std::size_t N>
std::string listed(const std::array<std::string_view, N>& keys) {
  std::string out;
  for (auto k : keys) out += (out.empty() ? "" : ", ") + std::string(k);
  return out;
}

std::string_view kind_name(YAML::NodeType::value type) {
  switch (type) {
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Null:
      return "nothing";
    default:
      return "a value";
  }
}

// Reads one mapping's scalar keys, checking names, duplicates and types. `where` prefixes
// messages ("exchanges[1]: ").
template <std::size_t N>
Result<ConfigKeys> read_keys(const YAML::Node& map, const std::string& path,
                             const std::array<std::string_view, N>& allowed, std::string_view where,
                             std::string_view skip = {}) {
  ConfigKeys keys;
  for (const auto& item : map) {
    const int line = line_of(item.first);
    if (!item.first.IsScalar()) {
      return config_error(path, line, fmt::format("{}a key must be a name", where));
    }
    const std::string key = item.first.Scalar();
    if (key == skip) continue;
    if (!known(allowed, key)) {
      return config_error(
          path, line,
          fmt::format("{}unknown key '{}' (known keys: {})", where, key, listed(allowed)));
    }
    if (keys.count(key) != 0) {
      return config_error(
          path, line,
          fmt::format("{}{}: given twice (also on line {})", where, key, keys.at(key).line));
    }
    if (!item.second.IsScalar()) {
      return config_error(path, line_of(item.second),
                          fmt::format("{}{}: expected a single value (a string or a number), "
                                      "found {}",
                                      where, key, kind_name(item.second.Type())));
    }
    if (item.second.Scalar().empty()) {
      return config_error(path, line, fmt::format("{}{}: the value is empty", where, key));
    }
    keys[key] = ConfigValue{item.second.Scalar(), line_of(item.second)};
  }
  return keys;
}

Result<ConfigExchange> read_exchange(const YAML::Node& node, std::size_t index,
                                     const ConfigFile& file) {
  const std::string where = fmt::format("exchanges[{}]: ", index);
  const int line = line_of(node);
  if (!node.IsMap()) {
    return config_error(
        file.path, line,
        fmt::format("{}expected a mapping of keys (profile, role-arn, ...), found {}", where,
                    kind_name(node.Type())));
  }
  AWH_TRY(keys, read_keys(node, file.path, kExchangeKeys, where));
  ConfigExchange out{line, false, std::move(*keys)};
  const auto x509_key = std::find_if(kX509Keys.begin(), kX509Keys.end(),
                                     [&](std::string_view k) { return out.keys.count(k) != 0; });
  const bool x509 = x509_key != kX509Keys.end();
  out.jwt = out.keys.count("audience") != 0;
  if (x509 && out.jwt) {
    const auto& a = out.keys.at("audience");
    return config_error(
        file.path, a.line,
        fmt::format("{}both audience (a JWT-SVID exchange with STS) and {} (an X.509-SVID "
                    "exchange with Roles Anywhere, line {}); an exchange is one or the other",
                    where, *x509_key, out.keys.at(std::string(*x509_key)).line));
  }
  if (!x509 && !out.jwt) {
    return config_error(
        file.path, line,
        fmt::format("{}neither trust-anchor-arn, profile-arn and role-arn (X.509-SVID) nor "
                    "audience (JWT-SVID)",
                    where));
  }
  if (x509) {
    for (auto k : kX509Required) {
      if (out.keys.count(k) == 0) {
        return config_error(file.path, line,
                            fmt::format("{}missing {} (an X.509-SVID exchange needs {})", where, k,
                                        listed(kX509Required)));
      }
    }
  }
  if (out.keys.count("profile") == 0) {
    return config_error(
        file.path, line,
        fmt::format("{}missing profile (the credentials-file profile to write)", where));
  }
  if (out.keys.count("aws-credentials-path") == 0) {
    const auto global = file.globals.find("aws-credentials-path");
    if (global == file.globals.end()) {
      return config_error(
          file.path, line,
          fmt::format("{}missing aws-credentials-path (here or at the top level)", where));
    }
    out.keys["aws-credentials-path"] = global->second;
  }
  return out;
}

}  // namespace

Error config_error(const std::string& path, int line, std::string_view message) {
  return make_error(errc::usage, fmt::format("{}:{}: {}", path, line, message));
}

Result<ConfigFile> parse_config(std::string_view text, const std::string& path) {
  ConfigFile file;
  file.path = path;
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::ParserException& e) {
    return config_error(path, e.mark.line + 1, fmt::format("not valid YAML: {}", e.msg));
  }
  if (!root.IsMap()) {
    return config_error(
        path, root.IsDefined() ? line_of(root) : 1,
        fmt::format("expected a mapping with an exchanges list, found {}", kind_name(root.Type())));
  }
  // The top level: its scalar keys, then the exchanges.
  for (const auto& item : root) {
    if (item.first.IsScalar() && item.first.Scalar() == "exchanges") continue;
    if (item.first.IsScalar() && !known(kGlobalKeys, item.first.Scalar())) {
      return config_error(path, line_of(item.first),
                          fmt::format("unknown key '{}' (known keys: {}, exchanges)",
                                      item.first.Scalar(), listed(kGlobalKeys)));
    }
  }
  AWH_TRY(globals, read_keys(root, path, kGlobalKeys, "", "exchanges"));
  file.globals = std::move(*globals);
  const YAML::Node exchanges = root["exchanges"];
  if (!exchanges) return config_error(path, 1, "missing exchanges (a list of exchanges)");
  if (!exchanges.IsSequence() || exchanges.size() == 0) {
    return config_error(
        path, line_of(exchanges),
        fmt::format("exchanges: expected a non-empty list, found {}",
                    exchanges.IsSequence() ? "an empty list" : kind_name(exchanges.Type())));
  }
  for (std::size_t i = 0; i < exchanges.size(); ++i) {
    AWH_TRY(exchange, read_exchange(exchanges[i], i, file));
    // Two exchanges can't write the same profile.
    for (std::size_t j = 0; j < file.exchanges.size(); ++j) {
      const auto& other = file.exchanges[j].keys;
      if (other.at("profile").text == exchange->keys.at("profile").text &&
          other.at("aws-credentials-path").text == exchange->keys.at("aws-credentials-path").text) {
        return config_error(
            path, exchange->keys.at("profile").line,
            fmt::format("exchanges[{}]: profile '{}' of {} is also written by "
                        "exchanges[{}] (line {})",
                        i, other.at("profile").text, other.at("aws-credentials-path").text, j,
                        file.exchanges[j].line));
      }
    }
    file.exchanges.push_back(std::move(*exchange));
  }
  return file;
}

Result<ConfigFile> load_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return make_error(errc::usage,
                      fmt::format("--config: cannot read {}: {}", path, std::strerror(errno)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (text.str().size() > (1u << 20)) {
    return make_error(errc::usage, fmt::format("--config: {} is larger than 1 MiB", path));
  }
  return parse_config(text.str(), path);
}

}  // namespace awh::app
