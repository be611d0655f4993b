// A real cluster for a test: `triad up` on loopback with an ephemeral port,
// in its own temporary directory, stopped with SIGTERM at the end.
#pragma once

#include <gtest/gtest.h>

#include <memory>

#include "process_util.h"

namespace triad::testing {

class Cluster {
 public:
  // `listen`: a free loopback port unless given (a restart where the
  // cluster before it was).
  Cluster(const TempDir& tmp, const std::string& cards_path,
          const std::vector<std::string>& extra_args = {},
          const std::string& listen = "tcp://127.0.0.1:*")
      : dir_(tmp.file("data")) {
    std::vector<std::string> argv = {bin("triad"), "up",    "--cards",
                                     cards_path,   "--dir", dir_,
                                     "--listen",   listen,  "--trust-client-time"};
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

// `triad submit` of the file at `path` to `cluster` (with `options` before
// the file, e.g. {"--window", "8"}); its exit status, and in *out what it
// printed: one verdict per input line.
inline int submit_file(const Cluster& cluster, const std::string& path, std::string* out,
                       const std::vector<std::string>& options = {}, int timeout_ms = 120'000) {
  std::vector<std::string> argv = {bin("triad"),  "submit",     "--dir",
                                   cluster.dir(), "--endpoint", cluster.endpoint()};
  argv.insert(argv.end(), options.begin(), options.end());
  argv.push_back(path);
  return run(argv, out, "", timeout_ms);
}

}  // namespace triad::testing
