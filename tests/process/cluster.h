// A real cluster for a test: `triad up` on loopback with an ephemeral port,
// in its own temporary directory, stopped with SIGTERM at the end.
#pragma once

#include <gtest/gtest.h>

#include <memory>

#include "process_util.h"

namespace triad::testing {

class Cluster {
 public:
  Cluster(const TempDir& tmp, const std::string& cards_path,
          const std::vector<std::string>& extra_args = {})
      : dir_(tmp.file("data")) {
    std::vector<std::string> argv = {
        bin("triad"), "up",       "--cards",           cards_path,           "--dir",
        dir_,         "--listen", "tcp://127.0.0.1:*", "--trust-client-time"};
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    up_ = std::make_unique<Child>(argv, "", tmp.file("up.stderr"));
    const auto line = up_->read_line(30'000);
    if (line && line->rfind("ready ", 0) == 0) endpoint_ = line->substr(6);
  }

  bool ready() const { return !endpoint_.empty(); }
  const std::string& endpoint() const { return endpoint_; }
  const std::string& dir() const { return dir_; }
  Child& process() { return *up_; }

  // SIGTERM, then the exit status (-1 if it did not stop within 20 s).
  int stop() {
    up_->signal(SIGTERM);
    return up_->wait(20'000);
  }

 private:
  std::string dir_;
  std::string endpoint_;
  std::unique_ptr<Child> up_;
};

}  // namespace triad::testing
