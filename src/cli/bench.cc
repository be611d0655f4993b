// `triad bench`: open-loop latency measurement of a local cluster, and with
// --compare the same load against the transport floor and against TMR with one
// slow replica (interface.md; src/loadgen/).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/commands.h"
#include "loadgen/driver.h"
#include "loadgen/echo.h"
#include "loadgen/process.h"
#include "sample/sample.h"
#include "triad/transaction.h"

namespace triad::cli {
namespace {

volatile std::sig_atomic_t g_bench_stop = 0;
void on_bench_signal(int) { g_bench_stop = 1; }

constexpr const char* kBenchDescription =
    "Open-loop latency benchmark of a local Triad cluster.\n"
    "Requests go out on a fixed schedule (request i at start + i/rate) whatever the replies do;\n"
    "latency is measured from each request's SCHEDULED send time to its reply, so a stall is\n"
    "counted in full (no coordinated omission). Transactions (the sample generator's traffic)\n"
    "are encoded before the run. The first --warmup seconds are sent but not measured.\n"
    "Configurations:\n"
    "  tmr        `triad up --trust-client-time` on loopback with a sample card file\n"
    "  floor      (--compare) the transport floor: an echo front end that fans each request out\n"
    "             to three echo processes over loopback ZeroMQ and answers at the second reply;\n"
    "             no sequencing, rules, signatures, voting or batching: the process hops alone\n"
    "  tmr-delay  (--compare) TMR with `--inject b=delay:50`: replica b 50 ms late; the 2-of-3\n"
    "             early decision should hide it\n"
    "With --compare the configurations run one after another at each rate (interleaved), all on\n"
    "this machine: the load generator competes with the system under test for CPU.";

struct Config {
  std::string name;
  bool echo = false;
  std::string inject;  // for triad up, e.g. "b=delay:50"
  std::unique_ptr<loadgen::ChildProcess> process;
  std::string endpoint;
};

struct Measurement {
  std::string config;
  double rate = 0;
  loadgen::RunResult result;
};

double us(std::uint64_t ns) { return static_cast<double>(ns) / 1000.0; }

const std::vector<std::pair<std::string, double>> kPercentiles = {
    {"p50", 50}, {"p90", 90}, {"p99", 99}, {"p99.9", 99.9}, {"p99.99", 99.99}};

nlohmann::json to_json(const Measurement& m) {
  const auto& r = m.result;
  nlohmann::json lat = nlohmann::json::object();
  for (const auto& [name, p] : kPercentiles) lat[name] = us(r.latency.value_at_percentile(p));
  lat["max"] = us(r.latency.max());
  lat["min"] = us(r.latency.min());
  nlohmann::json codes = nlohmann::json::object();
  for (const auto& [code, n] : r.codes) codes[code] = n;
  return {{"configuration", m.config},
          {"offered_rate", r.offered_rate},
          {"achieved_rate", r.achieved_rate},
          {"sent", r.sent},
          {"measured", r.measured},
          {"answered", r.answered},
          {"unanswered", r.unanswered},
          {"errors", r.errors},
          {"fail_safe", r.fail_safe},
          {"divergences", r.divergences},
          {"codes", codes},
          {"latency_us", lat},
          {"max_send_lag_us", us(r.max_send_lag_ns)},
          {"interrupted", r.interrupted}};
}

const Measurement* find(const std::vector<Measurement>& all, const std::string& config,
                        double rate) {
  for (const auto& m : all) {
    if (m.config == config && m.rate == rate) return &m;
  }
  return nullptr;
}

double ratio(const Measurement* a, const Measurement* b, double p) {
  if (a == nullptr || b == nullptr) return 0;
  const auto den = b->result.latency.value_at_percentile(p);
  return den == 0 ? 0
                  : static_cast<double>(a->result.latency.value_at_percentile(p)) /
                        static_cast<double>(den);
}

void print_table(const std::vector<Measurement>& all) {
  std::printf("%-10s %7s %9s %9s %9s %9s %9s %9s %9s %6s %6s %6s  %s\n", "config", "offered",
              "achieved", "p50_us", "p90_us", "p99_us", "p99.9_us", "p99.99_us", "max_us", "failsf",
              "diverg", "unans", "codes");
  for (const auto& m : all) {
    const auto& r = m.result;
    std::string codes;
    for (const auto& [code, n] : r.codes) codes += code + ":" + std::to_string(n) + " ";
    if (r.errors > 0) codes += "errors:" + std::to_string(r.errors);
    std::printf("%-10s %7.0f %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f %6llu %6llu %6llu  %s\n",
                m.config.c_str(), r.offered_rate, r.achieved_rate,
                us(r.latency.value_at_percentile(50)), us(r.latency.value_at_percentile(90)),
                us(r.latency.value_at_percentile(99)), us(r.latency.value_at_percentile(99.9)),
                us(r.latency.value_at_percentile(99.99)), us(r.latency.max()),
                static_cast<unsigned long long>(r.fail_safe),
                static_cast<unsigned long long>(r.divergences),
                static_cast<unsigned long long>(r.unanswered), codes.c_str());
  }
}

}  // namespace

int run_bench_echo_command(int argc, char** argv) {
  CLI::App app{"(internal to triad bench) the transport-floor echo front end or replica."};
  std::string listen = "tcp://127.0.0.1:*";
  std::string replica;
  app.add_option("--listen", listen, "client endpoint of the echo front end");
  app.add_option("--replica", replica, "run as an echo replica connected to this endpoint");
  if (const auto done = parse(app, argc, argv)) return *done;
  if (!replica.empty()) return loadgen::run_echo_replica(replica);
  return loadgen::run_echo_frontend(listen, self_dir() + "/triad");
}

int run_bench_command(int argc, char** argv) {
  CLI::App app{kBenchDescription};
  std::vector<double> rates;
  double duration = 10;
  double warmup = 2;
  bool compare = false;
  bool json = false;
  std::string dir;
  std::size_t cards = 1000;
  int grace_ms = 3000;
  app.add_option("--rate", rates, "requests per second (repeatable, or a comma list; default 500)")
      ->delimiter(',')
      ->check(CLI::Range(0.1, 1e6));
  app.add_option("--duration", duration, "measured seconds per run")
      ->check(CLI::Range(0.1, 86400.0))
      ->capture_default_str();
  app.add_option("--warmup", warmup, "seconds sent first at the same rate, not measured")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  app.add_flag("--compare", compare,
               "also measure the transport floor and TMR with replica b delayed 50 ms");
  app.add_flag("--json", json, "print one JSON object instead of the table");
  app.add_option("--dir", dir,
                 "working directory (cards, cluster state, logs); default a "
                 "temporary one, removed at the end");
  app.add_option("--cards", cards, "cards in the generated card file")
      ->check(CLI::Range(1, 1'000'000))
      ->capture_default_str();
  app.add_option("--grace-ms", grace_ms, "wait for late replies after the last send")
      ->check(CLI::Range(0, 600'000))
      ->capture_default_str();
  if (const auto done = parse(app, argc, argv)) return *done;
  if (rates.empty()) rates.push_back(500);

  std::signal(SIGINT, on_bench_signal);
  std::signal(SIGTERM, on_bench_signal);
  std::signal(SIGPIPE, SIG_IGN);

  bool temp_dir = false;
  if (dir.empty()) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "triad-bench-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
      std::fprintf(stderr, "triad bench: cannot create a temporary directory\n");
      return 1;
    }
    dir = tmpl;
    temp_dir = true;
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  struct Cleanup {
    std::string dir;
    bool remove;
    ~Cleanup() {
      std::error_code e;
      if (remove) std::filesystem::remove_all(dir, e);
    }
  } cleanup{dir, temp_dir};

  // Sample data: one traffic slice per rate, the same for every configuration
  // (each configuration is its own cluster, so ids never repeat in one).
  sample::Options so;
  so.card_count = cards;
  std::vector<std::uint64_t> offsets;
  std::uint64_t total = 0;
  for (double rate : rates) {
    loadgen::RunOptions ro;
    ro.rate = rate;
    ro.duration_s = duration;
    ro.warmup_s = warmup;
    offsets.push_back(total);
    total += loadgen::request_count(ro);
  }
  so.transaction_count = total;
  const std::string cards_path = dir + "/cards.csv";
  std::ofstream(cards_path) << sample::generate_card_file(so);
  std::vector<Transaction> txs;
  txs.reserve(total);
  for (const std::string& line : sample::generate_traffic(so)) {
    Transaction tx;
    if (!parse_transaction_json(line, &tx).is_ok()) {
      std::fprintf(stderr, "triad bench: sample traffic did not parse\n");
      return 1;
    }
    txs.push_back(std::move(tx));
  }

  std::vector<Config> configs;
  if (compare) configs.push_back({"floor", true, "", nullptr, ""});
  configs.push_back({"tmr", false, "", nullptr, ""});
  if (compare) configs.push_back({"tmr-delay", false, "b=delay:50", nullptr, ""});

  const std::string triad_bin = self_dir() + "/triad";
  for (Config& c : configs) {
    std::vector<std::string> args;
    if (c.echo) {
      args = {triad_bin, "bench-echo", "--listen", "tcp://127.0.0.1:*"};
    } else {
      args = {triad_bin,          "up",       "--cards",           cards_path,           "--dir",
              dir + "/" + c.name, "--listen", "tcp://127.0.0.1:*", "--trust-client-time"};
      if (!c.inject.empty()) {
        args.push_back("--inject");
        args.push_back(c.inject);
      }
    }
    c.process = std::make_unique<loadgen::ChildProcess>(args, dir + "/" + c.name + ".stderr");
    const auto ep =
        c.process->started() ? loadgen::wait_ready_line(*c.process, 30'000) : std::nullopt;
    if (!ep) {
      std::fprintf(stderr, "triad bench: %s did not start (see %s/%s.stderr)\n", c.name.c_str(),
                   dir.c_str(), c.name.c_str());
      if (temp_dir) {
        std::ifstream err(dir + "/" + c.name + ".stderr");
        std::stringstream ss;
        ss << err.rdbuf();
        std::fputs(ss.str().c_str(), stderr);
      }
      return 1;
    }
    c.endpoint = *ep;
    if (g_bench_stop != 0) return 130;
  }

  std::vector<Measurement> all;
  for (std::size_t ri = 0; ri < rates.size(); ++ri) {
    for (Config& c : configs) {
      if (g_bench_stop != 0) break;
      loadgen::RunOptions ro;
      ro.endpoint = c.endpoint;
      ro.rate = rates[ri];
      ro.duration_s = duration;
      ro.warmup_s = warmup;
      ro.grace_ms = grace_ms;
      ro.stop = &g_bench_stop;
      const std::uint64_t n = loadgen::request_count(ro);
      std::fprintf(stderr, "triad bench: %s at %g/s for %g s (+%g s warm-up)...\n", c.name.c_str(),
                   rates[ri], duration, warmup);
      Measurement m{c.name, rates[ri], {}};
      std::string error;
      if (!loadgen::run_open_loop(ro, std::span<const Transaction>(txs).subspan(offsets[ri], n),
                                  &m.result, &error)) {
        std::fprintf(stderr, "triad bench: %s: %s\n", c.name.c_str(), error.c_str());
        return 1;
      }
      all.push_back(std::move(m));
    }
  }
  // Stop everything before printing (the destructors would too).
  for (Config& c : configs) c.process->stop(20'000);

  if (json) {
    nlohmann::json out = {{"duration_s", duration},
                          {"warmup_s", warmup},
                          {"rates", rates},
                          {"interrupted", g_bench_stop != 0}};
    out["configurations"] = nlohmann::json::array();
    for (const auto& m : all) out["configurations"].push_back(to_json(m));
    if (compare) {
      out["ratios"] = nlohmann::json::array();
      for (double rate : rates) {
        const auto* floor = find(all, "floor", rate);
        const auto* tmr = find(all, "tmr", rate);
        const auto* delayed = find(all, "tmr-delay", rate);
        out["ratios"].push_back({{"rate", rate},
                                 {"tmr_over_floor_p50", ratio(tmr, floor, 50)},
                                 {"tmr_over_floor_p99", ratio(tmr, floor, 99)},
                                 {"tmr_delay_over_tmr_p99", ratio(delayed, tmr, 99)}});
      }
    }
    std::printf("%s\n", out.dump().c_str());
  } else {
    print_table(all);
    if (g_bench_stop != 0) std::printf("(interrupted: the last run is partial)\n");
    if (compare) {
      for (double rate : rates) {
        const auto* floor = find(all, "floor", rate);
        const auto* tmr = find(all, "tmr", rate);
        const auto* delayed = find(all, "tmr-delay", rate);
        auto fmt = [](double x) {
          char buf[32];
          std::snprintf(buf, sizeof buf, "%.2fx", x);
          return x > 0 ? std::string(buf) : std::string("n/a");
        };
        std::printf("rate %g/s: TMR/floor p50 %s, p99 %s; TMR-delay/TMR p99 %s\n", rate,
                    fmt(ratio(tmr, floor, 50)).c_str(), fmt(ratio(tmr, floor, 99)).c_str(),
                    fmt(ratio(delayed, tmr, 99)).c_str());
      }
    }
  }
  return g_bench_stop != 0 ? 130 : 0;
}

}  // namespace triad::cli
