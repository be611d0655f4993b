// `triad up` runs the front end and the replicas with glibc malloc's heap on
// transparent huge pages (src/cli/main.cc says why), by executing itself
// again with GLIBC_TUNABLES set: same process, same pid.
#include <gtest/gtest.h>

#include <string>

#include "cluster.h"
#include "process_util.h"

namespace triad::testing {
namespace {

bool has_huge_page_heap(pid_t pid) {
  std::string env = read_file("/proc/" + std::to_string(pid) + "/environ");
  for (char& ch : env) {
    if (ch == '\0') ch = '\n';
  }
  return ("\n" + env).find("\nGLIBC_TUNABLES=glibc.malloc.hugetlb=1\n") != std::string::npos;
}

TEST(Heap, FrontEndAndReplicasRunOnHugePages) {
  TempDir tmp;
  write_file(tmp.file("cards.csv"), kOneCardFile);
  Cluster cluster(tmp, tmp.file("cards.csv"));
  ASSERT_TRUE(cluster.ready()) << read_file(tmp.file("up.stderr"));
  EXPECT_TRUE(has_huge_page_heap(cluster.process().pid()))
      << "the front end, the pid it started as";
  int replicas = 0;
  for (const pid_t pid : processes_mentioning(tmp.path())) {
    if (pid == cluster.process().pid()) continue;
    ++replicas;
    EXPECT_TRUE(has_huge_page_heap(pid)) << "pid " << pid;
  }
  EXPECT_EQ(replicas, 3);
  EXPECT_EQ(cluster.stop(), 0);
}

}  // namespace
}  // namespace triad::testing
