// SHA-256 through OpenSSL's EVP interface: about 1.5 GB/s per core with SHA-NI, several times
// libsodium's portable code (scripts/bench measures the dataset layer that depends on it).
#include "core/hash.h"

#include <openssl/evp.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <memory>

#include "core/error.h"

namespace slmify {

static EVP_MD_CTX* ctx(void* p) { return static_cast<EVP_MD_CTX*>(p); }

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  SLMIFY_ASSERT(ctx_ != nullptr && EVP_DigestInit_ex(ctx(ctx_), EVP_sha256(), nullptr) == 1, "SHA-256 init failed");
}

Sha256::~Sha256() { EVP_MD_CTX_free(ctx(ctx_)); }

void Sha256::update(const void* data, size_t n) {
  if (n) EVP_DigestUpdate(ctx(ctx_), data, n);
}

std::string Sha256::hex() {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx(ctx_), out, &len);
  EVP_DigestInit_ex(ctx(ctx_), EVP_sha256(), nullptr);
  static const char* digits = "0123456789abcdef";
  std::string s(2 * len, '0');
  for (unsigned i = 0; i < len; ++i) {
    s[2 * i] = digits[out[i] >> 4];
    s[2 * i + 1] = digits[out[i] & 15];
  }
  return s;
}

std::string Sha256::peek_hex() const {
  Sha256 copy;
  EVP_MD_CTX_copy_ex(ctx(copy.ctx_), ctx(ctx_));
  return copy.hex();
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
