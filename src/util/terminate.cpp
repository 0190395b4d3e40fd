// std::terminate's handler for the helper as linked (statically) with libstdc++. libstdc++'s own
// default, __gnu_cxx::__verbose_terminate_handler, demangles the exception's type name, and with
// it links the whole C++ demangler (45 KB). This one prints the type's mangled name and what()
// on one line, then aborts as that one does.
//
// The handler is the variable __cxxabiv1::__terminate_handler, which libstdc++ defines alone in
// its object eh_term_handler.o (libsupc++/eh_term_handler.cc, GCC 12). Defined here, the linker
// takes ours and never extracts that object, nor the verbose handler and the demangler it refers
// to. src/meson.build compiles this file only into a helper linked with -static-libstdc++: with
// libstdc++.so, the library's own definition is the one in use.

#include <unistd.h>

#include <cxxabi.h>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string_view>
#include <typeinfo>

namespace {

void say(std::string_view text) noexcept {
  while (!text.empty()) {
    const ssize_t n = ::write(STDERR_FILENO, text.data(), text.size());
    if (n <= 0) return;
    text.remove_prefix(static_cast<std::size_t>(n));
  }
}

[[noreturn]] void terminate_handler() noexcept {
  say("aws-spiffe-workload-helper: internal error: terminate called");
  if (const std::type_info* type = abi::__cxa_current_exception_type(); type != nullptr) {
    say(" after an uncaught exception of type ");
    say(type->name());
    try {
      throw;
    } catch (const std::exception& e) {
      say(": ");
      say(e.what());
    } catch (...) {
    }
  }
  say("\n");
  std::abort();
}

}  // namespace

namespace __cxxabiv1 {
// NOLINTNEXTLINE: the name libstdc++ gives this variable (see the top of this file).
std::terminate_handler __terminate_handler = terminate_handler;
}  // namespace __cxxabiv1
