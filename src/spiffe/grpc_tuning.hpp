#pragma once
// Where the helper reaches past gRPC's public API. Everything that does lives in
// spiffe/grpc_tuning.cpp, is compiled in only for the gRPC version it was written and tested
// against (meson.build: AWH_GRPC_TUNED), and falls back to stock gRPC otherwise. ARCHITECTURE.md
// ("gRPC tuning") says what each change does and how to remove it.

#include <grpcpp/channel.h>
#include <grpcpp/support/channel_arguments.h>

#include <memory>
#include <string>

namespace awh::spiffe {

// An insecure channel to `target` (unix:, ipv4: or ipv6:) for the Workload API.
std::shared_ptr<grpc::ChannelInterface> create_workload_channel(const std::string& target,
                                                                const grpc::ChannelArguments& args);

// True when this build carries the gRPC changes (for tests and the docs' claims).
bool grpc_tuned();

// Installs the idle changes (our timer list and EventEngine) if gRPC is not initialised yet;
// create_workload_channel() calls it. Processes that start gRPC for something else first (the
// tests' in-process fake agent) call it before that. Idempotent.
void prepare_grpc();

}  // namespace awh::spiffe
