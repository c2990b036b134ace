// SHA-256 (OpenSSL, which uses the CPU's SHA extensions where present) for shard checksums, dataset and config digests, and record content ids.
// Tested by tests/core/test_hash.cpp against the FIPS 180-2 test vectors.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace slmify {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* data, size_t n);
  void update(std::string_view s) { update(s.data(), s.size()); }
  /// Finishes the hash and returns it as 64 lowercase hex digits; the object is then reset.
  std::string hex();
  /// The hash of what was added so far, leaving the object as it is (more may be added).
  std::string peek_hex() const;

 private:
  void* ctx_;  // EVP_MD_CTX, kept opaque so that OpenSSL's headers stay out of this one
};

std::string sha256_hex(std::string_view data);
/// sha256 of a whole file, streamed; throws an I/O Error naming the file.
std::string sha256_file(const std::filesystem::path& path);

}  // namespace slmify
