// Card data (PCI DSS 3.3-3.5): after a full run, no PAN of the run appears in
// clear in any file Triad left behind. The run exercises every writer: the
// input journal, the audit store (decisions, divergences, repairs), the
// front end's and the replicas' logs (divergences, a crash and a snapshot
// repair, client errors on bad lines), a kill -9 of the front end and a
// restart that recovers from the journal, `triad status` and `triad audit`;
// and no process of the cluster may dump core.
// The scan covers every regular file under the state directory and the
// front end's standard error; it is shown to find PANs where they are (the
// operator's own card file, outside the state directory).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "cluster.h"
#include "process_util.h"
#include "sample/sample.h"
#include "status_util.h"
#include "triad/transaction.h"

namespace triad::testing {
namespace {

using Json = nlohmann::json;

// Every PAN of the run: the card file's and the traffic's (unknown cards too).
std::set<std::string> pans_of(const std::string& cards_csv, const std::vector<std::string>& lines) {
  std::set<std::string> pans;
  std::stringstream ss(cards_csv);
  std::string row;
  while (std::getline(ss, row)) {
    const std::string pan = row.substr(0, row.find(','));
    if (pan.size() >= 12 && pan.find_first_not_of("0123456789") == std::string::npos) {
      pans.insert(pan);
    }
  }
  for (const std::string& line : lines) {
    const Json j = Json::parse(line, nullptr, false);
    if (j.is_object() && j.contains("pan") && j["pan"].is_string()) {
      pans.insert(j["pan"].get<std::string>());
    }
  }
  return pans;
}

// "file: PAN (masked)" for every PAN found in clear in these files.
std::vector<std::string> scan(const std::vector<std::string>& files,
                              const std::set<std::string>& pans) {
  std::vector<std::string> found;
  for (const std::string& f : files) {
    const std::string bytes = read_file(f);
    for (const std::string& pan : pans) {
      if (bytes.find(pan) != std::string::npos) found.push_back(f + ": " + mask_pan(pan));
    }
  }
  return found;
}

std::vector<std::string> files_under(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) out.push_back(e.path().string());
  }
  return out;
}

bool all_healthy_after_repair(const Json& s) {
  if (!s.contains("replicas")) return false;
  int repairs = 0;
  for (const Json& r : s["replicas"]) {
    if (r.value("state", "") != "healthy") return false;
    repairs += r.value("repairs", 0);
  }
  return repairs >= 2;
}

