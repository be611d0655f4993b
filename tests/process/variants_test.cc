// The three replica builds are really different, and `triad up` says so.
#include <gtest/gtest.h>

#include "cluster.h"
#include "process_util.h"

namespace triad::testing {
namespace {

std::string fingerprint(const std::string& variant) {
  std::string out;
  EXPECT_EQ(run({bin("triad-replica-" + variant), "--version"}, &out), 0);
  return out;
}

TEST(Variants, FingerprintsNameThreeDifferentToolchains) {
  const std::string a = fingerprint("a");
  const std::string b = fingerprint("b");
  const std::string c = fingerprint("c");
  EXPECT_NE(a.find("gcc "), std::string::npos) << a;
  EXPECT_NE(a.find("libstdc++"), std::string::npos) << a;
  EXPECT_NE(a.find("-O2"), std::string::npos) << a;
  EXPECT_NE(a.find("index=hash"), std::string::npos) << a;
  EXPECT_NE(b.find("clang "), std::string::npos) << b;
  EXPECT_NE(b.find("libc++ "), std::string::npos) << b;
  EXPECT_NE(b.find("-O3"), std::string::npos) << b;
  EXPECT_NE(b.find("index=ordered"), std::string::npos) << b;
  EXPECT_NE(c.find("gcc "), std::string::npos) << c;
  EXPECT_NE(c.find("+assertions"), std::string::npos) << c;
  EXPECT_NE(c.find("-O1"), std::string::npos) << c;
  EXPECT_NE(c.find("index=sorted"), std::string::npos) << c;
  EXPECT_NE(a, b);
  EXPECT_NE(b, c);
  EXPECT_NE(a, c);
}

TEST(Variants, UpLogsTheThreeFingerprints) {
  TempDir tmp;
  write_file(tmp.file("cards.csv"), kOneCardFile);
  Cluster cluster(tmp, tmp.file("cards.csv"));
  ASSERT_TRUE(cluster.ready());
  EXPECT_EQ(cluster.stop(), 0);
  const std::string log = read_file(tmp.file("up.stderr"));
  for (const char* v : {"a", "b", "c"}) {
    std::string fp = fingerprint(v);
    fp.pop_back();  // newline
    EXPECT_NE(log.find(std::string("replica ") + v + " fingerprint: " + fp), std::string::npos)
        << log;
  }
}

TEST(Variants, IdenticalBuildsAreRefusedUnlessAllowed) {
  TempDir tmp;
  write_file(tmp.file("cards.csv"), kOneCardFile);
  {
    Child up({bin("triad"), "up", "--cards", tmp.file("cards.csv"), "--dir", tmp.file("data"),
              "--listen", "tcp://127.0.0.1:*", "--replica-bin", bin("triad-replica-a")},
             "", tmp.file("refused.err"));
    EXPECT_EQ(up.read_all(30'000), "");
    EXPECT_EQ(up.wait(30'000), 2);
    const std::string err = read_file(tmp.file("refused.err"));
    EXPECT_NE(err.find("report the same build fingerprint"), std::string::npos) << err;
    EXPECT_NE(err.find("--allow-identical-builds"), std::string::npos) << err;
    EXPECT_TRUE(processes_mentioning(tmp.path()).empty());
  }
  Cluster allowed(tmp, tmp.file("cards.csv"),
                  {"--replica-bin", bin("triad-replica-a"), "--allow-identical-builds"});
  ASSERT_TRUE(allowed.ready());
  EXPECT_EQ(allowed.stop(), 0);
  EXPECT_NE(read_file(tmp.file("up.stderr")).find("WARNING: replicas a and b report the same"),
            std::string::npos);
}

}  // namespace
}  // namespace triad::testing
