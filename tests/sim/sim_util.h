// Shared by the simulation tests: the replicas' public keys as `triad up
// --dir` keeps them, written once per process into a temporary directory.
#pragma once

#include <gtest/gtest.h>

#include "crypto/ed25519.h"
#include "process/process_util.h"
#include "sim/sim.h"
#include "triad/certificate.h"

namespace triad::sim {

inline const Keyring& test_keyring() {
  static const testing::TempDir dir;
  static const Keyring ring = [] {
    const Status w = write_keys(dir.file("cluster"));
    EXPECT_TRUE(w.is_ok()) << w.to_string();
    Keyring k;
    const Status s = Keyring::load_dir(dir.file("cluster"), &k);
    EXPECT_TRUE(s.is_ok()) << s.to_string();
    return k;
  }();
  return ring;
}

}  // namespace triad::sim
