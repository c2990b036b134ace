// SHA-256 through libsodium's crypto_hash_sha256 (streaming API).
#include "core/hash.h"

#include <sodium.h>

#include <cerrno>
#include <cstdio>
#include <memory>

#include "core/error.h"

namespace slmify {

static_assert(sizeof(crypto_hash_sha256_state) <= 256, "state buffer too small");

static crypto_hash_sha256_state* st(std::array<unsigned char, 256>& a) {
  return reinterpret_cast<crypto_hash_sha256_state*>(a.data());
}

Sha256::Sha256() {
  static const int init = sodium_init();  // idempotent; -1 only if the CPU lacks a usable RNG
  (void)init;
  crypto_hash_sha256_init(st(state_));
}

void Sha256::update(const void* data, size_t n) {
  crypto_hash_sha256_update(st(state_), static_cast<const unsigned char*>(data), n);
}

std::string Sha256::hex() {
  unsigned char out[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_final(st(state_), out);
  crypto_hash_sha256_init(st(state_));
  static const char* digits = "0123456789abcdef";
  std::string s(2 * sizeof out, '0');
  for (size_t i = 0; i < sizeof out; ++i) {
    s[2 * i] = digits[out[i] >> 4];
    s[2 * i + 1] = digits[out[i] & 15];
  }
  return s;
}

std::string sha256_hex(std::string_view data) {
  Sha256 h;
  h.update(data);
  return h.hex();
}

std::string sha256_file(const std::filesystem::path& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) throw_errno("opening for checksum", path.string(), errno);
  Sha256 h;
  std::array<char, 1 << 16> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), f.get())) > 0) h.update(buf.data(), n);
  if (std::ferror(f.get())) throw_errno("reading for checksum", path.string(), errno);
  return h.hex();
}

}  // namespace slmify
