// Encryption at rest of dataset shards: XChaCha20-Poly1305 in libsodium's secretstream
// construction, in chunks, so that streams stay streams and truncation or tampering is detected.
// Keys come from a key file or an environment variable and are never written anywhere.
// File layout and key check: docs/dataset-format.md. Tested by tests/core/test_crypto.cpp.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace slmify {

struct EncryptionConfig;

using DataKey = std::array<unsigned char, 32>;

/// The key from `cfg.key_file` (64 hex digits, or 32 raw bytes) or else the environment variable
/// `cfg.key_env` (64 hex digits). nullopt when neither is set; a usage Error when one is set but
/// malformed, naming the file or variable (never the value).
std::optional<DataKey> data_key_load(const EncryptionConfig& cfg);
/// A value that identifies a key without revealing it (keyed BLAKE2b of a fixed label), stored in
/// manifests so that a wrong key is reported as such before any shard is read.
std::string data_key_check(const DataKey& key);
/// A fresh random key as 64 hex digits (for `slmify dataset keygen`).
std::string data_key_generate_hex();

inline constexpr char kEncryptedMagic[8] = {'S', 'L', 'M', 'E', 'N', 'C', '0', '1'};

/// Encrypts a byte stream: write() plaintext, finish() the final chunk; `out` receives the file
/// bytes (magic, secretstream header, then per chunk a 4-byte little-endian length and the
/// ciphertext).
class Encryptor {
 public:
  Encryptor(const DataKey& key, std::function<void(const void*, size_t)> out);
  ~Encryptor();
  void write(const void* data, size_t n);
  void finish();

 private:
  void push(bool final);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Decrypts the stream Encryptor wrote. `in` reads file bytes (returns how many, 0 at the end).
/// read() returns plaintext bytes, 0 at the end; a bad-data Error names `where` when the file is
/// not encrypted, was encrypted with another key, is truncated or was altered.
class Decryptor {
 public:
  Decryptor(const DataKey& key, std::function<size_t(void*, size_t)> in, std::string where);
  ~Decryptor();
  size_t read(void* dst, size_t n);

 private:
  bool next_chunk();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace slmify
