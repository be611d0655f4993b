// The sample generator's card file and traffic, written where a process
// test's `triad up` and `triad submit` read them.
#pragma once

#include <string>
#include <vector>

#include "process_util.h"
#include "sample/sample.h"

namespace triad::testing {

// Writes tmp/cards.csv and tmp/traffic.jsonl (one transaction per line)
// from `options`; returns the traffic's lines.
inline std::vector<std::string> write_sample_files(const TempDir& tmp,
                                                   const sample::Options& options) {
  write_file(tmp.file("cards.csv"), sample::generate_card_file(options));
  std::vector<std::string> traffic = sample::generate_traffic(options);
  std::string text;
  for (const auto& line : traffic) text += line + "\n";
  write_file(tmp.file("traffic.jsonl"), text);
  return traffic;
}

}  // namespace triad::testing
