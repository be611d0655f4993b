// Bad input, each in a test, against the real binaries: a clear error, no
// crash, nothing sequenced twice.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>
#include <zmq.hpp>

#include "cluster.h"
#include "common/layout.h"
#include "input_util.h"
#include "process_util.h"
#include "transport/curve.h"
#include "wire/codec.h"

namespace triad::testing {
namespace {

using Json = nlohmann::json;

constexpr const char* kCards =
    "pan,expiry,status,currency,credit_limit,cash_daily_limit,blocked_mccs\n"
    "4111111111111111,2912,A,840,500000,100000,\n"
    "5500005555555559,2912,A,978,500000,100000,7995\n";

std::string tx(const std::string& id, const std::string& amount_json = "1000") {
  return R"({"id":")" + id +
         R"(","mti":"0100","pan":"4111111111111111","proc":"000000","amount":)" + amount_json +
         R"(,"currency":"840","expiry":"2912","mcc":"5411","stan":"000001",)"
         R"("terminal":"TERM0001","merchant":"SHOP","ts":1798761600000})";
}

std::vector<Json> submit(const Cluster& cluster, const TempDir& tmp, const std::string& lines) {
  write_file(tmp.file("in.jsonl"), lines);
  std::string out;
  EXPECT_EQ(submit_file(cluster, tmp.file("in.jsonl"), &out), 0);
  std::vector<Json> result;
  std::stringstream ss(out);
  for (std::string line; std::getline(ss, line);) result.push_back(Json::parse(line));
  return result;
}

class BadInput : public ::testing::Test {
 protected:
  void SetUp() override {
    write_file(tmp_.file("cards.csv"), kCards);
    cluster_ = std::make_unique<Cluster>(tmp_, tmp_.file("cards.csv"));
    ASSERT_TRUE(cluster_->ready()) << read_file(tmp_.file("up.stderr"));
  }
  void TearDown() override {
    EXPECT_EQ(cluster_->stop(), 0) << "the front end survived and stopped cleanly";
    EXPECT_TRUE(processes_mentioning(tmp_.path()).empty());
  }
  TempDir tmp_;
  std::unique_ptr<Cluster> cluster_;
};

TEST_F(BadInput, LinesThatCannotBeSequencedGetAClearErrorAndNoSeq) {
  const std::string long_id(65, 'x');
  const auto out = submit(*cluster_, tmp_,
                          tx("t1") + "\n" +                   // 1: sequenced
                              "this is not json\n" +          // 2
                              "[1,2,3]\n" +                   // 3
                              tx(long_id) + "\n" +            // 4
                              R"({"mti":"0100"})" + "\n" +    // 5: no id
                              tx("t2", R"("1000")") + "\n" +  // 6: wrong type
                              tx("t1") + "\n" +               // 7: repeat
                              tx("t1", "2000") + "\n" +       // 8: id reused
                              tx("t3") + "\n");               // 9
  ASSERT_EQ(out.size(), 9u);
  EXPECT_EQ(out[0]["seq"], 1);
  EXPECT_EQ(out[0]["code"], "00");
  // Each error line says what kind it is, and whether sending the line again
  // as it is could get a decision.
  EXPECT_EQ(out[1], (Json{{"line", 2},
                          {"error", "not valid JSON"},
                          {"kind", "invalid argument"},
                          {"retry", false}}));
  EXPECT_EQ(out[2], (Json{{"line", 3},
                          {"error", "not a JSON object"},
                          {"kind", "invalid argument"},
                          {"retry", false}}));
  EXPECT_EQ(out[3]["line"], 4);
  EXPECT_NE(out[3]["error"].get<std::string>().find("1..64"), std::string::npos);
  EXPECT_FALSE(out[3].contains("seq"));
  EXPECT_EQ(out[4]["line"], 5);
  EXPECT_NE(out[4]["error"].get<std::string>().find("id is missing"), std::string::npos);
  EXPECT_EQ(out[5]["seq"], 2);
  EXPECT_EQ(out[5]["code"], "30") << "a wrong field type is a format error, decided by replicas";
  EXPECT_EQ(out[6]["seq"], 1);
  EXPECT_EQ(out[6]["replayed"], true);
  EXPECT_EQ(out[6]["cert"], out[0]["cert"]);
  EXPECT_NE(out[7]["error"].get<std::string>().find("different content"), std::string::npos);
  EXPECT_EQ(out[7]["kind"], "rejected");
  EXPECT_EQ(out[7]["retry"], false);
  EXPECT_EQ(out[8]["seq"], 3) << "nothing else was sequenced";
}

