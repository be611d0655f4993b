// `triad status` and `triad inject` against what they cannot trust: a
// DIR/control that holds garbage, and a control endpoint (a stub in the
// test, no cluster) whose answer has fields missing or of another type, as
// the status's field names may evolve (interface.md). A one-line error or a
// '-' in place of a field, never an abort. Quick: labelled "process".
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <nlohmann/json.hpp>
#include <thread>
#include <zmq.hpp>

#include "process_util.h"

namespace triad::testing {
namespace {

using Json = nlohmann::json;

// A control endpoint on loopback (a thread of the test) that answers every
// request with `answer`, and the directory `triad up` would have left for
// it: DIR/control naming it, plain TCP.
class StubControl {
 public:
  StubControl(const TempDir& tmp, std::string answer) : answer_(std::move(answer)) {
    rep_.set(zmq::sockopt::linger, 0);
    rep_.set(zmq::sockopt::rcvtimeo, 100);
    rep_.bind("tcp://127.0.0.1:*");
    dir_ = tmp.file("data");
    std::filesystem::create_directory(dir_);
    write_file(dir_ + "/control", rep_.get(zmq::sockopt::last_endpoint) + "\n");
    write_file(dir_ + "/transport", "plain\n");
    thread_ = std::thread([this] {
      while (!done_) {
        zmq::message_t request;
        if (!rep_.recv(request, zmq::recv_flags::none)) continue;
        rep_.send(zmq::buffer(answer_), zmq::send_flags::none);
      }
    });
  }
  ~StubControl() {
    done_ = true;
    thread_.join();
  }
  const std::string& dir() const { return dir_; }

 private:
  std::string answer_;
  std::string dir_;
  zmq::context_t context_{1};
  zmq::socket_t rep_{context_, zmq::socket_type::rep};
  std::atomic<bool> done_{false};
  std::thread thread_;
};

std::size_t line_count(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

// libzmq refuses to connect to it: the exception went uncaught (abort(),
// exit 134). Now exit 1, as for no running cluster, naming DIR/control.
TEST(StatusCommand, GarbageInTheControlFileIsAOneLineErrorNamingIt) {
  for (const std::string& garbage :
       {std::string("garbage\n"), std::string("tcp://\n"), std::string("\x01\x02\xff\xfe", 4)}) {
    SCOPED_TRACE(::testing::PrintToString(garbage));
    TempDir tmp;
    const std::string dir = tmp.file("data");
    std::filesystem::create_directory(dir);
    write_file(dir + "/control", garbage);
    write_file(dir + "/transport", "plain\n");
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"status", "--dir", dir},
          std::vector<std::string>{"status", "--dir", dir, "--json"},
          std::vector<std::string>{"inject", "--dir", dir, "a", "none"}}) {
      SCOPED_TRACE(args[0]);
      const TriadOutcome o = run_triad(tmp, args);
      EXPECT_EQ(o.status, 1) << o.err;
      EXPECT_EQ(o.out, "");
      EXPECT_EQ(o.err.rfind("triad " + args[0] + ": " + dir + "/control ", 0), 0u) << o.err;
      EXPECT_EQ(line_count(o.err), 1u) << o.err;
    }
  }
}

// A status as the front end gives it (shortened), and what the text
// printer makes of it: the format the fixes below must keep.
constexpr const char* kFullStatus = R"({
  "mode": "tmr", "last_seq": 50, "decisions": 50, "fail_safe": 2, "in_flight": 3,
  "recovery": {"journalled": 40, "recovering": true, "replay_sent": 12},
  "snapshots": {"written_seq": 30, "pending_seq": 45, "write_failures": 1,
                "last_write_error": "seq 40: disk full", "started_from_seq": 20},
  "replicas": [
    {"availability": 1.0, "divergences": {"missing": 0, "wrong_verdict": 0},
     "fingerprint": "gcc; index=hash", "last_seq_applied": 50, "last_time_to_repair_ms": 0.0,
     "mtbf_lower_bound": true, "mtbf_s": 5.09351, "mttr_lower_bound": false, "mttr_s": 0.0,
     "name": "a", "repairs": 0, "state": "healthy"},
    {"availability": 0.940986, "divergences": {"missing": 1, "wrong_verdict": 6},
     "fingerprint": "clang; index=ordered", "last_seq_applied": 49,
     "last_time_to_repair_ms": 300.585, "mtbf_lower_bound": false, "mtbf_s": 4792.925,
     "mttr_lower_bound": true, "mttr_s": 0.300585, "name": "b", "repairs": 1,
     "state": "repairing"}],
  "audit": {"dropped": 0, "expired": 4, "failed": 0, "queued": 2, "written": 60},
  "transport": {"client_allow_list": 2, "client_allow_reloads": 1, "not_admitted_requests": 3},
  "refused_connections": {"client": 5, "replica": 0, "control": 0}
})";

