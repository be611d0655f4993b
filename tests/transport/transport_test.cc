// CURVE key files, the ZAP policy, and the ZAP handler with real sockets in
// one process (inproc handler, loopback TCP).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "transport/curve.h"
#include "transport/zap.h"

namespace triad::transport {
namespace {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "triad-transport-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

mode_t mode_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

std::vector<std::uint8_t> binary_of(const std::string& z85) {
  std::vector<std::uint8_t> key(32);
  EXPECT_NE(zmq_z85_decode(key.data(), z85.c_str()), nullptr);
  return key;
}

TEST(CurveKeyFilesTest, WrittenPairLoadsBackWithModes) {
  TempDir tmp;
  CurveKeyPair pair;
  ASSERT_TRUE(CurveKeyPair::generate(&pair).is_ok());
  ASSERT_EQ(pair.public_key.size(), kZ85KeyChars);
  ASSERT_TRUE(write_curve_key_pair(tmp.file("x.key"), tmp.file("x.pub"), pair).is_ok());
  EXPECT_EQ(mode_of(tmp.file("x.key")), 0600u);
  EXPECT_EQ(mode_of(tmp.file("x.pub")), 0644u);

  CurveKeyPair loaded;
  ASSERT_TRUE(load_curve_key_pair(tmp.file("x.key"), &loaded).is_ok());
  EXPECT_EQ(loaded.secret_key, pair.secret_key);
  EXPECT_EQ(loaded.public_key, pair.public_key);  // derived from the secret key
  std::string pub;
  ASSERT_TRUE(load_curve_public_key(tmp.file("x.pub"), &pub).is_ok());
  EXPECT_EQ(pub, pair.public_key);

  // Never overwrites.
  const Status again = write_curve_key_pair(tmp.file("x.key"), tmp.file("y.pub"), pair);
  EXPECT_EQ(again.code(), Status::Code::kInvalidArgument) << again.to_string();
  EXPECT_FALSE(std::filesystem::exists(tmp.file("y.pub")));
}

TEST(CurveKeyFilesTest, SecretKeyOthersCanReadIsRefusedNamingTheFile) {
  TempDir tmp;
  CurveKeyPair pair;
  ASSERT_TRUE(CurveKeyPair::generate(&pair).is_ok());
  ASSERT_TRUE(write_curve_key_pair(tmp.file("x.key"), tmp.file("x.pub"), pair).is_ok());
  for (const mode_t mode : {0644u, 0640u, 0604u, 0620u}) {
    ASSERT_EQ(::chmod(tmp.file("x.key").c_str(), mode), 0);
    CurveKeyPair loaded;
    const Status s = load_curve_key_pair(tmp.file("x.key"), &loaded);
    EXPECT_EQ(s.code(), Status::Code::kPermissionDenied) << s.to_string();
    EXPECT_NE(s.message().find(tmp.file("x.key")), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("chmod 600"), std::string::npos) << s.message();
    EXPECT_TRUE(loaded.secret_key.empty());
  }
  // The public half may be read by anyone.
  ASSERT_EQ(::chmod(tmp.file("x.pub").c_str(), 0666), 0);
  std::string pub;
  EXPECT_TRUE(load_curve_public_key(tmp.file("x.pub"), &pub).is_ok());
}

TEST(CurveKeyFilesTest, MalformedAndMissingFiles) {
  TempDir tmp;
  std::string key;
  EXPECT_EQ(load_curve_public_key(tmp.file("none.pub"), &key).code(), Status::Code::kNotFound);
  std::ofstream(tmp.file("short.pub")) << "abc\n";
  Status s = load_curve_public_key(tmp.file("short.pub"), &key);
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("short.pub"), std::string::npos) << s.message();
  // 40 characters, but '~' is not in the Z85 alphabet.
  std::ofstream(tmp.file("bad.pub")) << std::string(40, '~') << "\n";
  EXPECT_EQ(load_curve_public_key(tmp.file("bad.pub"), &key).code(), Status::Code::kCorruption);
  // A PEM (Ed25519) file is not a CURVE key.
  std::ofstream(tmp.file("pem.pub")) << "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n";
  EXPECT_EQ(load_curve_public_key(tmp.file("pem.pub"), &key).code(), Status::Code::kCorruption);
}

TEST(CurveKeyFilesTest, AllowListDirectory) {
  TempDir tmp;
  std::vector<std::pair<std::string, std::string>> keys;
  EXPECT_EQ(load_curve_public_keys(tmp.file("none"), &keys).code(), Status::Code::kNotFound);
  std::filesystem::create_directory(tmp.file("allow"));
  ASSERT_TRUE(load_curve_public_keys(tmp.file("allow"), &keys).is_ok());
  EXPECT_TRUE(keys.empty());
  CurveKeyPair b;
  CurveKeyPair a;
  ASSERT_TRUE(CurveKeyPair::generate(&a).is_ok());
  ASSERT_TRUE(CurveKeyPair::generate(&b).is_ok());
  ASSERT_TRUE(
      write_curve_key_pair(tmp.file("allow/bob.key"), tmp.file("allow/bob.pub"), b).is_ok());
  ASSERT_TRUE(
      write_curve_key_pair(tmp.file("allow/alice.key"), tmp.file("allow/alice.pub"), a).is_ok());
  std::ofstream(tmp.file("allow/notes.txt")) << "not a key\n";
  ASSERT_TRUE(load_curve_public_keys(tmp.file("allow"), &keys).is_ok());
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0], std::make_pair(std::string("alice"), a.public_key));
  EXPECT_EQ(keys[1], std::make_pair(std::string("bob"), b.public_key));
  // One bad file fails the list, naming it: a typo must not silently shrink it.
  std::ofstream(tmp.file("allow/carol.pub")) << "garbage\n";
  const Status s = load_curve_public_keys(tmp.file("allow"), &keys);
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("carol.pub"), std::string::npos) << s.message();
}

