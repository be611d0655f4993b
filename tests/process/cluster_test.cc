// Process-level tests: the real `triad` and `triad-replica` binaries on
// loopback, as a user runs them.
#include "cluster.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "process_util.h"
#include "rules/engine.h"
#include "sample/sample.h"
#include "sample_files.h"
#include "triad/certificate.h"
#include "triad/transaction.h"

namespace triad::testing {
namespace {

using Json = nlohmann::json;

TEST(Cluster, TwentyThousandTransactionsAgreeWithOneEngineAndVerify) {
  TempDir tmp;
  sample::Options options;
  options.seed = 7;
  options.card_count = 500;
  options.transaction_count = 20'000;
  const std::vector<std::string> traffic = write_sample_files(tmp, options);

  // A correctness test, not a latency one: a deadline no slow (sanitized,
  // shared) machine reaches, so every answer is a real vote.
  Cluster cluster(tmp, tmp.file("cards.csv"), {"--deadline-ms", "60000"});
  ASSERT_TRUE(cluster.ready()) << read_file(tmp.file("up.stderr"));

  std::string out;
  ASSERT_EQ(submit_file(cluster, tmp.file("traffic.jsonl"), &out), 0);
  write_file(tmp.file("verdicts.jsonl"), out);
  const auto verdicts = lines_of(out);
  ASSERT_EQ(verdicts.size(), traffic.size()) << "every line answered, once";

  // Replay the sequence the front end chose through one in-process engine.
  rules::CardFile cards;
  ASSERT_TRUE(rules::load_card_file(tmp.file("cards.csv"), &cards).is_ok());
  struct Seqd {
    std::int64_t ts;
    std::size_t line;
    std::string code;
  };
  std::map<std::uint64_t, Seqd> by_seq;
  std::map<std::string, int> codes;
  for (std::size_t i = 0; i < verdicts.size(); ++i) {
    const Json v = Json::parse(verdicts[i]);
    ASSERT_FALSE(v.contains("error")) << verdicts[i];
    Transaction tx;
    ASSERT_TRUE(parse_transaction_json(traffic[i], &tx).is_ok());
    ASSERT_EQ(v["id"], *tx.id) << "answers come in input order";
    ASSERT_EQ(v["agree"].size(), 2u);
    ASSERT_FALSE(v["replayed"].get<bool>());
    ASSERT_TRUE(by_seq
                    .emplace(v["seq"].get<std::uint64_t>(),
                             Seqd{v["ts"].get<std::int64_t>(), i, v["code"].get<std::string>()})
                    .second)
        << "seq given twice: " << v["seq"];
    ++codes[v["code"].get<std::string>()];
  }
  ASSERT_EQ(by_seq.begin()->first, 1u);
  ASSERT_EQ(by_seq.rbegin()->first, traffic.size()) << "seq has no gaps";

  rules::Engine engine(cards);
  for (const auto& [seq, s] : by_seq) {
    Transaction tx;
    ASSERT_TRUE(parse_transaction_json(traffic[s.line], &tx).is_ok());
    ASSERT_EQ(to_string(engine.apply(s.ts, tx)), s.code) << "seq " << seq;
  }
  for (const char* code : {"00", "12", "13", "14", "25", "30", "41", "43", "51", "54", "56", "57",
                           "61", "62", "65", "94"}) {
    EXPECT_GT(codes[code], 0) << "the sample exercises code " << code;
  }

  // Each certificate is over its own transaction, the PAN counted by the
  // reference that came with the answer; that reference is the card's in
  // the audit store too (`triad audit --card` finds the decision by it).
  Keyring keyring;
  ASSERT_TRUE(Keyring::load_dir(cluster.dir(), &keyring).is_ok());
  std::map<std::string, std::set<std::string>> refs_by_pan;
  for (std::size_t i = 0; i < verdicts.size(); ++i) {
    const Json v = Json::parse(verdicts[i]);
    Transaction tx;
    ASSERT_TRUE(parse_transaction_json(traffic[i], &tx).is_ok());
    ASSERT_TRUE(tx.pan.has_value()) << traffic[i];
    ASSERT_TRUE(v.contains("card_ref")) << verdicts[i];
    const std::string ref = v["card_ref"].get<std::string>();
    refs_by_pan[*tx.pan].insert(ref);
    CertificateInfo info;
    ASSERT_TRUE(verify_certificate_base64(v["cert"].get<std::string>(), keyring, &info).is_ok());
    std::string digest;
    ASSERT_TRUE(transaction_digest_hex(tx, ref, &digest).is_ok());
    EXPECT_EQ(info.tx_digest_hex, digest) << "seq " << v["seq"];
  }
  std::set<std::string> all_refs;
  for (const auto& [pan, refs] : refs_by_pan) {
    EXPECT_EQ(refs.size(), 1u) << "one reference per card";
    all_refs.insert(*refs.begin());
  }
  EXPECT_EQ(all_refs.size(), refs_by_pan.size()) << "another for each card";
  std::string verify_out;
  EXPECT_EQ(run({bin("triad"), "verify", "--dir", cluster.dir(), tmp.file("verdicts.jsonl")},
                &verify_out),
            0)
      << verify_out;
  EXPECT_EQ(verify_out,
            std::to_string(traffic.size()) + " valid, 0 invalid, 0 without certificate\n");

  // `triad submit --summary` holds each certificate to its own transaction
  // too: 200 repeated ids, and two new transactions without a card
  // reference (no PAN; a PAN that is not a string), decided 30 and
  // certified all the same.
  std::string again;
  for (std::size_t i = 0; i < 200; ++i) again += traffic[i] + "\n";
  again += R"({"id":"no-pan","mti":"0100","proc":"000000","amount":100,"currency":"840"})"
           "\n";
  again += R"({"id":"pan-number","mti":"0100","pan":4111111111111111,"amount":100})"
           "\n";
  write_file(tmp.file("again.jsonl"), again);
  {
    Child submit(
        {bin("triad"), "submit", "--dir", cluster.dir(), "--summary", tmp.file("again.jsonl")}, "",
        tmp.file("again.stderr"));
    ASSERT_TRUE(submit.started());
    const std::vector<std::string> lines = lines_of(submit.read_all(120'000));
    ASSERT_EQ(submit.wait(120'000), 0) << read_file(tmp.file("again.stderr"));
    ASSERT_EQ(lines.size(), 202u);
    for (const std::size_t i : {std::size_t{200}, std::size_t{201}}) {
      const Json v = Json::parse(lines[i]);
      EXPECT_EQ(v["code"], "30") << lines[i];
      EXPECT_TRUE(v["cert"].is_string()) << lines[i];
      EXPECT_FALSE(v.contains("card_ref")) << lines[i];
    }
  }
  EXPECT_NE(read_file(tmp.file("again.stderr")).find("certificates verified: 202 of 202"),
            std::string::npos)
      << read_file(tmp.file("again.stderr"));

  EXPECT_EQ(cluster.stop(), 0);
  EXPECT_TRUE(processes_mentioning(tmp.path()).empty()) << "no Triad process is left";

  // The audit store has every decision under its card's reference, the
  // one its answer carried: `triad audit --card` finds them all.
  const auto& [some_pan, some_refs] = *refs_by_pan.begin();
  std::set<std::uint64_t> seqs_of_card;
  for (const std::string& line : verdicts) {
    const Json v = Json::parse(line);
    if (v["card_ref"] == *some_refs.begin()) seqs_of_card.insert(v["seq"].get<std::uint64_t>());
  }
  std::string card_out;
  ASSERT_EQ(run({bin("triad"), "audit", "--dir", cluster.dir(), "--json", "--limit", "100000",
                 "--card", some_pan},
                &card_out),
            0)
      << card_out;
  const Json found = Json::parse(card_out);
  EXPECT_EQ(found["card_ref"], *some_refs.begin());
  std::set<std::uint64_t> seqs_found;
  for (const Json& d : found["decisions"]) seqs_found.insert(d["seq"].get<std::uint64_t>());
  EXPECT_EQ(seqs_found, seqs_of_card);
}

TEST(Cluster, ACrashedReplicaIsRestartedAndNoAnswerIsLost) {
  TempDir tmp;
  sample::Options options;
  options.card_count = 100;
  options.transaction_count = 3000;
  write_sample_files(tmp, options);

  // While b is away every answer needs both a and c in time. Under
  // AddressSanitizer beside the heavy tests a healthy replica has been more
  // than the default 1 s late (a fail-safe 91 then is the right answer, but
  // not what this test is about), so the deadline here is one no healthy
  // replica reaches; b's exit is seen by the front end's reaper, not by it.
  Cluster cluster(tmp, tmp.file("cards.csv"),
                  {"--inject", "b=crash:500", "--deadline-ms", "10000"});
  ASSERT_TRUE(cluster.ready()) << read_file(tmp.file("up.stderr"));
  std::string out;
  ASSERT_EQ(submit_file(cluster, tmp.file("traffic.jsonl"), &out), 0);
  const auto verdicts = lines_of(out);
  ASSERT_EQ(verdicts.size(), options.transaction_count);
  for (const auto& line : verdicts) {
    const Json v = Json::parse(line);
    ASSERT_EQ(v["agree"].size(), 2u) << line;  // a and c carry on while b is away
    EXPECT_NE(v["code"], "96");
    EXPECT_NE(v["code"], "91");
  }
  // b is repaired without anyone touching it: wait (bounded) until it is back.
  Json b;
  for (int i = 0; i < 200; ++i) {
    std::string status;
    ASSERT_EQ(run({bin("triad"), "status", "--dir", cluster.dir(), "--json"}, &status), 0);
    b = Json::parse(status)["replicas"][1];
    if (b["state"] == "healthy" && b["repairs"].get<int>() >= 1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(b["state"], "healthy") << b.dump();
  EXPECT_GE(b["repairs"].get<int>(), 1) << b.dump();
  EXPECT_GT(b["last_time_to_repair_ms"].get<double>(), 0.0) << b.dump();
  EXPECT_EQ(cluster.stop(), 0);
  const std::string log = read_file(tmp.file("up.stderr"));
  EXPECT_NE(log.find("injected fault crash:500: exiting abruptly at seq 501"), std::string::npos)
      << log;
  // Quarantined for missing verdicts or down for the exit, whichever the
  // front end saw first; either way it is restarted and rejoins.
  EXPECT_NE(log.find("restarted replica b from scratch"), std::string::npos) << log;
  EXPECT_NE(log.find("replica b: repairing -> healthy"), std::string::npos) << log;
  EXPECT_TRUE(processes_mentioning(tmp.path()).empty());
}

TEST(Cluster, ExampleSwitchFrontEndGetsCertifiedDecisions) {
  TempDir tmp;
  write_file(tmp.file("cards.csv"),
             "pan,expiry,status,currency,credit_limit,cash_daily_limit,blocked_mccs\n"
             "4111111111111111,2912,A,840,12000,0,\n");
  Cluster cluster(tmp, tmp.file("cards.csv"));
  ASSERT_TRUE(cluster.ready());
  std::string out;
  ASSERT_EQ(run({bin("switch_frontend"), cluster.endpoint(), cluster.dir()}, &out), 0) << out;
  // Holds of 1000..5000 against a limit of 12000: the fifth is declined 51.
  const auto lines = lines_of(out);
  ASSERT_EQ(lines.size(), 5u) << out;
  EXPECT_EQ(std::count_if(lines.begin(), lines.end(),
                          [](const std::string& l) {
                            return l.find("code 00 APPROVED; certificate signed by") !=
                                   std::string::npos;
                          }),
            4)
      << out;
  EXPECT_NE(out.find("stan 5: switch-example-5 seq 5 code 51 declined; certificate signed by"),
            std::string::npos)
      << out;
  EXPECT_EQ(cluster.stop(), 0);
}

// A switch streams its traffic through `triad submit -`: each line is
// answered while the next has not been written yet, not when the input
// ends or a window of them has filled.
TEST(Cluster, SubmitAnswersStreamedLinesBeforeTheInputEnds) {
  TempDir tmp;
  sample::Options options;
  options.card_count = 10;
  options.transaction_count = 3;
  write_sample_files(tmp, options);
  const std::vector<std::string> traffic = lines_of(read_file(tmp.file("traffic.jsonl")));
  ASSERT_EQ(traffic.size(), 3u);
  Cluster cluster(tmp, tmp.file("cards.csv"));
  ASSERT_TRUE(cluster.ready()) << read_file(tmp.file("up.stderr"));
  const std::string fifo = tmp.file("input");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // Read-write, so that opening it does not wait for the reader, and the
  // reader's open does not wait for a writer.
  const int input = ::open(fifo.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(input, 0);
  Child submit({bin("triad"), "submit", "--dir", cluster.dir(), "-"}, fifo,
               tmp.file("submit.stderr"));
  ASSERT_TRUE(submit.started());
  for (std::size_t i = 0; i < traffic.size(); ++i) {
    const std::string line = traffic[i] + "\n";
    ASSERT_EQ(::write(input, line.data(), line.size()), static_cast<ssize_t>(line.size()));
    const auto answer = submit.read_line(20'000);
    ASSERT_TRUE(answer) << "no answer to line " << i + 1 << " while the input stays open\n"
                        << read_file(tmp.file("submit.stderr"));
    const Json j = Json::parse(*answer, nullptr, false);
    ASSERT_TRUE(j.is_object()) << *answer;
    EXPECT_EQ(j["seq"], i + 1) << *answer;
  }
  ::close(input);
  EXPECT_EQ(submit.wait(20'000), 0) << read_file(tmp.file("submit.stderr"));
  EXPECT_EQ(cluster.stop(), 0);
}

}  // namespace
}  // namespace triad::testing
