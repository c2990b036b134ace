// Datasets (lib/core/dataset.h, manifest.h): round trips, sharding, manifest and accounting,
// one precise error per kind of damage, atomic commit (including SIGKILL of a writer at every
// phase) and bounded memory.
#include <catch2/catch.hpp>

#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include "core/dataset.h"
#include "core/dataset_tools.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/manifest.h"
#include "core/zstd_lines.h"
#include "slmify/version.h"
#include "test_util.h"

using namespace slmify;
using slmify_test::expect_error;
using slmify_test::make_record;
using slmify_test::TempDir;
namespace fs = std::filesystem;

namespace {

WriterOptions opts_with(uint64_t shard_records = 50000, const std::string& stage = "test") {
  WriterOptions o;
  o.stage = stage;
  o.shard_records = shard_records;
  return o;
}

std::vector<json> numbered_records(int from, int n) {
  std::vector<json> v;
  for (int i = from; i < from + n; ++i) v.push_back(make_record(i));
  return v;
}

Manifest write_dataset(const fs::path& dir, const std::vector<json>& recs, WriterOptions o = opts_with()) {
  DatasetWriter w(dir, std::move(o));
  size_t refused = 0;
  for (const json& r : recs) refused += !w.write(r);
  REQUIRE(refused == 0);
  return w.commit();
}

std::vector<json> read_all(const fs::path& dir, ReadOptions ro = {}) {
  DatasetReader r(dir, ro);
  std::vector<json> out;
  json rec;
  while (r.next(rec)) out.push_back(rec);
  return out;
}

// Names of the hidden siblings a writer for `dir` may leave (".NAME.tmp-..." / ".NAME.old-...").
std::vector<std::string> hidden_siblings(const fs::path& dir) {
  std::vector<std::string> v;
  std::string prefix = "." + dir.filename().string() + ".";
  for (const auto& e : fs::directory_iterator(dir.parent_path())) {
    std::string n = e.path().filename().string();
    if (n.rfind(prefix, 0) == 0) v.push_back(n);
  }
  std::sort(v.begin(), v.end());
  return v;
}

// Every file of a dataset directory with its bytes, to prove a dataset was not touched.
std::map<std::string, std::string> snapshot(const fs::path& dir) {
  std::map<std::string, std::string> m;
  for (const auto& e : fs::directory_iterator(dir)) m[e.path().filename().string()] = slmify_test::read_bytes(e.path());
  return m;
}

void write_manifest_json(const fs::path& dir, const json& j) {
  slmify_test::write_bytes(dir / "manifest.json", j.dump(2) + "\n");
}

json read_manifest_json(const fs::path& dir) { return json::parse(slmify_test::read_bytes(dir / "manifest.json")); }

// Replaces shard `idx` with `lines` and fixes manifest.json (counts, sizes, sha256, accounting,
// digest) so that only what is inside the lines can be wrong.
void rewrite_shard(const fs::path& dir, size_t idx, const std::vector<std::string>& lines) {
  Manifest m = manifest_read(dir);
  ShardInfo& s = m.shards.at(idx);
  ZstdFileInfo info;
  {
    ZstdLineWriter w(dir / s.file);
    for (const std::string& l : lines) w.write_line(l);
    info = w.finish();
  }
  int64_t diff = static_cast<int64_t>(info.lines) - static_cast<int64_t>(s.records);
  s.records = info.lines;
  s.bytes = info.bytes;
  s.raw_bytes = info.raw_bytes;
  s.sha256 = info.sha256;
  m.accounting.out = static_cast<uint64_t>(static_cast<int64_t>(m.accounting.out) + diff);
  m.accounting.in = static_cast<uint64_t>(static_cast<int64_t>(m.accounting.in) + diff);
  m.digest = m.compute_digest();
  write_manifest_json(dir, manifest_to_json(m));
}

std::string what(const Error& e) { return e.what(); }

}  // namespace

// ---- round trips --------------------------------------------------------------------------------

TEST_CASE("dataset round trip keeps unicode, NUL, large and empty strings exactly", "[core][dataset]") {
  TempDir tmp;
  auto dir = tmp / "ds";
  std::vector<json> recs;
  recs.push_back(make_record(0, "\xE4\xBD\xA0\xE5\xA5\xBD\xEF\xBC\x8C\xE4\xB8\x96\xE7\x95\x8C"));  // CJK
  recs.push_back(make_record(1, "emoji \xF0\x9F\x98\x80\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x92\xBB flags \xF0\x9F\x87\xAB\xF0\x9F\x87\xB7"));
  recs.push_back(make_record(2, "\xD7\xA9\xD7\x9C\xD7\x95\xD7\x9D \xD9\x85\xD8\xB1\xD8\xAD\xD8\xA8\xD8\xA7 \xE2\x80\x8F"));  // RTL + RLM
  static const char kControls[] = "nul\0inside and \x01\x1f controls, \"quotes\" \\ / \t\n\r";
  const std::string controls(kControls, sizeof kControls - 1);
  recs.push_back(make_record(3, controls));
  std::string big(3 * 1000 * 1000, ' ');
  std::mt19937 rng(1);
  for (char& c : big) c = static_cast<char>(' ' + rng() % 95);
  recs.push_back(make_record(4, big));
  json empty = make_record(5);
  empty["request"]["messages"][0]["content"] = "";
  empty["response"]["content"] = "";
  empty["meta"] = json::object();
  empty["ann"] = json::object();
  empty["source"]["agent"] = "";
  recs.push_back(empty);
  json full = make_record(6);
  full["usage"] = {{"prompt_tokens", 812}, {"completion_tokens", 64}};
  full["latency_ms"] = 930;
  full["cost_usd"] = 0.0041;
  full["request"]["params"] = {{"temperature", 0.2}};
  recs.push_back(full);

  Manifest m = write_dataset(dir, recs);
  CHECK(m.records() == recs.size());
  std::vector<json> back = read_all(dir);
  REQUIRE(back.size() == recs.size());
  for (size_t i = 0; i < recs.size(); ++i) {
    INFO("record " << i);
    CHECK(back[i] == recs[i]);
  }
  CHECK(back[3]["request"]["messages"][1]["content"].get<std::string>() == controls);
  CHECK(back[4]["request"]["messages"][1]["content"].get<std::string>() == big);

  // The shard is plain JSONL once decompressed: the NUL is escaped, never a raw byte.
  auto r = slmify_test::run_command("zstd -q -dc " + slmify_test::shell_quote((dir / m.shards[0].file).string()) +
                                    " | head -n 4 | tail -n 1");
  REQUIRE(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains("nul\\u0000inside"));
  CHECK(r.out.find('\0') == std::string::npos);
}

