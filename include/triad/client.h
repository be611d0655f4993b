// The Triad client library, for payment-switch front ends written in C++.
//
//   triad::ClientOptions options;
//   triad::use_cluster_keys("triad-data", &options);  // CURVE keys of `triad up`
//   std::unique_ptr<triad::Client> client;
//   triad::Status s = triad::Client::connect("tcp://127.0.0.1:7700", options, &client);
//   client->submit(/*tag=*/1, tx);             // many may be in flight
//   triad::Reply reply;
//   client->next_reply(1000, &reply);          // answers come as they are decided
//
// A Client is not thread-safe: use it from one thread (or guard it).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "triad/certificate.h"
#include "triad/status.h"
#include "triad/transaction.h"

namespace triad {

struct ClientOptions {
  // How long connect() waits for the front end to answer a ping.
  int connect_timeout_ms = 5000;
  // How long a send may wait for a connection (none while the front end is
  // down: nothing is queued for it then) or for room in the send queue (a
  // front end not reading leaves none): then submit() returns Unavailable,
  // not sent. -1: for good. After the front end refused this client's
  // handshake (a front end restarted with an allow-list without this key,
  // or with other keys), the library connects again by itself, in the first
  // call (submit, submit_batch, next_reply) 250 ms or more after it read the
  // refusal, then twice as long after each refusal in a row, up to 8 s
  // (while resubmit_within_ms is not 0: the connection's events are read
  // then); sends wait for that as for any connection. A connection ended
  // because the front end sent what ZeroMQ refuses, such as a message over
  // the size limit, is not made again: every send then ends so; connect a
  // new Client.
  int send_timeout_ms = 10'000;
  // CURVE (ZeroMQ encryption and authentication), each key Z85 text (40
  // characters). With curve_server_public_key set, the connection is
  // encrypted, talks only to the holder of that key's secret half (the front
  // end), and shows this client's key pair, which the front end may check
  // against its allow-list. use_cluster_keys() fills them from a directory.
  std::string curve_server_public_key;
  std::string curve_public_key;
  std::string curve_secret_key;
  // Connect without CURVE: neither encrypted nor authenticated, for a front
  // end run with `triad up --no-curve`. Must be asked for: with no server
  // key and this false, connect() refuses rather than fall back to plain
  // TCP when a configured key came out empty. use_cluster_keys() sets it for
  // a cluster that runs without CURVE.
  bool plain_tcp = false;
  // What the library queues, in messages, so that a front end that stops
  // reading, or floods this client, cannot grow the switch's memory without
  // bound. Requests: past the limit a send waits (send_timeout_ms at most)
  // for the front end to read. Replies: past it ZeroMQ stops reading the
  // connection, and the front end drops the answers it cannot queue either
  // (their tags then stay in flight; submit them again). A message is one
  // transaction or a batch of them (up to 64 KiB), one answer or a batch of
  // them (about 16 KiB; at most wire's 80 KiB limit, a larger one ends the
  // connection, see send_timeout_ms).
  int send_queue_messages = 4096;
  int receive_queue_messages = 4096;
  // When the connection drops and is made again (the front end restarted,
  // say), the requests in flight may never be answered: the old front end's
  // answers had nowhere to go, and what it had not read is gone. So the
  // library keeps each in-flight request's encoding (a few hundred bytes a
  // tag) and, once the new connection's handshake is done, sends again,
  // in the order of the tags, every tag still in flight that was submitted
  // within the last resubmit_within_ms: an id is sequenced once, so one the
  // old front end had sequenced gets its first answer ("replayed"), and one
  // it had not is sequenced now. An older tag is not sent again: the
  // switch has likely given up on it, and one sequenced now could be
  // approved long after the switch answered otherwise. Set it to at most
  // the switch's own timeout for an answer, and forget() a tag given up on
  // sooner. 0: nothing is kept or sent again. A first answer that was on
  // its way may still come (Reply::tag_in_flight false for the second).
  // The connection's events are read when the caller calls submit(),
  // submit_batch() or next_reply().
  int resubmit_within_ms = 10'000;
  // The library sends a ping (a ZeroMQ heartbeat) every
  // heartbeat_interval_ms, and a connection from which nothing comes within
  // heartbeat_timeout_ms of a ping is ended (and then made again, as after
  // any drop): a silent one is found within about the two together, 4 s by
  // default. Without it a front end whose host vanished or whose network
  // is cut, with no reset, leaves the connection up for as long as TCP
  // retransmits (about 15 minutes on Linux): sends go out into it, and
  // could be sequenced when the network comes back, long after the switch
  // gave up on them. The front end is told the same timeout (ZeroMQ's
  // heartbeat TTL) and ends its side as well, so bytes the network
  // delivers late find no connection. 0: no heartbeat. The timeout must
  // be at least the interval and at most 65,500 ms (libzmq 4.3 reads the
  // TTL it is told into 16 bits of milliseconds: a longer one wraps).
  int heartbeat_interval_ms = 1'000;
  int heartbeat_timeout_ms = 3'000;
};

// Fills options->curve_* for the cluster whose directory (`triad up --dir`)
// is `dir`: the front end's public key DIR/keys/curve/frontend.pub and the
// key pair of client `client` (DIR/keys/curve/clients/CLIENT.key; "local" is
// the one `triad up` makes). Leaves them empty and sets options->plain_tcp
// when the front end running there uses plain TCP. Returns NotFound naming a missing key file,
// PermissionDenied when the secret key file can be read by group or others,
// Corruption when a file is not a CURVE key.
Status use_cluster_keys(const std::string& dir, ClientOptions* options,
                        const std::string& client = "local");

// The front end's decision for one transaction (interface.md, "triad submit").
struct Decision {
  std::string id;
  std::uint64_t seq = 0;
  std::int64_t ts_ms = 0;
  std::string code;       // two digits [DE39]
  bool approved = false;  // code == "00"
  std::string agree;      // replicas in the majority, e.g. "ab"; empty for fail-safe
  std::string divergent;  // replicas known divergent at decision time
  bool replayed = false;  // answered from the idempotency record
  std::vector<std::uint8_t> certificate;  // empty for fail-safe declines (91, 96)
  // The PAN's keyed reference, 32 hex digits (empty when the transaction had
  // no PAN): what the certificate's transaction digest holds in the PAN's
  // place, so transaction_digest_hex(tx, card_ref) is that digest.
  std::string card_ref;
};

struct Reply {
  std::uint64_t tag = 0;  // the tag given to submit()
  // False for an answer whose tag was not in flight: the second answer to a
  // tag submitted again before its first answer came, or a faulty front
  // end's; and for a decision on another transaction than the one in
  // flight under its tag (by id: the late answer to a tag given up on and
  // then used for a new transaction). It is not counted off in_flight().
  bool tag_in_flight = true;
  // ok: `decision` holds the answer. Otherwise the transaction was not
  // sequenced: InvalidArgument (id missing/malformed or holding the PAN, malformed request),
  // Rejected (id reused with different content), Overloaded (retry later);
  // Unavailable: sequenced and decided earlier, but the front end cannot read
  // that answer back now (retry later); PermissionDenied: this client's key
  // was taken off the front end's allow-list after it connected;
  // Corruption: a decision whose id, code or replica letters are not what a
  // front end sends (a faulty one's), its answer lost. Bytes outside
  // printable ASCII in a front end's error text come as '?'.
  Status status;
  Decision decision;
};

class Client {
 public:
  // Connects and checks the front end answers within options.connect_timeout_ms.
  // Returns Unavailable naming the endpoint when it does not (with CURVE, also
  // when the front end refused this client's key or holds another server key),
  // InvalidArgument when the endpoint or a CURVE key is malformed, when no
  // server key is given without plain_tcp, or keys are given with it.
  static Status connect(const std::string& endpoint, const ClientOptions& options,
                        std::unique_ptr<Client>* out);
  ~Client();

