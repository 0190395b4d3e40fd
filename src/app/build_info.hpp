#pragma once
// What this binary is: the version (meson.build's project version, the one place it is set),
// the git revision it was built from ("unknown" when built outside a git checkout) and the
// versions of gRPC and OpenSSL it was compiled against. The revision and the gRPC version come
// from the build (src/meson.build) into build_info.cpp alone, so that a new commit recompiles
// one small file, and no gRPC header is needed here.

#include <string>

namespace awh::app {

// The git revision ("3f2c1a9b0d4e", "+dirty" if the tree had changes), or "unknown".
const char* build_revision();

// What `--version` prints: "aws-spiffe-workload-helper 0.1.0", then the revision, then the
// gRPC and OpenSSL versions (and the OpenSSL loaded at run time if it differs).
std::string version_text();

}  // namespace awh::app
