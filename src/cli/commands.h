// The sub-commands of `triad` (interface.md). Each returns the process exit
// status.
#pragma once

#include <string>
#include <vector>

namespace triad::cli {

// Directory of the running executable, to find triad-replica beside it.
std::string self_dir();

int run_up_command(int argc, char** argv);
int run_submit_command(int argc, char** argv);
int run_verify_command(int argc, char** argv);
int run_keygen_command(int argc, char** argv);
int run_sample_command(int argc, char** argv);
int run_status_command(int argc, char** argv);
int run_inject_command(int argc, char** argv);

}  // namespace triad::cli
