// Compiled with the build's own description (see src/replica/CMakeLists.txt),
// so each replica binary reports how it, and not its siblings, was built.
#include <string>

#include "replica/replica.h"
#include "triad_revision.h"

#ifndef TRIAD_OPT_FLAGS
#define TRIAD_OPT_FLAGS "unknown"
#endif
#ifndef TRIAD_CARD_INDEX_NAME
#define TRIAD_CARD_INDEX_NAME "hash"
#endif

namespace triad::replica {
namespace {

std::string compiler() {
#if defined(__clang__)
  return "clang " __clang_version__;
#elif defined(__GNUC__)
  return "gcc " __VERSION__;
#else
  return "unknown compiler";
#endif
}

std::string standard_library() {
#if defined(_LIBCPP_VERSION)
  return "libc++ " + std::to_string(_LIBCPP_VERSION);
#elif defined(__GLIBCXX__)
  std::string lib = "libstdc++ " + std::to_string(__GLIBCXX__);
#if defined(_GLIBCXX_ASSERTIONS)
  lib += " +assertions";
#endif
  return lib;
#else
  return "unknown library";
#endif
}

}  // namespace

const std::string& build_fingerprint() {
  static const std::string fingerprint = compiler() + "; " + standard_library() + "; " +
                                         TRIAD_OPT_FLAGS + "; index=" TRIAD_CARD_INDEX_NAME +
                                         "; rev=" TRIAD_SOURCE_REVISION;
  return fingerprint;
}

}  // namespace triad::replica