TEST(ZapPolicyTest, Decisions) {
  CurveKeyPair replica;
  CurveKeyPair stranger;
  ASSERT_TRUE(CurveKeyPair::generate(&replica).is_ok());
  ASSERT_TRUE(CurveKeyPair::generate(&stranger).is_ok());
  ZapPolicy policy;
  policy.admit("replica", replica.public_key, "replica-a");
  policy.admit_any("client");
  const auto replica_key = binary_of(replica.public_key);
  const auto stranger_key = binary_of(stranger.public_key);

  ZapDecision d = policy.decide("replica", "CURVE", replica_key);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.user_id, "replica-a");

  d = policy.decide("replica", "CURVE", stranger_key);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason, "key not admitted");

  d = policy.decide("client", "CURVE", stranger_key);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.user_id, "any");

  d = policy.decide("client", "NULL", {});
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason, "mechanism NULL, CURVE required");

  d = policy.decide("control", "CURVE", replica_key);  // nobody configured it
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason, "unknown ZAP domain");

  d = policy.decide("replica", "CURVE", std::span(replica_key).first(31));
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason, "malformed CURVE credential");

  // An allow-list: the listed key by its name, the others refused.
  ZapPolicy listed;
  listed.admit("client", replica.public_key, "switch-1");
  EXPECT_EQ(listed.decide("client", "CURVE", replica_key).user_id, "switch-1");
  EXPECT_FALSE(listed.decide("client", "CURVE", stranger_key).allowed);
}

// A reloaded allow-list: the keys replaced whole, what is admitted now
// answered for handshakes (decide) and for connections made before (admits).
TEST(ZapPolicyTest, ReplacedKeysDecideFromThenOn) {
  CurveKeyPair first;
  CurveKeyPair second;
  ASSERT_TRUE(CurveKeyPair::generate(&first).is_ok());
  ASSERT_TRUE(CurveKeyPair::generate(&second).is_ok());
  ZapPolicy policy;
  policy.admit("client", first.public_key, "switch-1");
  policy.admit("replica", first.public_key, "replica-a");
  EXPECT_TRUE(policy.admits("client", first.public_key));
  EXPECT_FALSE(policy.admits("client", second.public_key));

  // switch-1 now holds the second key: the first is out.
  policy.replace_keys("client", {{second.public_key, "switch-1"}});
  EXPECT_FALSE(policy.admits("client", first.public_key));
  EXPECT_TRUE(policy.admits("client", second.public_key));
  EXPECT_FALSE(policy.decide("client", "CURVE", binary_of(first.public_key)).allowed);
  EXPECT_EQ(policy.decide("client", "CURVE", binary_of(second.public_key)).user_id, "switch-1");
  EXPECT_EQ(policy.keys("client"), (ZapPolicy::KeyNames{{second.public_key, "switch-1"}}));
  EXPECT_TRUE(policy.admits("replica", first.public_key)) << "another domain is untouched";
  EXPECT_FALSE(policy.admits("control", first.public_key)) << "nobody configured it";
  EXPECT_TRUE(policy.keys("control").empty());

  // A domain admitting any key still does after its listed keys change.
  ZapPolicy any;
  any.admit_any("client");
  any.replace_keys("client", {});
  EXPECT_TRUE(any.admits("client", first.public_key));
}

