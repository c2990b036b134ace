// collect_run end to end: mixed directories, idempotence, incremental runs with appended and
// unfinished lines and rotation, every kind of bad input and its quarantine entry, --strict,
// compressed inputs, human-facing rules, encryption at rest, and OTel parents on later lines.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "../core/test_util.h"
#include "collect/collect.h"
#include "core/dataset.h"
#include "core/error.h"
#include "core/fsutil.h"

using namespace slmify;
using slmify_test::TempDir;
namespace fs = std::filesystem;

namespace {

const fs::path kFormats = fs::path(SLMIFY_SOURCE_DIR) / "examples" / "formats";

json run_collect(PipelineConfig c, std::vector<std::string> inputs, const fs::path& out) {
  c.dataset.shard_records = 1000;
  return collect_run(c, StageIO{std::move(inputs), out.string()}, Context{});
}

std::vector<json> records(const fs::path& dir, ReadOptions ro = {}) {
  DatasetReader r(dir, ro);
  std::vector<json> out;
  json rec;
  while (r.next(rec)) out.push_back(rec);
  return out;
}

std::vector<json> quarantined(const fs::path& dir, ReadOptions ro = {}) {
  DatasetReader r(dir, ro);
  std::vector<json> out;
  r.for_each_quarantined([&](const json& e) { out.push_back(e); });
  return out;
}

// One logged Chat Completions call as a JSONL line, numbered n.
std::string chat_line(int n, const std::string& agent = "router", const json& meta = json()) {
  json line = {{"request", {{"model", "gpt-4o-mini"}, {"messages", {{{"role", "user"}, {"content", "question " + std::to_string(n)}}}}}},
               {"response", {{"choices", {{{"index", 0}, {"message", {{"role", "assistant"}, {"content", "answer " + std::to_string(n)}}}, {"finish_reason", "stop"}}}}}},
               {"agent", agent},
               {"timestamp", 1764324000 + n}};
  if (!meta.is_null()) line["metadata"] = meta;
  return line.dump();
}

void write_text(const fs::path& p, const std::string& s) { slmify_test::write_bytes(p, s); }
void append_text(const fs::path& p, const std::string& s) {
  std::ofstream f(p, std::ios::app | std::ios::binary);
  f << s;
}

}  // namespace

TEST_CASE("collect reads a mixed directory of every format, skipping files that are not logs", "[collect]") {
  TempDir t;
  json s = run_collect(PipelineConfig{}, {kFormats.string()}, t / "out");
  CHECK(s["records_by_format"] == json{{"anthropic", 7}, {"openai-chat", 9}, {"openai-ft", 4}, {"otel", 8}});
  CHECK(s["files"] == 5);  // README.md beside the samples is not read
  CHECK(s["in"] == 29);
  CHECK(s["out"] == 28);
  CHECK(s["quarantined"] == 1);
  auto q = quarantined(t / "out");
  REQUIRE(q.size() == 1);
  CHECK(q[0]["source"]["file"] == (kFormats / "openai-ft.jsonl").string());
  CHECK(q[0]["source"]["line"] == 5);
  CHECK_THAT(q[0]["reason"].get<std::string>(), Catch::StartsWith("cannot convert: openai-ft: the last message is not the assistant's"));
  CHECK(q[0].contains("raw"));
  // Every record passed the schema check on the way in and out, with file and line.
  for (const json& r : records(t / "out")) {
    CHECK(r["source"]["file"].get<std::string>().rfind(kFormats.string(), 0) == 0);
    CHECK(r["source"]["line"].get<int>() >= 1);
    CHECK(r["hci"] == false);
  }
  Manifest m = manifest_read(t / "out");
  CHECK(m.stage == "collect");
  CHECK(m.accounting.balanced());
  CHECK(m.stats["records_by_format"]["otel"] == 8);
  // Owner-only output: logged calls are private.
  struct stat sb{};
  REQUIRE(::stat((t / "out" / m.shards[0].file).c_str(), &sb) == 0);
  CHECK((sb.st_mode & 0777) == 0600);
}

TEST_CASE("collect is idempotent: same input gives the same dataset, a file named twice is read once, copies are duplicates", "[collect]") {
  TempDir t;
  fs::path f = t / "a.jsonl";
  write_text(f, chat_line(1) + "\n" + chat_line(2) + "\n" + chat_line(1) + "\n");
  json s1 = run_collect(PipelineConfig{}, {f.string()}, t / "o1");
  json s2 = run_collect(PipelineConfig{}, {f.string(), t.path().string(), f.string()}, t / "o2");
  CHECK(s1["out"] == 2);
  CHECK(s1["dropped"] == json{{"duplicate", 1}});
  CHECK(s2["files"] == 1);
  CHECK(s1["digest"] == s2["digest"]);
  fs::copy_file(f, t / "b.jsonl");
  json s3 = run_collect(PipelineConfig{}, {t.path().string()}, t / "o3");
  CHECK(s3["out"] == 2);
  CHECK(s3["dropped"] == json{{"duplicate", 4}});
}

