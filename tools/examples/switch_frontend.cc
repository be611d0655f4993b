// A payment-switch front end using the Triad client library: it submits a
// few authorizations with many in flight, matches each answer to its request
// by tag, checks every certificate offline, and acts on the decision.
//
//   switch_frontend ENDPOINT KEYS_DIR
//   e.g. switch_frontend tcp://127.0.0.1:7700 triad-data
#include <triad/certificate.h>
#include <triad/client.h>

#include <cstdio>
#include <map>
#include <string>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s ENDPOINT KEYS_DIR\n", argv[0]);
    return 2;
  }
  triad::Keyring keyring;
  if (triad::Status s = triad::Keyring::load_dir(argv[2], &keyring); !s.is_ok()) {
    std::fprintf(stderr, "keys: %s\n", s.to_string().c_str());
    return 1;
  }
  // The cluster's CURVE keys: the front end's public key (the connection is
  // encrypted and reaches only it) and this client's own key pair.
  triad::ClientOptions options;
  if (triad::Status s = triad::use_cluster_keys(argv[2], &options); !s.is_ok()) {
    std::fprintf(stderr, "CURVE keys: %s\n", s.to_string().c_str());
    return 1;
  }
  std::unique_ptr<triad::Client> client;
  if (triad::Status s = triad::Client::connect(argv[1], options, &client); !s.is_ok()) {
    std::fprintf(stderr, "connect: %s\n", s.to_string().c_str());
    return 1;
  }

  // The switch's own requests, keyed by a tag it chooses (here its STAN).
  std::map<std::uint64_t, triad::Transaction> pending;
  for (std::uint64_t stan = 1; stan <= 5; ++stan) {
    triad::Transaction tx;
    tx.id = "switch-example-" + std::to_string(stan);
    tx.mti = "0100";
    tx.pan = "4111111111111111";
    tx.proc = "000000";
    tx.amount = static_cast<std::int64_t>(1000 * stan);
    tx.currency = "840";
    tx.expiry = "2912";
    tx.mcc = "5411";
    tx.stan = std::string(6 - std::to_string(stan).size(), '0') + std::to_string(stan);
    tx.terminal = "POS00042";
    tx.merchant = "CORNER SHOP";
    if (triad::Status s = client->submit(stan, tx); !s.is_ok()) {
      std::fprintf(stderr, "submit: %s\n", s.to_string().c_str());
      return 1;
    }
    pending.emplace(stan, std::move(tx));
  }

  while (!pending.empty()) {
    triad::Reply reply;
    if (triad::Status s = client->next_reply(5000, &reply); !s.is_ok()) {
      std::fprintf(stderr, "waiting: %s (%zu unanswered)\n", s.to_string().c_str(), pending.size());
      return 1;
    }
    const auto it = pending.find(reply.tag);
    if (it == pending.end()) continue;  // not one of ours
    const triad::Transaction tx = std::move(it->second);
    pending.erase(it);
    if (!reply.status.is_ok()) {  // not sequenced: fix the request or retry later
      std::printf("stan %llu refused: %s\n", static_cast<unsigned long long>(reply.tag),
                  reply.status.to_string().c_str());
      continue;
    }
    const triad::Decision& d = reply.decision;
    std::string proof = "no certificate (fail-safe decline)";
    bool proven = false;  // only a proven approval is one
    if (!d.certificate.empty()) {
      // Valid, and for this decision on this very transaction.
      // The digest holds the card's reference, which came with the answer,
      // in the PAN's place.
      triad::CertificateInfo info;
      std::string tx_digest;
      const triad::Status v =
          triad::verify_decision_certificate(d.certificate, keyring, d.seq, d.ts_ms, d.code, &info);
      if (!v.is_ok()) {
        proof = "BAD CERTIFICATE: " + v.message();
      } else if (const triad::Status r = triad::transaction_digest_hex(tx, d.card_ref, &tx_digest);
                 !r.is_ok()) {
        proof = "BAD ANSWER: " + r.message();
      } else if (info.tx_digest_hex != tx_digest) {
        proof = "BAD CERTIFICATE: it is for another transaction";
      } else {
        proof = "certificate signed by " + info.signers;
        proven = true;
      }
    } else if (!triad::is_fail_safe_code(d.code)) {
      proof = "BAD ANSWER: only a fail-safe decline comes without a certificate";
    }
    std::printf("stan %llu: %s seq %llu code %s%s; %s\n",
                static_cast<unsigned long long>(reply.tag), d.id.c_str(),
                static_cast<unsigned long long>(d.seq), d.code.c_str(),
                !d.approved ? " declined"
                : proven    ? " APPROVED"
                            : " approval NOT PROVEN, not to be honoured",
                proof.c_str());
  }
  return 0;
}
