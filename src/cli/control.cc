// triad status, triad inject and triad reload-clients: talk to a running `triad up` through the
// control endpoint it wrote into its directory.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <zmq.hpp>

#include "cli/commands.h"
#include "common/layout.h"
#include "transport/curve.h"

namespace triad::cli {
namespace {

using Json = nlohmann::json;

// Sends one request; its answer, a JSON object. Unavailable when no cluster
// answers on the endpoint in DIR/control (or it names none that libzmq can
// use), Rejected with the front end's message when it refused the request,
// the key's error when the operator's CURVE key cannot be read.
Status ask(const std::string& dir, const Json& request, Json* answer) {
  const std::string control = layout::control_file(dir);
  std::ifstream f(control);
  std::string endpoint;
  if (!(f >> endpoint)) {
    return Status::unavailable("no running triad up found in " + dir + " (no " + control + ")");
  }
  // The control socket admits only the operator's CURVE key.
  transport::CurveClient curve;
  if (Status s = transport::load_curve_client(
          dir, layout::curve_secret_key(dir, layout::kCurveOperator), &curve);
      !s.is_ok()) {
    return s;
  }
  zmq::message_t reply;
  bool answered = false;
  // libzmq refuses an endpoint it cannot parse (DIR/control overwritten,
  // truncated, not ours) with an exception, which went uncaught: abort().
  // What the file holds is not echoed: it may be anything.
  try {
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
    answered = socket.send(zmq::buffer(request.dump()), zmq::send_flags::none) &&
               socket.recv(reply, zmq::recv_flags::none);
  } catch (const zmq::error_t& e) {
    return Status::unavailable(control + " does not name a control endpoint that can be reached (" +
                               e.what() + ")");
  }
  if (!answered) {
    return Status::unavailable("the front end at " + endpoint + " did not answer within 3 s" +
                               (curve.enabled()
                                    ? " (with CURVE: is " +
                                          layout::curve_secret_key(dir, layout::kCurveOperator) +
                                          " the operator key it was started with?)"
                                    : std::string()));
  }
  *answer = Json::parse(reply.to_string_view(), nullptr, /*allow_exceptions=*/false);
  if (answer->is_discarded()) return Status::corruption("the front end's answer is not JSON");
  if (!answer->is_object()) {
    return Status::corruption("the front end's answer is not a JSON object");
  }
  if (const auto e = answer->find("error"); e != answer->end()) {
    return Status::rejected(e->is_string()
                                ? e->get<std::string>()
                                : "the front end refused the request, without saying why");
  }
  return Status::ok();
}

// The status's fields, read without trusting their presence or type: their
// names may evolve (interface.md), and the const operator[] of a missing key
// is an assertion failure (this build keeps them) and get<>() of another
// type throws, either of which aborted `triad status`. A missing or
// mistyped field prints "-".
const Json* field(const Json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  const auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

std::string text(const Json& object, const char* key) {
  const Json* v = field(object, key);
  return v != nullptr && v->is_string() ? v->get<std::string>() : "-";
}

// An integer, as its digits.
std::string integer(const Json& object, const char* key) {
  const Json* v = field(object, key);
  return v != nullptr && v->is_number_integer() ? v->dump() : "-";
}

std::optional<double> number(const Json& object, const char* key) {
  const Json* v = field(object, key);
  if (v == nullptr || !v->is_number()) return std::nullopt;
  return v->get<double>();
}

bool is_true(const Json& object, const char* key) {
  const Json* v = field(object, key);
  return v != nullptr && v->is_boolean() && v->get<bool>();
}

// "1 key", "2 keys", "- keys": a count as integer() gives it, and its noun.
std::string count_of(const std::string& count, const char* noun) {
  return count + " " + noun + (count == "1" ? "" : "s");
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
  // Left out, they are 0: nothing to say.
  const auto count = [&](const char* key) {
    const Json* v = field(n, key);
    return v != nullptr && v->is_number_unsigned() ? v->get<unsigned long long>() : 0ull;
  };
  const unsigned long long written = count("written_seq");
  const unsigned long long pending = count("pending_seq");
  const unsigned long long failures = count("write_failures");
  const unsigned long long from = count("started_from_seq");
  if (written == 0 && pending == 0 && failures == 0 && from == 0) return;
  if (written > 0) {
    std::printf("stored snapshot: seq %llu (a restart replays the journal after it)", written);
  } else {
    std::printf("stored snapshot: none yet (a restart replays the whole journal)");
  }
  if (from > 0) std::printf("; this run started from seq %llu", from);
  if (pending > 0) std::printf("; seq %llu being written", pending);
  if (failures > 0) {
    const Json* last = field(n, "last_write_error");
    std::printf("; %llu not written, the last: %s", failures,
                last != nullptr && last->is_string() ? last->get<std::string>().c_str() : "?");
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
  if (Status e = ask(dir, Json{{"cmd", "status"}}, &s); !e.is_ok()) {
    std::fprintf(stderr, "triad status: %s\n", e.message().c_str());
    return 1;
  }
  if (json) {
    std::printf("%s\n", s.dump().c_str());
    return 0;
  }
  std::printf("mode %s; last seq %s; %s decisions, %s fail-safe; %s in flight\n",
              text(s, "mode").c_str(), integer(s, "last_seq").c_str(),
              integer(s, "decisions").c_str(), integer(s, "fail_safe").c_str(),
              integer(s, "in_flight").c_str());
  if (const Json* r = field(s, "recovery"); r != nullptr && is_true(*r, "recovering")) {
    std::printf("recovering: %s of %s journalled transactions replayed; new ids refused\n",
                integer(*r, "replay_sent").c_str(), integer(*r, "journalled").c_str());
  }
  if (const Json* n = field(s, "snapshots")) print_snapshots(*n);
  std::printf("%-8s %-12s %10s %9s %7s %10s %10s %10s %8s  %s\n", "replica", "state", "last seq",
              "diverged", "repairs", "last TTR", "MTBF", "MTTR", "avail", "fingerprint");
  const Json* replicas = field(s, "replicas");
  for (const Json& r : replicas != nullptr && replicas->is_array() ? *replicas : Json::array()) {
    if (!r.is_object()) continue;
    // The divergences by kind; their sum, or "-" when they are not there.
    std::string diverged = "-";
    std::string kinds;
    if (const Json* d = field(r, "divergences"); d != nullptr && d->is_object()) {
      unsigned long long sum = 0;
      for (const auto& [kind, n] : d->items()) {
        if (!n.is_number_unsigned()) continue;
        sum += n.get<unsigned long long>();
        if (n.get<unsigned long long>() > 0) kinds += " " + kind + "=" + n.dump();
      }
      diverged = std::to_string(sum);
    }
    const std::optional<double> ttr_ms = number(r, "last_time_to_repair_ms");
    const std::optional<double> mtbf_s = number(r, "mtbf_s");
    const std::optional<double> mttr_s = number(r, "mttr_s");
    std::string availability = "-";
    if (const std::optional<double> a = number(r, "availability")) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.4f%%", *a * 100);
      availability = buf;
    }
    std::printf("%-8s %-12s %10s %9s %7s %10s %9s%s %9s%s %8s  %s\n", text(r, "name").c_str(),
                text(r, "state").c_str(), integer(r, "last_seq_applied").c_str(), diverged.c_str(),
                integer(r, "repairs").c_str(),
                ttr_ms && *ttr_ms > 0 ? seconds(*ttr_ms / 1000).c_str() : "-",
                mtbf_s ? seconds(*mtbf_s).c_str() : "-", is_true(r, "mtbf_lower_bound") ? "+" : " ",
                mttr_s ? seconds(*mttr_s).c_str() : "-", is_true(r, "mttr_lower_bound") ? "+" : " ",
                availability.c_str(), text(r, "fingerprint").c_str());
    if (!kinds.empty()) std::printf("         divergences:%s\n", kinds.c_str());
  }
  std::printf("(+: a lower bound: no failure yet, or out now)\n");
  if (const Json* a = field(s, "audit"); a != nullptr && a->is_object()) {
    std::printf(
        "audit store: %s records written, %s queued, %s dropped (queue full), %s failed, %s "
        "expired\n",
        integer(*a, "written").c_str(), integer(*a, "queued").c_str(),
        integer(*a, "dropped").c_str(), integer(*a, "failed").c_str(),
        integer(*a, "expired").c_str());
  }
  // Only with --client-allow (the field is null without one).
  if (const Json* t = field(s, "transport")) {
    if (const Json* keys = field(*t, "client_allow_list");
        keys != nullptr && keys->is_number_integer()) {
      const Json* refused = field(s, "refused_connections");
      std::printf(
          "client allow-list: %s, %s; %s refused on connections whose key was taken off it, %s "
          "refused at the handshake\n",
          count_of(keys->dump(), "key").c_str(),
          count_of(integer(*t, "client_allow_reloads"), "reload").c_str(),
          count_of(integer(*t, "not_admitted_requests"), "request").c_str(),
          count_of(refused != nullptr ? integer(*refused, "client") : "-", "connection").c_str());
    }
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
  if (Status e = ask(dir, Json{{"cmd", "inject"}, {"replica", replica}, {"fault", fault}}, &answer);
      !e.is_ok()) {
    std::fprintf(stderr, "triad inject: %s\n", e.message().c_str());
    // 1: no cluster to ask; 2: the request (or the operator's key) is what
    // is wrong.
    return e.code() == Status::Code::kUnavailable ? 1 : 2;
  }
  std::printf("replica %s: fault %s\n", replica.c_str(), fault.c_str());
  return 0;
}

int run_reload_clients_command(int argc, char** argv) {
  CLI::App app{
      "Read a running cluster's --client-allow directory again: keys added there may connect, "
      "and requests on the connections of keys taken out are refused from now on."};
  std::string dir = layout::kDefaultDir;
  app.add_option("--dir", dir, "the directory given to `triad up --dir`")->capture_default_str();
  if (const auto done = parse(app, argc, argv)) return *done;
  Json answer;
  if (Status e = ask(dir, Json{{"cmd", "reload-clients"}}, &answer); !e.is_ok()) {
    std::fprintf(stderr, "triad reload-clients: %s\n", e.message().c_str());
    return e.code() == Status::Code::kUnavailable ? 1 : 2;
  }
  const auto names = [&](const char* key) {
    std::string list;
    if (const Json* v = field(answer, key); v != nullptr && v->is_array()) {
      for (const Json& name : *v) {
        if (name.is_string()) list += (list.empty() ? "" : ", ") + name.get<std::string>();
      }
    }
    return list.empty() ? std::string("none") : list;
  };
  std::printf("client allow-list reloaded: %s; added: %s; removed: %s\n",
              count_of(integer(answer, "keys"), "key").c_str(), names("added").c_str(),
              names("removed").c_str());
  return 0;
}

}  // namespace triad::cli
