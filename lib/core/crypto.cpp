// libsodium secretstream (XChaCha20-Poly1305) over chunks of 64 KiB; see crypto.h.
#include "core/crypto.h"

#include <sodium.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/config.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "core/log.h"

namespace slmify {

static constexpr size_t kChunk = 1 << 16;

static void sodium_ready() {
  static const int rc = sodium_init();
  SLMIFY_ASSERT(rc >= 0, "libsodium could not be initialised");
}

static bool parse_hex_key(std::string s, DataKey& key) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.erase(0, 1);
  size_t len = 0;
  return s.size() == 64 && sodium_hex2bin(key.data(), key.size(), s.data(), s.size(), nullptr, &len, nullptr) == 0 &&
         len == key.size();
}

std::optional<DataKey> data_key_load(const EncryptionConfig& cfg) {
  sodium_ready();
  DataKey key{};
  if (!cfg.key_file.empty()) {
    struct stat sb{};
    if (::stat(cfg.key_file.c_str(), &sb) == 0 && (sb.st_mode & 077))  // as ssh does for private keys
      log_warn(cfg.key_file + ": the data key is readable by other users (mode " + [&] {
        char m[8];
        std::snprintf(m, sizeof m, "%04o", static_cast<unsigned>(sb.st_mode & 07777));
        return std::string(m);
      }() + "); make it private with chmod 600");
    std::string text = read_file(cfg.key_file);
    if (text.size() == key.size()) {
      std::memcpy(key.data(), text.data(), key.size());
      sodium_memzero(text.data(), text.size());
      return key;
    }
    bool ok = parse_hex_key(text, key);
    sodium_memzero(text.data(), text.size());
    if (!ok)
      throw_usage(cfg.key_file, "is not a data key: expected 64 hex digits (or 32 raw bytes)",
                  "make one with `slmify dataset keygen -o FILE` (written with mode 0600)");
    return key;
  }
  if (cfg.key_env.empty()) return std::nullopt;
  const char* v = std::getenv(cfg.key_env.c_str());
  if (!v || !*v) return std::nullopt;
  if (!parse_hex_key(v, key))
    throw_usage("$" + cfg.key_env, "is not a data key: expected 64 hex digits",
                "set it to the output of `slmify dataset keygen`");
  return key;
}

std::string data_key_check(const DataKey& key) {
  sodium_ready();
  static const char label[] = "slmify data key check v1";
  unsigned char out[16];
  crypto_generichash(out, sizeof out, reinterpret_cast<const unsigned char*>(label), sizeof label - 1, key.data(), key.size());
  char hex[sizeof out * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, out, sizeof out);
  return hex;
}

std::string data_key_generate_hex() {
  sodium_ready();
  DataKey key;
  crypto_secretstream_xchacha20poly1305_keygen(key.data());
  char hex[65];
  sodium_bin2hex(hex, sizeof hex, key.data(), key.size());
  sodium_memzero(key.data(), key.size());
  return hex;
}

// ---- Encryptor -----------------------------------------------------------------------------

struct Encryptor::Impl {
  crypto_secretstream_xchacha20poly1305_state st;
  std::function<void(const void*, size_t)> out;
  std::vector<unsigned char> plain, cipher;
};

Encryptor::Encryptor(const DataKey& key, std::function<void(const void*, size_t)> out) : impl_(new Impl) {
  sodium_ready();
  impl_->out = std::move(out);
  unsigned char header[crypto_secretstream_xchacha20poly1305_HEADERBYTES];
  crypto_secretstream_xchacha20poly1305_init_push(&impl_->st, header, key.data());
  impl_->out(kEncryptedMagic, sizeof kEncryptedMagic);
  impl_->out(header, sizeof header);
  impl_->plain.reserve(kChunk);
  impl_->cipher.resize(kChunk + crypto_secretstream_xchacha20poly1305_ABYTES);
}

Encryptor::~Encryptor() { sodium_memzero(&impl_->st, sizeof impl_->st); }

void Encryptor::write(const void* data, size_t n) {
  const unsigned char* p = static_cast<const unsigned char*>(data);
  while (n > 0) {
    size_t take = std::min(n, kChunk - impl_->plain.size());
    impl_->plain.insert(impl_->plain.end(), p, p + take);
    p += take;
    n -= take;
    if (impl_->plain.size() == kChunk) push(false);
  }
}

