#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>
#include <unordered_map>

#include "cli/commands.h"
#include "cli/line_reader.h"
#include "cli/options.h"
#include "common/layout.h"
#include "crypto/base64.h"
#include "triad/certificate.h"
#include "triad/client.h"

namespace triad::cli {
namespace {

using Json = nlohmann::ordered_json;

Json names(const std::string& replicas) {
  Json a = Json::array();
  for (const char c : replicas) a.push_back(std::string(1, c));
  return a;
}

// A line the front end did not decide: what went wrong (`kind`, the Status
// code's name) and whether sending the same line again may get a decision
// (overload, an unavailable or silent front end) or cannot (a malformed
// line, an id reused with other content).
Json error_line(std::uint64_t line, const Status& error) {
  const Status::Code code = error.code();
  const bool retry = code == Status::Code::kOverloaded || code == Status::Code::kUnavailable ||
                     code == Status::Code::kTimeout;
  return Json{{"line", line},
              {"error", error.message()},
              {"kind", Status::code_name(code)},
              {"retry", retry}};
}

struct Summary {
  std::map<std::string, std::uint64_t> by_code;
  std::uint64_t answered = 0;
  std::uint64_t errors = 0;
  std::uint64_t replayed = 0;
  std::uint64_t overload_resends = 0;
  std::uint64_t with_divergence = 0;
  std::uint64_t certs_checked = 0;
  std::uint64_t certs_valid = 0;
};

}  // namespace

int run_submit_command(int argc, char** argv) {
  CLI::App app{"Send JSON Lines transactions to a running front end; print one verdict per line."};
  std::string endpoint;
  std::string input = "-";
  std::string keys_dir;
  bool summary = false;
  std::size_t window = 1000;
  int timeout_ms = 10'000;
  app.add_option("--endpoint", endpoint,
                 "the front end, e.g. tcp://127.0.0.1:7700 (default: the one running on --dir)");
  app.add_option("input", input, "JSON Lines file, or - for standard input")->capture_default_str();
  app.add_option("--window", window, "transactions in flight at most")
      ->check(decimal_range(1, 100'000))
      ->capture_default_str();
  // The front end's silence is looked at every 100 ms (2 ms while input is
  // streamed): a shorter limit would act as 100 ms.
  app.add_option("--timeout-ms", timeout_ms,
                 "give up when the front end is silent this long (100 ms to a day)")
      ->check(decimal_range(100, 86'400'000))
      ->capture_default_str();
  app.add_flag("--summary", summary, "print a summary on standard error at the end");
  bool no_resend = false;
  app.add_flag("--no-resend", no_resend,
               "print a line the front end refuses as overloaded as an error at once, instead of "
               "sending it again after a pause (for up to --timeout-ms)");
  app.add_option("--dir", keys_dir,
                 "the cluster's directory (`triad up --dir`): its CURVE keys, its endpoint when "
                 "--endpoint is not given, and with --summary its replica keys to verify every "
                 "certificate (default: triad-data when it exists)");
  std::string client_name = layout::kCurveLocalClient;
  app.add_option("--client", client_name,
                 "CURVE client key pair to use: DIR/keys/curve/clients/NAME.key")
      ->capture_default_str();
  if (const auto done = parse(app, argc, argv)) return *done;
  // Without --dir, the local default cluster's keys, when there is one.
  const std::string dir = !keys_dir.empty() ? keys_dir
                          : std::ifstream(layout::transport_file(layout::kDefaultDir)).good()
                              ? std::string(layout::kDefaultDir)
                              : std::string();
  if (endpoint.empty() && !dir.empty()) std::ifstream(layout::endpoint_file(dir)) >> endpoint;
  if (endpoint.empty()) {
    std::fprintf(stderr, "triad submit: give --endpoint, or --dir of a running triad up\n");
    return 2;
  }
  ClientOptions options;
  // Without a cluster directory there are no keys to use: plain TCP, which
  // a front end with CURVE refuses (connect() then says so).
  options.plain_tcp = dir.empty();
  // A line is given up on only when this program gives up (--timeout-ms of
  // silence): until then whatever is in flight is sent again after a
  // reconnect, however long ago it was submitted.
  options.resubmit_within_ms = std::numeric_limits<int>::max();
  if (!dir.empty()) {
    if (Status s = use_cluster_keys(dir, &options, client_name); !s.is_ok()) {
      std::fprintf(stderr, "triad submit: %s\n", s.message().c_str());
      return 2;
    }
  }

  // A longer line is not kept whole, only counted, and gets the error
  // parse_transaction_json gives it.
  LineReader in(kMaxTransactionLineBytes);
  if (Status s = in.open(input); !s.is_ok()) {
    std::fprintf(stderr, "triad submit: %s\n", s.message().c_str());
    return 2;
  }
  // A pipe, a FIFO or a terminal gives lines as a switch sends them: a line
  // not there yet must not hold back the lines that are, nor their answers.
  const bool streaming = in.streaming();

  Keyring keyring;
  const bool verify = !dir.empty();
  if (verify) {
    if (Status s = Keyring::load_dir(dir, &keyring); !s.is_ok()) {
      std::fprintf(stderr, "triad submit: %s\n", s.message().c_str());
      return 2;
    }
  }
  std::unique_ptr<Client> client;
  if (Status s = Client::connect(endpoint, options, &client); !s.is_ok()) {
    std::fprintf(stderr, "triad submit: %s\n", s.message().c_str());
    return 1;
  }

  const auto started = std::chrono::steady_clock::now();
  Summary sum;
  std::map<std::uint64_t, std::string> ready;  // line -> output, printed in input order
  std::uint64_t next_line = 1;                 // next line to read
  std::uint64_t next_print = 1;
  bool eof = false;
  auto flush = [&] {
    for (auto it = ready.begin(); it != ready.end() && it->first == next_print;
         it = ready.erase(it), ++next_print) {
      std::fwrite(it->second.data(), 1, it->second.size(), stdout);
      std::fputc('\n', stdout);
    }
  };
  using Clock = std::chrono::steady_clock;
  // A line sent (or to send), with its transaction, to hold the certificate
  // against and to send again.
  struct Line {
    Transaction tx;
    Clock::time_point first_sent;
    int overloaded = 0;  // times the front end refused it as overloaded
  };
  // The lines sent and not answered yet, by tag (their line number).
  std::unordered_map<std::uint64_t, Line> unanswered;
  // Lines the front end refused as overloaded (not sequenced, so sending them
  // again is safe), by when to send them again (after a pause that doubles
  // each time), with their tags: the ones due are the first.
  std::multimap<Clock::time_point, std::pair<std::uint64_t, Line>> to_resend;
  // One decision or client error, as its output line.
  auto take = [&](const Reply& reply) {
    const auto sent = unanswered.find(reply.tag);
    if (sent == unanswered.end()) {
      // Not a line in flight: a repeat's second answer, or a faulty front
      // end's. Counted nowhere, and no line is taken to be answered by it.
      std::fprintf(stderr, "triad submit: an answer with tag %llu, no line in flight: %s\n",
                   static_cast<unsigned long long>(reply.tag),
                   reply.status.is_ok() ? "a decision" : reply.status.to_string().c_str());
      return;
    }
    Line line = std::move(sent->second);
    unanswered.erase(sent);
    const Transaction& tx = line.tx;
    const auto now = Clock::now();
    if (reply.status.code() == Status::Code::kOverloaded && !no_resend &&
        now - line.first_sent < std::chrono::milliseconds(timeout_ms)) {
      ++sum.overload_resends;
      const auto send_at =
          now + std::min(std::chrono::milliseconds(5) * (1 << std::min(line.overloaded, 8)),
                         std::chrono::milliseconds(1000));
      ++line.overloaded;
      to_resend.emplace(send_at, std::pair(reply.tag, std::move(line)));
      return;
    }
    if (!reply.status.is_ok()) {
      ++sum.errors;
      ready[reply.tag] = error_line(reply.tag, reply.status).dump();
      return;
    }
    const Decision& d = reply.decision;
    ++sum.answered;
    ++sum.by_code[d.code];
    sum.replayed += d.replayed ? 1u : 0u;
    sum.with_divergence += d.divergent.empty() ? 0u : 1u;
    // Every decision but a fail-safe decline (91, 96: the voter's own, signed
    // by no replica) must carry a certificate of this very seq, ts and code,
    // over this very transaction.
    if (verify && !(d.certificate.empty() && is_fail_safe_code(d.code))) {
      ++sum.certs_checked;
      CertificateInfo info;
      std::string tx_digest;
      sum.certs_valid +=
          verify_decision_certificate(d.certificate, keyring, d.seq, d.ts_ms, d.code, &info)
                      .is_ok() &&
                  transaction_digest_hex(tx, d.card_ref, &tx_digest).is_ok() &&
                  tx_digest == info.tx_digest_hex
              ? 1u
              : 0u;
    }
    Json j;
    j["id"] = d.id;
    j["seq"] = d.seq;
    j["ts"] = d.ts_ms;
    j["code"] = d.code;
    j["approved"] = d.approved;
    j["agree"] = names(d.agree);
    j["divergent"] = names(d.divergent);
    j["replayed"] = d.replayed;
    j["cert"] = d.certificate.empty() ? Json(nullptr) : Json(crypto::base64_encode(d.certificate));
    if (!d.card_ref.empty()) j["card_ref"] = d.card_ref;
    ready[reply.tag] = j.dump();
  };
  auto print_summary = [&] {
    if (!summary) return;
    const double elapsed_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::fprintf(
        stderr, "\nsummary: %llu lines, %llu decisions, %llu client errors, %llu replayed\n",
        static_cast<unsigned long long>(next_line - 1),
        static_cast<unsigned long long>(sum.answered), static_cast<unsigned long long>(sum.errors),
        static_cast<unsigned long long>(sum.replayed));
    if (sum.overload_resends > 0) {
      std::fprintf(stderr, "  sent again after an overload refusal: %llu times\n",
                   static_cast<unsigned long long>(sum.overload_resends));
    }
    if (client->resubmitted() > 0) {
      std::fprintf(stderr, "  sent again by the client library after a reconnect: %llu\n",
                   static_cast<unsigned long long>(client->resubmitted()));
    }
    std::fprintf(stderr, "  code  count\n");
    for (const auto& [code, count] : sum.by_code) {
      std::fprintf(stderr, "  %s    %llu\n", code.c_str(), static_cast<unsigned long long>(count));
    }
    if (verify) {
      std::fprintf(stderr, "  certificates verified: %llu of %llu\n",
                   static_cast<unsigned long long>(sum.certs_valid),
                   static_cast<unsigned long long>(sum.certs_checked));
    }
    std::fprintf(stderr, "  decisions with a divergent replica: %llu\n",
                 static_cast<unsigned long long>(sum.with_divergence));
    std::fprintf(stderr, "  elapsed %.2f s, %.0f decisions/s\n", elapsed_s,
                 elapsed_s > 0 ? static_cast<double>(sum.answered) / elapsed_s : 0.0);
  };
  // Stops with every answer that came printed, and an error line for each
  // line sent and not answered: none goes missing from the output.
  // `reason`: Timeout (a silent front end) or Unavailable (a send failed).
  auto give_up = [&](const Status& reason) {
    const std::string message = reason.message() +
                                "; it may have been sequenced: submit it again to get its answer "
                                "(an id is sequenced once)";
    const Status line_error = reason.code() == Status::Code::kTimeout
                                  ? Status::timeout(message)
                                  : Status::unavailable(message);
    for (const auto& [n, line] : unanswered) {
      ++sum.errors;
      ready[n] = error_line(n, line_error).dump();
    }
    for (const auto& [send_at, resend] : to_resend) {
      const std::uint64_t n = resend.first;
      ++sum.errors;
      ready[n] = error_line(n, Status::overloaded("refused as overloaded, not sequenced; "
                                                  "not sent again: " +
                                                  reason.message()))
                     .dump();
    }
    flush();
    std::fflush(stdout);
    std::fprintf(stderr, "triad submit: %s; %zu transactions unanswered\n",
                 reason.message().c_str(), unanswered.size() + to_resend.size());
    print_summary();
    return 1;
  };
  auto silent_since = Clock::now();
  std::vector<std::uint64_t> tags;
  std::vector<Line> lines;
  std::vector<Client::Submission> batch;
  while (!eof || !unanswered.empty() || !to_resend.empty()) {
    // Refill the window; what is read now goes out as one batch, after the
    // lines due to be sent again.
    tags.clear();
    lines.clear();
    const auto now = Clock::now();
    for (auto it = to_resend.begin(); it != to_resend.end() && it->first <= now;
         it = to_resend.erase(it)) {
      tags.push_back(it->second.first);
      lines.push_back(std::move(it->second.second));
    }
    while (!eof && unanswered.size() + to_resend.size() + lines.size() < window) {
      // Block for input only when nothing else is waiting, every answer out.
      if (!unanswered.empty() || !to_resend.empty() || !lines.empty()) {
        if (!in.next_ready()) break;
      } else if (streaming) {
        flush();
        std::fflush(stdout);
      }
      std::string text;
      std::size_t bytes = 0;
      const LineReader::Got got = in.next(&text, &bytes);
      if (got == LineReader::Got::kEnd) {
        eof = true;
        break;
      }
      const std::uint64_t n = next_line++;
      if (got == LineReader::Got::kTooLong) {
        ++sum.errors;
        ready[n] = error_line(n, line_too_long(bytes)).dump();  // as parse_transaction_json's
        continue;
      }
      Line line;
      if (Status s = parse_transaction_json(text, &line.tx); !s.is_ok()) {
        ++sum.errors;
        ready[n] = error_line(n, s).dump();
        continue;
      }
      line.first_sent = Clock::now();
      tags.push_back(n);
      lines.push_back(std::move(line));
    }
    batch.clear();
    for (std::size_t i = 0; i < lines.size(); ++i) batch.push_back({tags[i], &lines[i].tx});
    // Silence counts from the first request nobody has answered yet (input
    // may have paused for longer than the timeout before it).
    if (unanswered.empty()) silent_since = Clock::now();
    const Status sent = client->submit_batch(batch);
    // After a failed send each line of the batch counts as sent and, unless
    // answered, unanswered: the advice for all of them is the same (submit
    // it again; an id is sequenced once), whichever went out.
    for (std::size_t i = 0; i < lines.size(); ++i) unanswered.emplace(tags[i], std::move(lines[i]));
    if (!sent.is_ok()) return give_up(sent);
    flush();
    if (streaming) std::fflush(stdout);
    // The wait for answers ends in time to send again what is due.
    auto wait = std::chrono::milliseconds(streaming && !eof ? 2 : 100);
    if (!to_resend.empty()) {
      wait = std::min(wait, std::max(std::chrono::milliseconds(1),
                                     std::chrono::duration_cast<std::chrono::milliseconds>(
                                         to_resend.begin()->first - Clock::now())));
    }
    if (unanswered.empty()) {
      if (!to_resend.empty()) std::this_thread::sleep_for(wait);
      continue;
    }
    Reply reply;
    // While more input may come, look for it every few ms.
    Status s = client->next_reply(static_cast<int>(wait.count()), &reply);
    if (s.code() == Status::Code::kTimeout) {
      if (Clock::now() - silent_since > std::chrono::milliseconds(timeout_ms)) {
        return give_up(Status::timeout("no answer from the front end at " + endpoint + " for " +
                                       std::to_string(timeout_ms) + " ms"));
      }
      continue;
    }
    silent_since = Clock::now();
    // This answer and all that are here already, before the next refill.
    do {
      if (s.is_ok()) {
        take(reply);
      } else {
        std::fprintf(stderr, "triad submit: %s\n", s.to_string().c_str());
      }
    } while (!unanswered.empty() &&
             (s = client->next_reply(0, &reply)).code() != Status::Code::kTimeout);
  }
  flush();
  std::fflush(stdout);
  print_summary();
  // The lines read before the error were answered; the rest never came.
  if (!in.error().is_ok()) {
    std::fprintf(stderr, "triad submit: %s (after line %llu)\n", in.error().message().c_str(),
                 static_cast<unsigned long long>(next_line - 1));
    return 2;
  }
  return 0;
}

}  // namespace triad::cli
