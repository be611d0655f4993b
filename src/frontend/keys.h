#pragma once

#include <string>

#include "crypto/aead.h"
#include "triad/status.h"

namespace triad::frontend {

// Makes DIR/keys (mode 0700) and a key pair per replica where one is missing.
// Existing keys are kept. Returns IoError naming the path on failure.
Status ensure_replica_keys(const std::string& dir, std::string* report);

// Loads the symmetric key at `path` (under DIR/keys: the input journal's,
// layout::journal_key, or the card references', layout::card_ref_key) into
// *key, creating it (random, mode 0600) when it does not exist yet; a line in
// *report says so. The key file is refused like a replica's secret key
// (PermissionDenied when group or others may read it).
Status ensure_symmetric_key(const std::string& dir, const std::string& path,
                            crypto::SymmetricKey* key, std::string* report);

// Makes DIR/keys/curve (mode 0700) and, where missing, the CURVE key pairs of
// the front end, each replica, the operator and the default local client
// (layout.h). Existing keys are kept; what was made is appended to *report.
Status ensure_curve_keys(const std::string& dir, std::string* report);

// Makes a new CURVE key pair for client `name` in DIR/keys/curve/clients.
// InvalidArgument when it exists already or the name is not a plain file name
// (letters, digits, '-', '_', '.').
Status make_client_curve_key(const std::string& dir, const std::string& name, std::string* report);

}  // namespace triad::frontend
