// The audit store end to end: `triad up` with a replica that flips verdicts
// (so there are divergences and a repair), traffic through `triad submit`,
// then `triad audit ID` verifies a decision's certificate and `triad audit
// --since` lists the divergences and the repair, while the cluster runs and
// after it stopped; `triad audit --card` finds a card's decisions by its
// keyed hash. The database holds no PAN.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "audit/store.h"
#include "cluster.h"
#include "process_util.h"
#include "sample/sample.h"
#include "sample_files.h"
#include "status_util.h"
#include "triad/transaction.h"

namespace triad::testing {
namespace {

using Json = nlohmann::json;

bool replica_b_repaired(const Json& s) {
  if (!s.contains("replicas")) return false;
  for (const Json& r : s["replicas"]) {
    if (r.value("name", "") == "b") {
      return r.value("state", "") == "healthy" && r.value("repairs", 0) >= 1;
    }
  }
  return false;
}

TEST(AuditProcess, DecisionsVerifyAndDivergencesAndRepairsAreListed) {
  TempDir tmp;
  sample::Options options;
  options.seed = 11;
  options.card_count = 100;
  options.transaction_count = 1000;
  const std::vector<std::string> traffic = write_sample_files(tmp, options);

  // About 50 flips of b: the third within the transient window sends it to
  // repair; a and c decide meanwhile.
  Cluster cluster(tmp, tmp.file("cards.csv"),
                  {"--inject", "b=flip:0.05", "--seed", "3", "--deadline-ms", "60000"});
  ASSERT_TRUE(cluster.ready()) << read_file(tmp.file("up.stderr"));
  std::string out;
  ASSERT_EQ(submit_file(cluster, tmp.file("traffic.jsonl"), &out), 0);
  const auto verdicts = lines_of(out);
  ASSERT_EQ(verdicts.size(), traffic.size());
  const Json first = Json::parse(verdicts.front());
  const Json last = Json::parse(verdicts.back());
  ASSERT_TRUE(first["cert"].is_string()) << verdicts.front();
  const std::string id = first["id"].get<std::string>();

  bool repaired = false;
  wait_for_status(cluster.dir(), 60'000, replica_b_repaired, &repaired);
  ASSERT_TRUE(repaired) << read_file(tmp.file("up.stderr"));

  // While `triad up` runs (and writes): WAL lets a reader in.
  std::string audit_out;
  EXPECT_EQ(run({bin("triad"), "audit", "--dir", cluster.dir(), id}, &audit_out), 0) << audit_out;
  EXPECT_NE(audit_out.find("certificate verified"), std::string::npos) << audit_out;

  EXPECT_EQ(cluster.stop(), 0);
  EXPECT_TRUE(processes_mentioning(tmp.path()).empty()) << "no Triad process is left";
  const std::string up_log = read_file(tmp.file("up.stderr"));
  EXPECT_NE(up_log.find(" 0 dropped (queue full), 0 failed"), std::string::npos) << up_log;

  // After the stop: every decision is there, the last one included.
  ASSERT_EQ(run({bin("triad"), "audit", "--dir", cluster.dir(), id}, &audit_out), 0) << audit_out;
  EXPECT_NE(audit_out.find("decision " + id + " (run 1, seq " +
                           std::to_string(first["seq"].get<std::uint64_t>()) + ")"),
            std::string::npos)
      << audit_out;
  EXPECT_NE(audit_out.find("  code        " + first["code"].get<std::string>()), std::string::npos)
      << audit_out;
  EXPECT_NE(audit_out.find("signature     replica "), std::string::npos) << audit_out;
  EXPECT_NE(audit_out.find("certificate verified: seq"), std::string::npos) << audit_out;

  ASSERT_EQ(
      run({bin("triad"), "audit", "--dir", cluster.dir(), "--json", last["id"].get<std::string>()},
          &audit_out),
      0)
      << audit_out;
  const Json j = Json::parse(audit_out);
  ASSERT_EQ(j["decisions"].size(), 1u);
  const Json& d = j["decisions"][0];
  EXPECT_EQ(d["seq"], last["seq"]);
  EXPECT_EQ(d["code"], last["code"]);
  EXPECT_EQ(d["agree"], last["agree"]);
  EXPECT_EQ(d["cert"], last["cert"]) << "the certificate the client got is the one kept";
  EXPECT_TRUE(d["certificate"]["verified"].get<bool>()) << audit_out;

  EXPECT_EQ(run({bin("triad"), "audit", "--dir", cluster.dir(), "no-such-id"}, &audit_out), 1);

  ASSERT_EQ(run({bin("triad"), "audit", "--dir", cluster.dir(), "--since", "1h"}, &audit_out), 0)
      << audit_out;
  EXPECT_NE(audit_out.find("divergence  replica b  seq "), std::string::npos) << audit_out;
  EXPECT_NE(audit_out.find("wrong_verdict"), std::string::npos) << audit_out;
  EXPECT_NE(audit_out.find("repair      replica b  healthy -> quarantined"), std::string::npos)
      << audit_out;
  EXPECT_NE(audit_out.find("-> healthy"), std::string::npos) << audit_out;
  ASSERT_EQ(
      run({bin("triad"), "audit", "--dir", cluster.dir(), "--since", "1h", "--json"}, &audit_out),
      0);
  const Json events = Json::parse(audit_out)["events"];
  std::set<std::string> types;
  std::int64_t previous_ms = 0;
  for (const Json& e : events) {
    types.insert(e["type"].get<std::string>());
    EXPECT_EQ(e["replica"], "b") << e;  // a and c are healthy
    EXPECT_GE(e["at"].get<std::int64_t>(), previous_ms) << "time-ordered";
    previous_ms = e["at"].get<std::int64_t>();
  }
  EXPECT_EQ(types, (std::set<std::string>{"divergence", "repair"}));
  EXPECT_EQ(
      run({bin("triad"), "audit", "--dir", cluster.dir(), "--since", "yesterday"}, &audit_out), 2);

  // By card: the decisions on the traffic's busiest card, found by its keyed
  // hash, are exactly the transactions sent with that PAN; the PAN is read
  // from standard input and shown only masked.
  std::map<std::string, std::set<std::string>> ids_by_pan;
  for (const auto& line : traffic) {
    const Json tx = Json::parse(line, nullptr, false);
    if (tx.is_object() && tx.contains("pan") && tx["pan"].is_string() && tx.contains("id") &&
        tx["id"].is_string()) {
      ids_by_pan[tx["pan"].get<std::string>()].insert(tx["id"].get<std::string>());
    }
  }
  const auto busiest = std::max_element(
      ids_by_pan.begin(), ids_by_pan.end(),
      [](const auto& x, const auto& y) { return x.second.size() < y.second.size(); });
  ASSERT_NE(busiest, ids_by_pan.end());
  const std::string card = busiest->first;
  ASSERT_GE(busiest->second.size(), 3u);
  write_file(tmp.file("card.txt"), card + "\n");
  ASSERT_EQ(run({bin("triad"), "audit", "--dir", cluster.dir(), "--card", "-", "--limit", "1000",
                 "--json"},
                &audit_out, tmp.file("card.txt")),
            0)
      << audit_out;
  EXPECT_EQ(audit_out.find(card), std::string::npos) << "the PAN is not printed";
  const Json by_card = Json::parse(audit_out);
  EXPECT_EQ(by_card["card"], mask_pan(card));
  EXPECT_EQ(by_card["card_ref"].get<std::string>().size(), 32u);
  EXPECT_FALSE(by_card["truncated"].get<bool>());
  std::set<std::string> found;
  for (const Json& row : by_card["decisions"]) found.insert(row["id"].get<std::string>());
  EXPECT_EQ(found, busiest->second);
  // The text form, with a limit of 2: the newest two, and a note that there
  // are more.
  ASSERT_EQ(run({bin("triad"), "audit", "--dir", cluster.dir(), "--card", card, "--limit", "2"},
                &audit_out),
            0)
      << audit_out;
  EXPECT_NE(audit_out.find("card " + mask_pan(card) + " (card ref "), std::string::npos)
      << audit_out;
  EXPECT_NE(audit_out.find("2 decisions, newest first (more: raise --limit)"), std::string::npos)
      << audit_out;
  EXPECT_EQ(audit_out.find(card), std::string::npos) << audit_out;
  // A card never seen: exit 1. Not a PAN: exit 2, and the text is not echoed.
  EXPECT_EQ(run({bin("triad"), "audit", "--dir", cluster.dir(), "--card", "4999999999999999"},
                &audit_out),
            1);
  EXPECT_EQ(
      run_with_stderr({bin("triad"), "audit", "--dir", cluster.dir(), "--card", "40000012345x7899"},
                      tmp.file("audit.stderr")),
      2);
  const std::string audit_err = read_file(tmp.file("audit.stderr"));
  EXPECT_NE(audit_err.find("not a PAN (12 to 19 digits)"), std::string::npos) << audit_err;
  EXPECT_EQ(audit_err.find("40000012345x7899"), std::string::npos) << audit_err;

  // Card data: not one PAN of the traffic, in any form, in the database.
  std::string db = read_file(cluster.dir() + "/audit.db");
  db += read_file(cluster.dir() + "/audit.db-wal");
  ASSERT_GT(db.size(), 0u);
  std::set<std::string> pans;
  for (const auto& line : traffic) {
    const Json tx = Json::parse(line);
    if (tx.contains("pan") && tx["pan"].is_string()) pans.insert(tx["pan"].get<std::string>());
  }
  ASSERT_FALSE(pans.empty());
  for (const std::string& pan : pans) {
    if (pan.size() < 12) continue;  // too short to be a card number, or to mean anything
    EXPECT_EQ(db.find(pan), std::string::npos) << "a PAN is in the audit store";
  }
}

// Only a fail-safe decline (91, 96) is the voter's own and has no
// certificate: an audit row with any other code and none is reported
// INVALID (exit 1), not passed as a fail-safe.
TEST(AuditProcess, ADecisionOtherThanAFailSafeWithoutACertificateIsInvalid) {
  TempDir tmp;
  const std::string dir = tmp.file("data");
  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
  {
    std::unique_ptr<audit::AuditStore> store;
    ASSERT_TRUE(audit::AuditStore::open(dir + "/audit.db", {}, &store).is_ok());
    audit::DecisionRow forged;
    forged.seq = 1;
    forged.id = "forged-1";
    forged.code = "00";
    forged.agree = "ab";
    audit::DecisionRow declined;
    declined.seq = 2;
    declined.id = "declined-2";
    declined.code = "91";
    declined.fail_safe = true;
    ASSERT_TRUE(store->add(forged));
    ASSERT_TRUE(store->add(declined));
    ASSERT_TRUE(store->close().is_ok());
  }
  std::string out;
  EXPECT_EQ(run({bin("triad"), "audit", "--dir", dir, "forged-1"}, &out), 1) << out;
  EXPECT_NE(out.find("INVALID: code 00 without a certificate"), std::string::npos) << out;
  EXPECT_EQ(run({bin("triad"), "audit", "--dir", dir, "declined-2"}, &out), 0) << out;
  EXPECT_NE(out.find("a fail-safe decline is signed by no replica"), std::string::npos) << out;
}

// A state directory in `tmp` with an empty audit store: its path.
std::string empty_audit_dir(const TempDir& tmp) {
  const std::string dir = tmp.file("data");
  EXPECT_EQ(::mkdir(dir.c_str(), 0700), 0);
  std::unique_ptr<audit::AuditStore> store;
  EXPECT_TRUE(audit::AuditStore::open(dir + "/audit.db", {}, &store).is_ok());
  EXPECT_TRUE(store->close().is_ok());
  return dir;
}

// An id that is not found is echoed in the error, with any run of 12 or
// more digits (spaces and dashes between them joined) masked as a PAN: a
// card number typed as an id was printed in clear.
TEST(AuditProcess, AnIdNotFoundIsEchoedWithItsDigitRunsMasked) {
  TempDir tmp;
  const std::string dir = empty_audit_dir(tmp);
  const std::string pan = "4760517392081886";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {pan, mask_pan(pan)},
      {"tx-" + pan + "-2", "tx-" + mask_pan(pan + "2")},  // digits joined across a dash
      {"4760 5173 9208 1886", mask_pan(pan)},
      {"tx-4760-5173-9208-1886-", "tx-" + mask_pan(pan) + "-"},
      {"4000001234567899999999", mask_pan("4000001234567899999999")},  // a PAN with more after it
      {"tx-12345678901:123456789012", "tx-12345678901:123456**9012"},
      {"tx-000042", "tx-000042"},
  };
  for (const auto& [id, shown] : cases) {
    SCOPED_TRACE(id);
    std::filesystem::remove(tmp.file("err"));
    EXPECT_EQ(run_with_stderr({bin("triad"), "audit", "--dir", dir, id}, tmp.file("err")), 1);
    EXPECT_EQ(read_file(tmp.file("err")),
              "triad audit: no decision for id '" + shown + "' in " + dir + "/audit.db\n");
  }
  EXPECT_EQ(mask_pan(pan), "476051******1886");
}

// `--card -` on standard input it cannot read (a directory): the read error
// is said, not taken for an empty input ("nothing on standard input").
TEST(AuditProcess, ACardOnStandardInputThatCannotBeReadIsAnError) {
  TempDir tmp;
  const std::string dir = empty_audit_dir(tmp);
  Child audit({bin("triad"), "audit", "--dir", dir, "--card", "-"}, tmp.path(), tmp.file("err"));
  EXPECT_EQ(audit.read_all(30'000), "");
  EXPECT_EQ(audit.wait(30'000), 2);
  EXPECT_EQ(read_file(tmp.file("err")),
            "triad audit: --card -: cannot read standard input: Is a directory\n");
}

}  // namespace
}  // namespace triad::testing