TEST_CASE("collect --state reads only appended lines and leaves an unfinished line for the next run", "[collect]") {
  TempDir t;
  fs::path log = t / "agent.jsonl", state = t / "state.json";
  PipelineConfig c;
  c.collect.state = state.string();
  std::string third = chat_line(3);
  write_text(log, chat_line(1) + "\n" + chat_line(2) + "\n" + third.substr(0, 20));  // a writer is mid-line

  json s1 = run_collect(c, {log.string()}, t / "run1");
  CHECK(s1["out"] == 2);
  CHECK(s1["quarantined"] == 0);  // the unfinished line is not read, not quarantined
  REQUIRE(fs::exists(state));

  append_text(log, third.substr(20) + "\n" + chat_line(4) + "\n");
  json s2 = run_collect(c, {log.string()}, t / "run2");
  CHECK(s2["out"] == 2);
  auto recs = records(t / "run2");
  REQUIRE(recs.size() == 2);
  CHECK(recs[0]["source"]["line"] == 3);  // line numbers continue across runs
  CHECK(recs[0]["response"]["content"] == "answer 3");
  CHECK(recs[1]["source"]["line"] == 4);

  SECTION("nothing new: exit code nothing_to_do, and the state is unchanged") {
    std::string before = read_file(state);
    Error e = slmify_test::expect_error([&] { run_collect(c, {log.string()}, t / "run3"); });
    CHECK(e.code() == ExitCode::nothing_to_do);
    json a = json::parse(before), b = json::parse(read_file(state));
    CHECK(a["files"] == b["files"]);
  }
  SECTION("a rotated file (new inode at the same path) is read from its start") {
    fs::path tmp = t / "new.jsonl";
    write_text(tmp, chat_line(10) + "\n" + chat_line(11) + "\n");
    fs::rename(tmp, log);
    json s3 = run_collect(c, {log.string()}, t / "run3");
    CHECK(s3["out"] == 2);
    CHECK(records(t / "run3")[0]["source"]["line"] == 1);
  }
  SECTION("a file rewritten in place with other content is read from its start") {
    write_text(log, chat_line(20) + "\n" + chat_line(21) + "\n" + chat_line(22) + "\n" + chat_line(23) + "\n" + chat_line(24) + "\n");
    json s3 = run_collect(c, {log.string()}, t / "run3");
    CHECK(s3["out"] == 5);
  }
  SECTION("a damaged state file is a clear error") {
    write_text(state, "{not json");
    Error e = slmify_test::expect_error([&] { run_collect(c, {log.string()}, t / "run3"); });
    CHECK(e.code() == ExitCode::bad_data);
    CHECK_THAT(std::string(e.what()), Catch::Contains(state.string()));
  }
}

