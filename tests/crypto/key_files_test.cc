#include "crypto/key_files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "crypto/base64.h"
#include "crypto_test_util.h"

namespace triad::crypto {
namespace {

using testing::array_from_hex;
using testing::as_bytes;
using testing::from_hex;

// RFC 8032 TEST 1.
constexpr const char* kSeedHex = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
constexpr const char* kPublicHex =
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

std::string pem(const char* label, const std::string& der_hex) {
  return std::string("-----BEGIN ") + label + "-----\n" + base64_encode(from_hex(der_hex)) +
         "\n-----END " + label + "-----\n";
}

class KeyFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char templ[] = "/tmp/triad-crypto-test-XXXXXX";
    ASSERT_NE(::mkdtemp(templ), nullptr);
    dir_ = templ;
    ASSERT_TRUE(SigningKey::from_seed(array_from_hex<32>(kSeedHex), &key_).is_ok());
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::string path(const std::string& name) const { return dir_ + "/" + name; }

  static mode_t mode_of(const std::string& p) {
    struct stat st {};
    EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
    return st.st_mode & 07777;
  }
  static std::string read(const std::string& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  static void write(const std::string& p, const std::string& text, mode_t mode) {
    {
      std::ofstream o(p);
      o << text;
    }
    ASSERT_EQ(::chmod(p.c_str(), mode), 0);
  }

  std::string dir_;
  SigningKey key_;
};

TEST_F(KeyFilesTest, RoundTrip) {
  const std::string secret = path("replica-a.key");
  const std::string pub = path("replica-a.pub");
  ASSERT_TRUE(write_key_pair(secret, pub, key_).is_ok());
  EXPECT_EQ(mode_of(secret), 0600u);
  EXPECT_EQ(mode_of(pub), 0644u);

  SigningKey loaded;
  Status status = load_signing_key(secret, &loaded);
  ASSERT_TRUE(status.is_ok()) << status.to_string();
  EXPECT_EQ(loaded.public_key(), key_.public_key());
  EXPECT_EQ(loaded.sign(as_bytes("m")), key_.sign(as_bytes("m")));

  PublicKey public_key{};
  status = load_public_key(pub, &public_key);
  ASSERT_TRUE(status.is_ok()) << status.to_string();
  EXPECT_EQ(public_key, key_.public_key());
}

TEST_F(KeyFilesTest, SodiumBackendReadsAndWritesTheSameFiles) {
  SigningKey sodium_key;
  ASSERT_TRUE(
      SigningKey::from_seed(array_from_hex<32>(kSeedHex), Ed25519Backend::kSodium, &sodium_key)
          .is_ok());
  ASSERT_TRUE(write_key_pair(path("k"), path("k.pub"), sodium_key).is_ok());
  EXPECT_EQ(read(path("k")),
            pem("PRIVATE KEY", std::string("302e020100300506032b657004220420") + kSeedHex));
  SigningKey loaded;
  Status status = load_signing_key(path("k"), &loaded);  // the default backend: libsodium
  ASSERT_TRUE(status.is_ok()) << status.to_string();
  EXPECT_EQ(loaded.backend(), Ed25519Backend::kSodium);
  EXPECT_EQ(loaded.sign(as_bytes("m")), key_.sign(as_bytes("m")));
}

TEST_F(KeyFilesTest, FilesAreStandardPem) {
  const std::string secret = path("k");
  const std::string pub = path("k.pub");
  ASSERT_TRUE(write_key_pair(secret, pub, key_).is_ok());
  // PKCS#8 OneAsymmetricKey and SubjectPublicKeyInfo for OID 1.3.101.112 (RFC 8410).
  EXPECT_EQ(read(secret),
            pem("PRIVATE KEY", std::string("302e020100300506032b657004220420") + kSeedHex));
  EXPECT_EQ(read(pub), pem("PUBLIC KEY", std::string("302a300506032b6570032100") + kPublicHex));
}

TEST_F(KeyFilesTest, ModesDoNotDependOnUmask) {
  for (mode_t mask : {mode_t{0}, mode_t{077}, mode_t{022}}) {
    mode_t old = ::umask(mask);
    // append, not "k" + ...: GCC 12 warns falsely (-Wrestrict) on that form here.
    const std::string secret = path(std::string("k").append(std::to_string(mask)));
    const std::string pub = secret + ".pub";
    Status status = write_key_pair(secret, pub, key_);
    ::umask(old);
    ASSERT_TRUE(status.is_ok()) << status.to_string();
    EXPECT_EQ(mode_of(secret), 0600u) << "umask " << mask;
    EXPECT_EQ(mode_of(pub), 0644u) << "umask " << mask;
  }
}

TEST_F(KeyFilesTest, LoadRefusesSecretReadableByOthers) {
  const std::string secret = path("k");
  ASSERT_TRUE(write_key_pair(secret, path("k.pub"), key_).is_ok());
  ASSERT_EQ(::chmod(secret.c_str(), 0644), 0);
  SigningKey loaded;
  Status status = load_signing_key(secret, &loaded);
  EXPECT_EQ(status.code(), Status::Code::kPermissionDenied);
  EXPECT_EQ(status.message(),
            "refusing key file " + secret + ": mode 0644 lets others read it; chmod 600 " + secret);
  EXPECT_FALSE(loaded.has_key());

  ASSERT_EQ(::chmod(secret.c_str(), 0620), 0);
  status = load_signing_key(secret, &loaded);
  EXPECT_EQ(status.code(), Status::Code::kPermissionDenied);
  EXPECT_NE(status.message().find("mode 0620 lets others write it"), std::string::npos)
      << status.message();

  ASSERT_EQ(::chmod(secret.c_str(), 0606), 0);
  status = load_signing_key(secret, &loaded);
  EXPECT_EQ(status.code(), Status::Code::kPermissionDenied);
  EXPECT_NE(status.message().find("read and write"), std::string::npos) << status.message();

  ASSERT_EQ(::chmod(secret.c_str(), 0400), 0);  // owner read-only is fine
  EXPECT_TRUE(load_signing_key(secret, &loaded).is_ok());
}

TEST_F(KeyFilesTest, WriteRefusesToOverwrite) {
  const std::string secret = path("k");
  const std::string pub = path("k.pub");
  ASSERT_TRUE(write_key_pair(secret, pub, key_).is_ok());
  const std::string before = read(secret);

  SigningKey other;
  ASSERT_TRUE(SigningKey::generate(&other).is_ok());
  Status status = write_key_pair(secret, path("other.pub"), other);
  EXPECT_EQ(status.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(status.message().find(secret), std::string::npos) << status.message();
  EXPECT_EQ(read(secret), before);
  EXPECT_FALSE(std::filesystem::exists(path("other.pub")));

  // The public file exists: the new secret file must not be left behind.
  status = write_key_pair(path("other"), pub, other);
  EXPECT_EQ(status.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(status.message().find(pub), std::string::npos) << status.message();
  EXPECT_FALSE(std::filesystem::exists(path("other")));

  EXPECT_EQ(write_key_pair(path("same"), path("same"), other).code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(write_key_pair(path("x"), path("x.pub"), SigningKey()).code(),
            Status::Code::kInvalidArgument);
}

TEST_F(KeyFilesTest, WriteCreatesNoDirectories) {
  const std::string secret = path("missing/k");
  Status status = write_key_pair(secret, path("missing/k.pub"), key_);
  EXPECT_EQ(status.code(), Status::Code::kIoError);
  EXPECT_NE(status.message().find(secret), std::string::npos) << status.message();
  EXPECT_FALSE(std::filesystem::exists(path("missing")));
}

TEST_F(KeyFilesTest, LoadErrors) {
  SigningKey loaded;
  PublicKey public_key{};
  const std::string missing = path("missing");
  Status status = load_signing_key(missing, &loaded);
  EXPECT_EQ(status.code(), Status::Code::kNotFound);
  EXPECT_NE(status.message().find(missing), std::string::npos);
  EXPECT_EQ(load_public_key(missing, &public_key).code(), Status::Code::kNotFound);

  EXPECT_EQ(load_signing_key(dir_, &loaded).code(), Status::Code::kIoError);
  EXPECT_EQ(load_public_key(dir_, &public_key).code(), Status::Code::kIoError);

  const std::string garbage = path("garbage");
  write(garbage, "not a key\n", 0600);
  status = load_signing_key(garbage, &loaded);
  EXPECT_EQ(status.code(), Status::Code::kCorruption);
  EXPECT_NE(status.message().find(garbage), std::string::npos);
  EXPECT_EQ(load_public_key(garbage, &public_key).code(), Status::Code::kCorruption);

  const std::string empty = path("empty");
  write(empty, "", 0600);
  EXPECT_EQ(load_signing_key(empty, &loaded).code(), Status::Code::kCorruption);

  // A public key where a secret one is expected, and the other way round.
  ASSERT_TRUE(write_key_pair(path("k"), path("k.pub"), key_).is_ok());
  ASSERT_EQ(::chmod(path("k.pub").c_str(), 0600), 0);
  EXPECT_EQ(load_signing_key(path("k.pub"), &loaded).code(), Status::Code::kCorruption);
  EXPECT_EQ(load_public_key(path("k"), &public_key).code(), Status::Code::kCorruption);
  EXPECT_FALSE(loaded.has_key());
  EXPECT_EQ(public_key, PublicKey{});

  std::string big(100 * 1024, 'A');
  write(path("big"), big, 0600);
  EXPECT_EQ(load_signing_key(path("big"), &loaded).code(), Status::Code::kCorruption);
}

TEST_F(KeyFilesTest, RefusesOtherKeyTypesAndEncryptedKeys) {
  SigningKey loaded;
  PublicKey public_key{};
  write(path("ed448"),
        "-----BEGIN PRIVATE KEY-----\n"
        "MEcCAQAwBQYDK2VxBDsEOVeTcJv6HfYv5n8VM6iHypCmP/Prv2lf86f6ULg9sy0P\n"
        "+Vo8ZWhlWBtsIL8DJdWAIOD/JRgNIR11/g==\n"
        "-----END PRIVATE KEY-----\n",
        0600);
  Status status = load_signing_key(path("ed448"), &loaded);
  EXPECT_EQ(status.code(), Status::Code::kCorruption);
  EXPECT_NE(status.message().find("not Ed25519"), std::string::npos) << status.message();

  write(path("ed448.pub"),
        "-----BEGIN PUBLIC KEY-----\n"
        "MEMwBQYDK2VxAzoAzhg8jPmaN23GWwH1v/TtUeX0zivLEyrv81a9O6aQelxGtfpe\n"
        "cwNlLHn0J3nJyTGLaL76MK25Dk8A\n"
        "-----END PUBLIC KEY-----\n",
        0644);
  status = load_public_key(path("ed448.pub"), &public_key);
  EXPECT_EQ(status.code(), Status::Code::kCorruption);
  EXPECT_NE(status.message().find("not Ed25519"), std::string::npos) << status.message();

  // Encrypted PKCS#8 (password "secret"): refused, never prompts.
  write(path("encrypted"),
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\n"
        "MIGbMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAhrMR1VC4Zn+wICCAAw\n"
        "DAYIKoZIhvcNAgkFADAdBglghkgBZQMEASoEEMXh859HZdnxYpHaz/OqLqkEQMf5\n"
        "HmFbCwTlJySF+PaAb8xtG4ds+f7nDs+WQxwpCuFCpkS422WZs8Clnm3I/VxNPoy2\n"
        "+1BjBrdR7wLznlaE1Uk=\n"
        "-----END ENCRYPTED PRIVATE KEY-----\n",
        0600);
  EXPECT_EQ(load_signing_key(path("encrypted"), &loaded).code(), Status::Code::kCorruption);
  EXPECT_FALSE(loaded.has_key());
}

// The journal's AES key: same creation mode and the same refusal as a secret
// signing key (the code is shared), plus its own format check.
TEST_F(KeyFilesTest, SymmetricKeyRoundTripModeAndRefusal) {
  const SymmetricKey key = SymmetricKey::generate();
  const std::string p = path("journal.key");
  ASSERT_TRUE(write_symmetric_key(p, key).is_ok());
  EXPECT_EQ(mode_of(p), 0600u);
  EXPECT_EQ(read(p).size(), 65u);
  SymmetricKey loaded;
  ASSERT_TRUE(load_symmetric_key(p, &loaded).is_ok());
  EXPECT_EQ(loaded.bytes(), key.bytes());
  EXPECT_EQ(write_symmetric_key(p, key).code(), Status::Code::kInvalidArgument) << "no overwrite";

  ASSERT_EQ(::chmod(p.c_str(), 0640), 0);
  const Status s = load_symmetric_key(p, &loaded);
  EXPECT_EQ(s.code(), Status::Code::kPermissionDenied);
  EXPECT_NE(s.message().find("chmod 600 " + p), std::string::npos) << s.message();

  write(path("short.key"), "abcd\n", 0600);
  EXPECT_EQ(load_symmetric_key(path("short.key"), &loaded).code(), Status::Code::kCorruption);
  write(path("bad.key"), std::string(63, '0') + "x\n", 0600);
  EXPECT_EQ(load_symmetric_key(path("bad.key"), &loaded).code(), Status::Code::kCorruption);
  EXPECT_EQ(load_symmetric_key(path("missing.key"), &loaded).code(), Status::Code::kNotFound);
}

}  // namespace
}  // namespace triad::crypto
