// inspect / validate / export / import of datasets; see dataset_tools.h.
#include "core/dataset_tools.h"

#include <unistd.h>

#include <cstdio>
#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <sstream>

#include "core/error.h"
#include "core/fsutil.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/zstd_lines.h"

namespace slmify {
namespace fs = std::filesystem;

static std::string response_kind(const json& rec) {
  const json& r = rec.value("response", json());
  if (!r.is_object()) return "none";
  if (r.contains("tool_calls") && r["tool_calls"].is_array() && !r["tool_calls"].empty()) return "tool_call";
  if (!r.contains("content") || !r["content"].is_string() || r["content"].get_ref<const std::string&>().empty())
    return "empty";
  const std::string& c = r["content"].get_ref<const std::string&>();
  size_t b = c.find_first_not_of(" \t\r\n");
  if (b != std::string::npos && (c[b] == '{' || c[b] == '[') && json::accept(c)) return "json";
  return "text";
}

json dataset_inspect(const fs::path& dir, bool scan, const ReadOptions& read) {
  Manifest m = manifest_read(dir);
  json info = manifest_to_json(m);
  info.erase("config");
  info["path"] = dir.string();
  info["records"] = m.records();
  uint64_t bytes = 0, raw = 0;
  for (const ShardInfo& s : m.shards) bytes += s.bytes, raw += s.raw_bytes;
  info["shard_count"] = m.shards.size();
  info["bytes"] = bytes;
  info["raw_bytes"] = raw;
  info.erase("shards");
  if (!scan) return info;

  json st = {{"status", json::object()},   {"hci", json::object()},         {"formats", json::object()},
             {"agents", json::object()},   {"models", json::object()},      {"response_kind", json::object()},
             {"with_tools", 0},            {"prompt_tokens", 0},            {"completion_tokens", 0},
             {"cost_usd", 0.0},            {"latency_ms_mean", nullptr},    {"ann", json::object()}};
  auto bump = [](json& obj, const std::string& key) { obj[key] = obj.value(key, 0) + 1; };
  double lat_sum = 0;
  uint64_t lat_n = 0;
  DatasetReader reader(dir, read);
  json rec;
  Progress progress("scanning", m.records());
  while (reader.next(rec)) {
    bump(st["status"], rec["status"].get<std::string>());
    bump(st["hci"], rec["hci"].get<bool>() ? "true" : "false");
    const json& src = rec["source"];
    bump(st["formats"], src["format"].get<std::string>());
    if (src.contains("agent") && src["agent"].is_string()) bump(st["agents"], src["agent"].get<std::string>());
    const json& req = rec["request"];
    if (req.contains("model") && req["model"].is_string()) bump(st["models"], req["model"].get<std::string>());
    if (req.contains("tools") && !req["tools"].empty()) st["with_tools"] = st["with_tools"].get<uint64_t>() + 1;
    bump(st["response_kind"], response_kind(rec));
    if (rec.contains("usage") && rec["usage"].is_object()) {
      const json& u = rec["usage"];
      st["prompt_tokens"] = st["prompt_tokens"].get<uint64_t>() + u.value("prompt_tokens", uint64_t(0));
      st["completion_tokens"] = st["completion_tokens"].get<uint64_t>() + u.value("completion_tokens", uint64_t(0));
    }
    if (rec.contains("cost_usd") && rec["cost_usd"].is_number())
      st["cost_usd"] = st["cost_usd"].get<double>() + rec["cost_usd"].get<double>();
    if (rec.contains("latency_ms") && rec["latency_ms"].is_number()) lat_sum += rec["latency_ms"].get<double>(), ++lat_n;
    if (rec.contains("ann"))
      for (auto it = rec["ann"].begin(); it != rec["ann"].end(); ++it) bump(st["ann"], it.key());
    progress.add();
  }
  progress.done();
  if (lat_n) st["latency_ms_mean"] = lat_sum / double(lat_n);
  info["scan"] = st;
  return info;
}

static std::string human_bytes(double b) {
  char buf[32];
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) b /= 1024, ++u;
  std::snprintf(buf, sizeof buf, u ? "%.1f %s" : "%.0f %s", b, units[u]);
  return buf;
}