TEST_CASE("collect quarantines every kind of bad input with file, line and reason, and goes on", "[collect]") {
  TempDir t;
  fs::path f = t / "bad.jsonl";
  std::string big(2u << 20, 'x');
  std::string content = chat_line(1) + "\n" +                       // 1 good
                        "{\"request\": {\"messages\": [\n" +        // 2 invalid JSON
                        "\n" +                                      // 3 blank: skipped
                        "{\"text\": \"caf\xe9\"}\n" +               // 4 invalid UTF-8
                        "{\"hello\": \"world\"}\n" +                // 5 unknown shape
                        "{\"big\": \"" + big + "\"}\n" +            // 6 too long
                        "{\"request\": {\"messages\": []}, \"response\": {\"choices\": []}}\n" +  // 7 cannot convert
                        chat_line(2) + "\n" +                       // 8 good
                        "{\"request\": {\"mess";                     // 9 truncated last line
  write_text(f, content);
  PipelineConfig c;
  c.collect.max_line_mb = 1;
  json s = run_collect(c, {f.string()}, t / "out");
  CHECK(s["out"] == 2);
  CHECK(s["quarantined"] == 6);
  CHECK(s["quarantined_by_reason"] == json{{"cannot convert", 1}, {"invalid JSON", 1}, {"invalid UTF-8", 1},
                                           {"line too long", 1}, {"truncated line", 1}, {"unknown shape", 1}});
  auto q = quarantined(t / "out");
  REQUIRE(q.size() == 6);
  std::map<int, json> by_line;
  for (const json& e : q) {
    CHECK(e["source"]["file"] == f.string());
    CHECK(e["stage"] == "collect");
    by_line[e["source"]["line"].get<int>()] = e;
  }
  CHECK(by_line.count(2) == 1);
  CHECK(by_line[2]["raw"] == "{\"request\": {\"messages\": [");
  CHECK_THAT(by_line[4]["reason"].get<std::string>(), Catch::StartsWith("invalid UTF-8"));
  CHECK(by_line[4].contains("raw_base64"));
  CHECK_THAT(by_line[5]["reason"].get<std::string>(), Catch::StartsWith("unknown shape"));
  CHECK_THAT(by_line[6]["reason"].get<std::string>(), Catch::StartsWith("line too long"));
  CHECK(by_line[6]["raw"].get<std::string>().size() <= 1024);  // a preview, not the whole line
  CHECK_THAT(by_line[7]["reason"].get<std::string>(), Catch::Contains("no messages"));
  CHECK_THAT(by_line[9]["reason"].get<std::string>(), Catch::StartsWith("truncated line"));
  CHECK(manifest_read(t / "out").accounting.balanced());

  SECTION("--strict stops at the first bad line with its place, and writes nothing") {
    c.collect.strict = true;
    Error e = slmify_test::expect_error([&] { run_collect(c, {f.string()}, t / "strict"); });
    CHECK(e.code() == ExitCode::bad_data);
    CHECK(e.problems()[0].where == f.string() + ":2");
    CHECK_FALSE(fs::exists(t / "strict"));
  }
}

TEST_CASE("collect reads gzip and zstd files like plain ones", "[collect]") {
  TempDir t;
  fs::path plain = t / "p" / "calls.jsonl";
  fs::create_directories(plain.parent_path());
  fs::copy_file(kFormats / "openai-chat.jsonl", plain);
  fs::create_directories(t / "c");
  auto sh = [&](const std::string& cmd) { REQUIRE(std::system(cmd.c_str()) == 0); };
  sh("gzip -c " + plain.string() + " > " + (t / "c" / "calls.jsonl.gz").string());
  sh("zstd -q -c " + plain.string() + " > " + (t / "c" / "more.jsonl.zst").string());
  json a = run_collect(PipelineConfig{}, {plain.string()}, t / "o1");
  json b = run_collect(PipelineConfig{}, {(t / "c" / "calls.jsonl.gz").string()}, t / "o2");
  json z = run_collect(PipelineConfig{}, {(t / "c" / "more.jsonl.zst").string()}, t / "o3");
  CHECK(a["out"] == 9);
  auto ra = records(t / "o1"), rb = records(t / "o2"), rz = records(t / "o3");
  REQUIRE(ra.size() == rb.size());
  REQUIRE(ra.size() == rz.size());
  for (size_t i = 0; i < ra.size(); ++i) {
    CHECK(ra[i]["id"] == rb[i]["id"]);
    CHECK(ra[i]["id"] == rz[i]["id"]);
    CHECK(rb[i]["source"]["line"] == ra[i]["source"]["line"]);
  }
  SECTION("a truncated gzip file gives the lines before the cut, and the damage is quarantined with its byte") {
    std::string gz = slmify_test::read_bytes(t / "c" / "calls.jsonl.gz");
    slmify_test::write_bytes(t / "c" / "cut.jsonl.gz", gz.substr(0, gz.size() / 2));
    json s = run_collect(PipelineConfig{}, {(t / "c" / "cut.jsonl.gz").string()}, t / "o4");
    CHECK(s["quarantined_by_reason"].value("damaged file", 0) == 1);
    CHECK(s["out"].get<int>() < 9);
    PipelineConfig strict;
    strict.collect.strict = true;
    Error e = slmify_test::expect_error([&] { run_collect(strict, {(t / "c" / "cut.jsonl.gz").string()}, t / "o5"); });
    CHECK(e.code() == ExitCode::bad_data);
    CHECK_THAT(std::string(e.what()), Catch::Contains("cut.jsonl.gz"));
  }
}

TEST_CASE("collect excludes human-facing calls by rule unless include_hci", "[collect]") {
  TempDir t;
  fs::path f = t / "calls.jsonl";
  write_text(f, chat_line(1, "router") + "\n" + chat_line(2, "support-chat") + "\n" +
                    chat_line(3, "router", {{"channel", "web"}}) + "\n" + chat_line(4, "router", {{"human_facing", true}}) + "\n" +
                    chat_line(5, "router", {{"channel", "email"}}) + "\n");
  PipelineConfig c;
  c.collect.hci_rules = {HciRule{"support-chat", "", ""}, HciRule{"", "channel", "web"}};
  json s = run_collect(c, {f.string()}, t / "o1");
  CHECK(s["out"] == 2);
  CHECK(s["dropped"] == json{{"hci", 3}});
  c.collect.include_hci = true;
  run_collect(c, {f.string()}, t / "o2");
  auto recs = records(t / "o2");
  REQUIRE(recs.size() == 5);
  std::vector<bool> hci;
  for (const json& r : recs) hci.push_back(r["hci"]);
  CHECK(hci == std::vector<bool>{false, true, true, true, false});
}

