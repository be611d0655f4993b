#pragma once

#include <string>

#include "triad/status.h"

namespace triad::frontend {

// Makes DIR/keys (mode 0700) and a key pair per replica where one is missing.
// Existing keys are kept. Returns IoError naming the path on failure.
Status ensure_replica_keys(const std::string& dir, std::string* report);

}  // namespace triad::frontend