static std::string counts_text(const json& obj, size_t limit = 12) {
  std::vector<std::pair<uint64_t, std::string>> v;
  for (auto it = obj.begin(); it != obj.end(); ++it) v.push_back({it.value().get<uint64_t>(), it.key()});
  std::sort(v.begin(), v.end(), [](auto& a, auto& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
  std::string s;
  for (size_t i = 0; i < v.size() && i < limit; ++i) s += (i ? ", " : "") + v[i].second + " " + std::to_string(v[i].first);
  if (v.size() > limit) s += ", ... (" + std::to_string(v.size() - limit) + " more)";
  return s.empty() ? "-" : s;
}

std::string dataset_inspect_text(const json& info) {
  std::ostringstream o;
  const json& a = info["accounting"];
  o << "dataset " << info["path"].get<std::string>() << "\n";
  o << "  format      " << info["format"].get<std::string>() << " v" << info["version"].get<int>() << ", written by slmify "
    << info["slmify_version"].get<std::string>() << " (stage " << info["stage"].get<std::string>() << ") at "
    << info["created"].get<std::string>() << "\n";
  o << "  records     " << info["records"].get<uint64_t>() << " in " << info["shard_count"].get<uint64_t>() << " shard(s), "
    << human_bytes(info["bytes"].get<double>()) << " on disk (" << human_bytes(info["raw_bytes"].get<double>()) << " uncompressed)\n";
  o << "  accounting  in " << a["in"].get<uint64_t>() << " = out " << a["out"].get<uint64_t>() << " + dropped ";
  uint64_t dropped = 0;
  for (auto it = a["dropped"].begin(); it != a["dropped"].end(); ++it) dropped += it.value().get<uint64_t>();
  o << dropped;
  if (dropped) o << " (" << counts_text(a["dropped"]) << ")";
  o << " + quarantined " << a["quarantined"].get<uint64_t>() << "\n";
  for (const auto& in : info["inputs"])
    o << "  input       " << in["kind"].get<std::string>() << " " << in["path"].get<std::string>() << " "
      << in["digest"].get<std::string>().substr(0, 19) << "\n";
  o << "  config      " << info["config_digest"].get<std::string>().substr(0, 19) << "\n";
  o << "  digest      " << info["digest"].get<std::string>().substr(0, 19) << "\n";
  if (!info["stats"].empty()) o << "  stats       " << info["stats"].dump() << "\n";
  if (info.contains("scan")) {
    const json& s = info["scan"];
    o << "  status      " << counts_text(s["status"]) << "\n";
    o << "  human-facing " << counts_text(s["hci"]) << "\n";
    o << "  sources     " << counts_text(s["formats"]) << "\n";
    o << "  agents      " << counts_text(s["agents"]) << "\n";
    o << "  models      " << counts_text(s["models"]) << "\n";
    o << "  responses   " << counts_text(s["response_kind"]) << "\n";
    o << "  with tools  " << s["with_tools"].get<uint64_t>() << "\n";
    o << "  tokens      prompt " << s["prompt_tokens"].get<uint64_t>() << ", completion " << s["completion_tokens"].get<uint64_t>() << "\n";
    char cost[64];
    std::snprintf(cost, sizeof cost, "%.4f", s["cost_usd"].get<double>());
    o << "  cost        $" << cost;
    if (!s["latency_ms_mean"].is_null()) o << ", mean latency " << std::lround(s["latency_ms_mean"].get<double>()) << " ms";
    o << "\n  annotations " << counts_text(s["ann"]) << "\n";
  }
  return o.str();
}

// ---- validate -------------------------------------------------------------------------------

static void validate_shard(const fs::path& dir, const ShardInfo& s, bool records, ValidateReport& rep, size_t max,
                           const DataKey* key) {
  // Record-level problems are held back until the zstd stream has been read to its end: when the
  // stream is corrupt (zstd's frame checksum fails), they are consequences of the damage and only
  // the corruption is reported.
  std::vector<Problem> record_problems;
  auto add_record_problem = [&](std::string where, std::string what, std::string hint) {
    record_problems.push_back({std::move(where), std::move(what), std::move(hint)});
  };
  auto add = [&](std::string where, std::string what, std::string hint) {
    if (rep.problems.size() < max) rep.problems.push_back({std::move(where), std::move(what), std::move(hint)});
  };
  fs::path p = dir / s.file;
  std::error_code ec;
  if (!fs::exists(p, ec)) return add(p.string(), "is listed in manifest.json but missing", "restore it or re-run the stage");
  try {
    ZstdLineReader r(p, key);
    std::string line;
    while (r.next(line)) {
      std::string where = p.string() + ":" + std::to_string(r.line_number());
      json rec;
      std::string err;
      if (json_parse_guarded(line, rec, err) != JsonFault::none) {
        add_record_problem(where, "not valid JSON: " + err, "the shard was damaged; re-run the stage that produced it");
        continue;
      }
      if (records) {
        ++rep.records;
        std::string problem = record_check(rec);
        if (!problem.empty()) add_record_problem(where, "record does not match schema v1: " + problem, "fix the record or re-run the stage");
      }
    }
    if (r.line_number() != s.records)
      add(p.string(), "holds " + std::to_string(r.line_number()) + " lines but manifest.json lists " + std::to_string(s.records),
          "the shard was replaced or damaged; re-run the stage that produced it");
    // The zstd stream decoded cleanly (its frame checksum held), so bad lines are real edits.
    for (Problem& pr : record_problems) add(pr.where, pr.what, pr.hint);
    std::string sha = r.sha256();
    if (sha != s.sha256)
      add(p.string(), "sha256 " + sha + " does not match manifest.json (" + s.sha256 + ")",
          "the shard was modified or damaged after it was written; re-run the stage that produced it");
  } catch (const Error& e) {
    for (const Problem& pr : e.problems()) add(pr.where, pr.what, pr.hint);
  }
}

ValidateReport dataset_validate(const fs::path& dir, size_t max_problems, const ReadOptions& read) {
  ValidateReport rep;
  Manifest m;
  try {
    m = manifest_read(dir);
  } catch (const Error& e) {
    if (e.code() == ExitCode::io) throw;
    rep.problems = e.problems();
    return rep;
  }
  rep.shards = m.shards.size();
  const DataKey* key = DatasetReader::shard_key(m, read, dir);
  for (const ShardInfo& s : m.shards) validate_shard(dir, s, true, rep, max_problems, key);
  if (m.quarantine) validate_shard(dir, *m.quarantine, false, rep, max_problems, key);
  return rep;
}

// ---- export ---------------------------------------------------------------------------------

std::optional<json> record_to_openai_ft(const json& rec) {
  const json& resp = rec.value("response", json());
  if (rec.value("status", "") != "ok" || !resp.is_object()) return std::nullopt;
  bool has_calls = resp.contains("tool_calls") && !resp["tool_calls"].empty();
  if (!has_calls && !resp.value("content", json()).is_string()) return std::nullopt;  // nothing to learn from
  json out;
  out["messages"] = rec["request"]["messages"];
  json assistant = {{"role", "assistant"}, {"content", resp.value("content", json())}};
  if (resp.contains("tool_calls") && !resp["tool_calls"].empty()) {
    json calls = json::array();
    for (const json& tc : resp["tool_calls"]) {
      json c = tc;
      c["type"] = "function";
      calls.push_back(c);
    }
    assistant["tool_calls"] = calls;
  }
  out["messages"].push_back(assistant);
  const json& req = rec["request"];
  if (req.contains("tools") && !req["tools"].empty()) {
    json tools = json::array();
    for (const json& t : req["tools"]) {
      json c = t;
      c["type"] = "function";
      tools.push_back(c);
    }
    out["tools"] = tools;
  }
  return out;
}

json record_to_openai_chat(const json& rec) {
  const json& req = rec["request"];
  json request = json::object();
  if (req.contains("params"))
    for (auto it = req["params"].begin(); it != req["params"].end(); ++it) request[it.key()] = it.value();
  if (req.contains("model") && !req["model"].is_null()) request["model"] = req["model"];
  request["messages"] = req["messages"];
  if (req.contains("tools")) request["tools"] = req["tools"];
  if (req.contains("tool_choice")) request["tool_choice"] = req["tool_choice"];
  json out = {{"request", request}};
  const json& resp = rec.value("response", json());
  if (resp.is_object()) {
    json message = {{"role", "assistant"}, {"content", resp.value("content", json())}};
    if (resp.contains("tool_calls") && !resp["tool_calls"].empty()) message["tool_calls"] = resp["tool_calls"];
    json response = {{"object", "chat.completion"},
                     {"choices", json::array({{{"index", 0}, {"message", message}, {"finish_reason", resp.value("finish_reason", json())}}})}};
    if (resp.contains("model")) response["model"] = resp["model"];
    else if (request.contains("model")) response["model"] = request["model"];
    if (rec.contains("usage") && rec["usage"].is_object()) response["usage"] = rec["usage"];
    out["response"] = response;
  } else {
    out["response"] = nullptr;
    out["error"] = true;
  }
  json meta = {{"id", rec["id"]}};
  for (const char* k : {"ts", "latency_ms", "cost_usd"})
    if (rec.contains(k)) out[k] = rec[k];
  if (rec["source"].contains("agent")) meta["agent"] = rec["source"]["agent"];
  if (rec["source"].contains("session")) meta["session"] = rec["source"]["session"];
  out["metadata"] = meta;
  return out;
}

json dataset_export(const fs::path& dir, const fs::path& out, const ExportOptions& opts, const ReadOptions& read) {
  if (opts.format != "openai-ft" && opts.format != "openai-chat")
    throw_usage("--format " + opts.format, "unknown export format", "use openai-ft or openai-chat");
  DatasetReader reader(dir, read);
  bool to_stdout = out == "-";
  fs::path tmp;
  std::unique_ptr<FileSink> sink;
  if (!to_stdout) {
    fs::path parent = out.parent_path().empty() ? fs::path(".") : out.parent_path();
    std::error_code ec;
    fs::create_directories(parent, ec);
    tmp = parent / ("." + out.filename().string() + ".tmp-" + std::to_string(::getpid()) + "-" + random_suffix());
    sink = std::make_unique<FileSink>(tmp);
  }
  json skipped = json::object();
  uint64_t written = 0;
  try {
    json rec;
    Progress progress("exporting", reader.manifest().records());
    while (reader.next(rec)) {
      progress.add();
      const json& ann = rec.value("ann", json::object());
      if (opts.split && ann.value("split", "") != *opts.split) {
        skipped["other split"] = skipped.value("other split", 0) + 1;
        continue;
      }
      if (opts.cluster) {
        const json& cl = ann.value("cluster", json());
        if (!cl.is_object() || cl.value("id", int64_t(-1)) != *opts.cluster) {
          skipped["other cluster"] = skipped.value("other cluster", 0) + 1;
          continue;
        }
      }
      std::string line;
      if (opts.format == "openai-ft") {
        auto ex = record_to_openai_ft(rec);
        if (!ex) {
          std::string why = rec["status"] == "error" ? "failed call (status error)" : "empty response";
          skipped[why] = skipped.value(why, 0) + 1;
          continue;
        }
        line = ex->dump();
      } else {
        line = record_to_openai_chat(rec).dump();
      }
      line += '\n';
      if (to_stdout) std::fwrite(line.data(), 1, line.size(), stdout);
      else sink->write(line);
      ++written;
    }
    progress.done();
    if (!to_stdout) {
      sink->finish();
      if (::rename(tmp.c_str(), out.c_str()) != 0) throw_errno("renaming into place", out.string(), errno);
      fsync_path(out.parent_path().empty() ? fs::path(".") : out.parent_path());
    } else {
      std::fflush(stdout);
    }
  } catch (...) {
    std::error_code ec;
    sink.reset();
    if (!tmp.empty()) fs::remove(tmp, ec);
    throw;
  }
  return {{"format", opts.format}, {"output", out.string()}, {"written", written}, {"skipped", skipped}};
}

// ---- import ---------------------------------------------------------------------------------

// Calls fn(line, line_number) for every line of a plain or .zst file, or stdin for "-".
static void for_each_line(const std::string& input, const std::function<void(const std::string&, uint64_t)>& fn) {
  if (input != "-" && fs::path(input).extension() == ".zst") {
    ZstdLineReader r(input);
    std::string line;
    while (r.next(line)) fn(line, r.line_number());
    return;
  }
  std::ifstream file;
  if (input != "-") {
    file.open(input, std::ios::binary);
    if (!file) throw_errno("opening", input, errno ? errno : ENOENT);
  }
  std::istream& in = input == "-" ? std::cin : file;
  std::string line;
  uint64_t n = 0;
  while (std::getline(in, line)) fn(line, ++n);
  if (in.bad()) throw_errno("reading", input, errno);
}

json dataset_import(const std::vector<std::string>& inputs, const fs::path& out, WriterOptions opts) {
  if (inputs.empty()) throw_usage("slmify dataset import", "no input files given", "name one or more JSONL files, or - for stdin");
  for (const std::string& in : inputs) {
    std::error_code ec;
    if (in != "-" && !fs::exists(in, ec)) throw_io(in, "no such file", "check the path");
    opts.inputs.push_back({"file", in, file_input_digest(in)});
  }
  opts.stage = "import";
  DatasetWriter writer(out, opts);
  Progress progress("importing", 0);
  for (const std::string& in : inputs) {
    for_each_line(in, [&](const std::string& line, uint64_t n) {
      progress.add();
      if (line.find_first_not_of(" \t\r") == std::string::npos) return;  // blank lines are not records
      SourceLoc where{in, n};
      json rec;
      std::string err;
      JsonFault fault = json_parse_guarded(line, rec, err, kMaxInputDepth);
      if (fault != JsonFault::none) {
        writer.quarantine(std::string(fault == JsonFault::too_deep ? "too deep: " : "not valid JSON: ") + err, where, line);
        return;
      }
      if (rec.is_object() && (!rec.contains("id") || rec["id"] == "")) rec["id"] = record_content_id(rec);
      writer.write(rec, where);
    });
  }
  progress.done();
  Manifest m = writer.commit();
  const Accounting& a = m.accounting;
  return {{"output", out.string()},
          {"in", a.in},
          {"out", a.out},
          {"dropped", a.dropped},
          {"quarantined", a.quarantined},
          {"digest", m.digest}};
}

}  // namespace slmify
