// JSON Lines over zstd (lib/core/zstd_lines.h): round trips, compatibility with the zstd CLI in
// both directions, and precise errors for truncated and corrupted files.
#include <catch2/catch.hpp>

#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/hash.h"
#include "core/zstd_lines.h"
#include "test_util.h"

using namespace slmify;
using slmify_test::expect_error;
using slmify_test::run_command;
using slmify_test::shell_quote;
using slmify_test::TempDir;
namespace fs = std::filesystem;

namespace {

ZstdFileInfo write_lines(const fs::path& p, const std::vector<std::string>& lines, int level = 3) {
  ZstdLineWriter w(p, level);
  for (const std::string& l : lines) w.write_line(l);
  return w.finish();
}

std::vector<std::string> read_lines(const fs::path& p) {
  ZstdLineReader r(p);
  std::vector<std::string> out;
  std::string line;
  while (r.next(line)) out.push_back(line);
  return out;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string s;
  for (const std::string& l : lines) s += l + "\n";
  return s;
}

// A mix that exercises the reader's buffer handling: empty lines, multi-byte UTF-8, a line far
// longer than every internal buffer, and thousands of short lines across zstd blocks.
std::vector<std::string> mixed_lines() {
  std::vector<std::string> v;
  v.push_back("");
  v.push_back("first");
  v.push_back("");
  v.push_back("");
  v.push_back("caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E \xF0\x9F\x8E\x89 \xD9\x85\xD8\xB1\xD8\xAD\xD8\xA8\xD8\xA7");
  v.push_back("{\"json\": \"with \\u0000 escaped NUL and \\\"quotes\\\"\"}");
  std::string big(5 * 1000 * 1000, 'x');
  std::mt19937 rng(42);
  for (char& c : big) c = static_cast<char>('a' + rng() % 26);  // poorly compressible: many blocks
  v.push_back(big);
  for (int i = 0; i < 20000; ++i) v.push_back("line " + std::to_string(i));
  v.push_back("\t  spaces and tab  ");
  v.push_back("");  // the file ends with an empty line
  return v;
}

// Writes `content` to a plain file and compresses it with the zstd CLI using `flags`.
fs::path zstd_cli_compress(const TempDir& tmp, const std::string& name, const std::string& content,
                           const std::string& flags) {
  fs::path plain = tmp / (name + ".txt");
  fs::path z = tmp / (name + ".zst");
  slmify_test::write_bytes(plain, content);
  auto r = run_command("zstd -q -f " + flags + " " + shell_quote(plain.string()) + " -o " + shell_quote(z.string()));
  REQUIRE(r.status == 0);
  return z;
}

}  // namespace

TEST_CASE("zstd lines round trip: empty lines, unicode, a 5 MB line, many lines", "[core][zstd]") {
  TempDir tmp;
  auto p = tmp / "lines.jsonl.zst";
  std::vector<std::string> lines = mixed_lines();
  ZstdFileInfo info = write_lines(p, lines);

  uint64_t raw = 0;
  for (auto& l : lines) raw += l.size() + 1;
  CHECK(info.lines == lines.size());
  CHECK(info.raw_bytes == raw);
  CHECK(info.bytes == fs::file_size(p));
  CHECK(info.sha256 == slmify_test::sha256sum_cmd(p));

  ZstdLineReader r(p);
  std::string line;
  size_t i = 0, bad_numbers = 0;
  while (r.next(line)) {
    if (i >= lines.size()) FAIL("more lines than written");
    if (line != lines[i]) FAIL("line " << i + 1 << " differs (" << line.size() << " vs " << lines[i].size() << " bytes)");
    ++i;
    if (r.line_number() != i) ++bad_numbers;
  }
  CHECK(i == lines.size());
  CHECK(bad_numbers == 0);
  CHECK(r.line_number() == lines.size());
  CHECK_FALSE(r.next(line));  // stays at the end
  CHECK(r.bytes_read() == fs::file_size(p));
  CHECK(r.sha256() == slmify_test::sha256sum_cmd(p));
}

TEST_CASE("zstd lines file decompresses with the zstd CLI to exactly the lines", "[core][zstd]") {
  TempDir tmp;
  auto p = tmp / "lines.jsonl.zst";
  std::vector<std::string> lines = mixed_lines();
  write_lines(p, lines, 5);
  auto out = tmp / "plain.txt";
  auto r = run_command("zstd -q -dc " + shell_quote(p.string()) + " > " + shell_quote(out.string()));
  REQUIRE(r.status == 0);
  std::string expected = joined(lines);
  std::string got = slmify_test::read_bytes(out);
  CHECK(got.size() == expected.size());
  CHECK((got == expected));
  // The integrity check of the CLI (frame checksum included) passes too.
  CHECK(run_command("zstd -q -t " + shell_quote(p.string())).status == 0);
}

