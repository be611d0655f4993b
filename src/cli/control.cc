// triad status and triad inject: talk to a running `triad up` through the
// control endpoint it wrote into its directory.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include "cli/commands.h"
#include "common/layout.h"
#include "transport/curve.h"

namespace triad::cli {
namespace {

using Json = nlohmann::json;

// Sends one request; the answer, or an error message in `error`.
bool ask(const std::string& dir, const Json& request, Json* answer, std::string* error) {
  std::ifstream f(layout::control_file(dir));
  std::string endpoint;
  if (!(f >> endpoint)) {
    *error = "no running triad up found in " + dir + " (no " + layout::control_file(dir) + ")";
    return false;
  }
  // The control socket admits only the operator's CURVE key.
  transport::CurveClient curve;
  if (Status s = transport::load_curve_client(
          dir, layout::curve_secret_key(dir, layout::kCurveOperator), &curve);
      !s.is_ok()) {
    *error = s.message();
    return false;
  }
  zmq::context_t context(1);
  zmq::socket_t socket(context, zmq::socket_type::req);
  socket.set(zmq::sockopt::linger, 0);
  socket.set(zmq::sockopt::rcvtimeo, 3000);
  // A refused handshake (a key not admitted) leaves no connection, for good
  // (libzmq does not reconnect after a protocol error): the send waits 3 s
  // at most too.
  socket.set(zmq::sockopt::sndtimeo, 3000);
  curve.apply(socket);
  socket.connect(endpoint);
  zmq::message_t reply;
  if (!socket.send(zmq::buffer(request.dump()), zmq::send_flags::none) ||
      !socket.recv(reply, zmq::recv_flags::none)) {
    *error = "the front end at " + endpoint + " did not answer within 3 s" +
             (curve.enabled()
                  ? " (with CURVE: is " + layout::curve_secret_key(dir, layout::kCurveOperator) +
                        " the operator key it was started with?)"
                  : std::string());
    return false;
  }
  *answer = Json::parse(reply.to_string_view(), nullptr, /*allow_exceptions=*/false);
  if (answer->is_discarded()) {
    *error = "the front end's answer is not JSON";
    return false;
  }
  if (answer->contains("error")) {
    *error = (*answer)["error"].get<std::string>();
    return false;
  }
  return true;
}

std::string seconds(double s) {
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%.1f h", s / 3600);
  } else if (s >= 1) {
    std::snprintf(buf, sizeof buf, "%.1f s", s);
  } else {
    std::snprintf(buf, sizeof buf, "%.0f ms", s * 1000);
  }
  return buf;
}

// The stored snapshot a restart starts from, the one on its way to the
// file, and the ones that did not get there.
void print_snapshots(const Json& n) {
  const auto number = [&](const char* key) { return n.value(key, 0ull); };
  const unsigned long long written = number("written_seq");
  const unsigned long long pending = number("pending_seq");
  const unsigned long long failures = number("write_failures");
  const unsigned long long from = number("started_from_seq");
  if (written == 0 && pending == 0 && failures == 0) return;
  if (written > 0) {
    std::printf("stored snapshot: seq %llu (a restart replays the journal after it)", written);
  } else {
    std::printf("stored snapshot: none yet (a restart replays the whole journal)");
  }
  if (from > 0) std::printf("; this run started from seq %llu", from);
  if (pending > 0) std::printf("; seq %llu being written", pending);
  if (failures > 0) {
    const Json& last = n["last_write_error"];
    std::printf("; %llu not written, the last: %s", failures,
                last.is_string() ? last.get<std::string>().c_str() : "?");
  }
  std::printf("\n");
}

}  // namespace

