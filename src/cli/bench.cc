// `triad bench`: open-loop latency measurement of a local cluster, and with
// --compare the same load against the transport floor and against TMR with one
// slow replica; with --sweep, rising rates until each configuration saturates
// (its knee); with --svg, the pictures (interface.md; src/loadgen/).
#include <sys/utsname.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <thread>

#include "cli/commands.h"
#include "cli/options.h"
#include "common/layout.h"
#include "common/stop_signals.h"
#include "frontend/keys.h"
#include "loadgen/cpu.h"
#include "loadgen/driver.h"
#include "loadgen/echo.h"
#include "loadgen/plot.h"
#include "loadgen/process.h"
#include "loadgen/spread.h"
#include "sample/sample.h"
#include "triad/status.h"
#include "triad/transaction.h"

namespace triad::cli {
namespace {

// What `triad bench` can measure. Adding a configuration is adding a row: the
// help text, the runs, the table, the JSON and the pictures all follow this
// table, in this order (cheapest first, so the floor is measured first at
// each rate).
struct ConfigSpec {
  std::string name;
  bool echo_floor = false;    // the transport-floor echo processes instead of `triad up`
  bool compare_only = false;  // measured only with --compare
  bool echo_journal = false;  // the echo front end writes and syncs a journal (echo.h)
  std::vector<std::string> up_args = {};  // extra `triad up` arguments
  std::string help = {};
};

const std::vector<ConfigSpec> kConfigs = {
    {.name = "floor",
     .echo_floor = true,
     .compare_only = true,
     .help = "the transport floor: an echo front end that fans each request out\n"
             "to three echo processes over loopback ZeroMQ and answers at the second reply;\n"
             "no sequencing, rules, signatures, voting or batching: the process hops alone"},
    {.name = "floor-sync",
     .echo_floor = true,
     .compare_only = true,
     .echo_journal = true,
     .help = "the transport floor plus the durable journal's share of the path: each turn's\n"
             "requests written to a file before the fan-out and fdatasynced by the front end's\n"
             "background sync thread, the answer held for the sync (as `--fsync batch`)"},
    {.name = "simplex",
     .compare_only = true,
     .up_args = {"--simplex"},
     .help = "`triad up --simplex`: replica a alone, same code, same signing, its verdict\n"
             "decides without a vote (no fault tolerance)"},
    {.name = "tmr", .help = "`triad up --trust-client-time` on loopback with a sample card file"},
    {.name = "tmr-nosync",
     .compare_only = true,
     .up_args = {"--fsync", "never"},
     .help = "TMR with `--fsync never`: the input journal is written but never fdatasynced\n"
             "(answers do not wait for a sync), which shows what the durable journal costs"},
    {.name = "tmr-delay",
     .compare_only = true,
     .up_args = {"--inject", "b=delay:50"},
     .help = "TMR with `--inject b=delay:50`: replica b 50 ms late; the 2-of-3 early\n"
             "decision should hide it"},
};

// Latency ratios printed when both configurations were measured at a rate.
struct RatioSpec {
  std::string numerator;
  std::string denominator;
};
const std::vector<RatioSpec> kRatios = {{"tmr", "floor"},
                                        {"tmr", "floor-sync"},
                                        {"tmr", "simplex"},
                                        {"tmr-nosync", "floor"},
                                        {"tmr-delay", "tmr"}};

// Sweep defaults: 500/s doubling up to 64,000/s covers the knee of the floor
// and of TMR on the machines this runs on; a run stops earlier once every
// configuration has saturated.
constexpr double kSweepFromDefault = 500;
constexpr double kSweepFactorDefault = 2;
constexpr double kSweepMaxDefault = 64000;
constexpr double kSweepP99LimitMsDefault = 1000;
// Below this share of the offered rate answered as decisions, a run did not
// hold its rate.
constexpr double kHeldShare = 0.95;

std::string bench_description() {
  std::string d =
      "Open-loop latency benchmark of a local Triad cluster.\n"
      "Requests go out on a fixed schedule (request i at start + i/rate) whatever the replies "
      "do;\n"
      "latency is measured from each request's SCHEDULED send time to its reply, so a stall is\n"
      "counted in full (no coordinated omission). Transactions (the sample generator's traffic)\n"
      "are encoded before the run. The first --warmup seconds are sent but not measured.\n"
      "With --batch-window-us W the requests due go out together, one frame at most every W us\n"
      "(client-side batching, as a switch front end under load would do); their latency still\n"
      "counts from each one's own scheduled time, so the wait for the batch is in it.\n"
      "Configurations:\n";
  for (const ConfigSpec& c : kConfigs) {
    std::string help = c.help;
    for (std::size_t at = 0; (at = help.find('\n', at)) != std::string::npos; at += 14) {
      help.replace(at, 1, "\n             ");
    }
    char head[32];
    std::snprintf(head, sizeof head, "  %-10s %s", c.name.c_str(),
                  c.compare_only ? "(--compare) " : "");
    d += head + help + "\n";
  }
  d += "With --compare the configurations run one after another at each rate (interleaved),\n"
       "all on this machine: the load generator competes with the system under test for CPU.\n"
       "--rounds N repeats that sequence N times and merges each configuration's runs, so a\n"
       "slow spell of a shared machine is spread over all of them (ratios are steadier);\n"
       "each ratio is then also printed round by round (lowest-highest, median), and --json\n"
       "has each run's p50 and p99 (\"rounds\") and each ratio per round (\"..._rounds\").\n"
       "--sweep raises the rate step by step (--sweep-from, times --sweep-factor, up to\n"
       "--sweep-max, or the --rate list) and drops a configuration at its first step that does\n"
       "not hold: decisions/s below 95% of the offered rate, a request refused or unanswered,\n"
       "a fail-safe decline, or p99 above --sweep-p99-ms. Its knee is the highest rate that\n"
       "held. Every run starts a fresh cluster, so no rate inherits the state or the backlog of\n"
       "the one before. A line per run goes to standard error. --svg FILE draws latency against\n"
       "throughput (p50, p99, p99.9) and the percentile spectrum at each rate.";
  return d;
}

struct Config {
  const ConfigSpec* spec = nullptr;
  bool active = true;  // false once saturated in a sweep
};

// One run's own percentiles, kept when runs merge, so that ratios can also
// be given round by round.
struct RoundLatency {
  int round = 0;
  double p50_us = 0;
  double p99_us = 0;
};

struct Measurement {
  std::string config;
  double rate = 0;
  loadgen::RunResult result;
  std::string saturation;  // why it did not hold its rate; empty when it held
  // CPU per request sent (warm-up included), in µs: the system under test
  // (every process of the configuration) and the load generator.
  double sut_cpu_us = 0;
  double generator_cpu_us = 0;
  std::vector<RoundLatency> rounds = {};  // in the order run
};

double us(std::uint64_t ns) { return static_cast<double>(ns) / 1000.0; }

const std::vector<std::pair<std::string, double>> kPercentiles = {
    {"p50", 50}, {"p90", 90}, {"p99", 99}, {"p99.9", 99.9}, {"p99.99", 99.99}};

// Decisions per second: the achieved rate without the refusals (an
// "overloaded" error is a reply, not a decision).
double decision_rate(const loadgen::RunResult& r) {
  if (r.answered == 0) return 0;
  return r.achieved_rate() * static_cast<double>(r.answered - r.errors) /
         static_cast<double>(r.answered);
}

std::string saturation_of(const loadgen::RunResult& r, double p99_limit_ms) {
  char buf[96];
  if (r.interrupted) return "interrupted";
  if (r.unanswered > 0) {
    std::snprintf(buf, sizeof buf, "%llu unanswered",
                  static_cast<unsigned long long>(r.unanswered));
    return buf;
  }
  if (r.errors > 0) {
    std::snprintf(buf, sizeof buf, "%llu refused", static_cast<unsigned long long>(r.errors));
    return buf;
  }
  // A fail-safe decline is the voter giving up on a deadline: at a rate the
  // cluster really holds there is none.
  if (r.fail_safe > 0) {
    std::snprintf(buf, sizeof buf, "%llu fail-safe", static_cast<unsigned long long>(r.fail_safe));
    return buf;
  }
  const double share = r.offered_rate > 0 ? decision_rate(r) / r.offered_rate : 0;
  if (share < kHeldShare) {
    std::snprintf(buf, sizeof buf, "achieved %.0f%% of offered", 100 * share);
    return buf;
  }
  const double p99_ms = us(r.latency.value_at_percentile(99)) / 1000;
  if (p99_ms > p99_limit_ms) {
    std::snprintf(buf, sizeof buf, "p99 %.0f ms > %.0f ms", p99_ms, p99_limit_ms);
    return buf;
  }
  return "";
}

nlohmann::json to_json(const Measurement& m) {
  const auto& r = m.result;
  nlohmann::json lat = nlohmann::json::object();
  for (const auto& [name, p] : kPercentiles) lat[name] = us(r.latency.value_at_percentile(p));
  lat["max"] = us(r.latency.max());
  lat["min"] = us(r.latency.min());
  nlohmann::json codes = nlohmann::json::object();
  for (const auto& [code, n] : r.codes) codes[code] = n;
  nlohmann::json rounds = nlohmann::json::array();
  for (const RoundLatency& each : m.rounds) {
    rounds.push_back({{"round", each.round}, {"p50", each.p50_us}, {"p99", each.p99_us}});
  }
  return {{"configuration", m.config},
          {"offered_rate", r.offered_rate},
          {"achieved_rate", r.achieved_rate()},
          {"decision_rate", decision_rate(r)},
          {"held", m.saturation.empty()},
          {"saturation", m.saturation},
          {"sent", r.sent},
          {"measured", r.measured},
          {"answered", r.answered},
          {"unanswered", r.unanswered},
          {"errors", r.errors},
          {"first_error", r.first_error},
          {"fail_safe", r.fail_safe},
          {"divergences", r.divergences},
          {"codes", codes},
          {"latency_us", lat},
          {"max_send_lag_us", us(r.max_send_lag_ns)},
          {"frames_sent", r.frames_sent},
          {"cpu_us_per_request", {{"system", m.sut_cpu_us}, {"generator", m.generator_cpu_us}}},
          {"interrupted", r.interrupted},
          {"rounds", rounds}};
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

// a/b of one percentile (&RoundLatency::p50_us or p99_us) in each round both
// ran, in the order of a's rounds.
std::vector<double> round_ratios(const Measurement* a, const Measurement* b,
                                 double RoundLatency::*percentile) {
  std::vector<double> out;
  if (a == nullptr || b == nullptr) return out;
  for (const RoundLatency& ra : a->rounds) {
    for (const RoundLatency& rb : b->rounds) {
      if (rb.round == ra.round && rb.*percentile > 0) {
        out.push_back(ra.*percentile / rb.*percentile);
      }
    }
  }
  return out;
}

// "tmr-delay" -> "tmr_delay", for JSON keys.
std::string key_name(std::string name) {
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

void print_table(const std::vector<Measurement>& all) {
  std::printf("%-10s %7s %9s %9s %9s %9s %9s %9s %9s %6s %6s %6s %7s %7s  %-26s %s\n", "config",
              "offered", "achieved", "p50_us", "p90_us", "p99_us", "p99.9_us", "p99.99_us",
              "max_us", "failsf", "diverg", "unans", "cpu_sys", "cpu_gen", "held", "codes");
  for (const auto& m : all) {
    const auto& r = m.result;
    std::string codes;
    for (const auto& [code, n] : r.codes) codes += code + ":" + std::to_string(n) + " ";
    if (r.errors > 0) codes += "errors:" + std::to_string(r.errors);
    const std::string held = m.saturation.empty() ? "yes" : "NO: " + m.saturation;
    std::printf(
        "%-10s %7.0f %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f %6llu %6llu %6llu %7.1f %7.1f  "
        "%-26s "
        "%s\n",
        m.config.c_str(), r.offered_rate, r.achieved_rate(), us(r.latency.value_at_percentile(50)),
        us(r.latency.value_at_percentile(90)), us(r.latency.value_at_percentile(99)),
        us(r.latency.value_at_percentile(99.9)), us(r.latency.value_at_percentile(99.99)),
        us(r.latency.max()), static_cast<unsigned long long>(r.fail_safe),
        static_cast<unsigned long long>(r.divergences),
        static_cast<unsigned long long>(r.unanswered), m.sut_cpu_us, m.generator_cpu_us,
        held.c_str(), codes.c_str());
  }
}

// Per configuration, the highest rate that held before the first that did
// not: the knee of a sweep.
struct Knee {
  std::string config;
  const Measurement* held = nullptr;     // null: not even the first rate held
  const Measurement* stopped = nullptr;  // null: held up to the last rate
};

std::vector<Knee> knees(const std::vector<Config>& configs, const std::vector<Measurement>& all) {
  std::vector<Knee> out;
  for (const Config& c : configs) {
    Knee k{c.spec->name};
    for (const Measurement& m : all) {
      if (m.config != c.spec->name || k.stopped != nullptr) continue;
      if (m.saturation.empty()) {
        k.held = &m;
      } else {
        k.stopped = &m;
      }
    }
    out.push_back(k);
  }
  return out;
}

// A sweep's rates when no --rate list is given: from, from * factor, ... up
// to max.
std::vector<double> sweep_rates(double from, double factor, double max) {
  std::vector<double> rates;
  for (double r = from; r <= max * (1 + 1e-9); r *= factor) rates.push_back(r);
  return rates;
}

// Starts `spec` with its state in `state_dir` (emptied first) and sets
// *endpoint to its client endpoint and *client_keys to what the driver needs
// to reach it: with `curve`, the keys `triad up` (or, for the floor, this
// function) made in `state_dir`. Unavailable, with the child's standard error,
// when it does not print its ready line in time.
// What every configuration's system is started with, whichever it is.
struct SystemOptions {
  bool curve = true;
  // Appended to each `triad up` (not to the floors' echo processes).
  std::vector<std::string> up_args = {};
};

Status start_config(const ConfigSpec& spec, const std::string& cards_path,
                    const std::string& state_dir, const std::string& stderr_path,
                    const SystemOptions& system, std::unique_ptr<loadgen::ChildProcess>* process,
                    std::string* endpoint, transport::CurveClient* client_keys) {
  const bool curve = system.curve;
  const std::string triad_bin = self_dir() + "/triad";
  std::vector<std::string> args;
  std::error_code ec;
  std::filesystem::remove_all(state_dir, ec);
  if (spec.echo_floor) {
    args = {triad_bin, "bench-echo", "--listen", "tcp://127.0.0.1:*"};
    if (spec.echo_journal) {
      std::filesystem::create_directories(state_dir, ec);
      args.insert(args.end(), {"--journal", state_dir + "/journal"});
    }
    if (curve) {
      TRIAD_RETURN_IF_ERROR(frontend::ensure_curve_keys(state_dir, nullptr));
      args.insert(args.end(), {"--curve-dir", state_dir});
    }
  } else {
    args = {triad_bin, "up",       "--cards",           cards_path,           "--dir",
            state_dir, "--listen", "tcp://127.0.0.1:*", "--trust-client-time"};
    args.insert(args.end(), spec.up_args.begin(), spec.up_args.end());
    args.insert(args.end(), system.up_args.begin(), system.up_args.end());
    if (!curve) args.push_back("--no-curve");
  }
  // The file gathers every run of this configuration (rounds, rates): a
  // failure shows what this start wrote, not the runs before it.
  const std::uintmax_t before = std::filesystem::file_size(stderr_path, ec);  // ec: none yet
  *process = std::make_unique<loadgen::ChildProcess>(args, stderr_path);
  const auto ep =
      (*process)->started() ? loadgen::wait_ready_line(**process, 30'000) : std::nullopt;
  if (!ep) {
    std::ifstream err(stderr_path);
    err.seekg(static_cast<std::streamoff>(ec ? 0 : before));
    std::stringstream ss;
    ss << err.rdbuf();
    return Status::unavailable(spec.name + " did not start (see " + stderr_path + ")\n" + ss.str());
  }
  *endpoint = *ep;
  *client_keys = transport::CurveClient{};
  if (!curve) return Status::ok();
  return transport::load_curve_client(
      state_dir, layout::curve_client_secret_key(state_dir, layout::kCurveLocalClient),
      client_keys);
}

// "host (Linux 6.1 x86_64, 2 CPUs, model) 2025-01-01 12:00 UTC" for titles.
std::string machine_and_time() {
  std::string s;
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) == 0) s += host;
  utsname u{};
  if (::uname(&u) == 0) s += std::string(" (") + u.sysname + " " + u.release + " " + u.machine;
  s += ", " + std::to_string(std::thread::hardware_concurrency()) + " CPUs";
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    if (line.rfind("model name", 0) == 0 && line.find(':') != std::string::npos) {
      s += ", " + line.substr(line.find(':') + 2);
      break;
    }
  }
  s += ")";
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char when[40];
  std::strftime(when, sizeof when, " %Y-%m-%d %H:%M UTC", &tm);
  return s + when;
}

loadgen::Figure figure_of(const std::vector<Config>& configs, const std::vector<double>& rates,
                          const std::vector<Measurement>& all, double duration_s,
                          const std::string& subtitle) {
  using loadgen::Axis;
  using loadgen::Markers;
  using loadgen::Scale;
  loadgen::Figure f;
  f.title = "triad bench: open-loop latency (" + std::to_string(std::lround(duration_s)) +
            " s per run, from scheduled send time)";
  f.subtitle = subtitle;
  const Axis latency_axis{
      "latency (log scale; µs, ms, s)", Scale::kLog, false, {}, loadgen::format_duration_us};

  loadgen::Chart curve;
  curve.title = "Latency against throughput";
  // Log x: a sweep's rates grow by a factor, so each step gets the same width.
  curve.x = {"achieved decisions per second (log scale)", Scale::kLog, false, {}, [](double v) {
               char buf[32];
               std::snprintf(buf, sizeof buf, "%.0f", v);
               return std::string(buf);
             }};
  curve.y = latency_axis;
  curve.note =
      "One point per offered rate, rising; open circles: runs that did not hold their rate.";
  const std::vector<std::pair<std::string, std::pair<double, std::string>>> lines = {
      {"p50", {50, ""}}, {"p99", {99, "7,4"}}, {"p99.9", {99.9, "2,3"}}};
  for (std::size_t ci = 0; ci < configs.size(); ++ci) {
    for (const auto& [label, pct_dash] : lines) {
      loadgen::Series s{configs[ci].spec->name + " " + label,
                        loadgen::palette_color(ci),
                        pct_dash.second,
                        Markers::kAll,
                        {}};
      for (double rate : rates) {
        const Measurement* m = find(all, configs[ci].spec->name, rate);
        if (m == nullptr) continue;
        s.points.push_back({decision_rate(m->result),
                            us(m->result.latency.value_at_percentile(pct_dash.first)),
                            !m->saturation.empty()});
      }
      curve.series.push_back(std::move(s));
    }
  }
  f.charts.push_back(std::move(curve));

  for (double rate : rates) {
    loadgen::Chart spectrum;
    char title[64];
    std::snprintf(title, sizeof title, "Percentile spectrum at %g requests/s offered", rate);
    spectrum.title = title;
    spectrum.x = {"percentile (log scale of 1/(1-q)); lines run from the minimum to the maximum",
                  Scale::kLog,
                  false,
                  {},
                  {}};
    spectrum.y = latency_axis;
    std::string saturated;
    double hi = 10;
    for (std::size_t ci = 0; ci < configs.size(); ++ci) {
      const Measurement* m = find(all, configs[ci].spec->name, rate);
      if (m == nullptr) continue;
      loadgen::Series s{configs[ci].spec->name, loadgen::palette_color(ci), "", Markers::kLast,
                        loadgen::percentile_spectrum(m->result.latency)};
      hi = std::max(hi, static_cast<double>(m->result.latency.count()));
      if (!m->saturation.empty()) {
        saturated += (saturated.empty() ? "" : "; ") + m->config + ": " + m->saturation;
      }
      spectrum.series.push_back(std::move(s));
    }
    if (spectrum.series.empty()) continue;
    spectrum.x.ticks = loadgen::percentile_ticks(hi * 10);
    if (!saturated.empty()) spectrum.note = "Did not hold the rate: " + saturated;
    f.charts.push_back(std::move(spectrum));
  }
  return f;
}

// One run of `spec` at ro->rate on a fresh cluster: latency, counts and the
// CPU time it took. A line goes to standard error. Fails when the cluster
// does not start or does not answer.
Status measure(const ConfigSpec& spec, const std::string& cards_path, const std::string& dir,
               const SystemOptions& system, double p99_limit_ms, const std::string& progress,
               std::span<const Transaction> txs, loadgen::RunOptions* ro, Measurement* m) {
  const std::string& name = spec.name;
  std::unique_ptr<loadgen::ChildProcess> process;
  TRIAD_RETURN_IF_ERROR(start_config(spec, cards_path, dir + "/" + name,
                                     dir + "/" + name + ".stderr", system, &process, &ro->endpoint,
                                     &ro->curve));
  std::fprintf(stderr, "triad bench: %s %-10s %8g/s for %g s (+%g s warm-up): ", progress.c_str(),
               name.c_str(), ro->rate, ro->duration_s, ro->warmup_s);
  std::fflush(stderr);
  const std::uint64_t sut_cpu_before = loadgen::process_tree_cpu_us(process->pid());
  const std::uint64_t generator_cpu_before = loadgen::self_cpu_us();
  std::string error;
  if (!loadgen::run_open_loop(*ro, txs, &m->result, &error)) {
    std::fprintf(stderr, "\n");
    return Status::unavailable(name + ": " + error);
  }
  const double sent = static_cast<double>(std::max<std::uint64_t>(m->result.sent, 1));
  // A replica restarted during the run takes its CPU time with it: then
  // the figure is a lower bound, never a wrapped-around one.
  const std::uint64_t sut_cpu_after = loadgen::process_tree_cpu_us(process->pid());
  m->sut_cpu_us =
      static_cast<double>(sut_cpu_after - std::min(sut_cpu_after, sut_cpu_before)) / sent;
  m->generator_cpu_us = static_cast<double>(loadgen::self_cpu_us() - generator_cpu_before) / sent;
  // Stopped before the next run, so it takes no CPU from it.
  process->stop(20'000);
  const auto& r = m->result;
  const std::string saturation = saturation_of(r, p99_limit_ms);
  std::fprintf(stderr, "achieved %.0f/s, p50 %s, p99 %s, max %s: %s\n", decision_rate(r),
               loadgen::format_duration_us(us(r.latency.value_at_percentile(50))).c_str(),
               loadgen::format_duration_us(us(r.latency.value_at_percentile(99))).c_str(),
               loadgen::format_duration_us(us(r.latency.max())).c_str(),
               saturation.empty() ? "held" : ("SATURATED (" + saturation + ")").c_str());
  if (!r.first_error.empty()) std::fprintf(stderr, "  first refused: %s\n", r.first_error.c_str());
  return Status::ok();
}

// Adds the run `from` to the measurement `into` of the same configuration
// and rate; CPU per request weighs each run by what it sent.
void merge_measurement(const Measurement& from, Measurement* into) {
  const auto sent_into = static_cast<double>(into->result.sent);
  const auto sent_from = static_cast<double>(from.result.sent);
  const double sent = std::max(sent_into + sent_from, 1.0);
  into->sut_cpu_us = (into->sut_cpu_us * sent_into + from.sut_cpu_us * sent_from) / sent;
  into->generator_cpu_us =
      (into->generator_cpu_us * sent_into + from.generator_cpu_us * sent_from) / sent;
  loadgen::merge_run(from.result, &into->result);
  into->rounds.insert(into->rounds.end(), from.rounds.begin(), from.rounds.end());
}

// The ratios at one rate round by round, when there were several: merged
// runs give one ratio, and on a shared machine one slow round can make it.
void print_round_ratios(const std::vector<Measurement>& all, double rate) {
  const auto text = [](const loadgen::Spread& s) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.2f-%.2fx (median %.2fx)", s.min, s.max, s.median);
    return std::string(buf);
  };
  bool header = false;
  for (const RatioSpec& rs : kRatios) {
    const auto* a = find(all, rs.numerator, rate);
    const auto* b = find(all, rs.denominator, rate);
    const loadgen::Spread p50 = loadgen::spread_of(round_ratios(a, b, &RoundLatency::p50_us));
    const loadgen::Spread p99 = loadgen::spread_of(round_ratios(a, b, &RoundLatency::p99_us));
    if (p50.count < 2) continue;
    if (!header) std::printf("  round by round (%zu rounds):\n", p50.count);
    header = true;
    std::printf("    %-21s p50 %-26s p99 %s\n", (rs.numerator + "/" + rs.denominator).c_str(),
                text(p50).c_str(), text(p99).c_str());
  }
}

}  // namespace

int run_bench_echo_command(int argc, char** argv) {
  CLI::App app{"(internal to triad bench) the transport-floor echo front end or replica."};
  std::string listen = "tcp://127.0.0.1:*";
  std::string replica;
  std::string curve_dir;
  std::string curve_key;
  std::string curve_server_key;
  std::string journal;
  app.add_option("--listen", listen, "client endpoint of the echo front end");
  app.add_option("--journal", journal,
                 "front end: write each turn's requests to this file (emptied first) and answer "
                 "once they are fdatasynced, as `triad up --fsync batch` does");
  app.add_option("--replica", replica, "run as an echo replica connected to this endpoint");
  app.add_option("--curve-dir", curve_dir, "front end: CURVE with the keys of this cluster dir");
  app.add_option("--curve-key", curve_key, "replica: its CURVE secret key file");
  app.add_option("--curve-server-key", curve_server_key, "replica: the front end's public key");
  if (const auto done = parse(app, argc, argv)) return *done;
  if (!replica.empty()) return loadgen::run_echo_replica(replica, curve_key, curve_server_key);
  return loadgen::run_echo_frontend(listen, self_dir() + "/triad", curve_dir, journal);
}

int run_bench_command(int argc, char** argv) {
  CLI::App app{bench_description()};
  std::vector<double> rates;
  double duration = 10;
  double warmup = 2;
  bool compare = false;
  bool json = false;
  bool sweep = false;
  double sweep_from = kSweepFromDefault;
  double sweep_factor = kSweepFactorDefault;
  double sweep_max = kSweepMaxDefault;
  double sweep_p99_ms = kSweepP99LimitMsDefault;
  std::string svg_path;
  std::string dir;
  std::size_t cards = 1000;
  int grace_ms = 3000;
  std::uint64_t batch_window_us = 0;
  int rounds = 1;
  auto* rate_opt =
      app.add_option("--rate", rates,
                     "requests per second (repeatable, or a comma list; default 500; with --sweep "
                     "the steps, rising)")
          ->delimiter(',')
          ->check(real_range(0.1, 1e6));
  app.add_option("--duration", duration, "measured seconds per run")
      ->check(real_range(0.1, 86400.0))
      ->capture_default_str();
  app.add_option("--warmup", warmup, "seconds sent first at the same rate, not measured")
      ->check(real_range(0.0, 3600.0))
      ->capture_default_str();
  app.add_option("--rounds", rounds,
                 "run the configurations this many times in turn at each rate and merge each "
                 "one's runs, so a slow spell of the machine does not fall on one configuration "
                 "alone")
      ->check(decimal_range(1, 100))
      ->capture_default_str();
  app.add_flag("--compare", compare,
               "also measure the configurations marked (--compare) above, at the same rates");
  auto* sweep_opt =
      app.add_flag("--sweep", sweep, "raise the rate until each configuration saturates");
  app.add_option("--sweep-from", sweep_from, "first rate of the sweep, per second")
      ->check(real_range(0.1, 1e6))
      ->capture_default_str()
      ->needs(sweep_opt)
      ->excludes(rate_opt);
  app.add_option("--sweep-factor", sweep_factor, "each step's rate over the previous one's")
      ->check(real_range(1.05, 100.0))
      ->capture_default_str()
      ->needs(sweep_opt)
      ->excludes(rate_opt);
  app.add_option("--sweep-max", sweep_max, "highest rate of the sweep, per second")
      ->check(real_range(0.1, 1e6))
      ->capture_default_str()
      ->needs(sweep_opt)
      ->excludes(rate_opt);
  app.add_option("--sweep-p99-ms", sweep_p99_ms,
                 "a run whose p99 is above this did not hold its rate")
      ->check(real_range(0.001, 600'000.0))
      ->capture_default_str();
  app.add_option("--svg", svg_path,
                 "write latency-throughput curves and percentile spectra to this SVG file");
  app.add_flag("--json", json, "print one JSON object instead of the table");
  bool no_curve = false;
  app.add_flag("--no-curve", no_curve,
               "every configuration, the floor included, on plain TCP (default: CURVE, as "
               "`triad up`)");
  SystemOptions system;
  app.add_option("--up-arg", system.up_args,
                 "an argument for every `triad up` the benchmark starts, after its own "
                 "(repeatable; write it --up-arg=--no-audit, or twice for an option and its "
                 "value: --up-arg=--checkpoint-every --up-arg=4000); the floors ignore it");
  app.add_option("--dir", dir,
                 "working directory (cards, cluster state, logs); default a "
                 "temporary one, removed at the end");
  app.add_option("--cards", cards, "cards in the generated card file")
      ->check(decimal_range(1, 1'000'000))
      ->capture_default_str();
  app.add_option("--grace-ms", grace_ms, "wait for late replies after the last send")
      ->check(decimal_range(0, 600'000))
      ->capture_default_str();
  app.add_option("--batch-window-us", batch_window_us,
                 "send the requests due together, one batch frame at most every this many us "
                 "(0: each request alone, at its time)")
      ->check(decimal_range(0, 1'000'000))
      ->capture_default_str();
  if (const auto done = parse(app, argc, argv)) return *done;
  system.curve = !no_curve;
  if (sweep) {
    if (rates.empty()) {
      if (sweep_max < sweep_from) {
        std::fprintf(stderr, "triad bench: --sweep-max is below --sweep-from\n");
        return 2;
      }
      rates = sweep_rates(sweep_from, sweep_factor, sweep_max);
    }
    std::sort(rates.begin(), rates.end());
    rates.erase(std::unique(rates.begin(), rates.end()), rates.end());
  }
  if (rates.empty()) rates.push_back(500);

  std::signal(SIGPIPE, SIG_IGN);
  if (Status s = stop_signals::block(); !s.is_ok()) {
    std::fprintf(stderr, "triad bench: %s\n", s.message().c_str());
    return 1;
  }

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

  sample::Options so;
  so.card_count = cards;
  const std::string cards_path = dir + "/cards.csv";
  std::ofstream(cards_path) << sample::generate_card_file(so);

  std::vector<Config> configs;
  for (const ConfigSpec& spec : kConfigs) {
    if (!spec.compare_only || compare) configs.push_back({&spec, true});
  }

  // Every run gets a fresh cluster and the generator's traffic for its
  // length, unchanged: each rate starts from the same state (cards, holds,
  // duplicate and velocity windows), so the result at one rate does not depend
  // on the rates before it, and the backlog of a saturated run cannot leak
  // into the next.
  std::vector<Measurement> all;
  std::vector<Transaction> txs;
  for (std::size_t ri = 0; ri < rates.size() && !stop_signals::requested(); ++ri) {
    if (std::none_of(configs.begin(), configs.end(), [](const Config& c) { return c.active; })) {
      break;
    }
    loadgen::RunOptions ro;
    ro.rate = rates[ri];
    ro.duration_s = duration;
    ro.warmup_s = warmup;
    ro.grace_ms = grace_ms;
    ro.batch_window_us = batch_window_us;
    ro.stop_fd = stop_signals::fd();
    const std::uint64_t n = loadgen::request_count(ro);
    so.transaction_count = n;
    txs.clear();
    txs.reserve(n);
    for (const std::string& line : sample::generate_traffic(so)) {
      Transaction tx;
      if (!parse_transaction_json(line, &tx).is_ok()) {
        std::fprintf(stderr, "triad bench: sample traffic did not parse\n");
        return 1;
      }
      txs.push_back(std::move(tx));
    }
    // Round after round, each configuration in turn; a configuration's runs
    // at this rate merge into one measurement.
    const std::size_t first_of_rate = all.size();
    for (int round = 1; round <= rounds && !stop_signals::requested(); ++round) {
      for (Config& c : configs) {
        if (stop_signals::requested()) break;
        if (!c.active) continue;
        Measurement m{c.spec->name, rates[ri], {}, ""};
        const std::string progress =
            "[" + std::to_string(ri + 1) + "/" + std::to_string(rates.size()) +
            (rounds > 1 ? ", round " + std::to_string(round) + "/" + std::to_string(rounds)
                        : std::string()) +
            "]";
        if (const Status st =
                measure(*c.spec, cards_path, dir, system, sweep_p99_ms, progress, txs, &ro, &m);
            !st.is_ok()) {
          std::fprintf(stderr, "triad bench: %s\n", st.message().c_str());
          return 1;
        }
        m.rounds.push_back({round, us(m.result.latency.value_at_percentile(50)),
                            us(m.result.latency.value_at_percentile(99))});
        const auto same =
            std::find_if(all.begin() + static_cast<std::ptrdiff_t>(first_of_rate), all.end(),
                         [&](const Measurement& x) { return x.config == m.config; });
        if (same == all.end()) {
          all.push_back(std::move(m));
        } else {
          merge_measurement(m, &*same);
        }
      }
    }
    for (auto it = all.begin() + static_cast<std::ptrdiff_t>(first_of_rate); it != all.end();
         ++it) {
      it->saturation = saturation_of(it->result, sweep_p99_ms);
      if (!sweep || it->saturation.empty()) continue;
      for (Config& c : configs) {
        if (c.spec->name == it->config) c.active = false;
      }
    }
  }

  const std::vector<Knee> sweep_knees = sweep ? knees(configs, all) : std::vector<Knee>{};
  if (!svg_path.empty()) {
    const std::string svg =
        loadgen::render_svg(figure_of(configs, rates, all, duration, machine_and_time()));
    std::ofstream out(svg_path, std::ios::binary | std::ios::trunc);
    out << svg;
    if (!out.flush()) {
      std::fprintf(stderr, "triad bench: cannot write %s\n", svg_path.c_str());
      return 1;
    }
    std::fprintf(stderr, "triad bench: wrote %s\n", svg_path.c_str());
  }

  if (json) {
    nlohmann::json out = {{"duration_s", duration},
                          {"warmup_s", warmup},
                          {"rounds", rounds},
                          {"rates", rates},
                          {"curve", system.curve},
                          {"up_args", system.up_args},
                          {"batch_window_us", batch_window_us},
                          {"interrupted", stop_signals::requested()}};
    out["configurations"] = nlohmann::json::array();
    for (const auto& m : all) out["configurations"].push_back(to_json(m));
    out["ratios"] = nlohmann::json::array();
    for (double rate : rates) {
      nlohmann::json entry = {{"rate", rate}};
      bool any = false;
      for (const RatioSpec& rs : kRatios) {
        const auto* a = find(all, rs.numerator, rate);
        const auto* b = find(all, rs.denominator, rate);
        if (a == nullptr || b == nullptr) continue;
        const std::string key = key_name(rs.numerator) + "_over_" + key_name(rs.denominator);
        entry[key + "_p50"] = ratio(a, b, 50);
        entry[key + "_p99"] = ratio(a, b, 99);
        entry[key + "_p50_rounds"] = round_ratios(a, b, &RoundLatency::p50_us);
        entry[key + "_p99_rounds"] = round_ratios(a, b, &RoundLatency::p99_us);
        any = true;
      }
      if (any) out["ratios"].push_back(entry);
    }
    if (sweep) {
      nlohmann::json sj = {{"p99_limit_ms", sweep_p99_ms}, {"held_share", kHeldShare}};
      sj["knees"] = nlohmann::json::array();
      for (const Knee& k : sweep_knees) {
        sj["knees"].push_back(
            {{"configuration", k.config},
             {"knee_rate", k.held ? nlohmann::json(k.held->rate) : nlohmann::json()},
             {"knee_decision_rate",
              k.held ? nlohmann::json(decision_rate(k.held->result)) : nlohmann::json()},
             {"saturated_at_rate", k.stopped ? nlohmann::json(k.stopped->rate) : nlohmann::json()},
             {"saturation", k.stopped ? k.stopped->saturation : ""}});
      }
      out["sweep"] = sj;
    }
    std::printf("%s\n", out.dump().c_str());
  } else {
    print_table(all);
    if (stop_signals::requested()) std::printf("(interrupted: the last run is partial)\n");
    for (double rate : rates) {
      std::string line;
      for (const RatioSpec& rs : kRatios) {
        const auto* a = find(all, rs.numerator, rate);
        const auto* b = find(all, rs.denominator, rate);
        if (a == nullptr || b == nullptr) continue;
        char buf[160];
        std::snprintf(buf, sizeof buf, "%s%s/%s p50 %.2fx, p99 %.2fx%s", line.empty() ? "" : "; ",
                      rs.numerator.c_str(), rs.denominator.c_str(), ratio(a, b, 50),
                      ratio(a, b, 99),
                      a->saturation.empty() && b->saturation.empty() ? "" : " (saturated)");
        line += buf;
      }
      if (!line.empty()) std::printf("rate %g/s: %s\n", rate, line.c_str());
      if (rounds > 1) print_round_ratios(all, rate);
    }
    if (sweep) {
      std::printf(
          "knee (highest offered rate that held: decisions >= %.0f%% of offered, none "
          "refused, unanswered or fail-safe, p99 <= %g ms):\n",
          100 * kHeldShare, sweep_p99_ms);
      for (const Knee& k : sweep_knees) {
        std::string held = "none (the first rate did not hold)";
        if (k.held != nullptr) {
          char buf[128];
          std::snprintf(
              buf, sizeof buf, "%g/s (%.0f decisions/s, p99 %s)", k.held->rate,
              decision_rate(k.held->result),
              loadgen::format_duration_us(us(k.held->result.latency.value_at_percentile(99)))
                  .c_str());
          held = buf;
        }
        std::string stopped = "held up to the last rate";
        if (k.stopped != nullptr) {
          char buf[128];
          std::snprintf(buf, sizeof buf, "saturated at %g/s: %s", k.stopped->rate,
                        k.stopped->saturation.c_str());
          stopped = buf;
        }
        std::printf("  %-10s %s; %s\n", k.config.c_str(), held.c_str(), stopped.c_str());
      }
    }
  }
  return stop_signals::requested() ? 130 : 0;
}

}  // namespace triad::cli
