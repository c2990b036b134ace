// What `slmify dataset` does (lib/core/dataset_tools.h): inspect, validate (all problems at
// once), conversion to OpenAI formats, export (atomic, filtered, checked by python as an
// independent reader) and import (quarantine with file:line, content ids, blank lines).
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "core/dataset.h"
#include "core/dataset_tools.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/manifest.h"
#include "core/zstd_lines.h"
#include "test_util.h"

using namespace slmify;
using slmify_test::expect_error;
using slmify_test::make_record;
using slmify_test::run_command;
using slmify_test::shell_quote;
using slmify_test::TempDir;
namespace fs = std::filesystem;

namespace {

// Keeps the progress lines of the tools out of the test output; restores the level after.
struct QuietLog {
  LogLevel saved = log_level();
  QuietLog() { log_set_level(LogLevel::warn); }
  ~QuietLog() { log_set_level(saved); }
};

const int kVaried = 40;

// Record i of a dataset that has a bit of everything. The response kind cycles with i % 5:
// 0 text, 1 tool call, 2 JSON text, 3 failed call (no response), 4 empty text.
json varied_record(int i) {
  json r = make_record(i);
  if (i % 3 == 0) r["source"]["agent"] = "planner";
  else if (i % 3 == 1) r["source"]["agent"] = "coder";
  else r["source"].erase("agent");
  r["hci"] = i % 4 == 0;
  r["request"]["model"] = i % 2 ? "gpt-4o" : "gpt-4o-mini";
  r["usage"] = {{"prompt_tokens", 10 + i}, {"completion_tokens", 2}};
  r["latency_ms"] = 100 * (i % 5);
  r["cost_usd"] = 0.25;
  if (i % 7 != 6) r["ann"] = {{"split", i % 4 == 3 ? "eval" : "train"}, {"cluster", {{"id", i % 3}, {"dist", 0.5}}}};
  switch (i % 5) {
    case 0:
      r["response"] = {{"content", "plain text answer " + std::to_string(i)}, {"finish_reason", "stop"}};
      break;
    case 1:
      r["request"]["tools"] = json::parse(
          R"([{"type": "function", "function": {"name": "lookup", "description": "Look a word up",
               "parameters": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}}}])");
      r["request"]["messages"].push_back(
          {{"role", "assistant"},
           {"content", nullptr},
           {"tool_calls", {{{"id", "call_a" + std::to_string(i)}, {"type", "function"},
                            {"function", {{"name", "lookup"}, {"arguments", "{\"q\": \"first\"}"}}}}}}});
      r["request"]["messages"].push_back(
          {{"role", "tool"}, {"tool_call_id", "call_a" + std::to_string(i)}, {"content", "{\"found\": false}"}});
      r["response"] = {{"content", nullptr},
                       {"tool_calls", {{{"id", "call_b" + std::to_string(i)},
                                        {"function", {{"name", "lookup"},
                                                      {"arguments", "{\"q\": \"w" + std::to_string(i) + "\", \"n\": [1, 2]}"}}}}}},
                       {"finish_reason", "tool_calls"}};
      break;
    case 2:
      r["response"] = {{"content", "  {\"answer\": " + std::to_string(i) + "}"}, {"finish_reason", "stop"}};
      break;
    case 3:
      r["status"] = "error";
      r["response"] = nullptr;
      break;
    case 4:
      r["response"] = {{"content", ""}, {"finish_reason", "length"}};
      break;
  }
  return r;
}

Manifest write_varied(const fs::path& dir, uint64_t shard_records = 12) {
  WriterOptions o;
  o.stage = "cluster";
  o.shard_records = shard_records;
  DatasetWriter w(dir, o);
  int refused = 0;
  for (int i = 0; i < kVaried; ++i) refused += !w.write(varied_record(i));
  REQUIRE(refused == 0);
  w.drop("duplicate", 2);
  w.quarantine("not valid JSON", {"in.jsonl", 3}, "{oops");
  return w.commit();
}

std::string what(const Error& e) { return e.what(); }

