// Assertions that stay on in release builds: a broken invariant in a process
// that decides about money must stop it, not let it carry on.
#pragma once

namespace triad::detail {
[[noreturn]] void assertion_failed(const char* expr, const char* file, int line);
}

#define TRIAD_ASSERT(expr) \
  ((expr) ? static_cast<void>(0) : ::triad::detail::assertion_failed(#expr, __FILE__, __LINE__))