constexpr const char* kFullStatusText =
    "mode tmr; last seq 50; 50 decisions, 2 fail-safe; 3 in flight\n"
    "recovering: 12 of 40 journalled transactions replayed; new ids refused\n"
    "stored snapshot: seq 30 (a restart replays the journal after it); this run started from seq "
    "20; seq 45 being written; 1 not written, the last: seq 40: disk full\n"
    "replica  state          last seq  diverged repairs   last TTR       MTBF       MTTR    avail"
    "  fingerprint\n"
    "a        healthy              50         0       0          -     5.1 s+      0 ms  "
    "100.0000%  gcc; index=hash\n"
    "b        repairing            49         7       1     301 ms     1.3 h     301 ms+ "
    "94.0986%  clang; index=ordered\n"
    "         divergences: missing=1 wrong_verdict=6\n"
    "(+: a lower bound: no failure yet, or out now)\n"
    "audit store: 60 records written, 2 queued, 0 dropped (queue full), 0 failed, 4 expired\n"
    "client allow-list: 2 keys, 1 reload; 3 requests refused on connections whose key was taken "
    "off it, 5 connections refused at the handshake\n";

TEST(StatusCommand, TheTextFormatOfAFullStatus) {
  TempDir tmp;
  StubControl control(tmp, Json::parse(kFullStatus).dump());
  const TriadOutcome o = run_triad(tmp, {"status", "--dir", control.dir()});
  EXPECT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, kFullStatusText);
  EXPECT_EQ(o.err, "");
}

// The printer read fields with the const operator[] (an assertion failure
// for a missing key: this build keeps assertions) and get<>() (an exception
// for another type): either aborted `triad status`. A missing or mistyped
// field is '-' now; the rest is printed as it was.
TEST(StatusCommand, MissingOrMistypedFieldsPrintADash) {
  {
    TempDir tmp;
    StubControl control(tmp, "{}");
    const TriadOutcome o = run_triad(tmp, {"status", "--dir", control.dir()});
    EXPECT_EQ(o.status, 0) << o.err;
    EXPECT_EQ(o.out,
              "mode -; last seq -; - decisions, - fail-safe; - in flight\n"
              "replica  state          last seq  diverged repairs   last TTR       MTBF       "
              "MTTR    avail  fingerprint\n"
              "(+: a lower bound: no failure yet, or out now)\n");
    EXPECT_EQ(o.err, "");
  }
  {
    TempDir tmp;
    Json status = Json::parse(kFullStatus);
    status["mode"] = 5;
    status["last_seq"] = "50";
    status["recovery"] = {{"recovering", true}};
    status["snapshots"]["written_seq"] = "30";
    status["snapshots"]["last_write_error"] = 7;
    status["audit"].erase("written");
    status["transport"].erase("client_allow_reloads");
    status.erase("refused_connections");
    Json& b = status["replicas"][1];
    b.erase("state");
    b["divergences"]["missing"] = "one";
    b["mtbf_s"] = nullptr;
    b["mttr_lower_bound"] = "yes";
    b["availability"] = "high";
    b["last_seq_applied"] = -1;
    status["replicas"].push_back(5);  // not a replica: skipped
    StubControl control(tmp, status.dump());
    const TriadOutcome o = run_triad(tmp, {"status", "--dir", control.dir()});
    EXPECT_EQ(o.status, 0) << o.err;
    EXPECT_EQ(o.out,
              "mode -; last seq -; 50 decisions, 2 fail-safe; 3 in flight\n"
              "recovering: - of - journalled transactions replayed; new ids refused\n"
              "stored snapshot: none yet (a restart replays the whole journal); this run started "
              "from seq 20; seq 45 being written; 1 not written, the last: ?\n"
              "replica  state          last seq  diverged repairs   last TTR       MTBF       "
              "MTTR    avail  fingerprint\n"
              "a        healthy              50         0       0          -     5.1 s+      0 ms  "
              "100.0000%  gcc; index=hash\n"
              "b        -                    -1         6       1     301 ms         -     301 ms "
              "        -  clang; index=ordered\n"
              "         divergences: wrong_verdict=6\n"
              "(+: a lower bound: no failure yet, or out now)\n"
              "audit store: - records written, 2 queued, 0 dropped (queue full), 0 failed, 4 "
              "expired\n"
              "client allow-list: 2 keys, - reloads; 3 requests refused on connections whose key "
              "was taken off it, - connections refused at the handshake\n");
    EXPECT_EQ(o.err, "");
  }
  for (const char* answer : {"[1,2]", "5", "\"status\""}) {
    SCOPED_TRACE(answer);
    TempDir tmp;
    StubControl control(tmp, answer);
    const TriadOutcome o = run_triad(tmp, {"status", "--dir", control.dir()});
    EXPECT_EQ(o.status, 1) << o.out;
    EXPECT_EQ(o.err, "triad status: the front end's answer is not a JSON object\n");
  }
}

// An error answer whose "error" is not a string: get<std::string>() threw
// (abort). The command's own exit status, and a message.
TEST(StatusCommand, AnErrorAnswerOfAnotherTypeIsAnError) {
  TempDir tmp;
  StubControl control(tmp, R"({"error": 5})");
  TriadOutcome o = run_triad(tmp, {"status", "--dir", control.dir()});
  EXPECT_EQ(o.status, 1) << o.out;
  EXPECT_EQ(o.err, "triad status: the front end refused the request, without saying why\n");
  o = run_triad(tmp, {"inject", "--dir", control.dir(), "a", "none"});
  EXPECT_EQ(o.status, 2) << o.out;
  EXPECT_EQ(o.err, "triad inject: the front end refused the request, without saying why\n");
}

}  // namespace
}  // namespace triad::testing
