// Offline certificate verification through the public API
// (include/triad/certificate.h): the raw bytes, the same bytes at an address
// that is not 8-byte aligned (a caller's buffer promises nothing), and the
// input read as the base64 text of a `cert` field.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace triad;
  const fuzz::World& w = fuzz::world();
  CertificateInfo info;
  const Status aligned = verify_certificate({data, size}, w.keyring, &info);
  if (aligned.is_ok()) {
    fuzz::check(info.signers.size() >= 2, "a valid certificate has two signers");
    fuzz::check(info.code.size() == 2, "a valid certificate has a two-digit code");
  }
  fuzz::Bytes shifted(size + 1);
  std::copy(data, data + size, shifted.begin() + 1);
  const Status unaligned = verify_certificate(std::span(shifted).subspan(1), w.keyring, nullptr);
  fuzz::check(unaligned.is_ok() == aligned.is_ok(), "the verdict does not depend on alignment");

  const std::string text(reinterpret_cast<const char*>(data), size);
  (void)verify_certificate_base64(text, w.keyring, &info);
  return 0;
}
