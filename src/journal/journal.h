// The input journal (design.md principle 8, "nothing lost"): every sequenced
// transaction, appended to one file before it is fanned out, so a front end
// that was killed can resume after the last journalled seq and its fresh
// replicas can replay everything from it. Pure file I/O and crypto: no
// sockets, no clock of its own (the caller passes the time).
//
// File layout (all integers little-endian):
//
//   header, 40 bytes: "TRIADJNL" | version u32 (1) | reserved u32 (0)
//                     | key id, 16 bytes | SHA-256 of the 32 bytes before, first 8
//   record:           length u32 (of the body) | checksum, 8 bytes | body
//   body:             seq u64 | ts_ms i64 | nonce, 12 bytes | ciphertext | GCM tag, 16 bytes
//
// The checksum is the first 8 bytes of SHA-256(length || body): it finds torn
// and damaged records without the key. The ciphertext is the whole
// transaction (its FlatBuffers encoding, PAN and all) under AES-256-GCM with
// a random 96-bit nonce per record and (seq, ts_ms) as associated data, so a
// record cannot be moved to another seq. The key id is HMAC-SHA256(key,
// "triad journal key id v1"), first 16 bytes: a journal opened with another
// key is refused up front instead of failing on every record.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/types.h"
#include "crypto/aead.h"
#include "journal/sync_times.h"
#include "triad/status.h"
#include "triad/transaction.h"

namespace triad::journal {

// When commit() makes the written records durable (fdatasync). Whatever the
// policy, commit() has handed them to the kernel (write) before it returns,
// so they survive the front end's own crash (kill -9) in every case; the
// policy is about an operating system crash or power loss.
struct FsyncPolicy {
  enum class Kind : std::uint8_t {
    kBatch,     // every commit: an answered transaction survives power loss
    kInterval,  // at most every interval_ms: up to that much may be lost on power loss
    kNever,     // left to the kernel: survives a process crash, not an OS crash
  };
  Kind kind = Kind::kBatch;
  std::uint64_t interval_ms = 0;  // kInterval only; >= 1
};

// "batch", "interval:MS" (MS 1..3600000) or "never". InvalidArgument naming
// the text otherwise.
Status parse_fsync_policy(std::string_view text, FsyncPolicy* out);
std::string to_string(const FsyncPolicy& policy);

// Writes all of data at `offset` of fd (pwrite, again after EINTR). IoError
// naming the file `path` and the offset otherwise.
Status write_all(int fd, const std::uint8_t* data, std::size_t size, std::uint64_t offset,
                 const std::string& path);

// Reads into `out` from `offset` of fd until it is full or the file ends;
// how much in *got. IoError naming the file `path` and the offset otherwise.
Status read_at(int fd, const std::string& path, std::uint64_t offset, std::span<std::uint8_t> out,
               std::size_t* got);
// Opens `path` (read-only) for another thread to fdatasync it: a
// descriptor with its own open file description, not a dup of one in use.
// Linux reports a failed write-back once per open file description, to the
// first fsync or fdatasync through it; a second syncer sharing the
// description would take the error away from the first, which would then
// report the lost pages durable. IoError naming the file otherwise.
Status open_for_sync(const std::string& path, int* fd);

// The size of the regular file open at fd. IoError naming `path` when it
// cannot be had or the file is not a regular one.
Status regular_file_size(int fd, const std::string& path, std::size_t* size);
// Reads the whole of the regular file open at fd into *out. IoError naming
// the file `path` otherwise.
Status read_all(int fd, const std::string& path, std::vector<std::uint8_t>* out);

// Replaces `path` with new content so that a crash at any moment leaves the
// old file or the new one whole: `next` created (mode 0600), filled by
// `write_content` (given its descriptor), synced, renamed over `path`, then
// its directory synced. The new file's descriptor (read-write) in *fd. The
// first error otherwise, IoError naming the file and the reason for a system
// call's; `next` may then be left behind.
Status replace_file(const std::string& path, const std::string& next,
                    const std::function<Status(int fd)>& write_content, int* fd);
// The same with `bytes` for content.
Status replace_file(const std::string& path, const std::string& next,
                    std::span<const std::uint8_t> bytes, int* fd);

struct Entry {
  std::uint64_t seq = 0;
  std::int64_t ts_ms = 0;
  Transaction tx;
};

// What open() found in an existing file.
struct Recovery {
  // Set before open(): keep every record read back in `entries`. The front
  // end does not (a long journal would need its size in memory): it reads
  // them back in parts with read() at once, all of them, which decrypts and
  // authenticates each; open() then checks only their frames, seqs and ts
  // (decrypting each twice cost about 150 ms of a restart's 1.2-1.5 s to
  // recover() over 200,000 records).
  bool keep_entries = true;
  std::vector<Entry> entries;  // seq 1, 2, ... in order, when keep_entries
  // Set when a torn or damaged tail was cut off: where, how much, and why.
  std::optional<std::uint64_t> truncated_at;
  std::uint64_t truncated_bytes = 0;
  std::string truncation_reason;
};

inline constexpr std::size_t kHeaderBytes = 40;
inline constexpr std::size_t kFrameHeaderBytes = 12;  // length + checksum
// A transaction's strings are at most wire::kMaxTransactionTextBytes (the
// front end refuses more), and its encoding adds a few hundred bytes to
// them; a body beyond this bound is a damaged length field, not a record.
inline constexpr std::size_t kMaxBodyBytes = 128 * 1024;

class Journal {
 public:
  // Opens the journal at `path`, creating it (mode 0600) when it does not
  // exist, and reads back and checks every record (into *recovered when it
  // keeps them; last_seq() says how many there are).
  //
  // A record that fails its checksum, or is cut short, with no valid record
  // after it is a torn tail (the last write when the process or machine
  // died): it is cut off (ftruncate), logged with its offset and reason, and
  // reported in *recovered. Anything else that is wrong is refused, and the
  // file is left untouched for a person to look at:
  //  - Corruption: the header is not a Triad journal of version 1; a record
  //    that fails its checksum is followed by a valid one (damage in the
  //    middle: cutting there would silently drop accepted transactions); a
  //    record with a valid checksum fails GCM authentication (not a torn
  //    write, which the checksum catches, but an altered file) or does not
  //    decode (when keep_entries; otherwise read() finds it); seqs are not
  //    1, 2, 3... or ts goes backwards.
  //  - InvalidArgument: the file was written with another key.
  //  - IoError: a system call failed.
  static Status open(const std::string& path, const crypto::SymmetricKey& key, FsyncPolicy policy,
                     std::uint64_t now_us, Recovery* recovered, std::unique_ptr<Journal>* out);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Encrypts and buffers the record; nothing is written until commit().
  // `seq` must be last_seq() + 1 (asserted).
  void append(std::uint64_t seq, std::int64_t ts_ms, const Transaction& tx);
  // Writes what append() buffered, then fdatasyncs as the policy says (for
  // kInterval also data written by earlier commits once the interval is
  // up). Call it with nothing buffered too, so an interval sync happens when
  // traffic stops. IoError when a write or sync fails; the journal then
  // refuses every later commit (what reached the disk is unknown, and a
  // record after a half-written one would turn a torn tail into damage in
  // the middle).
  Status commit(std::uint64_t now_us);
  // From now on, under kBatch, commit() writes but does not sync: the caller
  // syncs the file on another thread (BackgroundSync, on a dup of fd()) so
  // the event loop can fan out while the disk works, and it answers nothing
  // that thread has not reported durable. close() still syncs.
  void sync_elsewhere() { sync_elsewhere_ = true; }
  int fd() const { return fd_; }
  // For kInterval with data not yet synced: when commit() will sync it.
  std::optional<std::uint64_t> next_sync_us() const;
  // Commits and syncs whatever the policy (a clean stop leaves everything
  // durable), then closes the file.
  Status close();