TEST_CASE("dataset with many shards keeps order, counts and locations", "[core][dataset]") {
  TempDir tmp;
  auto dir = tmp / "ds";
  std::vector<json> recs = numbered_records(0, 100);
  Manifest m = write_dataset(dir, recs, opts_with(7));
  REQUIRE(m.shards.size() == 15);  // 14 full shards of 7 and one of 2
  for (size_t i = 0; i < m.shards.size(); ++i) {
    char name[64];
    std::snprintf(name, sizeof name, "part-%05zu.jsonl.zst", i);
    CHECK(m.shards[i].file == name);
    CHECK(m.shards[i].records == (i < 14 ? 7u : 2u));
    CHECK(fs::exists(dir / name));
  }
  CHECK_FALSE(fs::exists(dir / "part-00015.jsonl.zst"));
  CHECK_FALSE(m.quarantine);  // nothing quarantined: no quarantine file, null in the manifest
  CHECK_FALSE(fs::exists(dir / "quarantine.jsonl.zst"));
  CHECK(read_manifest_json(dir)["quarantine"].is_null());

  DatasetReader reader(dir);
  json rec;
  int i = 0;
  while (reader.next(rec)) {
    if (rec != recs[static_cast<size_t>(i)]) FAIL("record " << i << " out of order: " << rec["id"]);
    if (i == 16) CHECK(reader.location() == (dir / "part-00002.jsonl.zst").string() + ":3");
    ++i;
  }
  CHECK(i == 100);

  // One shard alone, as shard-parallel stages read it.
  std::vector<std::string> ids;
  std::vector<uint64_t> lines;
  DatasetReader::read_shard(dir, m.shards[3], {}, [&](json& r, uint64_t line) {
    ids.push_back(r["id"]);
    lines.push_back(line);
  });
  CHECK(ids == std::vector<std::string>{"rec-21", "rec-22", "rec-23", "rec-24", "rec-25", "rec-26", "rec-27"});
  CHECK(lines == std::vector<uint64_t>{1, 2, 3, 4, 5, 6, 7});
}

TEST_CASE("dataset shards also split by uncompressed bytes", "[core][dataset]") {
  TempDir tmp;
  auto dir = tmp / "ds";
  WriterOptions o = opts_with();
  o.shard_bytes = 2000;
  std::vector<json> recs = numbered_records(0, 60);
  Manifest m = write_dataset(dir, recs, o);
  CHECK(m.shards.size() > 3);
  uint64_t total = 0;
  for (const ShardInfo& s : m.shards) {
    total += s.records;
    // A shard is closed by the first record that reaches the limit.
    CHECK(s.raw_bytes >= 1);
    CHECK(s.raw_bytes < 2000 + 400);
  }
  CHECK(total == 60);
  CHECK(read_all(dir) == recs);
}

TEST_CASE("dataset with no records commits and reads back empty", "[core][dataset]") {
  TempDir tmp;
  auto dir = tmp / "ds";
  DatasetWriter w(dir, opts_with());
  w.drop("duplicate", 2);
  Manifest m = w.commit();
  CHECK(m.shards.empty());
  CHECK(m.accounting.in == 2);
  CHECK(read_all(dir).empty());
  CHECK(dataset_validate(dir).ok());
}

// ---- manifest and accounting ----------------------------------------------------------------------