void Encryptor::push(bool final) {
  Impl& m = *impl_;
  unsigned long long clen = 0;
  crypto_secretstream_xchacha20poly1305_push(&m.st, m.cipher.data(), &clen, m.plain.data(), m.plain.size(), nullptr, 0,
                                             final ? crypto_secretstream_xchacha20poly1305_TAG_FINAL : 0);
  unsigned char len[4] = {static_cast<unsigned char>(clen), static_cast<unsigned char>(clen >> 8),
                          static_cast<unsigned char>(clen >> 16), static_cast<unsigned char>(clen >> 24)};
  m.out(len, 4);
  m.out(m.cipher.data(), static_cast<size_t>(clen));
  sodium_memzero(m.plain.data(), m.plain.size());
  m.plain.clear();
}

void Encryptor::finish() { push(true); }

// ---- Decryptor -----------------------------------------------------------------------------

struct Decryptor::Impl {
  crypto_secretstream_xchacha20poly1305_state st;
  std::function<size_t(void*, size_t)> in;
  std::string where;
  std::vector<unsigned char> cipher, plain;
  size_t pos = 0;
  bool final = false;
};

static bool read_exact(const std::function<size_t(void*, size_t)>& in, void* dst, size_t n) {
  unsigned char* p = static_cast<unsigned char*>(dst);
  while (n > 0) {
    size_t r = in(p, n);
    if (r == 0) return false;
    p += r;
    n -= r;
  }
  return true;
}

Decryptor::Decryptor(const DataKey& key, std::function<size_t(void*, size_t)> in, std::string where) : impl_(new Impl) {
  sodium_ready();
  Impl& m = *impl_;
  m.in = std::move(in);
  m.where = std::move(where);
  char magic[sizeof kEncryptedMagic];
  unsigned char header[crypto_secretstream_xchacha20poly1305_HEADERBYTES];
  if (!read_exact(m.in, magic, sizeof magic) || std::memcmp(magic, kEncryptedMagic, sizeof magic) != 0)
    throw_bad_data(m.where, "is not an encrypted slmify shard", "the manifest and the shard disagree; re-run the stage");
  if (!read_exact(m.in, header, sizeof header) ||
      crypto_secretstream_xchacha20poly1305_init_pull(&m.st, header, key.data()) != 0)
    throw_bad_data(m.where, "has a damaged encryption header", "restore the file or re-run the stage that wrote it");
}

Decryptor::~Decryptor() { sodium_memzero(&impl_->st, sizeof impl_->st); }

bool Decryptor::next_chunk() {
  Impl& m = *impl_;
  if (m.final) return false;
  unsigned char len[4];
  if (!read_exact(m.in, len, 4))
    throw_bad_data(m.where, "ends before its final encrypted chunk (the file is truncated)",
                   "restore the file or re-run the stage that wrote it");
  size_t clen = size_t(len[0]) | size_t(len[1]) << 8 | size_t(len[2]) << 16 | size_t(len[3]) << 24;
  if (clen < crypto_secretstream_xchacha20poly1305_ABYTES || clen > kChunk + crypto_secretstream_xchacha20poly1305_ABYTES)
    throw_bad_data(m.where, "has a damaged encrypted chunk", "restore the file or re-run the stage that wrote it");
  m.cipher.resize(clen);
  if (!read_exact(m.in, m.cipher.data(), clen))
    throw_bad_data(m.where, "ends in the middle of an encrypted chunk (the file is truncated)",
                   "restore the file or re-run the stage that wrote it");
  m.plain.resize(clen);
  unsigned long long plen = 0;
  unsigned char tag = 0;
  if (crypto_secretstream_xchacha20poly1305_pull(&m.st, m.plain.data(), &plen, &tag, m.cipher.data(), clen, nullptr, 0) != 0)
    throw_bad_data(m.where, "cannot be decrypted: the data was altered, or the key is not the one it was written with",
                   "check the key (encryption.key_file / key_env); if it is right, the file is damaged");
  m.plain.resize(plen);
  m.pos = 0;
  m.final = tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL;
  unsigned char extra;
  if (m.final && m.in(&extra, 1) != 0)
    throw_bad_data(m.where, "has data after its final encrypted chunk", "the file was altered; restore it or re-run the stage");
  return true;
}

size_t Decryptor::read(void* dst, size_t n) {
  Impl& m = *impl_;
  while (m.pos == m.plain.size()) {
    if (!next_chunk()) return 0;
  }
  size_t take = std::min(n, m.plain.size() - m.pos);
  std::memcpy(dst, m.plain.data() + m.pos, take);
  m.pos += take;
  return take;
}

}  // namespace slmify