  // Appends the records of seqs from..to to *out, read back from the file:
  // the front end keeps only recent transactions in memory and resends
  // older ones from here. Only what commit() wrote can be read.
  // InvalidArgument for a range outside 1..written_seq(); Corruption or
  // IoError, naming the offset, when the file no longer reads back as written.
  Status read(std::uint64_t from, std::uint64_t to, std::vector<Entry>* out);

  std::uint64_t last_seq() const { return last_seq_; }
  // The last seq on file (appended and committed).
  std::uint64_t written_seq() const { return written_seq_; }
  const std::string& path() const { return path_; }
  std::uint64_t size_bytes() const { return size_bytes_; }
  // The syncs commit() made itself (not those of a BackgroundSync).
  std::uint64_t syncs() const { return sync_times_.count(); }
  const SyncTimes& sync_times() const { return sync_times_; }

 private:
  Journal(std::string path, int fd, const crypto::SymmetricKey& key, FsyncPolicy policy,
          std::uint64_t now_us);
  Status sync(std::uint64_t now_us);
  // Decrypts and decodes the body of the record at `offset`, whose frame
  // checksum held. *plain is scratch space (it ends up holding the
  // transaction in clear: the caller wipes it).
  Status decode_body(std::span<const std::uint8_t> body, std::uint64_t offset,
                     std::vector<std::uint8_t>* plain, Entry* out);
  // "journal PATH: record at offset N", for errors.
  std::string record_at(std::uint64_t offset) const;
  // The next record's nonce, from nonces drawn from the CSPRNG a block at a
  // time: one RAND_bytes call per record (each with its getpid fork check)
  // was 7% of the front end's event loop at 9,000 transactions/s.
  std::span<const std::uint8_t, crypto::kAeadNonceBytes> next_nonce();

