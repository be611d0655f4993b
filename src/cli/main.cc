// triad: the command-line front door (interface.md).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "cli/commands.h"
#include "common/hardening.h"
#include "common/thread_name.h"

namespace triad::cli {

std::optional<int> parse(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return std::nullopt;
}

}  // namespace triad::cli

namespace {

constexpr const char* kUsage =
    "usage: triad COMMAND [OPTIONS]\n"
    "\n"
    "commands:\n"
    "  up       start the front end and the three replicas (stays in the foreground)\n"
    "  submit   send JSON Lines transactions, print one verdict per line\n"
    "  verify   check a decision certificate offline with the replicas' public keys\n"
    "  keygen   create the replicas' Ed25519 keys in a directory\n"
    "  sample   write a sample card file and sample traffic\n"
    "  status   show a running cluster: replica states, repairs, MTBF/MTTR, mode\n"
    "  inject   inject a fault into one replica of a running cluster\n"
    "  reload-clients  read a running cluster's --client-allow directory again\n"
    "  audit    a decision and its verified certificate by id; the decisions on a card;\n"
    "           divergences and repairs since T\n"
    "  bench    open-loop latency benchmark of a local cluster (--compare: vs. transport floor)\n"
    "\n"
    "`triad COMMAND --help` describes each command's options.\n";

// `triad up` runs with glibc malloc's heap on transparent huge pages, and so
// do the replicas it starts (they inherit its environment). The front end
// keeps what it sequences in memory, and touching that fresh heap a 4 KiB
// page at a time was 11% of its event loop at 9,000 transactions/s (page
// faults, in a call-graph profile). With huge pages, three alternating pairs
// of `triad bench` runs: at 9,000/s p99 94-134 ms against 142-276 ms, at
// 16,000/s offered p99 326-365 ms against 405-444 ms and 5-8% less CPU per
// request, at 500/s no difference. glibc reads the tunable only when a
// program starts, hence the exec of ourselves. An operator's own
// GLIBC_TUNABLES (empty included) is left as it is.
void reexec_with_huge_page_heap(char** argv) {
  if (std::getenv("GLIBC_TUNABLES") != nullptr) return;
  if (::setenv("GLIBC_TUNABLES", "glibc.malloc.hugetlb=1", 1) != 0) return;
  ::execv("/proc/self/exe", argv);
  ::unsetenv("GLIBC_TUNABLES");  // the exec failed: run as we are
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  // Every command may hold card data or keys: submit and audit read PANs,
  // up holds everything. A failure here is reported by `up`, which sets the
  // limit again where it can log.
  (void)triad::disable_core_dumps();
  const std::string_view command = argv[1];
  if (command == "up") {
    reexec_with_huge_page_heap(argv);
    // Exec'd as /proc/self/exe, the process would be called "exe" in ps,
    // top and pgrep.
    triad::name_this_thread("triad");
  }
  // Each command parses its own options, with argv[0] set to "triad COMMAND".
  std::string name = std::string("triad ") + argv[1];
  argv[1] = name.data();
  if (command == "up") return triad::cli::run_up_command(argc - 1, argv + 1);
  if (command == "submit") return triad::cli::run_submit_command(argc - 1, argv + 1);
  if (command == "verify") return triad::cli::run_verify_command(argc - 1, argv + 1);
  if (command == "keygen") return triad::cli::run_keygen_command(argc - 1, argv + 1);
  if (command == "sample") return triad::cli::run_sample_command(argc - 1, argv + 1);
  if (command == "status") return triad::cli::run_status_command(argc - 1, argv + 1);
  if (command == "inject") return triad::cli::run_inject_command(argc - 1, argv + 1);
  if (command == "reload-clients") {
    return triad::cli::run_reload_clients_command(argc - 1, argv + 1);
  }
  if (command == "audit") return triad::cli::run_audit_command(argc - 1, argv + 1);
  if (command == "bench") return triad::cli::run_bench_command(argc - 1, argv + 1);
  if (command == "bench-echo") return triad::cli::run_bench_echo_command(argc - 1, argv + 1);
  if (command == "-h" || command == "--help" || command == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  std::fprintf(stderr, "triad: unknown command '%s'\n\n%s", std::string(command).c_str(), kUsage);
  return 2;
}
