// The sub-commands of `triad` (interface.md). Each returns the process exit
// status.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace triad::cli {

// Parses the command line into `app`. Returns the exit status when parsing
// ends the command (0 after --help, 2 for bad arguments, with the message
// printed), nullopt to go on.
std::optional<int> parse(CLI::App& app, int argc, char** argv);

// Directory of the running executable, to find triad-replica beside it.
std::string self_dir();

int run_up_command(int argc, char** argv);
int run_submit_command(int argc, char** argv);
int run_verify_command(int argc, char** argv);
int run_keygen_command(int argc, char** argv);
int run_sample_command(int argc, char** argv);
int run_status_command(int argc, char** argv);
int run_inject_command(int argc, char** argv);
int run_reload_clients_command(int argc, char** argv);
int run_audit_command(int argc, char** argv);
int run_bench_command(int argc, char** argv);
int run_bench_echo_command(int argc, char** argv);

}  // namespace triad::cli
