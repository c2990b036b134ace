// Encryption at rest (crypto.h): round trips at chunk boundaries, and every way a stream can be
// wrong (another key, a flipped byte, truncation, trailing bytes, not encrypted) is detected with
// a clear error; key loading from a file (hex or raw) and from the environment.
#include <sodium.h>

#include <catch2/catch.hpp>
#include <cstring>

#include "core/config.h"
#include "core/crypto.h"
#include "core/error.h"
#include "test_util.h"

using namespace slmify;

namespace {

DataKey key_of(unsigned char seed) {
  DataKey k;
  for (size_t i = 0; i < k.size(); ++i) k[i] = static_cast<unsigned char>(seed + i);
  return k;
}

std::string encrypt(const DataKey& k, const std::string& plain, size_t piece = 1000) {
  std::string out;
  Encryptor e(k, [&](const void* p, size_t n) { out.append(static_cast<const char*>(p), n); });
  for (size_t i = 0; i < plain.size(); i += piece) e.write(plain.data() + i, std::min(piece, plain.size() - i));
  e.finish();
  return out;
}

std::string decrypt(const DataKey& k, const std::string& file) {
  size_t pos = 0;
  Decryptor d(
      k,
      [&](void* dst, size_t n) {
        size_t take = std::min(n, file.size() - pos);
        std::memcpy(dst, file.data() + pos, take);
        pos += take;
        return take;
      },
      "test.enc");
  std::string out;
  char buf[7000];
  for (size_t r; (r = d.read(buf, sizeof buf)) > 0;) out.append(buf, r);
  return out;
}

std::string random_bytes(size_t n) {
  std::string s(n, '\0');
  randombytes_buf(s.data(), n);
  return s;
}

}  // namespace

TEST_CASE("encryption round trips at every chunk boundary", "[core][crypto]") {
  REQUIRE(sodium_init() >= 0);
  DataKey k = key_of(1);
  for (size_t n : {size_t(0), size_t(1), size_t(65535), size_t(65536), size_t(65537), size_t(3) << 20}) {
    INFO("plaintext of " << n << " bytes");
    std::string plain = random_bytes(n);
    std::string file = encrypt(k, plain);
    CHECK(file.compare(0, 8, std::string(kEncryptedMagic, 8)) == 0);
    CHECK(file.size() > plain.size());  // header and per-chunk tags
    CHECK(decrypt(k, file) == plain);
    if (n >= 64) CHECK(file.find(plain.substr(0, 64)) == std::string::npos);
  }
  // Two encryptions of the same text differ (a fresh nonce each time).
  CHECK(encrypt(k, "same text") != encrypt(k, "same text"));
}

TEST_CASE("a wrong key, a flipped byte, truncation and trailing bytes are all detected", "[core][crypto]") {
  REQUIRE(sodium_init() >= 0);
  DataKey k = key_of(7);
  std::string plain = random_bytes(200000);
  std::string file = encrypt(k, plain);
  auto fails = [&](const DataKey& key, const std::string& f, const char* what) {
    Error e = slmify_test::expect_error([&] { decrypt(key, f); });
    CHECK(e.code() == ExitCode::bad_data);
    CHECK_THAT(std::string(e.what()), Catch::Contains("test.enc") && Catch::Contains(what));
  };
  fails(key_of(8), file, "cannot be decrypted");
  for (size_t at : {size_t(40), file.size() / 2, file.size() - 3}) {
    std::string f = file;
    f[at] = static_cast<char>(f[at] ^ 0x10);
    INFO("flipped byte " << at);
    fails(k, f, "decrypted");
  }
  fails(k, file.substr(0, file.size() - 100), "truncated");
  // Cut exactly after a complete chunk: the final chunk is missing.
  size_t first_chunk_end = 8 + crypto_secretstream_xchacha20poly1305_HEADERBYTES + 4 + 65536 +
                           crypto_secretstream_xchacha20poly1305_ABYTES;
  fails(k, file.substr(0, first_chunk_end), "final encrypted chunk");
  fails(k, file + "x", "after its final");
  fails(k, "plain text, not encrypted", "not an encrypted");
}

TEST_CASE("data keys load from a hex file, a raw file or the environment, and never echo the value", "[core][crypto]") {
  slmify_test::TempDir t;
  std::string hex = data_key_generate_hex();
  REQUIRE(hex.size() == 64);
  EncryptionConfig c;
  c.key_env = "";
  CHECK_FALSE(data_key_load(c).has_value());

  slmify_test::write_bytes(t / "hex.key", hex + "\n");
  c.key_file = (t / "hex.key").string();
  auto from_hex = data_key_load(c);
  REQUIRE(from_hex);

  slmify_test::write_bytes(t / "raw.key", std::string(reinterpret_cast<const char*>(from_hex->data()), 32));
  c.key_file = (t / "raw.key").string();
  CHECK(data_key_load(c) == from_hex);

  c.key_file = "";
  c.key_env = "SLMIFY_TEST_CRYPTO_KEY";
  setenv("SLMIFY_TEST_CRYPTO_KEY", hex.c_str(), 1);
  CHECK(data_key_load(c) == from_hex);

  setenv("SLMIFY_TEST_CRYPTO_KEY", "not-a-key-but-secret", 1);
  Error e = slmify_test::expect_error([&] { data_key_load(c); });
  CHECK(e.code() == ExitCode::usage);
  CHECK_THAT(std::string(e.what()), Catch::Contains("$SLMIFY_TEST_CRYPTO_KEY"));
  CHECK_THAT(std::string(e.what()), !Catch::Contains("not-a-key-but-secret"));
  unsetenv("SLMIFY_TEST_CRYPTO_KEY");

  slmify_test::write_bytes(t / "bad.key", "0123");
  c.key_file = (t / "bad.key").string();
  CHECK(slmify_test::expect_error([&] { data_key_load(c); }).code() == ExitCode::usage);

  CHECK(data_key_check(*from_hex) == data_key_check(*from_hex));
  CHECK(data_key_check(*from_hex) != data_key_check(key_of(1)));
  CHECK(data_key_check(*from_hex).find(hex.substr(0, 8)) == std::string::npos);
}