std::vector<std::string> read_text_lines(const fs::path& p) {
  std::string text = slmify_test::read_bytes(p);
  std::vector<std::string> v;
  size_t start = 0, nl;
  while ((nl = text.find('\n', start)) != std::string::npos) {
    v.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  if (start < text.size()) v.push_back(text.substr(start));
  return v;
}

// Checks an openai-ft JSONL file with python as an independent reader, against the rules of the
// OpenAI fine-tuning format; returns "<examples> <examples ending in tool calls>" or the error.
std::string python_check_ft(const TempDir& tmp, const fs::path& file) {
  auto script = tmp / "check_ft.py";
  slmify_test::write_bytes(script, R"PY(
import json, sys
n = calls = 0
for no, line in enumerate(open(sys.argv[1], encoding="utf-8"), 1):
    where = "line %d" % no
    ex = json.loads(line)
    assert isinstance(ex, dict), where + ": not an object"
    assert set(ex) <= {"messages", "tools", "parallel_tool_calls"}, where + ": unexpected keys %s" % sorted(ex)
    msgs = ex.get("messages")
    assert isinstance(msgs, list) and msgs, where + ": no messages"
    for m in msgs:
        assert m.get("role") in ("system", "developer", "user", "assistant", "tool"), where + ": role %r" % m.get("role")
        assert "content" in m, where + ": message without content"
        assert m["content"] is None or isinstance(m["content"], str), where + ": content type"
        for tc in m.get("tool_calls") or []:
            assert tc.get("type") == "function", where + ": tool call type"
            f = tc["function"]
            assert isinstance(f["name"], str) and f["name"], where + ": tool call name"
            assert isinstance(f["arguments"], str), where + ": arguments must be a string"
            json.loads(f["arguments"])
        if m["role"] == "tool":
            assert isinstance(m.get("tool_call_id"), str), where + ": tool message without tool_call_id"
    last = msgs[-1]
    assert last["role"] == "assistant", where + ": last message is not the assistant's"
    assert isinstance(last["content"], str) or last.get("tool_calls"), where + ": assistant says nothing"
    if last.get("tool_calls"):
        calls += 1
    for t in ex.get("tools", []):
        assert t.get("type") == "function" and isinstance(t["function"]["name"], str), where + ": tool"
        assert isinstance(t["function"].get("parameters", {}), dict), where + ": tool parameters"
    n += 1
print(n, calls)
)PY");
  auto r = run_command(slmify_test::python_exe() + " " + shell_quote(script.string()) + " " +
                       shell_quote(file.string()) + " 2>&1");
  if (r.status != 0) return "python failed: " + r.out;
  while (!r.out.empty() && r.out.back() == '\n') r.out.pop_back();
  return r.out;
}

// Captures what `fn` writes to stdout (file descriptor 1).
template <class F>
std::string capture_stdout(const TempDir& tmp, F&& fn) {
  auto path = tmp / "stdout.txt";
  std::fflush(stdout);
  int saved = ::dup(1);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  REQUIRE(saved >= 0);
  REQUIRE(fd >= 0);
  ::dup2(fd, 1);
  ::close(fd);
  try {
    fn();
  } catch (...) {
    std::fflush(stdout);
    ::dup2(saved, 1);
    ::close(saved);
    throw;
  }
  std::fflush(stdout);
  ::dup2(saved, 1);
  ::close(saved);
  return slmify_test::read_bytes(path);
}

std::vector<std::string> dir_names(const fs::path& dir) {
  std::vector<std::string> v;
  for (const auto& e : fs::directory_iterator(dir)) v.push_back(e.path().filename().string());
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace

// ---- inspect ------------------------------------------------------------------------------------

TEST_CASE("dataset_inspect without scan summarises the manifest", "[core][dataset][tools]") {
  QuietLog quiet;
  TempDir tmp;
  auto dir = tmp / "ds";
  Manifest m = write_varied(dir);
  json info = dataset_inspect(dir, false);
  CHECK(info["path"] == dir.string());
  CHECK(info["format"] == "slmify-dataset");
  CHECK(info["version"] == 1);
  CHECK(info["stage"] == "cluster");
  CHECK(info["records"] == kVaried);
  CHECK(info["shard_count"] == 4);  // 12 + 12 + 12 + 4
  uint64_t bytes = 0;
  for (int i = 0; i < 4; ++i) {
    char name[64];
    std::snprintf(name, sizeof name, "part-%05d.jsonl.zst", i);
    bytes += fs::file_size(dir / name);
  }
  CHECK(info["bytes"] == bytes);
  CHECK(info["accounting"] == json{{"in", 43}, {"out", 40}, {"dropped", {{"duplicate", 2}}}, {"quarantined", 1}});
  CHECK(info["digest"] == m.digest);
  CHECK_FALSE(info.contains("scan"));
  CHECK_FALSE(info.contains("config"));

  std::string text = dataset_inspect_text(info);
  CHECK_THAT(text, Catch::Contains("records     40 in 4 shard(s)"));
  CHECK_THAT(text, Catch::Contains("in 43 = out 40 + dropped 2 (duplicate 2) + quarantined 1"));
  CHECK_THAT(text, !Catch::Contains("responses"));
}

TEST_CASE("dataset_inspect with scan counts status, hci, agents and response kinds", "[core][dataset][tools]") {
  QuietLog quiet;
  TempDir tmp;
  auto dir = tmp / "ds";
  write_varied(dir);
  json info = dataset_inspect(dir, true);
  REQUIRE(info.contains("scan"));
  const json& s = info["scan"];

  // Expected figures, counted straight from the rules of varied_record().
  int ok = 0, error = 0, hci = 0, planner = 0, coder = 0, mini = 0, tools = 0, split = 0, cluster = 0;
  uint64_t prompt = 0;
  double latency = 0;
  for (int i = 0; i < kVaried; ++i) {
    (i % 5 == 3 ? error : ok)++;
    hci += i % 4 == 0;
    planner += i % 3 == 0;
    coder += i % 3 == 1;
    mini += i % 2 == 0;
    tools += i % 5 == 1;
    prompt += static_cast<uint64_t>(10 + i);
    latency += 100 * (i % 5);
    split += i % 7 != 6;
    cluster += i % 7 != 6;
  }
  CHECK(s["status"] == json{{"ok", ok}, {"error", error}});
  CHECK(s["hci"] == json{{"true", hci}, {"false", kVaried - hci}});
  CHECK(s["agents"] == json{{"planner", planner}, {"coder", coder}});
  CHECK(s["models"] == json{{"gpt-4o-mini", mini}, {"gpt-4o", kVaried - mini}});
  CHECK(s["formats"] == json{{"openai-chat", kVaried}});
  CHECK(s["response_kind"] == json{{"text", 8}, {"tool_call", 8}, {"json", 8}, {"none", 8}, {"empty", 8}});
  CHECK(s["with_tools"] == tools);
  CHECK(s["prompt_tokens"] == prompt);
  CHECK(s["completion_tokens"] == 2 * kVaried);
  CHECK(s["cost_usd"].get<double>() == Approx(0.25 * kVaried));
  CHECK(s["latency_ms_mean"].get<double>() == Approx(latency / kVaried));
  CHECK(s["ann"] == json{{"split", split}, {"cluster", cluster}});

  std::string text = dataset_inspect_text(info);
  CHECK_THAT(text, Catch::Contains("status      ok 32, error 8"));
  CHECK_THAT(text, Catch::Contains("agents      planner 14, coder 13"));
}

TEST_CASE("dataset_inspect tells a JSON answer from text that only looks like it", "[core][dataset][tools]") {
  QuietLog quiet;
  TempDir tmp;
  auto dir = tmp / "ds";
  std::vector<std::string> contents = {"[1, 2, 3]", "{\"a\": {\"b\": null}}", "{not json}", "[unclosed",
                                       "text then {\"a\": 1}", "\n\t{\"x\": true}  "};
  {
    DatasetWriter w(dir, WriterOptions{});
    for (size_t i = 0; i < contents.size(); ++i) {
      json r = make_record(static_cast<int>(i));
      r["response"]["content"] = contents[i];
      REQUIRE(w.write(r));
    }
    w.commit();
  }
  json s = dataset_inspect(dir, true)["scan"];
  CHECK(s["response_kind"] == json{{"json", 3}, {"text", 3}});
}

TEST_CASE("dataset_inspect on a damaged dataset throws the reader's error", "[core][dataset][tools]") {
  QuietLog quiet;
  TempDir tmp;
  auto dir = tmp / "ds";
  Manifest m = write_varied(dir);
  std::string bytes = slmify_test::read_bytes(dir / m.shards[2].file);
  slmify_test::write_bytes(dir / m.shards[2].file, bytes.substr(0, bytes.size() - 5));
  CHECK_NOTHROW(dataset_inspect(dir, false));  // the manifest alone is fine
  Error e = expect_error([&] { dataset_inspect(dir, true); });
  CHECK(e.code() == ExitCode::bad_data);
  CHECK_THAT(what(e), Catch::Contains((dir / m.shards[2].file).string()));
}

// ---- validate -----------------------------------------------------------------------------------

TEST_CASE("dataset_validate passes a good dataset and counts its records", "[core][dataset][tools]") {
  TempDir tmp;
  auto dir = tmp / "ds";
  write_varied(dir);
  ValidateReport rep = dataset_validate(dir);
  CHECK(rep.ok());
  CHECK(rep.problems.empty());
  CHECK(rep.records == kVaried);
  CHECK(rep.shards == 4);
}

TEST_CASE("dataset_validate reports several problems at once", "[core][dataset][tools]") {
  TempDir tmp;
  auto dir = tmp / "ds";
  Manifest m = write_varied(dir);
  fs::path s0 = dir / m.shards[0].file, s1 = dir / m.shards[1].file, s2 = dir / m.shards[2].file,
           s3 = dir / m.shards[3].file;

  SECTION("two truncated shards give two problems, one per shard") {
    for (const fs::path& p : {s0, s2}) {
      std::string b = slmify_test::read_bytes(p);
      slmify_test::write_bytes(p, b.substr(0, b.size() - 9));
    }
    ValidateReport rep = dataset_validate(dir);
    CHECK_FALSE(rep.ok());
    REQUIRE(rep.problems.size() == 2);
    CHECK_THAT(rep.problems[0].where, Catch::StartsWith(s0.string()));
    CHECK_THAT(rep.problems[1].where, Catch::StartsWith(s2.string()));
    for (const Problem& p : rep.problems) {
      CHECK_THAT(p.what, Catch::Contains("truncated"));
      CHECK_FALSE(p.hint.empty());
    }
  }
  SECTION("a missing shard and a replaced shard") {
    fs::remove(s1);
    {
      ZstdLineWriter zw(s3);
      for (int i = 100; i < 104; ++i) zw.write_line(varied_record(i).dump());
      zw.finish();
    }
    ValidateReport rep = dataset_validate(dir);
    REQUIRE(rep.problems.size() == 2);
    CHECK(rep.problems[0].where == s1.string());
    CHECK_THAT(rep.problems[0].what, Catch::Contains("missing"));
    CHECK(rep.problems[1].where == s3.string());
    CHECK_THAT(rep.problems[1].what, Catch::Contains("sha256") && Catch::Contains("does not match manifest.json"));
  }
  SECTION("bad records are listed with their lines, and a bad shard does not hide a later one") {
    // Rewrite shard 0 with two records that break the schema (keeping the line count), then
    // truncate shard 3: the records, the checksum of shard 0 and the truncation are all reported.
    std::vector<std::string> lines;
    for (int i = 0; i < 12; ++i) {
      json r = varied_record(i);
      if (i == 4) r["hci"] = "yes";
      if (i == 9) r["request"]["messages"][0]["role"] = "oracle";
      lines.push_back(r.dump());
    }
    {
      ZstdLineWriter zw(s0);
      for (const std::string& l : lines) zw.write_line(l);
      zw.finish();
    }
    std::string b = slmify_test::read_bytes(s3);
    slmify_test::write_bytes(s3, b.substr(0, b.size() / 2));
    ValidateReport rep = dataset_validate(dir);
    REQUIRE(rep.problems.size() == 4);
    CHECK(rep.problems[0].where == s0.string() + ":5");
    CHECK_THAT(rep.problems[0].what, Catch::Contains("hci"));
    CHECK(rep.problems[1].where == s0.string() + ":10");
    CHECK_THAT(rep.problems[1].what, Catch::Contains("request.messages[0].role"));
    CHECK(rep.problems[2].where == s0.string());
    CHECK_THAT(rep.problems[2].what, Catch::Contains("sha256"));
    CHECK_THAT(rep.problems[3].where, Catch::StartsWith(s3.string()));
    SECTION("at most max_problems are kept") {
      CHECK(dataset_validate(dir, 3).problems.size() == 3);
    }
  }
  SECTION("a damaged quarantine shard is reported too") {
    fs::path q = dir / "quarantine.jsonl.zst";
    std::string b = slmify_test::read_bytes(q);
    slmify_test::write_bytes(q, b.substr(0, b.size() - 2));
    ValidateReport rep = dataset_validate(dir);
    REQUIRE(rep.problems.size() == 1);
    CHECK_THAT(rep.problems[0].where, Catch::StartsWith(q.string()));
  }
}

TEST_CASE("dataset_validate turns manifest errors into a problem and a missing directory into an I/O error",
          "[core][dataset][tools]") {
  TempDir tmp;
  auto dir = tmp / "ds";
  write_varied(dir);
  std::string text = slmify_test::read_bytes(dir / "manifest.json");
  slmify_test::write_bytes(dir / "manifest.json", text.substr(0, 100));
  ValidateReport rep = dataset_validate(dir);
  REQUIRE(rep.problems.size() == 1);
  CHECK(rep.problems[0].where == (dir / "manifest.json").string());
  CHECK_THAT(rep.problems[0].what, Catch::Contains("truncated or not valid JSON"));

  Error e = expect_error([&] { dataset_validate(tmp / "nowhere"); });
  CHECK(e.code() == ExitCode::io);
}

// ---- conversion to OpenAI formats -----------------------------------------------------------------

TEST_CASE("record_to_openai_ft makes a fine-tuning example with tool calls intact", "[core][dataset][tools]") {
  json r = varied_record(1);  // tool call with a tool-using history
  std::optional<json> ex = record_to_openai_ft(r);
  REQUIRE(ex);
  const json& msgs = (*ex)["messages"];
  REQUIRE(msgs.size() == r["request"]["messages"].size() + 1);
  for (size_t i = 0; i + 1 < msgs.size(); ++i) CHECK(msgs[i] == r["request"]["messages"][i]);
  const json& last = msgs.back();
  CHECK(last["role"] == "assistant");
  CHECK(last["content"].is_null());
  REQUIRE(last["tool_calls"].size() == 1);
  const json& tc = last["tool_calls"][0];
  CHECK(tc["id"] == "call_b1");
  CHECK(tc["type"] == "function");  // added: the record left it out, OpenAI requires it
  CHECK(tc["function"]["name"] == "lookup");
  CHECK(tc["function"]["arguments"] == "{\"q\": \"w1\", \"n\": [1, 2]}");  // the exact text, still a string
  CHECK((*ex)["tools"] == r["request"]["tools"]);
  CHECK(ex->size() == 2);  // messages and tools, nothing else

  SECTION("a text answer") {
    json t = varied_record(0);
    auto e2 = record_to_openai_ft(t);
    REQUIRE(e2);
    CHECK((*e2)["messages"].back() == json{{"role", "assistant"}, {"content", "plain text answer 0"}});
    CHECK_FALSE(e2->contains("tools"));
  }
  SECTION("a failed call gives no example") {
    CHECK_FALSE(record_to_openai_ft(varied_record(3)));
    json withresp = varied_record(0);
    withresp["status"] = "error";
    CHECK_FALSE(record_to_openai_ft(withresp));
  }
}

TEST_CASE("record_to_openai_ft gives no example for an answer with neither content nor tool calls",
          "[core][dataset][tools]") {
  // {"content": null} without tool calls passes the schema (status ok), but an assistant turn
  // that says nothing is not a usable fine-tuning target; the header promises nullopt "when the
  // record has no usable response".
  json r = make_record(1);
  r["response"] = {{"content", nullptr}, {"finish_reason", "stop"}};
  REQUIRE(record_check(r) == "");
  CHECK_FALSE(record_to_openai_ft(r));
}

TEST_CASE("record_to_openai_chat makes a logged Chat Completions call", "[core][dataset][tools]") {
  json r = varied_record(1);
  r["source"]["session"] = "sess-9";
  r["request"]["params"] = {{"temperature", 0.2}, {"max_tokens", 64}};
  r["request"]["tool_choice"] = "auto";
  json c = record_to_openai_chat(r);
  const json& req = c["request"];
  CHECK(req["model"] == "gpt-4o");
  CHECK(req["temperature"] == 0.2);
  CHECK(req["max_tokens"] == 64);
  CHECK(req["messages"] == r["request"]["messages"]);
  CHECK(req["tools"] == r["request"]["tools"]);
  CHECK(req["tool_choice"] == "auto");
  const json& resp = c["response"];
  CHECK(resp["object"] == "chat.completion");
  CHECK(resp["model"] == "gpt-4o");
  REQUIRE(resp["choices"].size() == 1);
  CHECK(resp["choices"][0]["index"] == 0);
  CHECK(resp["choices"][0]["finish_reason"] == "tool_calls");
  CHECK(resp["choices"][0]["message"]["role"] == "assistant");
  CHECK(resp["choices"][0]["message"]["content"].is_null());
  CHECK(resp["choices"][0]["message"]["tool_calls"] == r["response"]["tool_calls"]);
  CHECK(resp["usage"] == r["usage"]);
  CHECK(c["metadata"] == json{{"id", "rec-1"}, {"agent", "coder"}, {"session", "sess-9"}});
  CHECK(c["ts"] == r["ts"]);
  CHECK(c["latency_ms"] == r["latency_ms"]);
  CHECK(c["cost_usd"] == r["cost_usd"]);

  SECTION("a failed call") {
    json f = record_to_openai_chat(varied_record(3));
    CHECK(f["response"].is_null());
    CHECK(f["error"] == true);
    CHECK(f["request"]["messages"] == varied_record(3)["request"]["messages"]);
  }
  SECTION("the answering model wins over the requested one") {
    json t = varied_record(0);
    t["response"]["model"] = "gpt-4o-2024-08-06";
    CHECK(record_to_openai_chat(t)["response"]["model"] == "gpt-4o-2024-08-06");
  }
}

// ---- export -------------------------------------------------------------------------------------

TEST_CASE("dataset_export writes OpenAI fine-tuning JSONL that python accepts", "[core][dataset][tools]") {
  QuietLog quiet;
  TempDir tmp;
  auto dir = tmp / "ds";
  write_varied(dir);
  auto out = tmp / "exports" / "train.jsonl";  // the directory is created
  json summary = dataset_export(dir, out, ExportOptions{});
  int usable = 0, calls = 0;
  for (int i = 0; i < kVaried; ++i) {
    usable += i % 5 != 3;
    calls += i % 5 == 1;
  }
  CHECK(summary["written"] == usable);
  CHECK(summary["skipped"] == json{{"failed call (status error)", kVaried - usable}});
  CHECK(summary["format"] == "openai-ft");
  CHECK(summary["output"] == out.string());
  CHECK(dir_names(out.parent_path()) == std::vector<std::string>{"train.jsonl"});  // no temporary left
  CHECK(python_check_ft(tmp, out) == std::to_string(usable) + " " + std::to_string(calls));

  // Line by line, each example is the conversion of the next usable record, in order.
  std::vector<std::string> lines = read_text_lines(out);
  REQUIRE(lines.size() == static_cast<size_t>(usable));
  size_t k = 0;
  for (int i = 0; i < kVaried; ++i) {
    if (i % 5 == 3) continue;
    INFO("record " << i);
    CHECK(json::parse(lines[k++]) == *record_to_openai_ft(varied_record(i)));
  }
}

TEST_CASE("dataset_export filters by split and cluster", "[core][dataset][tools]") {
  QuietLog quiet;
  TempDir tmp;
  auto dir = tmp / "ds";
  write_varied(dir);
  auto ids_in = [](const fs::path& file) {
    std::vector<int> v;
    for (const std::string& l : read_text_lines(file)) {
      json ex = json::parse(l);
      std::string q = ex["messages"][1]["content"];  // "question <i>"
      v.push_back(std::stoi(q.substr(9)));
    }
    return v;
  };
  SECTION("--split eval") {
    ExportOptions o;
    o.split = "eval";
    auto out = tmp / "eval.jsonl";
    json summary = dataset_export(dir, out, o);
    std::vector<int> expected;
    int other = 0, failed = 0;
    for (int i = 0; i < kVaried; ++i) {
      bool in_split = i % 7 != 6 && i % 4 == 3;
      if (!in_split) ++other;
      else if (i % 5 == 3) ++failed;
      else expected.push_back(i);
    }
    CHECK(ids_in(out) == expected);
    CHECK(summary["written"] == expected.size());
    CHECK(summary["skipped"]["other split"] == other);
    CHECK(summary["skipped"].value("failed call (status error)", 0) == failed);
    CHECK(python_check_ft(tmp, out).rfind(std::to_string(expected.size()) + " ", 0) == 0);
  }
  SECTION("--cluster 2 together with --split train") {
    ExportOptions o;
    o.split = "train";
    o.cluster = 2;
    auto out = tmp / "c2.jsonl";
    dataset_export(dir, out, o);
    std::vector<int> expected;
    for (int i = 0; i < kVaried; ++i)
      if (i % 7 != 6 && i % 4 != 3 && i % 3 == 2 && i % 5 != 3) expected.push_back(i);
    REQUIRE_FALSE(expected.empty());
    CHECK(ids_in(out) == expected);
  }
  SECTION("--cluster 0 alone") {
    ExportOptions o;
    o.cluster = 0;
    auto out = tmp / "c0.jsonl";
    json summary = dataset_export(dir, out, o);
    std::vector<int> expected;
    int other = 0;
    for (int i = 0; i < kVaried; ++i) {
      if (!(i % 7 != 6 && i % 3 == 0)) ++other;
      else if (i % 5 != 3) expected.push_back(i);
    }
    CHECK(ids_in(out) == expected);
    CHECK(summary["skipped"]["other cluster"] == other);
  }
}

TEST_CASE("dataset_export openai-chat writes one logged call per record", "[core][dataset][tools]") {
  QuietLog quiet;
  TempDir tmp;
  auto dir = tmp / "ds";
  write_varied(dir);
  ExportOptions o;
  o.format = "openai-chat";
  auto out = tmp / "chat.jsonl";
  json summary = dataset_export(dir, out, o);
  CHECK(summary["written"] == kVaried);
  CHECK(summary["skipped"].empty());
  auto script = tmp / "check_chat.py";
  slmify_test::write_bytes(script, R"PY(
import json, sys
n = failed = 0
for no, line in enumerate(open(sys.argv[1], encoding="utf-8"), 1):
    c = json.loads(line)
    assert isinstance(c["request"]["messages"], list) and c["request"]["messages"], no
    assert isinstance(c["metadata"]["id"], str), no
    if c["response"] is None:
        assert c.get("error") is True, no
        failed += 1
    else:
        r = c["response"]
        assert r["object"] == "chat.completion", no
        assert r["choices"][0]["message"]["role"] == "assistant", no
        for tc in r["choices"][0]["message"].get("tool_calls") or []:
            assert isinstance(tc["function"]["arguments"], str), no
    n += 1
print(n, failed)
)PY");
  auto r = run_command(slmify_test::python_exe() + " " + shell_quote(script.string()) + " " + shell_quote(out.string()) +
                       " 2>&1");
  CHECK(r.status == 0);
  CHECK(r.out == std::to_string(kVaried) + " 8\n");
  std::vector<std::string> lines = read_text_lines(out);
  REQUIRE(lines.size() == static_cast<size_t>(kVaried));
  for (int i = 0; i < kVaried; ++i) CHECK(json::parse(lines[static_cast<size_t>(i)]) == record_to_openai_chat(varied_record(i)));
}

TEST_CASE("dataset_export is atomic: a failed export leaves the old file and no temporary", "[core][dataset][tools]") {
  QuietLog quiet;
  TempDir tmp;
  auto dir = tmp / "ds";
  Manifest m = write_varied(dir);
  auto outdir = tmp / "out";
  fs::create_directory(outdir);
  auto out = outdir / "train.jsonl";
  slmify_test::write_bytes(out, "previous export\n");
  // Damage the last shard: the export fails after writing most examples.
  fs::path last = dir / m.shards.back().file;
  std::string b = slmify_test::read_bytes(last);
  slmify_test::write_bytes(last, b.substr(0, b.size() - 3));
  Error e = expect_error([&] { dataset_export(dir, out, ExportOptions{}); });
  CHECK(e.code() == ExitCode::bad_data);
  CHECK_THAT(what(e), Catch::Contains(last.string()));
  CHECK(slmify_test::read_bytes(out) == "previous export\n");
  CHECK(dir_names(outdir) == std::vector<std::string>{"train.jsonl"});

  SECTION("and a new file does not appear at all") {
    auto fresh = outdir / "fresh.jsonl";
    expect_error([&] { dataset_export(dir, fresh, ExportOptions{}); });
    CHECK_FALSE(fs::exists(fresh));
    CHECK(dir_names(outdir) == std::vector<std::string>{"train.jsonl"});
  }
  SECTION("a good export replaces the old file whole") {
    slmify_test::write_bytes(last, b);
    json summary = dataset_export(dir, out, ExportOptions{});
    CHECK(read_text_lines(out).size() == summary["written"].get<size_t>());
    CHECK(dir_names(outdir) == std::vector<std::string>{"train.jsonl"});
  }
}

TEST_CASE("dataset_export to - writes to stdout, and an unknown format is a usage error", "[core][dataset][tools]") {
  QuietLog quiet;
  TempDir tmp;
  auto dir = tmp / "ds";
  write_varied(dir);
  json summary;
  std::string out = capture_stdout(tmp, [&] { summary = dataset_export(dir, "-", ExportOptions{}); });
  auto file = tmp / "file.jsonl";
  dataset_export(dir, file, ExportOptions{});
  CHECK(out == slmify_test::read_bytes(file));
  CHECK(summary["written"] == 32);

  ExportOptions bad;
  bad.format = "alpaca";
  Error e = expect_error([&] { dataset_export(dir, tmp / "x.jsonl", bad); });
  CHECK(e.code() == ExitCode::usage);
  CHECK_THAT(what(e), Catch::Contains("alpaca"));
  CHECK_FALSE(fs::exists(tmp / "x.jsonl"));
}

// ---- import -------------------------------------------------------------------------------------

TEST_CASE("dataset_import quarantines bad lines with file and line, fills ids, skips blank lines",
          "[core][dataset][tools]") {
  QuietLog quiet;
  TempDir tmp;
  auto in = tmp / "records.jsonl";
  json with_id = make_record(1);
  json no_id = make_record(2);
  no_id.erase("id");
  json empty_id = make_record(3);
  empty_id["id"] = "";
  json schema_bad = make_record(4);
  schema_bad["request"]["messages"][0]["role"] = "wizard";
  json crlf = make_record(5);
  std::string text;
  text += with_id.dump() + "\n";                  // 1
  text += "\n";                                   // 2 blank
  text += no_id.dump() + "\n";                    // 3
  text += "{\"id\": \"x\", this is not json\n";   // 4
  text += "   \t \n";                             // 5 blank
  text += schema_bad.dump() + "\n";               // 6
  text += "[1, 2, 3]\n";                          // 7 JSON, not a record
  text += "{\"bytes\": \"caf\xE9\"}\n";           // 8 not UTF-8
  text += empty_id.dump() + "\n";                 // 9
  text += crlf.dump() + "\r\n";                   // 10 CRLF
  text += "\r\n";                                 // 11 blank (CRLF)
  text += make_record(6).dump();                  // 12 no final newline
  slmify_test::write_bytes(in, text);

  auto out = tmp / "imported";
  WriterOptions wo;
  wo.stage = "will be replaced by import";
  json summary = dataset_import({in.string()}, out, wo);
  CHECK(summary["in"] == 9);
  CHECK(summary["out"] == 5);
  CHECK(summary["quarantined"] == 4);
  CHECK(summary["output"] == out.string());

  DatasetReader reader(out);
  const Manifest& m = reader.manifest();
  CHECK(summary["digest"] == m.digest);
  CHECK(m.stage == "import");
  REQUIRE(m.inputs.size() == 1);
  CHECK(m.inputs[0].kind == "file");
  CHECK(m.inputs[0].path == in.string());
  CHECK(m.inputs[0].digest == file_input_digest(in.string()));

  std::vector<json> recs;
  json rec;
  while (reader.next(rec)) recs.push_back(rec);
  REQUIRE(recs.size() == 5);
  CHECK(recs[0] == with_id);
  json filled = no_id;
  filled["id"] = record_content_id(no_id);
  CHECK(recs[1] == filled);
  CHECK(recs[1]["id"].get<std::string>().size() == 32);
  CHECK(recs[2]["id"] == record_content_id(empty_id));
  CHECK(recs[3] == crlf);
  CHECK(recs[4] == make_record(6));

  std::vector<json> q;
  reader.for_each_quarantined([&](const json& e) { q.push_back(e); });
  REQUIRE(q.size() == 4);
  CHECK(q[0]["source"] == json{{"file", in.string()}, {"line", 4}});
  CHECK_THAT(q[0]["reason"].get<std::string>(), Catch::StartsWith("not valid JSON"));
  CHECK(q[0]["raw"] == "{\"id\": \"x\", this is not json");
  CHECK(q[0]["stage"] == "import");
  CHECK(q[1]["source"] == json{{"file", in.string()}, {"line", 6}});
  CHECK_THAT(q[1]["reason"].get<std::string>(), Catch::Contains("request.messages[0].role"));
  CHECK(q[1]["record"] == schema_bad);
  CHECK(q[2]["source"] == json{{"file", in.string()}, {"line", 7}});
  CHECK(q[2]["record"] == json::array({1, 2, 3}));
  CHECK(q[3]["source"] == json{{"file", in.string()}, {"line", 8}});
  CHECK_FALSE(q[3].contains("raw"));
  CHECK(q[3]["raw_base64"] == "eyJieXRlcyI6ICJjYWbpIn0=");  // base64 of the line's bytes (python's b64encode)
}

TEST_CASE("dataset_import reads several files, .zst included, numbering lines per file", "[core][dataset][tools]") {
  QuietLog quiet;
  TempDir tmp;
  auto a = tmp / "a.jsonl";
  slmify_test::write_bytes(a, make_record(1).dump() + "\n" + make_record(2).dump() + "\n");
  auto plain_b = tmp / "b.jsonl";
  slmify_test::write_bytes(plain_b, make_record(3).dump() + "\nnot json\n" + make_record(4).dump() + "\n");
  auto b = tmp / "b.jsonl.zst";
  REQUIRE(run_command("zstd -q " + shell_quote(plain_b.string()) + " -o " + shell_quote(b.string())).status == 0);
  auto out = tmp / "ds";
  json summary = dataset_import({a.string(), b.string()}, out, WriterOptions{});
  CHECK(summary["out"] == 4);
  CHECK(summary["quarantined"] == 1);
  DatasetReader reader(out);
  std::vector<std::string> ids;
  json rec;
  while (reader.next(rec)) ids.push_back(rec["id"]);
  CHECK(ids == std::vector<std::string>{"rec-1", "rec-2", "rec-3", "rec-4"});
  std::vector<json> q;
  reader.for_each_quarantined([&](const json& e) { q.push_back(e); });
  REQUIRE(q.size() == 1);
  CHECK(q[0]["source"] == json{{"file", b.string()}, {"line", 2}});
  REQUIRE(reader.manifest().inputs.size() == 2);
  CHECK(reader.manifest().inputs[1].digest == file_input_digest(b.string()));
}

TEST_CASE("dataset_import refuses missing inputs before writing anything", "[core][dataset][tools]") {
  QuietLog quiet;
  TempDir tmp;
  auto a = tmp / "a.jsonl";
  slmify_test::write_bytes(a, make_record(1).dump() + "\n");
  auto out = tmp / "ds";
  Error e = expect_error([&] { dataset_import({a.string(), (tmp / "missing.jsonl").string()}, out, WriterOptions{}); });
  CHECK(e.code() == ExitCode::io);
  CHECK_THAT(what(e), Catch::Contains((tmp / "missing.jsonl").string()));
  CHECK(dir_names(tmp.path()) == std::vector<std::string>{"a.jsonl"});

  Error e2 = expect_error([&] { dataset_import({}, out, WriterOptions{}); });
  CHECK(e2.code() == ExitCode::usage);
}

TEST_CASE("file_input_digest changes when a file grows or is rewritten, not when it is only read", "[core][dataset]") {
  slmify_test::TempDir t;
  fs::path f = t / "log.jsonl";
  slmify_test::write_bytes(f, "one\n");
  std::string d1 = file_input_digest(f.string());
  CHECK(d1.rfind("stat:", 0) == 0);
  CHECK(file_input_digest(f.string()) == d1);
  slmify_test::read_bytes(f);
  CHECK(file_input_digest(f.string()) == d1);
  std::ofstream(f, std::ios::app) << "two\n";
  CHECK(file_input_digest(f.string()) != d1);
  CHECK(file_input_digest("-") == "stdin");
  CHECK(slmify_test::expect_error([&] { file_input_digest((t / "missing").string()); }).code() == ExitCode::io);
}