  // Queues `tx` for the front end and returns at once; the answer arrives
  // through next_reply() with the same tag. Tags are the caller's (use them to
  // match answers, e.g. the input line number). Returns Unavailable when the
  // front end did not take it within options.send_timeout_ms (see
  // send_queue_messages); the transaction was then not sent. A transaction too large for one
  // message is not sent either: its answer, InvalidArgument, comes through next_reply().
  //
  // An answer can be lost: the front end stopped and did not come back
  // within resubmit_within_ms, or, over its reply queue's limit, dropped it
  // (README "Overload"). A caller that has waited long enough for a tag
  // submits the same transaction again: an id is sequenced once, and a
  // repeat is answered with the first answer ("replayed"), so the first
  // answer may then come twice.
  Status submit(std::uint64_t tag, const Transaction& tx);
  // The same for many transactions at once, sent in as few messages as the
  // front end's frame limit allows: one message, one encryption and one
  // wake-up of each process on the way for all of them, which is what lets
  // a busy switch go faster than one message a transaction. Each is still
  // answered on its own through next_reply(), and the answers to a batch
  // may come batched (next_reply() hands them out one by one).
  // InvalidArgument when an entry has no transaction (nothing is sent then);
  // Unavailable as for submit(), for the message that could not be sent:
  // the messages before it were sent (their tags are in flight), it and
  // those after it were not.
  struct Submission {
    std::uint64_t tag = 0;
    const Transaction* tx = nullptr;
  };
  Status submit_batch(std::span<const Submission> batch);

  // Waits up to `timeout_ms` (a negative value: for good) for the next
  // answer. Returns Timeout when none came, Corruption when a message from
  // the front end, or parts of a batched one, failed verification (after the
  // usable answers of that message; the others are lost and their tags stay
  // in flight), IoError when ZeroMQ fails. A reply may carry a tag that is
  // not in flight (Reply::tag_in_flight): match answers by tag, not by count.
  Status next_reply(int timeout_ms, Reply* out);

  // Tags submitted and not yet answered. A tag submitted again while in
  // flight (the same transaction, after a timeout) is still one tag: its
  // first answer answers it.
  std::size_t in_flight() const;
  // Those tags, in no particular order: what a caller giving up on the
  // front end has not had answered.
  std::vector<std::uint64_t> tags_in_flight() const;
  // Stops counting `tag` as in flight, and never sends it again (see
  // resubmit_within_ms): for a tag the caller has given up on. Its answer,
  // if one still comes, has Reply::tag_in_flight false, also once the tag
  // is used again for another transaction (an error answer carries no id:
  // to tell those apart too, use a tag once). False when the tag was not in
  // flight.
  bool forget(std::uint64_t tag);
  // Requests sent again after a reconnect (resubmit_within_ms), in all.
  std::uint64_t resubmitted() const;
  // Connections made again by the library after a refused handshake.
  std::uint64_t reconnects() const;

 private:
  Client();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace triad