  static constexpr std::size_t kNoncesPerDraw = 256;
  // read() starts at the nearest indexed record at or before its first seq.
  static constexpr std::uint64_t kIndexEvery = 256;

  std::string path_;
  int fd_;
  crypto::Aes256Gcm aead_;
  FsyncPolicy policy_;
  std::uint64_t last_seq_ = 0;
  std::uint64_t written_seq_ = 0;
  // index_[k]: the file offset of seq k * kIndexEvery + 1.
  std::vector<std::uint64_t> index_;
  std::uint64_t size_bytes_ = 0;  // what was written (the next record's offset)
  std::vector<std::uint8_t> buffer_;
  std::vector<std::uint8_t> scratch_;
  std::array<std::uint8_t, crypto::kAeadNonceBytes * kNoncesPerDraw> nonces_{};
  std::size_t nonces_used_ = kNoncesPerDraw;
  bool unsynced_ = false;
  bool sync_elsewhere_ = false;
  std::uint64_t last_sync_us_;
  SyncTimes sync_times_{path_};
  Status failed_;
};

// The voter's own answers, which replaying the journal cannot reproduce. A
// fail-safe decline (91, 96; rules.md section 6) is the front end's, not the
// replicas': after a restart the replay decides that seq from the replicas'
// verdicts, so without this log a repeated id would get another answer than
// the client was given (rules.md section 7). Kept in DIR/answers, next to
// the journal, unencrypted because it holds no card data:
//
//   header, 16 bytes: "TRIADANS" | version u32 (1) | reserved u32 (0)
//   record, 56 bytes: seq u64 | transaction digest, 32 bytes | code, 2 ASCII
//                     bytes | reserved, 6 bytes | SHA-256 of the 48 bytes
//                     before, first 8
//
// The digest binds a record to its transaction: a seq the journal lost to a
// power cut (sent, decided fail-safe, but never synced) is sequenced again
// for another transaction after the restart, and the record must not apply
// to that one.
struct FailSafeAnswer {
  std::uint64_t seq = 0;
  Digest tx_digest{};
  std::string code;  // "91" or "96"
};

class AnswerLog {
 public:
  // Opens `path`, creating it (mode 0600) when it does not exist, and reads
  // back every record into *recovered. A last record cut short, or zeros to
  // the end, is a torn tail: cut off and logged. Corruption when the header
  // is not an answer log of version 1 (or is cut short while
  // `journal_has_transactions`), or a whole record is damaged or is not a
  // fail-safe decline (it may be a decline that was answered); IoError when
  // a system call fails.
  static Status open(const std::string& path, FsyncPolicy policy, bool journal_has_transactions,
                     std::vector<FailSafeAnswer>* recovered, std::unique_ptr<AnswerLog>* out);
  ~AnswerLog();
  AnswerLog(const AnswerLog&) = delete;
  AnswerLog& operator=(const AnswerLog&) = delete;

  // Writes the records of one turn of the event loop in one write and,
  // unless the policy is kNever, fdatasyncs them once before returning: the
  // answers must not reach their clients before their records can outlive
  // a power cut. One sync for all of them, not one each: declines come in
  // bursts (every seq of a stall past the deadline), and a sync each on the
  // event loop would stall it further. IoError; after one, every later
  // append fails the same way.
  Status append(std::span<const FailSafeAnswer> answers);
  // Replaces the whole log with `answers` (a new file, synced, renamed over
  // the old one, its directory synced), for the records a restart found
  // stale: left where they are, a record whose seq was lost before the
  // journal's sync would match the transaction sequenced there next if it
  // was the same one again, and change its answer at the restart after.
  Status rewrite(std::span<const FailSafeAnswer> answers);
  const std::string& path() const { return path_; }

 private:
  AnswerLog(std::string path, int fd, FsyncPolicy policy, std::uint64_t size_bytes)
      : path_(std::move(path)), fd_(fd), policy_(policy), size_bytes_(size_bytes) {}
  std::string path_;
  int fd_;
  FsyncPolicy policy_;
  std::uint64_t size_bytes_;
  Status failed_;
  std::vector<std::uint8_t> records_;  // reused by append
};

// What a journal's transactions were decided over, as text: the card file's
// digest and the rules version. A restart replays the journal to fresh
// replicas, which decide every seq again; over another card file or other
// rules they would answer repeated ids otherwise than their clients were
// told, each answer with a valid certificate. Kept in DIR/origin: recorded
// (replaced durably) while the journal is empty; once it holds
// transactions, InvalidArgument when `origin` differs from the recorded
// one, Corruption when none is recorded. IoError when a system call fails.
Status check_origin(const std::string& path, std::string_view origin, bool journal_empty);

}  // namespace triad::journal
