#include "crypto/openssl_util.h"

#include <openssl/err.h>

#include <cstdio>
#include <cstdlib>

namespace triad::crypto::detail {

void fatal_crypto(const char* what) {
  std::fprintf(stderr, "triad_crypto: fatal: %s\n", what);
  ERR_print_errors_fp(stderr);
  std::fflush(stderr);
  std::abort();
}

std::string take_openssl_error() {
  unsigned long code = ERR_get_error();
  std::string text = "unknown";
  if (code != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    text = buf;
  }
  ERR_clear_error();
  return text;
}

}  // namespace triad::crypto::detail
