// SHA-256 (lib/core/hash.h): FIPS 180-2 test vectors, streaming, and sha256_file against the
// coreutils `sha256sum` command.
#include <catch2/catch.hpp>

#include <random>

#include "core/error.h"
#include "core/hash.h"
#include "test_util.h"

using namespace slmify;
using slmify_test::TempDir;

namespace {

const char* kAbc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
const char* k448 = "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
const char* kMillionA = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
const char* kEmpty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const char* k448Msg = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

std::string random_bytes(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

}  // namespace

TEST_CASE("sha256_hex matches the FIPS 180-2 test vectors", "[core][hash]") {
  CHECK(sha256_hex("abc") == kAbc);
  CHECK(sha256_hex(k448Msg) == k448);
  CHECK(sha256_hex(std::string(1000000, 'a')) == kMillionA);
  CHECK(sha256_hex("") == kEmpty);
  CHECK(sha256_hex(std::string_view()) == kEmpty);
}

TEST_CASE("Sha256 streaming gives the same digest however the input is split", "[core][hash]") {
  SECTION("one million 'a' fed in uneven chunks") {
    Sha256 h;
    std::string chunk(997, 'a');  // prime size: chunks straddle the 64-byte block boundaries
    size_t left = 1000000;
    while (left > 0) {
      size_t n = std::min(left, chunk.size());
      h.update(chunk.data(), n);
      left -= n;
    }
    CHECK(h.hex() == kMillionA);
  }
  SECTION("the 448-bit message split at every position") {
    std::string msg = k448Msg;
    for (size_t cut = 0; cut <= msg.size(); ++cut) {
      Sha256 h;
      h.update(std::string_view(msg).substr(0, cut));
      h.update(std::string_view(msg).substr(cut));
      INFO("cut at " << cut);
      CHECK(h.hex() == k448);
    }
  }
  SECTION("one byte at a time") {
    Sha256 h;
    for (char c : std::string("abc")) h.update(&c, 1);
    CHECK(h.hex() == kAbc);
  }
}

TEST_CASE("Sha256::hex resets the object for a new message", "[core][hash]") {
  Sha256 h;
  h.update("abc");
  REQUIRE(h.hex() == kAbc);
  CHECK(h.hex() == kEmpty);  // nothing fed since the reset
  h.update(k448Msg);
  CHECK(h.hex() == k448);
}

TEST_CASE("sha256_file equals the sha256sum command", "[core][hash]") {
  TempDir tmp;
  // Sizes around the 64 KiB read buffer of sha256_file and the 64-byte SHA block.
  for (size_t n : {size_t(0), size_t(1), size_t(55), size_t(64), size_t(65535), size_t(65536), size_t(65537),
                   size_t(1000003)}) {
    auto p = tmp / ("f" + std::to_string(n) + ".bin");
    std::string data = random_bytes(n, static_cast<unsigned>(n) + 7);
    slmify_test::write_bytes(p, data);
    INFO("file of " << n << " bytes");
    std::string mine = sha256_file(p);
    CHECK(mine == slmify_test::sha256sum_cmd(p));
    CHECK(mine == sha256_hex(data));
  }
  auto abc = tmp / "abc.txt";
  slmify_test::write_bytes(abc, "abc");
  CHECK(sha256_file(abc) == kAbc);
}

TEST_CASE("sha256_file on a missing file is an I/O error naming the file", "[core][hash]") {
  TempDir tmp;
  auto p = tmp / "no-such-file.bin";
  Error e = slmify_test::expect_error([&] { sha256_file(p); });
  CHECK(e.code() == ExitCode::io);
  CHECK_THAT(std::string(e.what()), Catch::Contains(p.string()));
}