TEST_CASE("zstd lines reader reads files written by the zstd CLI", "[core][zstd]") {
  TempDir tmp;
  std::vector<std::string> lines;
  std::mt19937 rng(7);
  for (int i = 0; i < 3000; ++i) {
    std::string l = "{\"n\": " + std::to_string(i) + ", \"text\": \"";
    size_t len = rng() % 2000;
    for (size_t k = 0; k < len; ++k) l += static_cast<char>('a' + rng() % 26);
    lines.push_back(l + "\"}");
  }
  std::string content = joined(lines);  // ~3 MB, many 128 KiB blocks
  SECTION("default flags (with frame checksum)") {
    CHECK(read_lines(zstd_cli_compress(tmp, "default", content, "")) == lines);
  }
  SECTION("without frame checksum") {
    CHECK(read_lines(zstd_cli_compress(tmp, "nocheck", content, "--no-check")) == lines);
  }
  SECTION("level 19 (long matches, small subset to stay fast)") {
    std::vector<std::string> some(lines.begin(), lines.begin() + 300);
    CHECK(read_lines(zstd_cli_compress(tmp, "l19", joined(some) + joined(some), "-19")) ==
          [&] { auto v = some; v.insert(v.end(), some.begin(), some.end()); return v; }());
  }
  SECTION("two concatenated frames") {
    std::vector<std::string> a(lines.begin(), lines.begin() + 1000), b(lines.begin() + 1000, lines.end());
    auto za = zstd_cli_compress(tmp, "a", joined(a), "");
    auto zb = zstd_cli_compress(tmp, "b", joined(b), "--no-check");
    auto both = tmp / "both.zst";
    slmify_test::write_bytes(both, slmify_test::read_bytes(za) + slmify_test::read_bytes(zb));
    CHECK(read_lines(both) == lines);
  }
  SECTION("the last line without a newline") {
    std::string c = content + "tail without newline";
    auto z = zstd_cli_compress(tmp, "tail", c, "");
    auto expect = lines;
    expect.push_back("tail without newline");
    CHECK(read_lines(z) == expect);
  }
  SECTION("CRLF line ends are kept as data") {
    auto z = zstd_cli_compress(tmp, "crlf", "a\r\nb\r\n", "");
    CHECK(read_lines(z) == std::vector<std::string>{"a\r", "b\r"});
  }
}

TEST_CASE("zstd lines writer with no lines makes a valid empty file", "[core][zstd]") {
  TempDir tmp;
  auto p = tmp / "empty.zst";
  ZstdFileInfo info = write_lines(p, {});
  CHECK(info.lines == 0);
  CHECK(info.raw_bytes == 0);
  CHECK(info.bytes > 0);  // a zstd frame header at least
  CHECK(read_lines(p).empty());
  auto r = run_command("zstd -q -dc " + shell_quote(p.string()) + " | wc -c");
  CHECK(r.status == 0);
  CHECK(std::stoi(r.out) == 0);
}

TEST_CASE("zstd lines reader reports a truncated file as bad data naming the file", "[core][zstd]") {
  TempDir tmp;
  auto p = tmp / "trunc.jsonl.zst";
  std::vector<std::string> lines;
  for (int i = 0; i < 50000; ++i) lines.push_back("{\"i\": " + std::to_string(i) + ", \"pad\": \"" + std::to_string(i * 7919) + "\"}");
  write_lines(p, lines);
  std::string full = slmify_test::read_bytes(p);
  REQUIRE(full.size() > 1000);

  for (size_t cut : {size_t(1), size_t(3), size_t(4), size_t(100), full.size() / 2}) {
    INFO("cut the last " << cut << " bytes");
    slmify_test::write_bytes(p, full.substr(0, full.size() - cut));
    uint64_t got = 0;
    Error e = expect_error([&] {
      ZstdLineReader r(p);
      std::string line;
      while (r.next(line)) ++got;
    });
    CHECK(e.code() == ExitCode::bad_data);
    std::string msg = e.what();
    CHECK_THAT(msg, Catch::Contains(p.string()));
    CHECK_THAT(msg, Catch::Contains("truncated"));
    CHECK(got <= lines.size());
  }
}