TEST_CASE("dataset manifest records format, stage, shards, checksums and accounting", "[core][dataset]") {
  TempDir tmp;
  auto dir = tmp / "ds";
  WriterOptions o = opts_with(4, "collect");
  o.config = {{"collect", {{"inputs", {"a.jsonl"}}, {"strict", false}}}};
  o.inputs.push_back({"file", "logs/a.jsonl", "sha256:" + std::string(64, 'a')});
  DatasetWriter w(dir, o);
  for (const json& r : numbered_records(0, 10)) REQUIRE(w.write(r));
  json bad = json::parse(make_record(99).dump());  // as parsed from text: source.line is unsigned
  bad["request"]["messages"][1]["role"] = "robot";
  CHECK_FALSE(w.write(bad));  // quarantined, not written
  w.drop("duplicate", 3);
  w.drop("hci");
  w.quarantine("not valid JSON", {"logs/a.jsonl", 7}, "{broken");
  std::string raw_bytes = "\xFF\xFE abc\x80";
  w.quarantine("not UTF-8", {"logs/b.bin", 0}, raw_bytes);
  w.stats()["seen_files"] = 2;
  CHECK(w.accounting().in == 17);
  Manifest m = w.commit();

  // What the writer returned...
  CHECK(m.format == "slmify-dataset");
  CHECK(m.version == 1);
  CHECK(m.stage == "collect");
  CHECK(m.slmify_version == SLMIFY_VERSION);
  CHECK(m.accounting.in == 17);
  CHECK(m.accounting.out == 10);
  CHECK(m.accounting.quarantined == 3);
  CHECK(m.accounting.dropped == std::map<std::string, uint64_t>{{"duplicate", 3}, {"hci", 1}});
  CHECK(m.accounting.balanced());
  CHECK(m.digest == m.compute_digest());

  // ...is what manifest.json says, read as plain JSON (not through manifest_read).
  json j = read_manifest_json(dir);
  CHECK(j["format"] == "slmify-dataset");
  CHECK(j["version"] == 1);
  CHECK(j["stage"] == "collect");
  CHECK(j["slmify_version"] == SLMIFY_VERSION);
  CHECK(std::regex_match(j["created"].get<std::string>(), std::regex(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$)")));
  CHECK(j["config"] == o.config);
  CHECK(j["config_digest"] == "sha256:" + sha256_hex(o.config.dump()));
  CHECK(j["inputs"] == json::array({{{"kind", "file"}, {"path", "logs/a.jsonl"}, {"digest", "sha256:" + std::string(64, 'a')}}}));
  CHECK(j["stats"] == json{{"seen_files", 2}});
  CHECK(j["accounting"] == json{{"in", 17}, {"out", 10}, {"dropped", {{"duplicate", 3}, {"hci", 1}}}, {"quarantined", 3}});
  REQUIRE(j["shards"].size() == 3);  // 4 + 4 + 2
  uint64_t sum = 0;
  for (const json& s : j["shards"]) {
    fs::path f = dir / s["file"].get<std::string>();
    INFO(f);
    CHECK(s["sha256"] == slmify_test::sha256sum_cmd(f));
    CHECK(s["sha256"] == sha256_file(f));
    CHECK(s["bytes"] == fs::file_size(f));
    sum += s["records"].get<uint64_t>();
  }
  CHECK(sum == 10);
  REQUIRE(j["quarantine"].is_object());
  CHECK(j["quarantine"]["file"] == "quarantine.jsonl.zst");
  CHECK(j["quarantine"]["records"] == 3);
  CHECK(j["quarantine"]["sha256"] == slmify_test::sha256sum_cmd(dir / "quarantine.jsonl.zst"));
  CHECK(j["digest"] == m.digest);
  CHECK(std::regex_match(j["digest"].get<std::string>(), std::regex("^sha256:[0-9a-f]{64}$")));

  // The reader sees the same manifest and lineage.
  DatasetReader reader(dir);
  CHECK(reader.manifest().digest == m.digest);
  CHECK(reader.manifest().compute_digest() == m.digest);
  InputRef ref = reader.input_ref();
  CHECK(ref.kind == "dataset");
  CHECK(ref.path == dir.string());
  CHECK(ref.digest == m.digest);

  // Quarantine entries: reason, stage, source, and the payload in the right field.
  std::vector<json> q;
  reader.for_each_quarantined([&](const json& e) { q.push_back(e); });
  REQUIRE(q.size() == 3);
  CHECK_THAT(q[0]["reason"].get<std::string>(),
             Catch::StartsWith("invalid record: ") && Catch::Contains("request.messages[1].role"));
  CHECK(q[0]["stage"] == "collect");
  CHECK(q[0]["source"] == json{{"file", "calls.jsonl"}, {"line", 100}});  // the record's own source
  CHECK(q[0]["record"] == bad);
  CHECK(q[1]["reason"] == "not valid JSON");
  CHECK(q[1]["source"] == json{{"file", "logs/a.jsonl"}, {"line", 7}});
  CHECK(q[1]["raw"] == "{broken");
  CHECK_FALSE(q[1].contains("raw_base64"));
  CHECK(q[2]["reason"] == "not UTF-8");
  CHECK_FALSE(q[2].contains("raw"));
  CHECK(q[2]["raw_base64"] == "//4gYWJjgA==");  // base64 of FF FE 20 61 62 63 80 (python's b64encode)
  // Decoded independently, the base64 gives back the exact bytes.
  auto dec = slmify_test::run_command("printf %s " + slmify_test::shell_quote(q[2]["raw_base64"].get<std::string>()) +
                                      " | base64 -d | od -An -tx1 | tr -d ' \\n'");
  CHECK(dec.out == "fffe2061626380");

  // A digest that does not match the shards is caught.
  Manifest changed = m;
  changed.shards[1].sha256 = std::string(64, '0');
  CHECK(changed.compute_digest() != m.digest);
}

TEST_CASE("dataset writer quarantines a record that cannot be serialised", "[core][dataset]") {
  TempDir tmp;
  auto dir = tmp / "ds";
  DatasetWriter w(dir, opts_with());
  json r = make_record(1, std::string("latin-1 caf\xE9"));  // invalid UTF-8 inside a string
  CHECK_FALSE(w.write(r, {"in.jsonl", 3}));
  CHECK(w.write(make_record(2)));
  Manifest m = w.commit();
  CHECK(m.accounting.out == 1);
  CHECK(m.accounting.quarantined == 1);
  std::vector<json> q;
  DatasetReader(dir).for_each_quarantined([&](const json& e) { q.push_back(e); });
  REQUIRE(q.size() == 1);
  CHECK_THAT(q[0]["reason"].get<std::string>(), Catch::Contains("serialised"));
  CHECK(q[0]["source"] == json{{"file", "in.jsonl"}, {"line", 3}});
  CHECK(read_all(dir).size() == 1);
}

TEST_CASE("dataset writer quarantines schema-invalid records with oddly typed source fields",
          "[core][dataset]") {
  // write() promises to quarantine any record that fails the schema check and return false.
  // A record whose source.file is not a string fails the check; the writer must not throw.
  TempDir tmp;
  auto dir = tmp / "ds";
  DatasetWriter w(dir, opts_with());
  json r = make_record(1);
  r["source"]["file"] = 42;
  bool written = true;
  CHECK_NOTHROW(written = w.write(r));
  CHECK_FALSE(written);
  json r2 = make_record(2);
  r2["source"]["line"] = "seven";
  r2["hci"] = "no";
  CHECK_NOTHROW(written = w.write(r2));
  CHECK_FALSE(written);
  Manifest m = w.commit();
  CHECK(m.accounting.quarantined == 2);
}

TEST_CASE("dataset writer quarantine entry keeps the source line of a record built in C++",
          "[core][dataset]") {
  // A record made in code holds source.line as a signed integer (json{{"line", 17}}); the
  // schema accepts it as a non-negative count, and the quarantine entry must carry it.
  TempDir tmp;
  auto dir = tmp / "ds";
  DatasetWriter w(dir, opts_with());
  json r = make_record(16);  // source.line = 17, stored as a signed integer
  REQUIRE(r["source"]["line"].is_number_integer());
  r["status"] = "unknown";
  CHECK_FALSE(w.write(r));
  w.commit();
  std::vector<json> q;
  DatasetReader(dir).for_each_quarantined([&](const json& e) { q.push_back(e); });
  REQUIRE(q.size() == 1);
  CHECK(q[0]["source"] == json{{"file", "calls.jsonl"}, {"line", 17}});
}

TEST_CASE("dataset writer file_mode applies to every file it writes", "[core][dataset]") {
  TempDir tmp;
  auto dir = tmp / "ds";
  WriterOptions o = opts_with(2);
  o.file_mode = 0600;
  DatasetWriter w(dir, o);
  for (const json& r : numbered_records(0, 3)) w.write(r);
  w.quarantine("bad", {"x", 1}, "raw");
  w.commit();
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    struct stat st {};
    REQUIRE(::stat(e.path().c_str(), &st) == 0);
    INFO(e.path());
    CHECK((st.st_mode & 0777) == 0600);
    ++files;
  }
  CHECK(files == 4);  // two shards, quarantine, manifest
}

// ---- one precise error per kind of damage ---------------------------------------------------------

TEST_CASE("dataset reader: a flipped byte in a shard is bad data naming the shard", "[core][dataset]") {
  TempDir tmp;
  auto dir = tmp / "ds";
  Manifest m = write_dataset(dir, numbered_records(0, 300), opts_with(100));
  fs::path shard = dir / m.shards[1].file;
  std::string orig = slmify_test::read_bytes(shard);
  for (size_t pos : {orig.size() / 2, orig.size() / 3, orig.size() * 2 / 3, orig.size() - 6}) {
    INFO("flipped byte " << pos << " of " << orig.size());
    slmify_test::write_bytes(shard, orig);
    slmify_test::flip_byte(shard, pos);
    Error e = expect_error([&] { read_all(dir); });
    CHECK(e.code() == ExitCode::bad_data);
    std::string msg = what(e);
    CHECK_THAT(msg, Catch::Contains(shard.string()));
    // It says the data is damaged (the zstd checksum or the manifest's sha256 catches it)...
    CHECK_THAT(msg, Catch::Contains("corrupt") || Catch::Contains("sha256") || Catch::Contains("truncated"));
    // ...and never blames the records' schema or a hand edit.
    CHECK_THAT(msg, !Catch::Contains("schema"));
  }
}

TEST_CASE("dataset reader: damage inside a multi-block shard is reported as damage, not as a bad record",
          "[core][dataset]") {
  // In a shard of several zstd blocks, a block decoded from damaged bytes reaches the JSON
  // parser and the schema check before the frame checksum and the manifest sha256 are compared
  // at the end of the shard; the error then reads "record is not valid JSON" or "record does not
  // match the dataset schema ... edited by hand", which sends the user the wrong way.
  TempDir tmp;
  auto dir = tmp / "ds";
  Manifest m = write_dataset(dir, numbered_records(0, 2500), opts_with(2500));
  REQUIRE(m.shards.size() == 1);
  fs::path shard = dir / m.shards[0].file;
  std::string orig = slmify_test::read_bytes(shard);
  int misleading = 0, positions = 0;
  for (size_t pos = 64; pos < orig.size() - 8; pos += orig.size() / 30) {
    slmify_test::write_bytes(shard, orig);
    slmify_test::flip_byte(shard, pos);
    Error e = expect_error([&] { read_all(dir); });
    ++positions;
    CHECK(e.code() == ExitCode::bad_data);
    CHECK_THAT(what(e), Catch::Contains(shard.string()));
    std::string msg = what(e);
    bool says_damage = msg.find("corrupt") != std::string::npos || msg.find("sha256") != std::string::npos ||
                       msg.find("truncated") != std::string::npos;
    if (!says_damage) {
      if (misleading++ < 3) UNSCOPED_INFO("flipped byte " << pos << ": " << msg);
    }
  }
  INFO(misleading << " of " << positions << " damaged positions were reported as a bad record");
  CHECK(misleading == 0);
}

TEST_CASE("dataset reader: a shard replaced by another valid zstd file fails the checksum", "[core][dataset]") {
  TempDir tmp;
  auto dir = tmp / "ds";
  Manifest m = write_dataset(dir, numbered_records(0, 10), opts_with(5));
  fs::path shard = dir / m.shards[0].file;
  SECTION("same number of valid records, other content -> sha256 mismatch") {
    {
      ZstdLineWriter zw(shard);
      for (const json& r : numbered_records(500, 5)) zw.write_line(r.dump());
      zw.finish();
    }
    Error e = expect_error([&] { read_all(dir); });
    CHECK(e.code() == ExitCode::bad_data);
    CHECK_THAT(what(e), Catch::Contains(shard.string()) && Catch::Contains("sha256") &&
                            Catch::Contains("does not match manifest.json") && Catch::Contains(m.shards[0].sha256));
    // The check can be switched off; then the replaced records are read.
    ReadOptions ro;
    ro.verify_checksums = false;
    CHECK(read_all(dir, ro).at(0)["id"] == "rec-500");
  }
  SECTION("another number of records -> count mismatch") {
    {
      ZstdLineWriter zw(shard);
      for (const json& r : numbered_records(500, 3)) zw.write_line(r.dump());
      zw.finish();
    }
    Error e = expect_error([&] { read_all(dir); });
    CHECK(e.code() == ExitCode::bad_data);
    CHECK_THAT(what(e), Catch::Contains(shard.string()) && Catch::Contains("holds 3 records") &&
                            Catch::Contains("lists 5"));
  }
}

TEST_CASE("dataset reader: a newer format version says so and suggests upgrading", "[core][dataset]") {
  TempDir tmp;
  auto dir = tmp / "ds";
  write_dataset(dir, numbered_records(0, 3));
  json j = read_manifest_json(dir);
  j["version"] = 2;
  write_manifest_json(dir, j);
  Error e = expect_error([&] { DatasetReader r(dir); });
  CHECK(e.code() == ExitCode::bad_data);
  std::string msg = what(e);
  CHECK_THAT(msg, Catch::Contains((dir / "manifest.json").string()));
  CHECK_THAT(msg, Catch::Contains("version 2") && Catch::Contains("newer") && Catch::Contains("upgrade"));
  CHECK_THAT(msg, Catch::Contains(SLMIFY_VERSION));
}

TEST_CASE("dataset reader: a version number too large for an int is not read as version 1",
          "[core][dataset]") {
  // manifest_from_json reads "version" with get<int>(), so 4294967297 (2^32 + 1) wraps to 1 and
  // the dataset is read as version 1 instead of being refused as newer.
  TempDir tmp;
  auto dir = tmp / "ds";
  write_dataset(dir, numbered_records(0, 3));
  json j = read_manifest_json(dir);
  j["version"] = 4294967297ull;
  write_manifest_json(dir, j);
  Error e = expect_error([&] { DatasetReader r(dir); });
  CHECK(e.code() == ExitCode::bad_data);
  CHECK_THAT(what(e), Catch::Contains("newer"));
}

TEST_CASE("dataset reader: a truncated manifest is reported as truncated JSON", "[core][dataset]") {
  TempDir tmp;
  auto dir = tmp / "ds";
  write_dataset(dir, numbered_records(0, 3));
  std::string text = slmify_test::read_bytes(dir / "manifest.json");
  slmify_test::write_bytes(dir / "manifest.json", text.substr(0, text.size() / 2));
  Error e = expect_error([&] { DatasetReader r(dir); });
  CHECK(e.code() == ExitCode::bad_data);
  CHECK_THAT(what(e), Catch::Contains((dir / "manifest.json").string()) &&
                          Catch::Contains("truncated or not valid JSON"));
  SECTION("an empty manifest too") {
    slmify_test::write_bytes(dir / "manifest.json", "");
    Error e2 = expect_error([&] { DatasetReader r(dir); });
    CHECK(e2.code() == ExitCode::bad_data);
    CHECK_THAT(what(e2), Catch::Contains("truncated or not valid JSON"));
  }
}

TEST_CASE("dataset reader: a missing shard file is named", "[core][dataset]") {
  TempDir tmp;
  auto dir = tmp / "ds";
  Manifest m = write_dataset(dir, numbered_records(0, 9), opts_with(3));
  fs::remove(dir / m.shards[1].file);
  Error e = expect_error([&] { DatasetReader r(dir); });
  CHECK(e.code() == ExitCode::bad_data);
  CHECK_THAT(what(e), Catch::Contains((dir / m.shards[1].file).string()) && Catch::Contains("missing"));
}

TEST_CASE("dataset reader: a directory that is not a dataset", "[core][dataset]") {
  TempDir tmp;
  SECTION("an empty directory") {
    auto dir = tmp / "empty";
    fs::create_directory(dir);
    Error e = expect_error([&] { DatasetReader r(dir); });
    CHECK(e.code() == ExitCode::bad_data);
    CHECK_THAT(what(e), Catch::Contains(dir.string()) && Catch::Contains("no manifest.json"));
  }
  SECTION("a directory of other files") {
    auto dir = tmp / "other";
    fs::create_directory(dir);
    slmify_test::write_bytes(dir / "calls.jsonl", "{}\n");
    Error e = expect_error([&] { DatasetReader r(dir); });
    CHECK(e.code() == ExitCode::bad_data);
    CHECK_THAT(what(e), Catch::Contains(dir.string()) && Catch::Contains("not a committed slmify dataset"));
  }
  SECTION("a manifest of another format") {
    auto dir = tmp / "foreign";
    fs::create_directory(dir);
    slmify_test::write_bytes(dir / "manifest.json", R"({"format": "hf-dataset", "version": 1})");
    Error e = expect_error([&] { DatasetReader r(dir); });
    CHECK(e.code() == ExitCode::bad_data);
    CHECK_THAT(what(e), Catch::Contains("hf-dataset") && Catch::Contains("not a slmify dataset"));
  }
  SECTION("a path that does not exist") {
    auto dir = tmp / "nowhere";
    Error e = expect_error([&] { DatasetReader r(dir); });
    CHECK(e.code() == ExitCode::io);
    CHECK_THAT(what(e), Catch::Contains(dir.string()) && Catch::Contains("no such dataset directory"));
  }
  SECTION("a regular file") {
    auto f = tmp / "file.jsonl";
    slmify_test::write_bytes(f, "{}\n");
    Error e = expect_error([&] { DatasetReader r(f); });
    CHECK(e.code() == ExitCode::bad_data);
    CHECK_THAT(what(e), Catch::Contains(f.string()) && Catch::Contains("not a dataset directory"));
  }
}

TEST_CASE("dataset reader: a record edited to break the schema is named with file and line", "[core][dataset]") {
  TempDir tmp;
  auto dir = tmp / "ds";
  Manifest m = write_dataset(dir, numbered_records(0, 6), opts_with(3));
  json bad = make_record(4);
  bad["request"]["messages"][0]["role"] = "narrator";
  rewrite_shard(dir, 1, {make_record(3).dump(), bad.dump(), make_record(5).dump()});
  // The manifest is consistent again, so only the schema check can fail.
  REQUIRE_NOTHROW(manifest_read(dir));
  std::vector<std::string> seen;
  Error e = expect_error([&] {
    DatasetReader r(dir);
    json rec;
    while (r.next(rec)) seen.push_back(rec["id"]);
  });
  CHECK(e.code() == ExitCode::bad_data);
  CHECK_THAT(what(e), Catch::Contains((dir / m.shards[1].file).string() + ":2") &&
                          Catch::Contains("schema") && Catch::Contains("request.messages[0].role") &&
                          Catch::Contains("narrator"));
  CHECK(seen == std::vector<std::string>{"rec-0", "rec-1", "rec-2", "rec-3"});
  // Without the schema check the record is returned as stored.
  ReadOptions ro;
  ro.check_records = false;
  CHECK(read_all(dir, ro).at(4) == bad);

  SECTION("a line that is not JSON at all") {
    rewrite_shard(dir, 0, {make_record(0).dump(), "{\"id\": \"x\", "});
    Error e2 = expect_error([&] { read_all(dir); });
    CHECK(e2.code() == ExitCode::bad_data);
    CHECK_THAT(what(e2), Catch::Contains((dir / m.shards[0].file).string() + ":2") && Catch::Contains("not valid JSON"));
  }
}

TEST_CASE("dataset reader: edited manifest fields are caught", "[core][dataset]") {
  TempDir tmp;
  auto dir = tmp / "ds";
  write_dataset(dir, numbered_records(0, 4), opts_with(2));
  json orig = read_manifest_json(dir);
  auto expect_bad = [&](json j, const std::string& fragment) {
    write_manifest_json(dir, j);
    Error e = expect_error([&] { DatasetReader r(dir); });
    INFO(what(e));
    CHECK(e.code() == ExitCode::bad_data);
    CHECK_THAT(what(e), Catch::Contains((dir / "manifest.json").string()) && Catch::Contains(fragment));
  };
  json j = orig;
  j["accounting"]["in"] = 5;
  expect_bad(j, "does not balance");
  j = orig;
  j["accounting"]["out"] = 3;
  j["accounting"]["in"] = 3;
  expect_bad(j, "accounting.out");
  j = orig;
  j["shards"][0]["sha256"] = std::string(64, 'f');
  expect_bad(j, "digest");
  j = orig;
  j["shards"][0]["file"] = "../elsewhere.jsonl.zst";
  expect_bad(j, "plain file name");
  j = orig;
  j.erase("shards");
  expect_bad(j, "shards");
  j = orig;
  j["version"] = 0;
  expect_bad(j, "version");
  j = orig;
  j["version"] = "1";
  expect_bad(j, "version");
}

// ---- atomic commit --------------------------------------------------------------------------------

TEST_CASE("dataset writer destroyed without commit leaves the previous dataset untouched", "[core][dataset]") {
  TempDir tmp;
  auto dir = tmp / "ds";
  write_dataset(dir, numbered_records(0, 5), opts_with(2));
  auto before = snapshot(dir);
  SECTION("destroyed") {
    DatasetWriter w(dir, opts_with(2));
    for (const json& r : numbered_records(100, 7)) w.write(r);
    w.quarantine("bad", {"x", 1}, "raw");
    CHECK(hidden_siblings(dir).size() == 1);  // it does work in a hidden sibling
  }
  SECTION("aborted") {
    DatasetWriter w(dir, opts_with(2));
    for (const json& r : numbered_records(100, 7)) w.write(r);
    w.abort();
    CHECK(hidden_siblings(dir).empty());
  }
  CHECK(snapshot(dir) == before);
  CHECK(hidden_siblings(dir).empty());
  CHECK(read_all(dir) == numbered_records(0, 5));
}

TEST_CASE("dataset writer destroyed without commit leaves no dataset where there was none", "[core][dataset]") {
  TempDir tmp;
  auto dir = tmp / "ds";
  {
    DatasetWriter w(dir, opts_with());
    w.write(make_record(1));
  }
  CHECK_FALSE(fs::exists(dir));
  CHECK(fs::is_empty(tmp.path()));
}

TEST_CASE("dataset commit over an existing dataset replaces it completely", "[core][dataset]") {
  TempDir tmp;
  auto dir = tmp / "ds";
  write_dataset(dir, numbered_records(0, 9), opts_with(3));
  REQUIRE(fs::exists(dir / "part-00002.jsonl.zst"));
  DatasetWriter w(dir, opts_with(50));
  for (const json& r : numbered_records(200, 4)) w.write(r);
  w.quarantine("bad", {"y", 2}, "z");
  // Until commit the old dataset is what readers see.
  CHECK(read_all(dir) == numbered_records(0, 9));
  w.commit();
  CHECK(read_all(dir) == numbered_records(200, 4));
  CHECK_FALSE(fs::exists(dir / "part-00001.jsonl.zst"));  // no leftovers of the old dataset
  CHECK_FALSE(fs::exists(dir / "part-00002.jsonl.zst"));
  CHECK(fs::exists(dir / "quarantine.jsonl.zst"));
  CHECK(hidden_siblings(dir).empty());
  CHECK(dataset_validate(dir).ok());

  SECTION("and an existing empty directory is fine as a target") {
    auto empty = tmp / "empty";
    fs::create_directory(empty);
    write_dataset(empty, numbered_records(0, 2));
    CHECK(read_all(empty) == numbered_records(0, 2));
    CHECK(hidden_siblings(empty).empty());
  }
  SECTION("a trailing slash names the same directory") {
    write_dataset(fs::path(dir.string() + "/"), numbered_records(300, 2));
    CHECK(read_all(dir) == numbered_records(300, 2));
    CHECK(hidden_siblings(dir).empty());
  }
  SECTION("a missing parent directory is created") {
    auto deep = tmp / "a" / "b" / "ds";
    write_dataset(deep, numbered_records(0, 1));
    CHECK(read_all(deep).size() == 1);
  }
}

TEST_CASE("dataset writer refuses to replace a directory that is not a dataset", "[core][dataset]") {
  TempDir tmp;
  auto dir = tmp / "mydata";
  fs::create_directory(dir);
  slmify_test::write_bytes(dir / "notes.txt", "precious");
  bool work_done = false;
  Error e = expect_error([&] {
    WriterOptions o = opts_with();
    o.on_phase = [&](std::string_view) { work_done = true; };
    DatasetWriter w(dir, o);
    w.write(make_record(1));
    w.commit();
  });
  CHECK(e.code() == ExitCode::io);
  CHECK_THAT(what(e), Catch::Contains(dir.string()) && Catch::Contains("not a slmify dataset"));
  CHECK_FALSE(work_done);
  CHECK(slmify_test::read_bytes(dir / "notes.txt") == "precious");
  CHECK(hidden_siblings(dir).empty());  // nothing was created

  SECTION("nor a regular file") {
    auto f = tmp / "file";
    slmify_test::write_bytes(f, "x");
    Error e2 = expect_error([&] { DatasetWriter w(f, opts_with()); });
    CHECK(e2.code() == ExitCode::io);
    CHECK_THAT(what(e2), Catch::Contains(f.string()));
    CHECK(slmify_test::read_bytes(f) == "x");
  }
}

TEST_CASE("dataset writer removes only the temporary directories of dead writers", "[core][dataset]") {
  TempDir tmp;
  auto dir = tmp / "ds";
  write_dataset(dir, numbered_records(0, 2));
  // A pid that is certainly gone: a child that exited and was reaped.
  pid_t dead = ::fork();
  REQUIRE(dead >= 0);
  if (dead == 0) ::_exit(0);
  int st = 0;
  REQUIRE(::waitpid(dead, &st, 0) == dead);
  std::string live = std::to_string(::getpid());
  std::string gone = std::to_string(dead);
  for (std::string n : {".ds.tmp-" + gone + "-abc123", ".ds.old-" + gone + "-def456", ".ds.tmp-" + live + "-0000aa",
                        ".other.tmp-" + gone + "-111111"}) {
    fs::create_directory(tmp / n);
    slmify_test::write_bytes(tmp / n / "part-00000.jsonl.zst", "junk");
  }
  {
    DatasetWriter w(dir, opts_with());
    CHECK_FALSE(fs::exists(tmp / (".ds.tmp-" + gone + "-abc123")));
    CHECK_FALSE(fs::exists(tmp / (".ds.old-" + gone + "-def456")));
    CHECK(fs::exists(tmp / (".ds.tmp-" + live + "-0000aa")));  // a live writer's work is left alone
    CHECK(fs::exists(tmp / (".other.tmp-" + gone + "-111111")));  // another dataset's sibling too
    w.write(make_record(9));
    w.commit();
  }
  CHECK(read_all(dir) == std::vector<json>{make_record(9)});
}

// ---- SIGKILL of a writer at every phase -----------------------------------------------------------

namespace {

// Forks a child that writes `n` records (numbered from 1000) to `dir` and commits. The child
// stops at `phase` (or, with an empty phase, after its n-th record), tells the parent through a
// pipe and sleeps until the parent kills it with SIGKILL. Returns the child's pid once reaped.
pid_t kill_writer(const fs::path& dir, const std::string& phase, int n, uint64_t shard_records) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(fds[0]);
    int wfd = fds[1];
    auto signal_and_sleep = [wfd] {
      char b = 'k';
      while (::write(wfd, &b, 1) < 0 && errno == EINTR) {
      }
      for (;;) ::pause();
    };
    try {
      WriterOptions o = opts_with(shard_records, "killed");
      if (!phase.empty())
        o.on_phase = [&](std::string_view p) {
          if (p == phase) signal_and_sleep();
        };
      DatasetWriter w(dir, o);
      for (int i = 0; i < n; ++i) w.write(make_record(1000 + i));
      if (phase.empty()) signal_and_sleep();
      w.commit();
      ::_exit(3);  // the phase never came
    } catch (...) {
      ::_exit(4);
    }
  }
  ::close(fds[1]);
  pollfd pfd{fds[0], POLLIN, 0};
  int pr = ::poll(&pfd, 1, 60000);
  char b = 0;
  ssize_t got = pr > 0 ? ::read(fds[0], &b, 1) : -1;
  ::close(fds[0]);
  ::kill(pid, SIGKILL);
  int st = 0;
  REQUIRE(::waitpid(pid, &st, 0) == pid);
  INFO("child status " << st << (WIFEXITED(st) ? " (exited with " + std::to_string(WEXITSTATUS(st)) + ")" : ""));
  REQUIRE(got == 1);
  REQUIRE(WIFSIGNALED(st));
  REQUIRE(WTERMSIG(st) == SIGKILL);
  return pid;
}

}  // namespace