// Input `triad submit` cannot read: a directory, as the file or as standard
// input, or a stream whose read fails after a line. std::getline took the
// read error for the end of the input: exit 0, nothing sent (or only the
// lines before the error). Now exit 2 and one line naming the input and the
// reason, after the answers of the lines read before it.
TEST_F(BadInput, InputThatCannotBeReadIsAnErrorNamingIt) {
  struct Outcome {
    int status = -1;
    std::string out;
    std::string err;
  };
  const auto submit_input = [&](const std::string& input, const std::string& stdin_path) {
    std::filesystem::remove(tmp_.file("err"));
    Child c({bin("triad"), "submit", "--dir", cluster_->dir(), "--endpoint", cluster_->endpoint(),
             input},
            stdin_path, tmp_.file("err"));
    Outcome o;
    o.out = c.read_all(30'000);
    o.status = c.wait(30'000);
    o.err = read_file(tmp_.file("err"));
    return o;
  };
  const std::string dir = tmp_.file("a-directory");
  std::filesystem::create_directory(dir);
  Outcome o = submit_input(dir, "");
  EXPECT_EQ(o.status, 2) << o.out;
  EXPECT_EQ(o.out, "");
  EXPECT_EQ(o.err, "triad submit: cannot read " + dir + ": Is a directory\n");
  o = submit_input("-", dir);
  EXPECT_EQ(o.status, 2) << o.out;
  EXPECT_EQ(o.out, "");
  EXPECT_EQ(o.err, "triad submit: cannot read standard input: Is a directory\n");

  const int failing = socket_failing_after(tx("before-the-error") + "\n");
  {
    const StdinFrom in(failing);
    o = submit_input("-", "");
  }
  ::close(failing);
  EXPECT_EQ(o.status, 2) << o.err;
  const auto lines = lines_of(o.out);
  ASSERT_EQ(lines.size(), 1u) << o.out;
  EXPECT_EQ(Json::parse(lines[0])["id"], "before-the-error") << "answered before the error line";
  EXPECT_EQ(o.err,
            "triad submit: cannot read standard input: Connection reset by peer (after line 1)\n");
}

// From a pipe (standard input) or a FIFO (the FILE argument), the lines
// that have arrived go at once, and their answers come, while a later line
// is only partly written. std::getline, called because bytes were waiting,
// waited for the rest of that line and held the complete ones back.
TEST_F(BadInput, CompleteLinesGoAtOnceWhileALaterLineIsOnlyPartlyWritten) {
  for (const bool fifo : {false, true}) {
    const std::string id = fifo ? "fifo" : "pipe";
    SCOPED_TRACE(id);
    const std::string fifo_path = tmp_.file("in.fifo");
    std::vector<std::string> argv = {bin("triad"),    "submit",     "--dir",
                                     cluster_->dir(), "--endpoint", cluster_->endpoint()};
    argv.push_back(fifo ? fifo_path : "-");
    std::unique_ptr<Child> submit;
    int writer = -1;
    if (fifo) {
      ASSERT_EQ(::mkfifo(fifo_path.c_str(), 0600), 0);
      submit = std::make_unique<Child>(argv);
      // Once submit has opened it for reading (a blocking open would wait
      // for good if submit died first).
      for (int i = 0; i < 3'000 && writer < 0; ++i) {
        writer = ::open(fifo_path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (writer < 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      if (writer >= 0) {
        ASSERT_EQ(::fcntl(writer, F_SETFL, 0), 0);  // blocking writes again
      }
    } else {
      int fds[2] = {-1, -1};
      ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
      {
        const StdinFrom in(fds[0]);
        submit = std::make_unique<Child>(argv);
      }
      ::close(fds[0]);
      writer = fds[1];
    }
    ASSERT_GE(writer, 0);
    const std::string second = tx(id + "-2");
    write_all(writer, tx(id + "-1") + "\n" + second.substr(0, 20));
    // The rest of line 2 comes only after line 1's answer (or 30 s without
    // it: a sanitizer build on a loaded machine can take seconds to answer).
    const auto first = submit->read_line(30'000);
    write_all(writer, second.substr(20) + "\n");
    ::close(writer);
    ASSERT_TRUE(first.has_value()) << "line 1 not answered while line 2 was partly written";
    EXPECT_EQ(Json::parse(*first)["id"], id + "-1");
    const auto answer = submit->read_line(30'000);
    ASSERT_TRUE(answer.has_value());
    EXPECT_EQ(Json::parse(*answer)["id"], id + "-2");
    EXPECT_EQ(submit->wait(30'000), 0);
  }
}

// The 64 KiB limit on a line: a line of 65,536 bytes is sent, a longer one
// gets its error line and the lines after it go on. From a pipe, a line
// with no newline is not kept past the limit: 256 MiB of it cost 256 MiB
// of memory and more (std::getline), and a line that never ends took the
// machine's memory.
TEST_F(BadInput, ALineOverTheLimitIsAnErrorLineAndIsNotKeptInMemory) {
  const auto padded = [](const std::string& line, std::size_t size) {
    return line + std::string(size - line.size(), ' ');
  };
  const auto out = submit(*cluster_, tmp_,
                          padded(tx("at-the-limit"), 65'536) + "\n" +
                              padded(tx("past-the-limit"), 65'537) + "\n" + tx("after") + "\n");
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0]["id"], "at-the-limit");
  EXPECT_EQ(out[1], (Json{{"line", 2},
                          {"error", "line of 65537 bytes exceeds the limit of 65536"},
                          {"kind", "invalid argument"},
                          {"retry", false}}));
  EXPECT_EQ(out[2]["id"], "after");

  int fds[2] = {-1, -1};
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  std::unique_ptr<Child> streamed;
  {
    const StdinFrom in(fds[0]);
    streamed = std::make_unique<Child>(std::vector<std::string>{
        bin("triad"), "submit", "--dir", cluster_->dir(), "--endpoint", cluster_->endpoint(), "-"});
  }
  ::close(fds[0]);
  // The most memory it has held so far (it is still running: its input is
  // open), in KiB.
  const auto peak_kib = [&] {
    std::size_t kib = 0;
    for (const std::string& line :
         lines_of(read_file("/proc/" + std::to_string(streamed->pid()) + "/status"))) {
      if (line.rfind("VmHWM:", 0) == 0) kib = std::stoul(line.substr(6));
    }
    return kib;
  };
  // A first line answered: connected, and at its working size (which a
  // sanitizer build makes larger), before the long line.
  write_all(fds[1], tx("before-the-long-line") + "\n");
  const auto before = streamed->read_line(30'000);
  const std::size_t baseline_kib = peak_kib();
  constexpr std::size_t kMiB = 1024 * 1024;
  const std::string mib(kMiB, 'x');
  for (int i = 0; i < 256; ++i) write_all(fds[1], mib);
  write_all(fds[1], "\n" + tx("after-the-long-line") + "\n");
  const auto error = streamed->read_line(30'000);
  const auto answer = streamed->read_line(30'000);
  const std::size_t grown_kib = peak_kib() - baseline_kib;
  ::close(fds[1]);
  EXPECT_EQ(streamed->wait(30'000), 0);
  ASSERT_TRUE(before.has_value());
  EXPECT_EQ(Json::parse(*before)["id"], "before-the-long-line");
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(Json::parse(*error),
            (Json{{"line", 2},
                  {"error", "line of 268435456 bytes exceeds the limit of 65536"},
                  {"kind", "invalid argument"},
                  {"retry", false}}));
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(Json::parse(*answer)["id"], "after-the-long-line");
  EXPECT_GT(baseline_kib, 0u);
  // Holding the line took 256 MiB and more.
  EXPECT_LT(grown_kib, 128 * 1024) << "growth of peak resident memory in KiB";
}

TEST_F(BadInput, HugeAndRandomFramesOnTheClientSocketAreAnsweredWithErrors) {
  zmq::context_t context(1);
  zmq::socket_t socket(context, zmq::socket_type::dealer);
  socket.set(zmq::sockopt::linger, 0);
  socket.set(zmq::sockopt::rcvtimeo, 10'000);
  // The cluster's own local client key: the junk must reach the front end.
  transport::CurveClient curve;
  ASSERT_TRUE(transport::load_curve_client(
                  cluster_->dir(),
                  layout::curve_client_secret_key(cluster_->dir(), layout::kCurveLocalClient),
                  &curve)
                  .is_ok());
  ASSERT_TRUE(curve.enabled());
  curve.apply(socket);
  socket.connect(cluster_->endpoint());

  const auto expect_error = [&](const std::string& needle) {
    zmq::message_t reply;
    ASSERT_TRUE(socket.recv(reply, zmq::recv_flags::none)) << "no answer (" << needle << ")";
    const wire::AlignedFrame frame(reply.data(), reply.size());
    const wire::ClientReply* r = nullptr;
    ASSERT_TRUE(wire::verify_client_reply(frame.bytes(), &r).is_ok());
    ASSERT_NE(r->error(), nullptr);
    EXPECT_NE(std::string(r->error()->c_str()).find(needle), std::string::npos)
        << r->error()->c_str();
  };

  const std::string ten_mib(10 * 1024 * 1024, 'x');
  socket.send(zmq::buffer(ten_mib), zmq::send_flags::none);
  expect_error("exceeds the limit of 65536");

  std::mt19937_64 rng(42);
  for (int i = 0; i < 200; ++i) {
    std::string junk(1 + rng() % 2000, '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    socket.send(zmq::buffer(junk), zmq::send_flags::none);
    expect_error("");
  }
  // The front end is alive and sequenced nothing from all that.
  const auto out = submit(*cluster_, tmp_, tx("after") + "\n");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0]["seq"], 1);
}

TEST(BadStart, MalformedCardFileIsRefusedWithItsLineNumber) {
  TempDir tmp;
  write_file(tmp.file("cards.csv"), std::string(kCards) + "4000000000000002,2913,A,840,1,1,\n");
  std::string out;
  Child up({bin("triad"), "up", "--cards", tmp.file("cards.csv"), "--dir", tmp.file("data"),
            "--listen", "tcp://127.0.0.1:*"},
           "", tmp.file("err"));
  EXPECT_EQ(up.read_all(20'000), "") << "no ready line";
  EXPECT_EQ(up.wait(20'000), 2);
  const std::string err = read_file(tmp.file("err"));
  EXPECT_NE(err.find("line 4"), std::string::npos) << err;
  EXPECT_EQ(err.find("4000000000000002"), std::string::npos) << "no PAN in clear: " << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << "one line: " << err;
  EXPECT_TRUE(processes_mentioning(tmp.path()).empty());
}

TEST(BadStart, PortInUseIsRefusedAndNothingIsLeftRunning) {
  TempDir tmp;
  write_file(tmp.file("cards.csv"), kCards);
  Cluster first(tmp, tmp.file("cards.csv"));
  ASSERT_TRUE(first.ready());
  TempDir other;
  Child second({bin("triad"), "up", "--cards", tmp.file("cards.csv"), "--dir", other.file("data"),
                "--listen", first.endpoint()},
               "", other.file("err"));
  EXPECT_EQ(second.wait(20'000), 2);
  const std::string err = read_file(other.file("err"));
  EXPECT_NE(err.find("cannot listen on " + first.endpoint()), std::string::npos) << err;
  // Found before anything is made in DIR or logged (interface.md: a one
  // line error); before, keys, journal and audit store were made and a
  // dozen log lines came first.
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << "one line: " << err;
  EXPECT_FALSE(std::filesystem::exists(other.file("data") + "/journal"));
  // The same for a metrics port in use (here the first one's client port).
  const std::string port = first.endpoint().substr(first.endpoint().rfind(':') + 1);
  Child third({bin("triad"), "up", "--cards", tmp.file("cards.csv"), "--dir", other.file("data"),
               "--listen", "tcp://127.0.0.1:*", "--metrics-port", port},
              "", other.file("err3"));
  EXPECT_EQ(third.wait(20'000), 2);
  const std::string err3 = read_file(other.file("err3"));
  EXPECT_NE(err3.find("cannot serve metrics on 127.0.0.1:" + port), std::string::npos) << err3;
  EXPECT_EQ(std::count(err3.begin(), err3.end(), '\n'), 1) << "one line: " << err3;
  EXPECT_FALSE(std::filesystem::exists(other.file("data") + "/journal"));
  EXPECT_TRUE(processes_mentioning(other.path()).empty());
  EXPECT_EQ(first.stop(), 0);
}

TEST(BadStart, BadArgumentsExitTwo) {
  TempDir tmp;
  write_file(tmp.file("cards.csv"), kCards);
  std::string out;
  EXPECT_EQ(run({bin("triad"), "up"}, &out), 2);
  EXPECT_EQ(run({bin("triad"), "up", "--cards", tmp.file("missing.csv")}, &out), 2);
  EXPECT_EQ(run({bin("triad"), "up", "--cards", tmp.file("cards.csv"), "--dir", tmp.file("d"),
                 "--inject", "d=crash:1"},
                &out),
            2);
  EXPECT_EQ(run({bin("triad"), "up", "--cards", tmp.file("cards.csv"), "--dir", tmp.file("d"),
                 "--inject", "a=explode:1"},
                &out),
            2);
  EXPECT_EQ(run({bin("triad"), "frobnicate"}, &out), 2);
}

TEST(Submit, UnreachableFrontEndIsAClearError) {
  TempDir tmp;
  write_file(tmp.file("in.jsonl"), tx("t1") + "\n");
  Child submit({bin("triad"), "submit", "--endpoint", "tcp://127.0.0.1:9", tmp.file("in.jsonl")},
               "", tmp.file("err"));
  EXPECT_EQ(submit.read_all(30'000), "");
  EXPECT_EQ(submit.wait(30'000), 1);
  EXPECT_NE(read_file(tmp.file("err")).find("no Triad front end answered at tcp://127.0.0.1:9"),
            std::string::npos);
}

// A front end on loopback (a thread of the test) that answers connect()'s
// ping, and each submitted transaction as `answer(tag, times it came)` says.
enum class Answer { kDecision, kOverloaded, kNothing };
class ScriptedFrontEnd {
 public:
  explicit ScriptedFrontEnd(std::function<Answer(std::uint64_t, int)> answer)
      : answer_(std::move(answer)) {
    router_.set(zmq::sockopt::linger, 0);
    router_.set(zmq::sockopt::rcvtimeo, 100);
    router_.bind("tcp://127.0.0.1:*");
    endpoint_ = router_.get(zmq::sockopt::last_endpoint);
    thread_ = std::thread([this] { serve(); });
  }
  ~ScriptedFrontEnd() {
    done_ = true;
    thread_.join();
  }
  const std::string& endpoint() const { return endpoint_; }

 private:
  void serve() {
    std::map<std::uint64_t, int> seen;
    while (!done_) {
      zmq::message_t identity;
      zmq::message_t payload;
      if (!router_.recv(identity, zmq::recv_flags::none)) continue;
      if (!router_.recv(payload, zmq::recv_flags::none)) continue;
      const wire::AlignedFrame frame(payload.data(), payload.size());
      const wire::ClientRequest* frame_request = nullptr;
      if (!wire::verify_client_request(frame.bytes(), &frame_request).is_ok()) continue;
      std::vector<const wire::ClientRequest*> requests = {frame_request};
      if (frame_request->batch() != nullptr) {
        requests.clear();
        for (const wire::RequestPart* part : *frame_request->batch()) {
          requests.push_back(wire::request_part(part));
        }
      }
      for (const wire::ClientRequest* request : requests) {
        flatbuffers::FlatBufferBuilder fbb;
        if (request == nullptr) continue;
        if (request->ping() != nullptr) {
          wire::ClientReplyBuilder b(fbb);
          b.add_tag(request->ping()->tag());
          b.add_pong(true);
          fbb.Finish(b.Finish());
        } else if (request->submit() != nullptr) {
          const std::uint64_t tag = request->submit()->tag();
          switch (answer_(tag, ++seen[tag])) {
            case Answer::kDecision:
              fbb.Finish(wire::CreateClientReply(
                  fbb, tag,
                  wire::CreateDecisionDirect(fbb, ("t" + std::to_string(tag)).c_str(), tag,
                                             1'798'761'600'000, "91", "", "", false)));
              break;
            case Answer::kOverloaded:
              fbb.Finish(wire::CreateClientReply(fbb, tag, 0, wire::ClientErrorKind::Overloaded,
                                                 fbb.CreateString("overloaded; retry later")));
              break;
            case Answer::kNothing:
              continue;
          }
        } else {
          continue;
        }
        router_.send(zmq::buffer(identity.data(), identity.size()), zmq::send_flags::sndmore);
        router_.send(zmq::buffer(fbb.GetBufferPointer(), fbb.GetSize()), zmq::send_flags::none);
      }
    }
  }

  std::function<Answer(std::uint64_t, int)> answer_;
  zmq::context_t context_{1};
  zmq::socket_t router_{context_, zmq::socket_type::router};
  std::string endpoint_;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

// The odd lines only are answered: the answers that came are printed, each
// line not answered gets an error line, and the exit status is 1. None goes
// missing from the output.
TEST(Submit, LinesAFrontEndNeverAnswersGetAnErrorLineAndTheRestIsPrinted) {
  TempDir tmp;
  write_file(tmp.file("in.jsonl"), tx("t1") + "\n" + tx("t2") + "\n" + tx("t3") + "\n");
  ScriptedFrontEnd front_end(
      [](std::uint64_t tag, int) { return tag % 2 == 1 ? Answer::kDecision : Answer::kNothing; });
  Child submit({bin("triad"), "submit", "--endpoint", front_end.endpoint(), "--timeout-ms", "500",
                tmp.file("in.jsonl")},
               "", tmp.file("err"));
  const std::string out = submit.read_all(30'000);
  EXPECT_EQ(submit.wait(30'000), 1);
  const auto lines = lines_of(out);
  ASSERT_EQ(lines.size(), 3u) << out;
  EXPECT_EQ(Json::parse(lines[0])["seq"], 1);
  EXPECT_EQ(Json::parse(lines[1])["line"], 2);
  EXPECT_NE(lines[1].find("submit it again"), std::string::npos) << lines[1];
  EXPECT_EQ(Json::parse(lines[1])["kind"], "timeout");
  EXPECT_EQ(Json::parse(lines[1])["retry"], true);
  EXPECT_EQ(Json::parse(lines[2])["seq"], 3);
  EXPECT_NE(read_file(tmp.file("err")).find("1 transactions unanswered"), std::string::npos)
      << read_file(tmp.file("err"));
}

// Refused as overloaded, a line was not sequenced: submit sends it again
// after a pause until it is decided, unless --no-resend, when the refusal is
// its line (retry: true).
TEST(Submit, LinesRefusedAsOverloadedAreSentAgainUntilDecided) {
  TempDir tmp;
  write_file(tmp.file("in.jsonl"), tx("t1") + "\n" + tx("t2") + "\n" + tx("t3") + "\n");
  // Lines 1 and 3 are refused the first three times they come.
  ScriptedFrontEnd front_end([](std::uint64_t tag, int seen) {
    return tag % 2 == 1 && seen <= 3 ? Answer::kOverloaded : Answer::kDecision;
  });
  Child submit({bin("triad"), "submit", "--endpoint", front_end.endpoint(), "--summary",
                tmp.file("in.jsonl")},
               "", tmp.file("err"));
  const auto lines = lines_of(submit.read_all(30'000));
  EXPECT_EQ(submit.wait(30'000), 0);
  ASSERT_EQ(lines.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(Json::parse(lines[i])["seq"], i + 1) << lines[i];
  const std::string err = read_file(tmp.file("err"));
  EXPECT_NE(err.find("sent again after an overload refusal: 6 times"), std::string::npos) << err;

  // Refused every time: sent again for --timeout-ms, then the refusal is the
  // line's answer; with --no-resend, at once.
  ScriptedFrontEnd always_overloaded([](std::uint64_t, int) { return Answer::kOverloaded; });
  for (const bool resend : {true, false}) {
    std::vector<std::string> args = {
        bin("triad"),   "submit", "--endpoint", always_overloaded.endpoint(),
        "--timeout-ms", "300",    "--summary",  tmp.file("in.jsonl")};
    if (!resend) args.push_back("--no-resend");
    const std::string err_file = tmp.file(resend ? "err-resend" : "err-no-resend");
    Child refused(args, "", err_file);
    const auto answers = lines_of(refused.read_all(30'000));
    EXPECT_EQ(refused.wait(30'000), 0) << "every line got an answer: the refusal";
    ASSERT_EQ(answers.size(), 3u);
    for (const std::string& line : answers) {
      const Json j = Json::parse(line);
      EXPECT_EQ(j["kind"], "overloaded") << line;
      EXPECT_EQ(j["retry"], true) << line;
    }
    const std::string summary = read_file(err_file);
    EXPECT_EQ(summary.find("sent again after an overload refusal") != std::string::npos, resend)
        << summary;
  }
}

}  // namespace
}  // namespace triad::testing