TEST_CASE("zstd lines reader reports a flipped byte as bad data naming the file", "[core][zstd]") {
  TempDir tmp;
  auto p = tmp / "flip.jsonl.zst";
  std::vector<std::string> lines;
  for (int i = 0; i < 20000; ++i) lines.push_back("{\"i\": " + std::to_string(i) + ", \"word\": \"w" + std::to_string(i * 31) + "\"}");
  write_lines(p, lines);
  std::string full = slmify_test::read_bytes(p);
  // Several positions in the middle of the file: the frame checksum catches what the block
  // decoder does not, so every one of them must end in an error, never in a clean end of file.
  for (size_t pos : {full.size() / 2, full.size() / 3, full.size() / 2 + 17, full.size() - 40}) {
    INFO("flipped byte at offset " << pos << " of " << full.size());
    slmify_test::write_bytes(p, full);
    slmify_test::flip_byte(p, pos);
    Error e = expect_error([&] {
      ZstdLineReader r(p);
      std::string line;
      while (r.next(line)) {
      }
    });
    CHECK(e.code() == ExitCode::bad_data);
    CHECK_THAT(std::string(e.what()), Catch::Contains(p.string()));
    CHECK_THAT(std::string(e.what()), Catch::Contains("corrupt") || Catch::Contains("truncated"));
  }
}

TEST_CASE("zstd lines reader rejects a file that is not zstd", "[core][zstd]") {
  TempDir tmp;
  auto p = tmp / "plain.jsonl.zst";
  slmify_test::write_bytes(p, "{\"not\": \"compressed\"}\n");
  Error e = expect_error([&] { read_lines(p); });
  CHECK(e.code() == ExitCode::bad_data);
  CHECK_THAT(std::string(e.what()), Catch::Contains(p.string()));
  SECTION("nor a valid file with bytes appended") {
    auto z = tmp / "appended.zst";
    write_lines(z, {"one", "two"});
    std::string good = slmify_test::read_bytes(z);
    for (std::string tail : {std::string("garbage after the frame"), std::string("\x01\x02")}) {
      slmify_test::write_bytes(z, good + tail);
      INFO("appended " << tail.size() << " bytes");
      Error e2 = expect_error([&] { read_lines(z); });
      CHECK(e2.code() == ExitCode::bad_data);
      CHECK_THAT(std::string(e2.what()), Catch::Contains(z.string()));
    }
  }
}

TEST_CASE("zstd lines reader treats an empty (0-byte) file as truncated", "[core][zstd]") {
  // `zstd -dc` rejects a 0-byte file ("unexpected end of file"); a 0-byte .zst is a file cut off
  // before its frame header, not a file of zero lines.
  TempDir tmp;
  auto p = tmp / "zero.zst";
  slmify_test::write_bytes(p, "");
  REQUIRE(run_command("zstd -q -dc " + shell_quote(p.string()) + " 2>/dev/null").status != 0);
  Error e = expect_error([&] { read_lines(p); });
  CHECK(e.code() == ExitCode::bad_data);
  CHECK_THAT(std::string(e.what()), Catch::Contains(p.string()));
}

TEST_CASE("zstd lines reader sha256() is stable when called twice", "[core][zstd]") {
  // The header documents sha256() as "sha256 of the compressed bytes read so far"; it finalises
  // and resets the running hash, so a second call returns the hash of nothing.
  TempDir tmp;
  auto p = tmp / "sha2.zst";
  write_lines(p, {"a", "b", "c"});
  ZstdLineReader r(p);
  std::string line;
  while (r.next(line)) {
  }
  std::string expected = slmify_test::sha256sum_cmd(p);
  CHECK(r.sha256() == expected);
  CHECK(r.sha256() == expected);
}

TEST_CASE("zstd lines missing input or unwritable output is an I/O error naming the file", "[core][zstd]") {
  TempDir tmp;
  auto missing = tmp / "missing.zst";
  Error e1 = expect_error([&] { ZstdLineReader r(missing); });
  CHECK(e1.code() == ExitCode::io);
  CHECK_THAT(std::string(e1.what()), Catch::Contains(missing.string()));
  auto bad_out = tmp / "no-such-dir" / "out.zst";
  Error e2 = expect_error([&] { ZstdLineWriter w(bad_out); });
  CHECK(e2.code() == ExitCode::io);
  CHECK_THAT(std::string(e2.what()), Catch::Contains(bad_out.string()));
}