TEST_CASE("dataset survives a writer killed with SIGKILL at every phase", "[core][dataset][atomic]") {
  TempDir tmp;
  auto dir = tmp / "ds";
  std::vector<json> old_recs = numbered_records(0, 50);
  write_dataset(dir, old_recs, opts_with(20));
  auto before = snapshot(dir);

  std::string phase = GENERATE(as<std::string>{}, "", "shard_closed", "manifest_written", "before_swap");
  DYNAMIC_SECTION("killed at " << (phase.empty() ? std::string("record 1000 (mid-write)") : phase)) {
    pid_t child = kill_writer(dir, phase, 1000, 300);

    // The previous dataset is exactly as it was, and valid.
    CHECK(snapshot(dir) == before);
    CHECK(read_all(dir) == old_recs);
    ValidateReport rep = dataset_validate(dir);
    CHECK(rep.ok());
    CHECK(rep.records == 50);

    // The killed child left its work in a hidden sibling ".ds.tmp-<pid>-<rand>".
    std::vector<std::string> sib = hidden_siblings(dir);
    REQUIRE(sib.size() == 1);
    CHECK(std::regex_match(sib[0], std::regex("^\\.ds\\.tmp-" + std::to_string(child) + "-[0-9a-f]+$")));

    // The next writer removes it and commits normally.
    DatasetWriter w(dir, opts_with(300));
    std::vector<std::string> now = hidden_siblings(dir);
    REQUIRE(now.size() == 1);
    CHECK(std::regex_match(now[0], std::regex("^\\.ds\\.tmp-" + std::to_string(::getpid()) + "-[0-9a-f]+$")));
    std::vector<json> new_recs = numbered_records(5000, 10);
    for (const json& r : new_recs) w.write(r);
    w.commit();
    CHECK(read_all(dir) == new_recs);
    CHECK(hidden_siblings(dir).empty());
    CHECK(dataset_validate(dir).ok());
  }
}

