// The input journal end to end: `triad up` killed with SIGKILL and started
// again on the same directory resumes from DIR/journal.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "cluster.h"
#include "process_util.h"
#include "sample/sample.h"
#include "sample_files.h"
#include "status_util.h"

namespace triad::testing {
namespace {

using Json = nlohmann::json;

struct Answer {
  std::uint64_t seq = 0;
  std::string code;
  bool replayed = false;
  std::string cert;
};

// `triad submit` of `file`: each line's answer by id, in input order.
std::vector<std::pair<std::string, Answer>> submit(const Cluster& cluster,
                                                   const std::string& file) {
  std::string out;
  EXPECT_EQ(submit_file(cluster, file, &out), 0);
  std::vector<std::pair<std::string, Answer>> answers;
  std::stringstream ss(out);
  std::string line;
  while (std::getline(ss, line)) {
    const Json v = Json::parse(line);
    EXPECT_FALSE(v.contains("error")) << line;
    if (v.contains("error")) continue;
    answers.push_back(
        {v["id"].get<std::string>(),
         {v["seq"].get<std::uint64_t>(), v["code"].get<std::string>(), v["replayed"].get<bool>(),
          v["cert"].is_string() ? v["cert"].get<std::string>() : std::string()}});
  }
  return answers;
}

// SIGKILL to the front end: no clean stop, no last write. Its replicas end
// with it (PR_SET_PDEATHSIG); any that did not within 10 s is a failure, and
// is killed so the test leaves nothing behind. (Replicas: the processes
// whose command line names the cluster's replica keys.)
void kill_front_end(Cluster& cluster) {
  cluster.process().signal(SIGKILL);
  EXPECT_EQ(cluster.process().wait(10'000), 128 + SIGKILL);
  std::vector<pid_t> left;
  for (int i = 0; i < 100; ++i) {
    left = processes_mentioning(cluster.dir() + "/keys/replica-");
    if (left.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(left.empty()) << left.size() << " replica processes outlived the front end";
  for (const pid_t pid : left) ::kill(pid, SIGKILL);
}

// cards.csv, and the sample traffic split into first.jsonl and second.jsonl.
void write_inputs(const TempDir& tmp, std::size_t first, std::size_t second) {
  sample::Options options;
  options.seed = 5;
  options.card_count = 60;
  options.transaction_count = first + second;
  write_file(tmp.file("cards.csv"), sample::generate_card_file(options));
  const auto traffic = sample::generate_traffic(options);
  std::string a;
  std::string b;
  for (std::size_t i = 0; i < traffic.size(); ++i) (i < first ? a : b) += traffic[i] + "\n";
  write_file(tmp.file("first.jsonl"), a);
  write_file(tmp.file("second.jsonl"), b);
}

// A generous deadline: this is about recovery, not latency, on a shared
// machine (the pacing that keeps replay inside the deadline is tested on
// the core: tests/frontend/core_recover_test.cc).
const std::vector<std::string> kArgs = {"--deadline-ms", "30000"};

// The front end killed while `triad submit` has lines in flight, and
// started again where it listened: once the new connection is up, the
// client library sends what was in flight again (ClientOptions::
// resubmit_on_reconnect), so every line is answered, each seq once, with
// nothing submitted again by hand. Before, those lines were never answered
// and triad submit gave up after 10 s of silence. Two replicas hang first,
// so that a whole window of lines is sequenced and undecided at the kill
// (on a loaded machine a kill by timing alone came after the last answer).
TEST(Journal, LinesInFlightThroughAFrontEndRestartAreAnswered) {
  TempDir tmp;
  constexpr std::size_t kBefore = 300;  // decided by the first front end
  constexpr std::size_t kLines = 3000;  // submitted across the restart
  write_inputs(tmp, kBefore, kLines);
  std::string endpoint;
  std::string data_dir;
  std::unique_ptr<Child> submitting;
  std::string out;
  std::thread reader;  // its output read as it comes, so that it never waits on a full pipe
  {
    Cluster cluster(tmp, tmp.file("cards.csv"), kArgs);
    ASSERT_TRUE(cluster.ready()) << read_file(tmp.file("up.stderr"));
    endpoint = cluster.endpoint();
    data_dir = cluster.dir();
    ASSERT_EQ(submit(cluster, tmp.file("first.jsonl")).size(), kBefore);
    for (const char* replica : {"a", "b"}) {
      std::string said;
      EXPECT_EQ(run({bin("triad"), "inject", "--dir", data_dir, replica, "hang:0"}, &said), 0);
    }
    submitting = std::make_unique<Child>(
        std::vector<std::string>{bin("triad"), "submit", "--dir", data_dir, "--endpoint", endpoint,
                                 "--window", "50", "--timeout-ms", "120000", "--summary",
                                 tmp.file("second.jsonl")},
        "", tmp.file("submit.stderr"));
    reader = std::thread([&] { out = submitting->read_all(180'000); });
    bool met = false;
    wait_for_status(
        data_dir, 60'000, [](const Json& s) { return s["undecided"].get<std::uint64_t>() >= 50; },
        &met);
    EXPECT_TRUE(met) << "a window of lines sequenced and undecided";
    kill_front_end(cluster);
  }
  Cluster restarted(tmp, tmp.file("cards.csv"), kArgs, endpoint);
  EXPECT_TRUE(restarted.ready()) << read_file(tmp.file("up.stderr"));
  reader.join();
  EXPECT_EQ(submitting->wait(10'000), 0) << read_file(tmp.file("submit.stderr"));
  std::set<std::uint64_t> seqs;
  std::size_t lines = 0;
  std::stringstream ss(out);
  std::string line;
  while (std::getline(ss, line)) {
    ++lines;
    const Json v = Json::parse(line);
    ASSERT_FALSE(v.contains("error")) << line;
    EXPECT_TRUE(seqs.insert(v["seq"].get<std::uint64_t>()).second) << line;
  }
  EXPECT_EQ(lines, kLines);
  EXPECT_EQ(seqs.size(), kLines);
  EXPECT_EQ(*seqs.begin(), kBefore + 1);
  EXPECT_EQ(*seqs.rbegin(), kBefore + kLines) << "no seq lost or given twice";
  const std::string err = read_file(tmp.file("submit.stderr"));
  // The window of undecided lines, sequenced before the kill: sent again,
  // and answered with their first seq.
  EXPECT_NE(err.find("sent again by the client library after a reconnect: 50\n"), std::string::npos)
      << err;
  EXPECT_NE(err.find(", 50 replayed\n"), std::string::npos) << err;
  EXPECT_NE(err.find("certificates verified: " + std::to_string(kLines)), std::string::npos) << err;
}

TEST(Journal, KillNineThenRestartResumesAfterTheLastJournalledSeq) {
  TempDir tmp;
  constexpr std::size_t kFirst = 300;
  constexpr std::size_t kSecond = 100;
  write_inputs(tmp, kFirst, kSecond);
  std::map<std::string, Answer> original;
  std::string data_dir;
  {
    Cluster cluster(tmp, tmp.file("cards.csv"), kArgs);
    ASSERT_TRUE(cluster.ready()) << read_file(tmp.file("up.stderr"));
    data_dir = cluster.dir();
    for (const auto& [id, a] : submit(cluster, tmp.file("first.jsonl"))) original[id] = a;
    ASSERT_EQ(original.size(), kFirst);
    kill_front_end(cluster);
  }
  const std::string journal = data_dir + "/journal";
  ASSERT_TRUE(std::filesystem::exists(journal));
  EXPECT_EQ(std::filesystem::status(data_dir + "/keys/journal.key").permissions() &
                std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  // Nothing in clear in the journal: no PAN, no id, no field name.
  const std::string bytes = read_file(journal);
  EXPECT_EQ(bytes.find("\"pan\""), std::string::npos);
  const std::string first_text = read_file(tmp.file("first.jsonl"));
  const Json first_line = Json::parse(first_text.substr(0, first_text.find('\n')));
  EXPECT_EQ(bytes.find(first_line["pan"].get<std::string>()), std::string::npos);
  EXPECT_EQ(bytes.find(first_line["id"].get<std::string>()), std::string::npos);

  Cluster restarted(tmp, tmp.file("cards.csv"), kArgs);
  ASSERT_TRUE(restarted.ready()) << read_file(tmp.file("up.stderr"));
  EXPECT_NE(read_file(tmp.file("up.stderr"))
                .find("recovered " + std::to_string(kFirst) + " transactions (last seq " +
                      std::to_string(kFirst) + ")"),
            std::string::npos);

  // The earlier ids: their original seq and code, replayed.
  std::set<std::uint64_t> seqs;
  const auto again = submit(restarted, tmp.file("first.jsonl"));
  ASSERT_EQ(again.size(), kFirst);
  for (const auto& [id, a] : again) {
    EXPECT_TRUE(a.replayed) << id;
    EXPECT_EQ(a.seq, original[id].seq) << id;
    EXPECT_EQ(a.code, original[id].code) << id;
    seqs.insert(a.seq);
  }
  // New ids continue after the last journalled seq.
  const auto fresh = submit(restarted, tmp.file("second.jsonl"));
  ASSERT_EQ(fresh.size(), kSecond);
  for (const auto& [id, a] : fresh) {
    EXPECT_FALSE(a.replayed) << id;
    EXPECT_GT(a.seq, kFirst) << id;
    EXPECT_TRUE(seqs.insert(a.seq).second) << "seq " << a.seq << " given twice";
  }
  EXPECT_EQ(seqs.size(), kFirst + kSecond);
  EXPECT_EQ(*seqs.rbegin(), kFirst + kSecond);

  // The certificates of the replayed and of the new decisions verify.
  for (const auto& a : {again.front().second, again.back().second, fresh.back().second}) {
    write_file(tmp.file("cert.txt"), a.cert);
    std::string out;
    EXPECT_EQ(run({bin("triad"), "verify", "--dir", data_dir, tmp.file("cert.txt")}, &out), 0)
        << out;
  }
  EXPECT_EQ(restarted.stop(), 0);
  EXPECT_TRUE(processes_mentioning(tmp.path()).empty());
}

// The largest N of the lines "stored the snapshot of seq N in" in `log`; 0
// when there is none.
std::uint64_t last_stored_snapshot(const std::string& log) {
  const std::string key = "stored the snapshot of seq ";
  std::uint64_t seq = 0;
  for (std::size_t at = log.find(key); at != std::string::npos; at = log.find(key, at + 1)) {
    seq = std::max<std::uint64_t>(seq, std::stoull(log.substr(at + key.size())));
  }
  return seq;
}

// With a stored snapshot (DIR/snapshot), `triad up` killed with SIGKILL and
// started again replays only the journal after it: the replicas are given
// the snapshot, the earlier ids their first answers, certificates included,
// and new ids are sequenced after the journal (that they are decided over
// the same state is checked on the core, CoreRecover).
TEST(Journal, ARestartFromTheStoredSnapshotDecidesOnlyTheSeqsAfterIt) {
  TempDir tmp;
  constexpr std::size_t kFirst = 600;
  constexpr std::size_t kSecond = 100;
  write_inputs(tmp, kFirst, kSecond);
  std::vector<std::string> args = kArgs;
  args.insert(args.end(), {"--checkpoint-every", "100", "--snapshot-every", "200"});
  std::vector<std::pair<std::string, Answer>> before;
  std::uint64_t stored = 0;
  std::string data_dir;
  {
    Cluster cluster(tmp, tmp.file("cards.csv"), args);
    ASSERT_TRUE(cluster.ready()) << read_file(tmp.file("up.stderr"));
    data_dir = cluster.dir();
    before = submit(cluster, tmp.file("first.jsonl"));
    ASSERT_EQ(before.size(), kFirst);
    // The snapshot due at 400 or later is written on a thread of its own;
    // `triad status` tells what reached the file, as the log does.
    const Json status = wait_for_status(cluster.dir(), 10'000, [](const Json& s) {
      return s.is_object() && s["snapshots"]["written_seq"].get<std::uint64_t>() >= 400;
    });
    ASSERT_TRUE(status.is_object());
    stored = status["snapshots"]["written_seq"].get<std::uint64_t>();
    EXPECT_GE(last_stored_snapshot(read_file(tmp.file("up.stderr"))), stored);
    EXPECT_EQ(status["snapshots"]["write_failures"], 0) << status.dump();
    kill_front_end(cluster);
  }
  // The one of seq 600 may have been written since: the file's clear header
  // says (magic, version, seq; journal/snapshot_file.h).
  const std::string header = read_file(data_dir + "/snapshot").substr(0, 20);
  ASSERT_EQ(header.size(), 20u);
  std::uint64_t on_file = 0;
  for (std::size_t i = 8; i-- > 0;) {
    on_file = on_file << 8 | static_cast<unsigned char>(header[12 + i]);
  }
  ASSERT_GE(on_file, stored);
  stored = on_file;
  ASSERT_GE(stored, 400u);
  ASSERT_EQ(stored % 100, 0u) << "a checkpoint seq";
  // The state is card data: nothing of it in clear.
  const std::string snapshot = read_file(data_dir + "/snapshot");
  const std::string first_text = read_file(tmp.file("first.jsonl"));
  const Json first_line = Json::parse(first_text.substr(0, first_text.find('\n')));
  EXPECT_EQ(snapshot.find(first_line["pan"].get<std::string>()), std::string::npos);

  Cluster restarted(tmp, tmp.file("cards.csv"), args);
  ASSERT_TRUE(restarted.ready()) << read_file(tmp.file("up.stderr"));
  const std::string log = read_file(tmp.file("up.stderr"));
  EXPECT_NE(log.find("starting from the stored snapshot of seq " + std::to_string(stored) + " "),
            std::string::npos)
      << log;
  const Json status = wait_for_status(restarted.dir(), 20'000, [](const Json& s) {
    return s.is_object() && !s["recovery"]["recovering"].get<bool>();
  });
  ASSERT_TRUE(status.is_object());
  EXPECT_EQ(status["snapshots"]["started_from_seq"], stored) << status.dump();
  EXPECT_EQ(status["snapshots"]["written_seq"], stored) << status.dump();
  EXPECT_EQ(status["decisions"], kFirst - stored) << "only the seqs after it";

  const auto again = submit(restarted, tmp.file("first.jsonl"));
  ASSERT_EQ(again.size(), kFirst);
  for (std::size_t i = 0; i < kFirst; ++i) {
    const Answer& was = before[i].second;
    const Answer& now = again[i].second;
    EXPECT_TRUE(now.replayed) << again[i].first;
    EXPECT_EQ(now.seq, was.seq) << again[i].first;
    EXPECT_EQ(now.code, was.code) << again[i].first;
    if (was.seq <= stored) {
      EXPECT_EQ(now.cert, was.cert) << "seq " << was.seq;
    }
  }
  const auto fresh = submit(restarted, tmp.file("second.jsonl"));
  ASSERT_EQ(fresh.size(), kSecond);
  for (const auto& [id, a] : fresh) {
    EXPECT_FALSE(a.replayed) << id;
    EXPECT_GT(a.seq, kFirst) << id;
  }
  // Certificates of an answer kept from before, of one decided again, and
  // of a new one verify.
  for (const std::string& cert :
       {again[stored / 2].second.cert, again.back().second.cert, fresh.back().second.cert}) {
    write_file(tmp.file("cert.txt"), cert);
    std::string out;
    EXPECT_EQ(run({bin("triad"), "verify", "--dir", data_dir, tmp.file("cert.txt")}, &out), 0)
        << out;
  }
  EXPECT_EQ(restarted.stop(), 0);
  EXPECT_TRUE(processes_mentioning(tmp.path()).empty());
}

// A stored snapshot is written only after the journal's sync through its
// seq, so a journal that ends before it has lost synced, answered
// transactions (here: deleted). The start is refused, naming both files;
// before, it replayed from seq 1 and sequenced new transactions under seqs,
// and ids, already answered (found by a review helper).
TEST(Journal, AJournalEndingBeforeItsStoredSnapshotIsRefused) {
  TempDir tmp;
  write_inputs(tmp, 300, 0);
  std::vector<std::string> args = kArgs;
  args.insert(args.end(), {"--checkpoint-every", "100", "--snapshot-every", "200"});
  std::string data_dir;
  {
    Cluster cluster(tmp, tmp.file("cards.csv"), args);
    ASSERT_TRUE(cluster.ready()) << read_file(tmp.file("up.stderr"));
    data_dir = cluster.dir();
    ASSERT_EQ(submit(cluster, tmp.file("first.jsonl")).size(), 300u);
    const Json status = wait_for_status(cluster.dir(), 10'000, [](const Json& s) {
      return s.is_object() && s["snapshots"]["written_seq"].get<std::uint64_t>() >= 200;
    });
    ASSERT_TRUE(status.is_object());
    ASSERT_EQ(cluster.stop(), 0);
  }
  std::filesystem::resize_file(data_dir + "/journal", 0);
  {
    Cluster cluster(tmp, tmp.file("cards.csv"), args);
    EXPECT_FALSE(cluster.ready());
    EXPECT_EQ(cluster.process().wait(20'000), 2);
    const std::string log = read_file(tmp.file("up.stderr"));
    EXPECT_NE(log.find("/snapshot holds the state after seq "), std::string::npos) << log;
    EXPECT_NE(log.find("/journal ends at seq 0: the journal has lost transactions"),
              std::string::npos)
        << log;
  }
  EXPECT_TRUE(processes_mentioning(tmp.path()).empty());
}

// A stopped replica (SIGSTOP, a debugger) holds a SIGTERM until it is
// continued: with SIGTERM as its parent-death signal it outlived a front end
// killed meanwhile, for good. SIGKILL ends it stopped.
TEST(Journal, AStoppedReplicaEndsWithItsKilledFrontEnd) {
  TempDir tmp;
  write_inputs(tmp, 10, 0);
  Cluster cluster(tmp, tmp.file("cards.csv"), kArgs);
  ASSERT_TRUE(cluster.ready()) << read_file(tmp.file("up.stderr"));
  const std::vector<pid_t> replica_c = processes_mentioning(cluster.dir() + "/keys/replica-c.key");
  ASSERT_EQ(replica_c.size(), 1u);
  ASSERT_EQ(::kill(replica_c[0], SIGSTOP), 0);
  kill_front_end(cluster);
}

// The journal's last record cut short between the kill and the restart (what
// a crash in the middle of a write leaves): it is cut off with a log line and
// that transaction counts as never accepted. A real torn record was never
// answered under --fsync batch: the commit comes before fan-out, and no
// answer comes without the replicas' verdicts.
TEST(Journal, TornTailIsCutAndItsTransactionSequencedAfresh) {
  TempDir tmp;
  constexpr std::size_t kFirst = 20;
  write_inputs(tmp, kFirst, 0);
  std::map<std::string, Answer> original;
  std::string data_dir;
  std::string last_id;
  {
    Cluster cluster(tmp, tmp.file("cards.csv"), kArgs);
    ASSERT_TRUE(cluster.ready()) << read_file(tmp.file("up.stderr"));
    data_dir = cluster.dir();
    for (const auto& [id, a] : submit(cluster, tmp.file("first.jsonl"))) {
      original[id] = a;
      last_id = id;
    }
    ASSERT_EQ(original.size(), kFirst);
    ASSERT_EQ(original[last_id].seq, kFirst);
    kill_front_end(cluster);
  }
  const std::string journal = data_dir + "/journal";
  const auto size = std::filesystem::file_size(journal);
  std::filesystem::resize_file(journal, size - 5);

  Cluster restarted(tmp, tmp.file("cards.csv"), kArgs);
  ASSERT_TRUE(restarted.ready()) << read_file(tmp.file("up.stderr"));
  const std::string log = read_file(tmp.file("up.stderr"));
  EXPECT_NE(log.find("truncated a torn tail at offset"), std::string::npos) << log;
  EXPECT_NE(log.find("recovered " + std::to_string(kFirst - 1) + " transactions"),
            std::string::npos)
      << log;
  std::set<std::uint64_t> seqs;
  for (const auto& [id, a] : submit(restarted, tmp.file("first.jsonl"))) {
    EXPECT_TRUE(seqs.insert(a.seq).second) << "seq " << a.seq << " given twice";
    if (id == last_id) {
      EXPECT_FALSE(a.replayed) << "its record was cut off: sequenced afresh";
      EXPECT_EQ(a.seq, kFirst);
    } else {
      EXPECT_TRUE(a.replayed) << id;
      EXPECT_EQ(a.seq, original[id].seq) << id;
      EXPECT_EQ(a.code, original[id].code) << id;
    }
  }
  EXPECT_EQ(seqs.size(), kFirst);
  EXPECT_EQ(restarted.stop(), 0);
}

// The journal's transactions are decided again at every restart, so they
// must be decided over what they were first: a restart over an edited card
// file is refused, naming both (found by a review: 984 of 1,000 repeated ids
// changed their answer, each with a valid certificate). A missing answer
// log next to a journal that holds transactions is refused as well: its
// fail-safe declines would be answered anew, approved perhaps. With the card
// file and the answer log back, the same directory starts again.
TEST(Journal, ARestartOverAnotherCardFileOrKeyOrWithoutItsAnswerLogIsRefused) {
  TempDir tmp;
  write_inputs(tmp, 5, 0);
  {
    Cluster cluster(tmp, tmp.file("cards.csv"), kArgs);
    ASSERT_TRUE(cluster.ready()) << read_file(tmp.file("up.stderr"));
    ASSERT_EQ(submit(cluster, tmp.file("first.jsonl")).size(), 5u);
    ASSERT_EQ(cluster.stop(), 0);
  }
  const std::string cards = read_file(tmp.file("cards.csv"));
  const auto refused = [&](const std::string& cards_path, const std::string& expected) {
    Cluster cluster(tmp, cards_path, kArgs);
    EXPECT_FALSE(cluster.ready());
    EXPECT_EQ(cluster.process().wait(20'000), 2);
    const std::string log = read_file(tmp.file("up.stderr"));
    EXPECT_NE(log.find(expected), std::string::npos) << log;
  };
  std::string edited = cards;
  const auto status = edited.find(",A,");  // the first card's status, active
  ASSERT_NE(status, std::string::npos);
  edited.replace(status, 3, ",S,");
  write_file(tmp.file("edited.csv"), edited);
  refused(tmp.file("edited.csv"),
          "the journal's transactions were decided over a card file with start state sha256:");

  // A lost card reference key: triad up makes a new one, under which the
  // answer log's digests would not match.
  const std::string key = tmp.file("data") + "/keys/card-ref.key";
  std::filesystem::rename(key, key + ".moved");
  refused(tmp.file("cards.csv"),
          ", transaction digests triad-transaction-v2 under card reference key");
  ASSERT_TRUE(std::filesystem::exists(key)) << "a new key was made";
  std::filesystem::rename(key + ".moved", key);

  const std::string answers = tmp.file("data") + "/answers";
  std::filesystem::rename(answers, answers + ".moved");
  refused(tmp.file("cards.csv"), "answers is missing next to a journal that holds transactions");
  std::filesystem::rename(answers + ".moved", answers);

  write_file(tmp.file("moved.csv"), cards);  // the same cards elsewhere: the content counts
  Cluster cluster(tmp, tmp.file("moved.csv"), kArgs);
  ASSERT_TRUE(cluster.ready()) << read_file(tmp.file("up.stderr"));
  for (const auto& [id, a] : submit(cluster, tmp.file("first.jsonl"))) {
    EXPECT_TRUE(a.replayed) << id;
  }
  EXPECT_EQ(cluster.stop(), 0);
}

}  // namespace
}  // namespace triad::testing

namespace triad::testing {
namespace {

// The one sample transaction, submitted to `cluster`; its verdict line.
Json submit_one(const Cluster& cluster, const TempDir& tmp) {
  std::string out;
  EXPECT_EQ(submit_file(cluster, tmp.file("traffic.jsonl"), &out), 0);
  return Json::parse(out, nullptr, false);
}

// A cluster whose b and c hang declines the one sample transaction 91 (seq
// 1), and its front end is killed.
void decline_then_kill_front_end(const TempDir& tmp) {
  sample::Options options;
  options.card_count = 10;
  options.transaction_count = 1;
  write_sample_files(tmp, options);
  Cluster cluster(tmp, tmp.file("cards.csv"),
                  {"--inject", "b=hang:0", "--inject", "c=hang:0", "--deadline-ms", "300"});
  ASSERT_TRUE(cluster.ready()) << read_file(tmp.file("up.stderr"));
  const Json first = submit_one(cluster, tmp);
  ASSERT_TRUE(first.is_object());
  ASSERT_EQ(first["code"], "91") << first;
  EXPECT_FALSE(first["replayed"].get<bool>());
  kill_front_end(cluster);
}

// Two faults at once: `triad up` restarted with replica b flipping every
// decision and c hung, so the replay cannot decide again what was answered
// before. Every earlier id still gets its first answer, with its
// certificate, found in the audit store; none is declined fail-safe.
TEST(Journal, AReplayThatCannotDecideAgainAnswersWithTheCertificatesFromBefore) {
  TempDir tmp;
  write_inputs(tmp, 40, 0);
  std::vector<std::pair<std::string, Answer>> before;
  {
    Cluster cluster(tmp, tmp.file("cards.csv"), kArgs);
    ASSERT_TRUE(cluster.ready()) << read_file(tmp.file("up.stderr"));
    before = submit(cluster, tmp.file("first.jsonl"));
    ASSERT_EQ(before.size(), 40u);
    EXPECT_EQ(cluster.stop(), 0);
  }
  Cluster cluster(tmp, tmp.file("cards.csv"),
                  {"--deadline-ms", "1000", "--inject", "b=flip:1", "--inject", "c=hang:0"});
  ASSERT_TRUE(cluster.ready()) << read_file(tmp.file("up.stderr"));
  const auto after = submit(cluster, tmp.file("first.jsonl"));
  ASSERT_EQ(after.size(), before.size());
  for (std::size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].first, before[i].first);
    EXPECT_TRUE(after[i].second.replayed) << after[i].first;
    EXPECT_EQ(after[i].second.seq, before[i].second.seq) << after[i].first;
    EXPECT_EQ(after[i].second.code, before[i].second.code) << after[i].first;
    EXPECT_EQ(after[i].second.cert, before[i].second.cert) << after[i].first;
  }
  const Json status = status_of(cluster.dir());
  ASSERT_TRUE(status.is_object());
  EXPECT_EQ(status["earlier_answers"], 40) << status.dump();
  EXPECT_EQ(status["fail_safe"], 0) << status.dump();
  EXPECT_EQ(cluster.stop(), 0);
}

// rules.md section 7 across a kill -9: a fail-safe decline (both of b and c
// hung) is the front end's own answer, which the replay cannot reproduce;
// after the restart, with healthy replicas, the same id still gets 91.
TEST(Journal, AFailSafeDeclineIsGivenAgainAfterKillNine) {
  TempDir tmp;
  ASSERT_NO_FATAL_FAILURE(decline_then_kill_front_end(tmp));
  Cluster cluster(tmp, tmp.file("cards.csv"));
  ASSERT_TRUE(cluster.ready()) << read_file(tmp.file("up.stderr"));
  const Json again = submit_one(cluster, tmp);
  ASSERT_TRUE(again.is_object());
  EXPECT_EQ(again["code"], "91") << again;
  EXPECT_EQ(again["seq"], 1);
  EXPECT_TRUE(again["replayed"].get<bool>());
  EXPECT_TRUE(again["cert"].is_null());
  const std::string log = read_file(tmp.file("up.stderr"));
  EXPECT_NE(log.find("1 fail-safe declines from"), std::string::npos) << log;
  EXPECT_NE(log.find("seq 1: answered with its journalled fail-safe decline 91"), std::string::npos)
      << log;
  EXPECT_EQ(cluster.stop(), 0);
}

// The answer log is synced before the journal's sync of the same seq ends,
// so a power cut can keep a decline whose transaction the journal lost
// (here: the journal cut back to its header). The client, never answered,
// sends the same transaction again and it gets that seq again, decided by
// the rules this time. The stale record must not answer for it at the next
// restart: it is dropped when the first restart finds it.
TEST(Journal, ADeclineWhoseTransactionTheJournalLostIsDroppedAtTheRestart) {
  TempDir tmp;
  ASSERT_NO_FATAL_FAILURE(decline_then_kill_front_end(tmp));
  const std::string journal = tmp.file("data") + "/journal";
  ASSERT_EQ(::truncate(journal.c_str(), 40), 0);  // the header alone: seq 1 was lost
  std::string code;
  {
    Cluster cluster(tmp, tmp.file("cards.csv"));
    ASSERT_TRUE(cluster.ready()) << read_file(tmp.file("up.stderr"));
    EXPECT_NE(read_file(tmp.file("up.stderr"))
                  .find("the fail-safe decline 91 of seq 1 is for a transaction the journal does "
                        "not hold there (lost before its sync); dropped"),
              std::string::npos)
        << read_file(tmp.file("up.stderr"));
    const Json again = submit_one(cluster, tmp);
    ASSERT_TRUE(again.is_object());
    EXPECT_EQ(again["seq"], 1);
    EXPECT_FALSE(again["replayed"].get<bool>());
    code = again["code"].get<std::string>();
    EXPECT_NE(code, "91") << again;
    EXPECT_EQ(cluster.stop(), 0);
  }
  Cluster cluster(tmp, tmp.file("cards.csv"));
  ASSERT_TRUE(cluster.ready()) << read_file(tmp.file("up.stderr"));
  const Json third = submit_one(cluster, tmp);
  ASSERT_TRUE(third.is_object());
  EXPECT_EQ(third["seq"], 1);
  EXPECT_TRUE(third["replayed"].get<bool>());
  EXPECT_EQ(third["code"], code) << third;
  EXPECT_EQ(read_file(tmp.file("up.stderr")).find("journalled fail-safe decline"),
            std::string::npos);
  EXPECT_EQ(cluster.stop(), 0);
}

}  // namespace
}  // namespace triad::testing
