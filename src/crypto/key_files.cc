#include "crypto/key_files.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string_view>
#include <system_error>
#include <utility>

#include "common/hex.h"
#include "crypto/key_access.h"
#include "crypto/openssl_util.h"

namespace triad::crypto {
namespace {

using detail::BioPtr;
using detail::PkeyPtr;
using detail::take_openssl_error;

// A PEM Ed25519 key is a few hundred bytes; anything this big is not one.
constexpr size_t kMaxKeyFileBytes = 64 * 1024;

constexpr mode_t kGroupOrOthersReadWrite = S_IRGRP | S_IWGRP | S_IROTH | S_IWOTH;

std::string reason(int err) { return std::error_code(err, std::generic_category()).message(); }

std::string octal_mode(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

// PEM text of `pkey`: PKCS#8 when `secret`, SubjectPublicKeyInfo otherwise.
// Returns Internal on an OpenSSL failure (out of memory).
Status to_pem(EVP_PKEY* pkey, bool secret, SecretText* out) {
  BioPtr bio(BIO_new(secret ? BIO_s_secmem() : BIO_s_mem()));
  if (bio == nullptr) return Status::internal("BIO_new: " + take_openssl_error());
  int written =
      secret ? PEM_write_bio_PrivateKey(bio.get(), pkey, nullptr, nullptr, 0, nullptr, nullptr)
             : PEM_write_bio_PUBKEY(bio.get(), pkey);
  if (written != 1) return Status::internal("PEM encoding failed: " + take_openssl_error());
  char* data = nullptr;
  long len = BIO_ctrl(bio.get(), BIO_CTRL_INFO, 0, &data);  // BIO_get_mem_data
  if (len <= 0 || data == nullptr) return Status::internal("PEM encoding produced nothing");
  out->text.assign(data, static_cast<size_t>(len));
  return Status::ok();
}

// Creates `path` (which must not exist) with exactly `mode` and writes `data`.
// Sets *created once the file exists, so the caller can remove it on failure.
Status create_file(const std::string& path, mode_t mode, std::string_view data, bool* created) {
  int fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOCTTY, mode);
  if (fd < 0) {
    int err = errno;
    if (err == EEXIST) {
      return Status::invalid_argument("refusing to overwrite existing key file " + path);
    }
    return Status::io_error("cannot create key file " + path + ": " + reason(err));
  }
  *created = true;
  Status status;
  // The umask may have removed bits from `mode`; set it exactly.
  if (::fchmod(fd, mode) != 0) {
    status = Status::io_error("cannot set mode " + octal_mode(mode) + " on key file " + path +
                              ": " + reason(errno));
  }
  size_t done = 0;
  while (status.is_ok() && done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      status = Status::io_error("cannot write key file " + path + ": " + reason(errno));
    } else {
      done += static_cast<size_t>(n);
    }
  }
  if (status.is_ok() && ::fsync(fd) != 0) {
    status = Status::io_error("cannot sync key file " + path + ": " + reason(errno));
  }
  if (::close(fd) != 0 && status.is_ok()) {
    status = Status::io_error("cannot close key file " + path + ": " + reason(errno));
  }
  return status;
}

// "read", "write" or "read and write": what `mode` lets group or others do.
std::string what_others_may_do(mode_t mode) {
  bool read = (mode & (S_IRGRP | S_IROTH)) != 0;
  bool write = (mode & (S_IWGRP | S_IWOTH)) != 0;
  if (read && write) return "read and write";
  return read ? "read" : "write";
}

// Never asks for a passphrase: an encrypted key file fails to load instead of
// prompting on a terminal.
int no_passphrase(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*u*/) { return -1; }

// "an RSA", "an ED448"... for messages.
std::string key_type(EVP_PKEY* pkey) {
  const char* name = EVP_PKEY_get0_type_name(pkey);
  std::string type = name != nullptr ? name : "unknown";
  bool vowel = std::string_view("AEIOUaeiou").find(type[0]) != std::string_view::npos;
  return (vowel ? "an " : "a ") + type;
}

BioPtr read_only_bio(const std::string& text) {
  return BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

}  // namespace

SecretText::~SecretText() { OPENSSL_cleanse(text.data(), text.size()); }

Status read_key_file(const std::string& path, bool secret, SecretText* out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT) return Status::not_found("key file " + path + " does not exist");
    return Status::io_error("cannot open key file " + path + ": " + reason(err));
  }
  Status status;
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    status = Status::io_error("cannot stat key file " + path + ": " + reason(errno));
  } else if (!S_ISREG(st.st_mode)) {
    status = Status::io_error("key file " + path + " is not a regular file");
  } else if (secret && (st.st_mode & kGroupOrOthersReadWrite) != 0) {
    status = Status::permission_denied("refusing key file " + path + ": mode " +
                                       octal_mode(st.st_mode) + " lets others " +
                                       what_others_may_do(st.st_mode) + " it; chmod 600 " + path);
  } else if (st.st_size > static_cast<off_t>(kMaxKeyFileBytes)) {
    status = Status::corruption("key file " + path + " is " + std::to_string(st.st_size) +
                                " bytes, too large to be a key");
  }
  if (status.is_ok()) {
    // Sized once so the secret is never copied by a reallocation.
    out->text.resize(kMaxKeyFileBytes + 1);
    size_t done = 0;
    while (done < out->text.size()) {
      ssize_t n = ::read(fd, out->text.data() + done, out->text.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        status = Status::io_error("cannot read key file " + path + ": " + reason(errno));
        break;
      }
      if (n == 0) break;
      done += static_cast<size_t>(n);
    }
    if (status.is_ok() && done > kMaxKeyFileBytes) {
      status = Status::corruption("key file " + path + " is too large to be a key");
    }
    OPENSSL_cleanse(out->text.data() + done, out->text.size() - done);
    out->text.resize(done);
  }
  ::close(fd);
  return status;
}