int run_status_command(int argc, char** argv) {
  CLI::App app{"Show the state of a running cluster: replicas, repairs, MTBF/MTTR, mode."};
  std::string dir = layout::kDefaultDir;
  bool json = false;
  app.add_option("--dir", dir, "the directory given to `triad up --dir`")->capture_default_str();
  app.add_flag("--json", json, "one JSON object, for tools");
  if (const auto done = parse(app, argc, argv)) return *done;
  Json s;
  std::string error;
  if (!ask(dir, Json{{"cmd", "status"}}, &s, &error)) {
    std::fprintf(stderr, "triad status: %s\n", error.c_str());
    return 1;
  }
  if (json) {
    std::printf("%s\n", s.dump().c_str());
    return 0;
  }
  std::printf("mode %s; last seq %llu; %llu decisions, %llu fail-safe; %llu in flight\n",
              s["mode"].get<std::string>().c_str(), s["last_seq"].get<unsigned long long>(),
              s["decisions"].get<unsigned long long>(), s["fail_safe"].get<unsigned long long>(),
              s["in_flight"].get<unsigned long long>());
  if (const Json& r = s["recovery"]; r["recovering"].get<bool>()) {
    std::printf("recovering: %llu of %llu journalled transactions replayed; new ids refused\n",
                r["replay_sent"].get<unsigned long long>(),
                r["journalled"].get<unsigned long long>());
  }
  print_snapshots(s["snapshots"]);
  std::printf("%-8s %-12s %10s %9s %7s %10s %10s %10s %8s  %s\n", "replica", "state", "last seq",
              "diverged", "repairs", "last TTR", "MTBF", "MTTR", "avail", "fingerprint");
  for (const Json& r : s["replicas"]) {
    unsigned long long diverged = 0;
    for (const auto& [kind, n] : r["divergences"].items()) diverged += n.get<unsigned long long>();
    const double ttr_ms = r["last_time_to_repair_ms"].get<double>();
    std::printf(
        "%-8s %-12s %10llu %9llu %7llu %10s %9s%s %9s%s %7.4f%%  %s\n",
        r["name"].get<std::string>().c_str(), r["state"].get<std::string>().c_str(),
        r["last_seq_applied"].get<unsigned long long>(), diverged,
        r["repairs"].get<unsigned long long>(), ttr_ms > 0 ? seconds(ttr_ms / 1000).c_str() : "-",
        seconds(r["mtbf_s"].get<double>()).c_str(), r["mtbf_lower_bound"].get<bool>() ? "+" : " ",
        seconds(r["mttr_s"].get<double>()).c_str(), r["mttr_lower_bound"].get<bool>() ? "+" : " ",
        r["availability"].get<double>() * 100, r["fingerprint"].get<std::string>().c_str());
    std::string kinds;
    for (const auto& [kind, n] : r["divergences"].items()) {
      if (n.get<unsigned long long>() > 0)
        kinds += " " + kind + "=" + std::to_string(n.get<unsigned long long>());
    }
    if (!kinds.empty()) std::printf("         divergences:%s\n", kinds.c_str());
  }
  std::printf("(+: a lower bound, no failure or repair completed yet)\n");
  if (s.contains("audit") && s["audit"].is_object()) {
    const Json& a = s["audit"];
    std::printf(
        "audit store: %llu records written, %llu queued, %llu dropped (queue full), %llu "
        "failed, %llu expired\n",
        a["written"].get<unsigned long long>(), a["queued"].get<unsigned long long>(),
        a["dropped"].get<unsigned long long>(), a["failed"].get<unsigned long long>(),
        a["expired"].get<unsigned long long>());
  }
  return 0;
}

int run_inject_command(int argc, char** argv) {
  CLI::App app{"Inject a fault into one replica of a running cluster (none stops it)."};
  std::string dir = layout::kDefaultDir;
  std::string replica;
  std::string fault;
  app.add_option("--dir", dir, "the directory given to `triad up --dir`")->capture_default_str();
  app.add_option("replica", replica, "a, b or c")->required();
  app.add_option("fault", fault,
                 "flip:P, corrupt-state:N, crash:N, hang:N, delay:MS, badsig:P, "
                 "drop:P or none")
      ->required();
  if (const auto done = parse(app, argc, argv)) return *done;
  Json answer;
  std::string error;
  if (!ask(dir, Json{{"cmd", "inject"}, {"replica", replica}, {"fault", fault}}, &answer, &error)) {
    std::fprintf(stderr, "triad inject: %s\n", error.c_str());
    return error.rfind("no running", 0) == 0 || error.find("did not answer") != std::string::npos
               ? 1
               : 2;
  }
  std::printf("replica %s: fault %s\n", replica.c_str(), fault.c_str());
  return 0;
}

}  // namespace triad::cli