// A CURVE server socket with a handler admitting one key, and three clients:
// the admitted one, one with another key, one without CURVE.
TEST(ZapHandlerTest, AdmitsOnlyThePolicysKeysAndCountsTheRest) {
  zmq::context_t context(1);
  CurveKeyPair server_keys;
  CurveKeyPair good;
  CurveKeyPair bad;
  ASSERT_TRUE(CurveKeyPair::generate(&server_keys).is_ok());
  ASSERT_TRUE(CurveKeyPair::generate(&good).is_ok());
  ASSERT_TRUE(CurveKeyPair::generate(&bad).is_ok());
  ZapPolicy policy;
  policy.admit("client", good.public_key, "good");
  ZapHandler zap(context, policy);
  ASSERT_TRUE(zap.start().is_ok());

  zmq::socket_t server(context, zmq::socket_type::router);
  server.set(zmq::sockopt::linger, 0);
  set_curve_server(server, server_keys, "client");
  ASSERT_TRUE(zap.watch(server, "client").is_ok());
  server.bind("tcp://127.0.0.1:*");
  const std::string endpoint = server.get(zmq::sockopt::last_endpoint);

  const auto client = [&](const CurveKeyPair* own) {
    zmq::socket_t s(context, zmq::socket_type::dealer);
    s.set(zmq::sockopt::linger, 0);
    if (own != nullptr) set_curve_client(s, *own, server_keys.public_key);
    s.connect(endpoint);
    s.send(zmq::str_buffer("hello"), zmq::send_flags::none);
    return s;
  };
  zmq::socket_t good_client = client(&good);
  zmq::socket_t bad_client = client(&bad);
  // The client without CURVE: a plain ZeroMQ socket would see the mismatch
  // too, and when it hangs up first the server counts a failed handshake
  // ("Broken pipe") instead. A TCP socket that sends a ZMTP 3.0 greeting
  // for the NULL mechanism and then only listens leaves the server to find
  // the mismatch, every time.
  const int plain_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(plain_fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port =
      htons(static_cast<std::uint16_t>(std::stoi(endpoint.substr(endpoint.rfind(':') + 1))));
  ASSERT_EQ(::connect(plain_fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
  std::array<std::uint8_t, 64> greeting{};  // signature, version 3.0, "NULL", as-server 0
  greeting[0] = 0xFF;
  greeting[9] = 0x7F;
  greeting[10] = 3;
  std::memcpy(greeting.data() + 12, "NULL", 4);
  ASSERT_EQ(::write(plain_fd, greeting.data(), greeting.size()),
            static_cast<ssize_t>(greeting.size()));

  std::vector<std::string> users;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (std::chrono::steady_clock::now() < deadline) {
    std::vector<zmq::pollitem_t> items{{server.handle(), 0, ZMQ_POLLIN, 0}};
    const std::size_t first = zap.add_poll_items(&items);
    zmq::poll(items.data(), items.size(), std::chrono::milliseconds(20));
    zap.serve(std::span(items).subspan(first));
    zmq::message_t id;
    while (server.recv(id, zmq::recv_flags::dontwait)) {
      zmq::message_t body;
      ASSERT_TRUE(server.recv(body, zmq::recv_flags::none));
      users.push_back(body.gets("User-Id"));
      // The key the connection was admitted with, for a later check.
      EXPECT_STREQ(body.gets(kClientKeyProperty), good.public_key.c_str());
    }
    if (!users.empty() && zap.refused_total("client") >= 2) break;
  }
  EXPECT_EQ(users, std::vector<std::string>{"good"});
  ASSERT_GE(zap.refused_total("client"), 2u);
  const auto& reasons = zap.refused().at("client");
  EXPECT_GE(reasons.count("key not admitted"), 1u);
  EXPECT_GE(reasons.count("security mechanism mismatch (a client without CURVE?)"), 1u);
  ::close(plain_fd);
}

}  // namespace
}  // namespace triad::transport
