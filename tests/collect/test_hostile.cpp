// Hostile but well-formed-looking input (issue 18): values nested 100,000 deep, numbers out of
// range, stream indices that are negative or huge, fields of the wrong type, a bad first line,
// a one-line array of calls, damaged compressed files, pipes, and the quarantine accounting.
// Each input is written here from the issue's description; every case checks that the run goes
// on, that nothing readable is lost, and that the quarantine says what and where.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <thread>

#include "../core/test_util.h"
#include "collect/collect.h"
#include "core/dataset.h"
#include "core/dataset_tools.h"
#include "core/error.h"

using namespace slmify;
using slmify_test::TempDir;
namespace fs = std::filesystem;

namespace {

json run_collect(std::vector<std::string> inputs, const fs::path& out, PipelineConfig c = {}) {
  return collect_run(c, StageIO{std::move(inputs), out.string()}, Context{});
}

std::vector<json> quarantined(const fs::path& dir) {
  DatasetReader r(dir);
  std::vector<json> out;
  r.for_each_quarantined([&](const json& e) { out.push_back(e); });
  return out;
}

json chat(int n) {
  return {{"request", {{"model", "gpt-4o-mini"}, {"messages", {{{"role", "user"}, {"content", "question " + std::to_string(n)}}}}}},
          {"response", {{"choices", {{{"index", 0}, {"message", {{"role", "assistant"}, {"content", "answer " + std::to_string(n)}}}}}}}}};
}
std::string chat_lines(int from, int to) {
  std::string s;
  for (int i = from; i <= to; ++i) s += chat(i).dump() + "\n";
  return s;
}

// A streamed Anthropic call whose events are `events`.
std::string anthropic_stream(const json& events) {
  json line = {{"request", {{"model", "claude-sonnet-4-5"}, {"max_tokens", 64}, {"system", "s"},
                            {"messages", {{{"role", "user"}, {"content", "hi"}}}}}},
               {"response", events}};
  return line.dump();
}

std::string nested(size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

// The identity every stage keeps: what came in is out, dropped or quarantined, also by reason.
void check_balanced(const json& s) {
  uint64_t dropped = 0, by_reason = 0;
  for (auto& [k, n] : s["dropped"].items()) dropped += n.get<uint64_t>();
  for (auto& [k, n] : s["quarantined_by_reason"].items()) by_reason += n.get<uint64_t>();
  CHECK(s["in"].get<uint64_t>() == s["out"].get<uint64_t>() + dropped + s["quarantined"].get<uint64_t>());
  CHECK(by_reason == s["quarantined"].get<uint64_t>());
}

}  // namespace

TEST_CASE("json_nesting_depth counts brackets outside strings and stops past the limit", "[collect][hostile]") {
  CHECK(json_nesting_depth("1", 10) == 0);
  CHECK(json_nesting_depth("[[1],{\"a\":[2]}]", 10) == 3);
  CHECK(json_nesting_depth("{\"s\":\"[[[[\\\"[[\"}", 10) == 1);  // brackets and an escaped quote inside a string
  CHECK(json_nesting_depth(nested(100000), 256) == 257);
  json v;
  std::string err;
  CHECK(json_parse_guarded(nested(100000), v, err, 256) == JsonFault::too_deep);
  CHECK(json_parse_guarded(nested(256), v, err, 256) == JsonFault::none);
  CHECK(json_parse_guarded("{\"x\": 1e999}", v, err) == JsonFault::invalid);
  CHECK_THAT(err, Catch::Contains("number overflow"));
  CHECK(json_parse_guarded("{\"x\": ", v, err) == JsonFault::invalid);
}

TEST_CASE("collect quarantines a value nested 100,000 deep and a number out of range, and goes on", "[collect][hostile]") {
  TempDir t;
  json deep = chat(2);
  fs::path f = t / "deep.jsonl";
  std::string line2 = deep.dump();
  line2.insert(line2.size() - 1, ", \"metadata\": {\"x\": " + nested(100000) + "}");
  std::string line3 = chat(3).dump();
  line3.insert(line3.size() - 1, ", \"latency_ms\": 1e999");
  slmify_test::write_bytes(f, chat(1).dump() + "\n" + line2 + "\n" + line3 + "\n" + chat(4).dump() + "\n");
  json s = run_collect({f.string()}, t / "out");
  CHECK(s["out"] == 2);
  CHECK(s["quarantined_by_reason"] == json{{"invalid JSON", 1}, {"too deep", 1}});
  check_balanced(s);
  auto q = quarantined(t / "out");
  REQUIRE(q.size() == 2);
  CHECK(q[0]["source"]["line"] == 2);
  CHECK_THAT(q[0]["reason"].get<std::string>(), Catch::Contains("deeper than 256") && Catch::Contains("collect.max_depth"));
  CHECK(q[1]["source"]["line"] == 3);
  CHECK_THAT(q[1]["reason"].get<std::string>(), Catch::Contains("number overflow"));

  SECTION("dataset import does the same") {
    json rec = chat(5);
    rec["ts"] = "2026-12-01T00:00:00Z";
    std::string bad = rec.dump();
    bad.insert(bad.size() - 1, ", \"meta\": {\"x\": " + nested(100000) + ", \"y\": 1e999}");
    slmify_test::write_bytes(t / "in.jsonl", bad + "\n");
    json r = dataset_import({(t / "in.jsonl").string()}, t / "imp", WriterOptions{});
    CHECK(r["quarantined"] == 1);
    auto qi = quarantined(t / "imp");
    REQUIRE(qi.size() == 1);
    CHECK_THAT(qi[0]["reason"].get<std::string>(), Catch::StartsWith("too deep"));
  }
}

TEST_CASE("collect quarantines streamed Anthropic blocks with a negative or huge index", "[collect][hostile]") {
  TempDir t;
  auto events = [](const json& index) {
    json start = {{"type", "message_start"}};
    start["message"] = {{"id", "m"}, {"type", "message"}, {"role", "assistant"}, {"content", json::array()}};
    json block = {{"type", "content_block_start"}, {"index", index}};
    block["content_block"] = {{"type", "text"}, {"text", ""}};
    json end = {{"type", "message_delta"}};
    end["delta"] = {{"stop_reason", "end_turn"}};
    return json::array({start, block, end});
  };
  fs::path f = t / "stream.jsonl";
  slmify_test::write_bytes(f, anthropic_stream(events(-1)) + "\n" + anthropic_stream(events(100000000)) + "\n" +
                                  anthropic_stream(events(1e300)) + "\n" + anthropic_stream(events(0)) + "\n");
  json s = run_collect({f.string()}, t / "out");
  CHECK(s["out"] == 1);
  CHECK(s["quarantined_by_reason"] == json{{"cannot convert", 3}});
  check_balanced(s);
  for (const json& e : quarantined(t / "out")) CHECK_THAT(e["reason"].get<std::string>(), Catch::Contains("expected an integer from 0 to 1023"));
}

TEST_CASE("collect quarantines fields of the wrong type where formats are told apart", "[collect][hostile]") {
  TempDir t;
  json typed = json::parse(anthropic_stream(json::array()));
  typed["response"] = {{"type", 42}, {"content", json::array()}};
  json stream = json::parse(anthropic_stream(json::array({{{"type", json::array()}}})));
  fs::path f = t / "types.jsonl";
  slmify_test::write_bytes(f, typed.dump() + "\n" + stream.dump() + "\n" + R"({"resourceSpans": "s"})" + "\n" + chat(1).dump() + "\n");
  json s = run_collect({f.string()}, t / "out");
  CHECK(s["out"] == 1);
  CHECK(s["quarantined"] == 3);
  check_balanced(s);
  auto q = quarantined(t / "out");
  REQUIRE(q.size() == 3);
  for (size_t i = 0; i < 3; ++i) CHECK(q[i]["source"]["line"] == i + 1);
  CHECK_THAT(q[2]["reason"].get<std::string>(), Catch::Contains("resourceSpans must be an array"));

  SECTION("an OTLP JSON Lines file whose later document is malformed keeps its good documents") {
    std::string good = slmify_test::read_bytes(fs::path(SLMIFY_SOURCE_DIR) / "examples" / "formats" / "otel-messages.jsonl");
    slmify_test::write_bytes(t / "otel.jsonl", good + R"({"resourceSpans": "s"})" + "\n");
    json o = run_collect({(t / "otel.jsonl").string()}, t / "otel");
    CHECK(o["out"].get<int>() > 0);
    CHECK(o["quarantined_by_reason"] == json{{"cannot convert", 1}});
  }
}

TEST_CASE("collect keeps the calls after a bad first line", "[collect][hostile]") {
  TempDir t;
  std::vector<std::pair<std::string, std::string>> firsts = {
      {"invalid JSON", "{\"request\": oops}"},
      {"invalid UTF-8", "{\"request\": \"caf\xe9\"}"},
      {"invalid JSON", std::string("{\"request\": \"a\0b\"}", 18)},
      {"invalid JSON", "{\"request\": \"\\ud800\"}"},
      {"invalid JSON", chat(0).dump() + " trailing"},
      {"invalid JSON", "{\"request\": {\"model\": \"x\", \"messages\": ["},  // opens a document that never closes
  };
  int k = 0;
  for (auto& [kind, first] : firsts) {
    fs::path f = t / ("f" + std::to_string(k) + ".jsonl");
    slmify_test::write_bytes(f, first + "\n" + chat_lines(1, 9));
    json s = run_collect({f.string()}, t / ("o" + std::to_string(k++)));
    INFO(first);
    CHECK(s["out"] == 9);
    CHECK(s["in"] == 10);
    CHECK(s["quarantined_by_reason"] == json{{kind, 1}});
    check_balanced(s);
  }
}

TEST_CASE("collect reads a compact one-line JSON array of calls", "[collect][hostile]") {
  TempDir t;
  json arr = json::array({chat(1), chat(2), {{"hello", "world"}}, chat(3)});
  slmify_test::write_bytes(t / "a.json", arr.dump() + "\n" + chat(4).dump() + "\n");
  json s = run_collect({(t / "a.json").string()}, t / "out");
  CHECK(s["out"] == 4);
  CHECK(s["quarantined_by_reason"] == json{{"unknown shape", 1}});
  check_balanced(s);
  auto q = quarantined(t / "out");
  REQUIRE(q.size() == 1);
  CHECK(q[0]["source"]["line"] == 1);
  CHECK(q[0]["raw"] == "{\"hello\":\"world\"}");
}

TEST_CASE("collect reads a damaged gzip or zstd file up to the damage and quarantines the rest", "[collect][hostile]") {
  TempDir t;
  fs::path plain = t / "calls.jsonl";
  slmify_test::write_bytes(plain, chat_lines(1, 2000));
  auto sh = [&](const std::string& cmd) { REQUIRE(std::system(cmd.c_str()) == 0); };
  sh("gzip -c " + plain.string() + " > " + (t / "c.jsonl.gz").string());
  sh("zstd -q -c " + plain.string() + " > " + (t / "c.jsonl.zst").string());
  for (const char* name : {"c.jsonl.gz", "c.jsonl.zst"}) {
    std::string bytes = slmify_test::read_bytes(t / name);
    INFO(name);
    for (bool cut : {true, false}) {
      std::string damaged = bytes;
      if (cut) damaged.resize(bytes.size() / 2);
      else for (size_t i = bytes.size() / 2; i < bytes.size() / 2 + 64; ++i) damaged[i] = static_cast<char>(damaged[i] ^ 0x5a);
      fs::path f = t / ((cut ? "cut-" : "flip-") + std::string(name));
      slmify_test::write_bytes(f, damaged);
      fs::path out = t / ("o-" + f.filename().string());
      json s = run_collect({f.string()}, out);
      CHECK(s["out"].get<int>() > 100);  // the calls before the damage
      CHECK(s["out"].get<int>() < 2000);
      CHECK(s["quarantined_by_reason"].value("damaged file", 0) == 1);
      check_balanced(s);
      bool found = false;
      for (const json& e : quarantined(out))
        if (e["reason"].get<std::string>().rfind("damaged file", 0) == 0) {
          found = true;
          CHECK_THAT(e["reason"].get<std::string>(), Catch::Contains("of the compressed file"));
        }
      CHECK(found);
      PipelineConfig strict;
      strict.collect.strict = true;
      Error e = slmify_test::expect_error([&] { run_collect({f.string()}, t / "strict", strict); });
      CHECK(e.code() == ExitCode::bad_data);
      CHECK_FALSE(fs::exists(t / "strict"));
    }
  }
}

TEST_CASE("collect counts records that fail the schema check under their reason, and drops impossible times", "[collect][hostile]") {
  TempDir t;
  json bad = chat(2);
  bad["request"]["tools"] = json::array({{{"type", "function"}, {"function", {{"name", 5}}}}});  // a name that is a number
  json when = chat(3);
  when["timestamp"] = "2026-13-45T99:99:99Z";  // not a moment: the call is kept without a time
  slmify_test::write_bytes(t / "c.jsonl", chat(1).dump() + "\n" + bad.dump() + "\n" + when.dump() + "\n");
  json s = run_collect({(t / "c.jsonl").string()}, t / "out");
  CHECK(s["out"] == 2);
  CHECK(s["quarantined_by_reason"] == json{{"invalid record", 1}});
  check_balanced(s);
  DatasetReader r(t / "out");
  json rec;
  int n = 0;
  while (r.next(rec)) {
    CHECK((!rec.contains("ts") || rec["ts"].is_null()));
    ++n;
  }
  CHECK(n == 2);
}

TEST_CASE("collect streams a FIFO, which has no size and no resume state", "[collect][hostile]") {
  TempDir t;
  fs::path fifo = t / "calls.fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  for (bool with_state : {false, true}) {
    std::thread writer([&] {
      std::ofstream w(fifo, std::ios::binary);  // blocks until collect opens the other end
      w << chat_lines(1, 50);
    });
    PipelineConfig c;
    if (with_state) c.collect.state = (t / "state.json").string();
    json s = run_collect({fifo.string()}, t / (with_state ? "o2" : "o1"), c);
    writer.join();
    CHECK(s["out"] == 50);
    CHECK(manifest_read(t / (with_state ? "o2" : "o1")).inputs.at(0).digest == "stream");
  }
}

TEST_CASE("a dataset whose quarantine file was deleted is refused by the reader, as validate refuses it", "[collect][hostile]") {
  TempDir t;
  slmify_test::write_bytes(t / "c.jsonl", chat(1).dump() + "\nnot json\n");
  run_collect({(t / "c.jsonl").string()}, t / "out");
  fs::path q = t / "out" / "quarantine.jsonl.zst";
  REQUIRE(fs::exists(q));
  fs::remove(q);
  Error e = slmify_test::expect_error([&] { DatasetReader r(t / "out"); });
  CHECK(e.code() == ExitCode::bad_data);
  CHECK_THAT(std::string(e.what()), Catch::Contains("quarantine.jsonl.zst"));
}