TEST_CASE("dataset writer killed after commit leaves the new dataset in place", "[core][dataset][atomic]") {
  TempDir tmp;
  auto dir = tmp / "ds";
  write_dataset(dir, numbered_records(0, 5));
  kill_writer(dir, "committed", 20, 300);
  CHECK(read_all(dir) == numbered_records(1000, 20));
  CHECK(hidden_siblings(dir).empty());
  CHECK(dataset_validate(dir).ok());
}

TEST_CASE("dataset writer killed before its first commit leaves no half dataset", "[core][dataset][atomic]") {
  TempDir tmp;
  auto dir = tmp / "fresh";
  kill_writer(dir, "before_swap", 100, 30);
  CHECK_FALSE(fs::exists(dir));
  Error e = expect_error([&] { DatasetReader r(dir); });
  CHECK(e.code() == ExitCode::io);
  // The next run cleans up and succeeds.
  write_dataset(dir, numbered_records(0, 3));
  CHECK(read_all(dir) == numbered_records(0, 3));
  CHECK(hidden_siblings(dir).empty());
}

// ---- bounded memory -------------------------------------------------------------------------------

namespace {
// Peak resident set size of this process in KiB (VmHWM).
long peak_rss_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}
}  // namespace

TEST_CASE("dataset writes and reads 200k records with bounded memory", "[core][dataset][slow]") {
  // Runs in a child process so that the peak RSS measured is this test's alone.
  TempDir tmp;
  auto dir = tmp / "big";
  const int n = 200000;
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(fds[0]);
    long result[3] = {-1, -1, -1};
    try {
      long start = peak_rss_kib();
      {
        DatasetWriter w(dir, opts_with(10000));
        json rec = make_record(0);
        for (int i = 0; i < n; ++i) {
          rec["id"] = "rec-" + std::to_string(i);
          rec["request"]["messages"][1]["content"] = "question number " + std::to_string(i);
          w.write(rec);
        }
        w.commit();
      }
      long count = 0;
      {
        DatasetReader r(dir);
        json rec;
        while (r.next(rec)) {
          if (rec["id"] != "rec-" + std::to_string(count)) break;
          ++count;
        }
      }
      result[0] = count;
      result[1] = start;
      result[2] = peak_rss_kib();
    } catch (...) {
    }
    (void)!::write(fds[1], result, sizeof result);
    ::_exit(0);
  }
  ::close(fds[1]);
  long result[3] = {-1, -1, -1};
  ssize_t got = ::read(fds[0], result, sizeof result);
  ::close(fds[0]);
  int st = 0;
  ::waitpid(pid, &st, 0);
  REQUIRE(got == static_cast<ssize_t>(sizeof result));
  CHECK(result[0] == n);
  Manifest m = manifest_read(dir);
  CHECK(m.shards.size() == 20);
  CHECK(m.records() == static_cast<uint64_t>(n));
  uint64_t raw = 0;
  for (const ShardInfo& s : m.shards) raw += s.raw_bytes;
  long growth_kib = result[2] - result[1];
  INFO("uncompressed data " << raw / 1024 << " KiB, peak RSS grew by " << growth_kib << " KiB");
  CHECK(raw > 50u * 1024 * 1024);                // the data is far larger than...
  CHECK(growth_kib < 32 * 1024);                 // ...the memory the writer and reader needed
}
