// The front end's reply as the client library decodes it (client.cc
// next_reply): the verifier, every field of the reply (or of each reply of
// a batch) and its decision, and
// the embedded certificate checked offline as `triad submit` and a payment
// switch would.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_util.h"
#include "wire/codec.h"

namespace {

void read_reply(const triad::wire::ClientReply* reply) {
  using namespace triad;
  const fuzz::World& w = fuzz::world();
  (void)reply->tag();
  (void)reply->pong();
  (void)reply->error_kind();
  const std::string error(wire::as_view(reply->error()));
  const wire::Decision* d = reply->decision();
  if (d == nullptr) return;
  const std::string id(wire::as_view(d->id()));
  const std::string code(wire::as_view(d->code()));
  const std::string agree(wire::as_view(d->agree()));
  const std::string divergent(wire::as_view(d->divergent()));
  (void)d->seq();
  (void)d->ts();
  (void)d->replayed();
  const auto cert = wire::as_bytes(d->certificate());
  const fuzz::Bytes copy(cert.begin(), cert.end());
  CertificateInfo info;
  if (verify_certificate(copy, w.keyring, &info).is_ok()) {
    fuzz::check(info.signers.size() >= 2, "a valid certificate has two signers");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace triad;
  fuzz::world();
  const wire::AlignedFrame frame(data, size);
  const wire::ClientReply* reply = nullptr;
  if (!wire::verify_client_reply(frame.bytes(), &reply).is_ok()) return 0;
  (void)wire::for_each_reply(*reply, [](const wire::ClientReply& r) { read_reply(&r); });
  return 0;
}