TEST_CASE("collect with encryption: round trip with the key, clear errors without it or with another", "[collect]") {
  TempDir t;
  setenv("SLMIFY_TEST_KEY", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", 1);
  PipelineConfig c;
  c.encryption.enabled = true;
  c.encryption.key_env = "SLMIFY_TEST_KEY";
  run_collect(c, {kFormats.string()}, t / "enc");
  run_collect(PipelineConfig{}, {kFormats.string()}, t / "plain");
  Manifest m = manifest_read(t / "enc");
  REQUIRE(m.encryption_key_check);
  CHECK_THAT(m.shards[0].file, Catch::EndsWith(".enc"));
  // The plaintext never reaches the disk.
  std::string bytes = slmify_test::read_bytes(t / "enc" / m.shards[0].file);
  CHECK(bytes.find("route_ticket") == std::string::npos);

  ReadOptions ro;
  stage_read_options(c, ro);
  auto a = records(t / "enc", ro), b = records(t / "plain");
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) CHECK(a[i] == b[i]);
  CHECK(quarantined(t / "enc", ro).size() == 1);

  Error no_key = slmify_test::expect_error([&] { DatasetReader r(t / "enc"); });
  CHECK(no_key.code() == ExitCode::usage);
  CHECK_THAT(std::string(no_key.what()), Catch::Contains("encrypted and no key"));
  ReadOptions wrong;
  wrong.key = DataKey{};
  Error bad_key = slmify_test::expect_error([&] { DatasetReader r(t / "enc", wrong); });
  CHECK(bad_key.code() == ExitCode::usage);
  CHECK_THAT(std::string(bad_key.what()), Catch::Contains("not the one the dataset was encrypted with"));

  SECTION("enabled without a key available is a usage error before any work") {
    unsetenv("SLMIFY_TEST_KEY");
    Error e = slmify_test::expect_error([&] { run_collect(c, {kFormats.string()}, t / "nokey"); });
    CHECK(e.code() == ExitCode::usage);
    CHECK_FALSE(fs::exists(t / "nokey"));
  }
  unsetenv("SLMIFY_TEST_KEY");
}

TEST_CASE("collect finds an OTel span's agent in a parent exported on a later line", "[collect][otel]") {
  TempDir t;
  auto str = [](const std::string& k, const std::string& v) { return json{{"key", k}, {"value", {{"stringValue", v}}}}; };
  auto doc = [&](json span) {
    return json{{"resourceSpans", {{{"resource", {{"attributes", {str("service.name", "svc")}}}},
                                    {"scopeSpans", {{{"spans", {span}}}}}}}}};
  };
  json chat = {{"traceId", "0af7651916cd43dd8448eb211c80319c"}, {"spanId", "b7ad6b7169203331"}, {"parentSpanId", "00f067aa0ba902b7"},
               {"name", "chat gpt-4o"}, {"startTimeUnixNano", "1764324000000000000"}, {"endTimeUnixNano", "1764324000500000000"},
               {"attributes", {str("gen_ai.operation.name", "chat"), str("gen_ai.request.model", "gpt-4o"),
                               str("gen_ai.prompt.0.role", "user"), str("gen_ai.prompt.0.content", "hi"),
                               str("gen_ai.completion.0.role", "assistant"), str("gen_ai.completion.0.content", "hello")}}};
  json agent = {{"traceId", "0af7651916cd43dd8448eb211c80319c"}, {"spanId", "00f067aa0ba902b7"}, {"name", "invoke_agent triage"},
                {"startTimeUnixNano", "1764323999000000000"}, {"endTimeUnixNano", "1764324001000000000"},
                {"attributes", {str("gen_ai.operation.name", "invoke_agent"), str("gen_ai.agent.name", "triage")}}};
  write_text(t / "traces.jsonl", doc(chat).dump() + "\n" + doc(agent).dump() + "\n");
  json s = run_collect(PipelineConfig{}, {(t / "traces.jsonl").string()}, t / "out");
  REQUIRE(s["out"] == 1);
  CHECK(records(t / "out")[0]["source"]["agent"] == "triage");
}