TEST(PanScan, NoPanOfTheRunIsLeftInClearInAnyFile) {
  TempDir tmp;
  sample::Options options;
  options.seed = 21;
  options.card_count = 100;
  options.transaction_count = 3000;
  const std::string cards = sample::generate_card_file(options);
  write_file(tmp.file("cards.csv"), cards);
  std::vector<std::string> traffic = sample::generate_traffic(options);
  // Bad input that still carries a PAN: a wrong field type (sequenced,
  // declined 30), an invalid id and a reused id (client errors, not
  // sequenced), a card the file does not know (14).
  traffic.push_back(R"({"id":"bad-amount","pan":"4000001234567899","amount":"ten"})");
  traffic.push_back(R"({"id":"bad id with spaces","pan":"4000001234567899","amount":100})");
  traffic.push_back(R"({"id":"tx-000001","pan":"4000009876543210","amount":1})");
  traffic.push_back(R"({"id":"unknown-card","pan":"4999999999999999","amount":100})");
  const std::set<std::string> pans = pans_of(cards, traffic);
  ASSERT_GT(pans.size(), 100u);
  std::string first_half;
  std::string second_half;
  for (std::size_t i = 0; i < traffic.size(); ++i) {
    (i < traffic.size() / 2 ? first_half : second_half) += traffic[i] + "\n";
  }
  write_file(tmp.file("first.jsonl"), first_half);
  write_file(tmp.file("second.jsonl"), second_half);

  std::string out;
  {
    // b flips (divergences logged, then repaired), c crashes (repaired from a
    // snapshot): every path that writes about a transaction runs.
    Cluster cluster(
        tmp, tmp.file("cards.csv"),
        {"--inject", "b=flip:0.02", "--inject", "c=crash:700", "--seed", "5", "--checkpoint-every",
         "200", "--snapshot-every", "500", "--deadline-ms", "60000"});
    ASSERT_TRUE(cluster.ready()) << read_file(tmp.file("up.stderr"));
    // No core dump can write card state to disk: the front end and the
    // replicas run with a core file limit of zero.
    const std::vector<pid_t> pids = processes_mentioning(tmp.path());
    ASSERT_GE(pids.size(), 4u);
    for (const pid_t pid : pids) {
      const std::string limits = read_file("/proc/" + std::to_string(pid) + "/limits");
      EXPECT_NE(limits.find("Max core file size        0                    0"), std::string::npos)
          << "pid " << pid << "\n"
          << limits;
    }
    // So does `triad submit`, which reads PANs (here from a front end that
    // is not there, so that it waits).
    {
      Child submit({bin("triad"), "submit", "--endpoint", "tcp://127.0.0.1:9", "--timeout-ms",
                    "10000", tmp.file("first.jsonl")},
                   "", tmp.file("submit.stderr"));
      ASSERT_TRUE(submit.started());
      // Read until main() has run (the limit is set first thing there), for
      // up to 5 s.
      const std::string zero = "Max core file size        0                    0";
      std::string limits;
      for (int i = 0; i < 250 && limits.find(zero) == std::string::npos; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        limits = read_file("/proc/" + std::to_string(submit.pid()) + "/limits");
      }
      EXPECT_NE(limits.find(zero), std::string::npos) << limits;
      submit.signal(SIGTERM);
      submit.wait(10'000);
    }
    // While c is down and being repaired, a seq that b flipped has one good
    // verdict and waits for c (replies go in order): the front end can be
    // silent for many seconds under a sanitizer, so submit waits as long as
    // the deadline before it gives up.
    ASSERT_EQ(
        submit_file(cluster, tmp.file("first.jsonl"), &out, {"--timeout-ms", "90000"}, 300'000), 0)
        << out;
    bool repaired = false;
    wait_for_status(cluster.dir(), 60'000, all_healthy_after_repair, &repaired);
    EXPECT_TRUE(repaired) << read_file(tmp.file("up.stderr"));
    EXPECT_EQ(run({bin("triad"), "audit", "--dir", cluster.dir(), "tx-000001"}, &out), 0) << out;
    // The front end dies without a chance to clean up; its replicas follow.
    cluster.process().signal(SIGKILL);
    cluster.process().wait(10'000);
  }
  std::filesystem::rename(tmp.file("up.stderr"), tmp.file("up-killed.stderr"));
  for (int i = 0; i < 50 && !processes_mentioning(tmp.path()).empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(processes_mentioning(tmp.path()).empty());
  {
    // Restart: recovery from the stored snapshot, replaying the journal
    // after it; then the rest of the traffic.
    Cluster cluster(
        tmp, tmp.file("cards.csv"),
        {"--deadline-ms", "60000", "--checkpoint-every", "200", "--snapshot-every", "500"});
    ASSERT_TRUE(cluster.ready()) << read_file(tmp.file("up.stderr"));
    ASSERT_EQ(
        submit_file(cluster, tmp.file("second.jsonl"), &out, {"--timeout-ms", "90000"}, 300'000), 0)
        << out;
    EXPECT_EQ(run({bin("triad"), "status", "--dir", cluster.dir()}, &out), 0) << out;
    EXPECT_EQ(cluster.stop(), 0);
  }
  EXPECT_TRUE(processes_mentioning(tmp.path()).empty()) << "no Triad process is left";

  std::vector<std::string> files = files_under(tmp.file("data"));
  files.push_back(tmp.file("up-killed.stderr"));
  files.push_back(tmp.file("up.stderr"));
  // What the run wrote: the journal, the audit store, every log.
  const auto has = [&](const std::string& part) {
    for (const auto& f : files) {
      if (f.find(part) != std::string::npos) return true;
    }
    return false;
  };
  EXPECT_TRUE(has("journal")) << "the scan must cover the journal";
  EXPECT_TRUE(has("audit.db")) << "the scan must cover the audit store";
  EXPECT_TRUE(has("data/snapshot")) << "the scan must cover the stored snapshot";
  EXPECT_TRUE(has("data/certificates")) << "the scan must cover the certificates";
  EXPECT_TRUE(has("replica-c")) << "the scan must cover the replicas' logs";
  // What Triad wrote under DIR is its own: no file or directory there
  // (audit store, logs, journal, keys) is open to group or others. Until
  // 2026-12-06 the audit store and the logs were 0644 and DIR 0755 (a
  // review helper's finding).
  const auto others = std::filesystem::perms::group_all | std::filesystem::perms::others_all;
  EXPECT_EQ(std::filesystem::status(tmp.file("data")).permissions() & others,
            std::filesystem::perms::none)
      << "DIR is open to group or others";
  for (const auto& entry : std::filesystem::recursive_directory_iterator(tmp.file("data"))) {
    if (entry.is_symlink()) continue;
    const auto perms = entry.status().permissions();
    const bool public_key = entry.path().extension() == ".pub";
    EXPECT_TRUE(public_key || (perms & others) == std::filesystem::perms::none)
        << entry.path() << " is open to group or others";
  }
  const std::vector<std::string> found = scan(files, pans);
  EXPECT_TRUE(found.empty()) << found.size()
                             << " PAN(s) in clear, first: " << (found.empty() ? "" : found.front());
  // The scan finds a PAN where one is: the operator's card file.
  EXPECT_FALSE(scan({tmp.file("cards.csv")}, pans).empty());
  RecordProperty("files_scanned", static_cast<int>(files.size()));
  RecordProperty("pans_checked", static_cast<int>(pans.size()));
}

}  // namespace
}  // namespace triad::testing