Status write_key_files(const std::string& secret_path, const std::string& public_path,
                       std::string_view secret_text, std::string_view public_text) {
  if (secret_path == public_path) {
    return Status::invalid_argument("secret and public key files are the same path " + secret_path);
  }
  bool secret_created = false;
  Status status = create_file(secret_path, 0600, secret_text, &secret_created);
  if (status.is_ok()) {
    bool public_created = false;
    status = create_file(public_path, 0644, public_text, &public_created);
    if (!status.is_ok() && public_created) ::unlink(public_path.c_str());
  }
  if (!status.is_ok() && secret_created) ::unlink(secret_path.c_str());
  return status;
}

Status write_key_pair(const std::string& secret_path, const std::string& public_path,
                      const SigningKey& key) {
  EVP_PKEY* pkey = KeyAccess::pkey(key);
  if (pkey == nullptr) return Status::invalid_argument("cannot write an empty signing key");
  SecretText secret_pem;
  SecretText public_pem;
  TRIAD_RETURN_IF_ERROR(to_pem(pkey, /*secret=*/true, &secret_pem));
  TRIAD_RETURN_IF_ERROR(to_pem(pkey, /*secret=*/false, &public_pem));
  return write_key_files(secret_path, public_path, secret_pem.text, public_pem.text);
}

Status load_signing_key(const std::string& path, SigningKey* out) {
  SecretText pem;
  TRIAD_RETURN_IF_ERROR(read_key_file(path, /*secret=*/true, &pem));
  BioPtr bio = read_only_bio(pem.text);
  if (bio == nullptr) return Status::internal("BIO_new_mem_buf: " + take_openssl_error());
  PkeyPtr pkey(
      PEM_read_bio_PrivateKey_ex(bio.get(), nullptr, no_passphrase, nullptr, nullptr, nullptr));
  if (pkey == nullptr) {
    return Status::corruption("key file " + path +
                              " is not an unencrypted PEM private key: " + take_openssl_error());
  }
  if (EVP_PKEY_is_a(pkey.get(), "ED25519") != 1) {
    return Status::corruption("key file " + path + " holds " + key_type(pkey.get()) +
                              " key, not Ed25519");
  }
  SigningKey key;
  Status status = KeyAccess::adopt(std::move(pkey), default_ed25519_backend(), &key);
  if (!status.is_ok()) return Status::corruption("key file " + path + ": " + status.message());
  *out = std::move(key);
  return Status::ok();
}

Status load_public_key(const std::string& path, PublicKey* out) {
  SecretText pem;
  TRIAD_RETURN_IF_ERROR(read_key_file(path, /*secret=*/false, &pem));
  BioPtr bio = read_only_bio(pem.text);
  if (bio == nullptr) return Status::internal("BIO_new_mem_buf: " + take_openssl_error());
  PkeyPtr pkey(
      PEM_read_bio_PUBKEY_ex(bio.get(), nullptr, no_passphrase, nullptr, nullptr, nullptr));
  if (pkey == nullptr) {
    return Status::corruption("key file " + path +
                              " is not a PEM public key: " + take_openssl_error());
  }
  if (EVP_PKEY_is_a(pkey.get(), "ED25519") != 1) {
    return Status::corruption("key file " + path + " holds " + key_type(pkey.get()) +
                              " key, not Ed25519");
  }
  PublicKey key{};
  size_t len = key.size();
  if (EVP_PKEY_get_raw_public_key(pkey.get(), key.data(), &len) != 1 || len != key.size()) {
    return Status::corruption("key file " + path +
                              ": cannot read the Ed25519 public key: " + take_openssl_error());
  }
  *out = key;
  return Status::ok();
}

Status write_symmetric_key(const std::string& path, const SymmetricKey& key) {
  static constexpr char kDigits[] = "0123456789abcdef";
  SecretText text;
  text.text.reserve(2 * kAeadKeyBytes + 1);
  for (const std::uint8_t b : key.bytes()) {
    text.text.push_back(kDigits[b >> 4]);
    text.text.push_back(kDigits[b & 0xF]);
  }
  text.text.push_back('\n');
  bool created = false;
  Status status = create_file(path, 0600, text.text, &created);
  if (!status.is_ok() && created) ::unlink(path.c_str());
  return status;
}

Status load_symmetric_key(const std::string& path, SymmetricKey* out) {
  SecretText text;
  TRIAD_RETURN_IF_ERROR(read_key_file(path, /*secret=*/true, &text));
  std::string_view hex = text.text;
  while (!hex.empty() && (hex.back() == '\n' || hex.back() == '\r')) hex.remove_suffix(1);
  SymmetricKey key;
  if (!from_hex(hex, key.bytes())) {
    return Status::corruption("key file " + path + " is not " + std::to_string(2 * kAeadKeyBytes) +
                              " hexadecimal digits (a 256-bit key)");
  }
  *out = key;
  return Status::ok();
}

}  // namespace triad::crypto
