// The scrub stage: drops calls that would teach the wrong thing (failed, truncated, empty,
// invalid tool calls, out-of-bounds lengths), replaces personal data and secrets in every string
// of a record (JSON inside tool-call arguments stays valid JSON), removes exact and near
// duplicates keeping the earliest, and accounts for all of it. Behaviour: docs/scrub.md.
// Tested by tests/scrub/test_scrub.cpp (filters, policies, canary, accounting).
#include "scrub/scrub.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/crypto.h"
#include "core/dataset.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "scrub/dedup.h"
#include "scrub/detect.h"
#include "scrub/replace.h"

namespace slmify {

namespace {

// The start of the UTF-8 character that holds byte `i` (so that cut text stays valid UTF-8).
size_t utf8_floor(const std::string& s, size_t i) {
  while (i > 0 && i < s.size() && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
  return i;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// What one record's scrubbing found: counts per entity and field, examples, or a drop reason.
struct Outcome {
  std::string drop;  // non-empty: drop the record for this reason
  std::map<std::string, uint64_t> by_entity, by_field;
  std::vector<std::pair<std::string, std::string>> examples;  // entity, text after replacement
};

class Scrubber {
 public:
  Scrubber(const ScrubConfig& cfg, const Detector& det, const Replacer* rep) : cfg_(cfg), det_(det), rep_(rep) {
    replacement_parse(cfg.replacement, default_);
    for (const auto& [entity, policy] : cfg.entity_replacement) {
      Replacement r;
      replacement_parse(policy, r);
      per_entity_[lower(entity)] = r;
    }
  }

  Replacement policy(const std::string& entity) const {
    auto it = per_entity_.find(lower(entity));
    return it == per_entity_.end() ? default_ : it->second;
  }

  // Replaces every detection in `s`; `field` names where it is, for the accounting.
  void text(std::string& s, const std::string& field, Outcome& out) const {
    std::vector<Detection> found = det_.find(s);
    if (found.empty()) return;
    std::string result;
    size_t pos = 0;
    std::vector<std::pair<std::string, std::pair<size_t, size_t>>> spans;  // entity, replaced span in result
    for (const Detection& d : found) {
      Replacement p = policy(d.entity);
      if (p == Replacement::drop && out.drop.empty()) out.drop = "pii: " + d.entity;
      std::string_view value(s.data() + d.begin, d.end - d.begin);
      std::string repl = rep_ ? rep_->replace(p, d.entity, value) : "<" + d.entity + ">";
      result.append(s, pos, d.begin - pos);
      size_t at = result.size();
      result += repl;
      pos = d.end;
      ++out.by_entity[d.entity];
      ++out.by_field[field];
      spans.push_back({d.entity, {at, result.size()}});
    }
    result.append(s, pos, std::string::npos);
    // Examples for the report are cut from the text after every replacement: never the original.
    for (const auto& [entity, span] : spans) {
      if (out.examples.size() >= 8) break;
      size_t from = utf8_floor(result, span.first > 30 ? span.first - 30 : 0);
      size_t to = utf8_floor(result, std::min(result.size(), span.second + 30));
      out.examples.push_back({entity, result.substr(from, to - from)});
    }
    s = std::move(result);
  }

  // Tool-call arguments are JSON inside a string: replace inside its string values, so that the
  // arguments stay valid JSON; text that is not JSON is scrubbed as text.
  void json_text(std::string& s, const std::string& field, Outcome& out) const {
    json j = json_parse_embedded(s);
    if (j.is_discarded() || !(j.is_object() || j.is_array())) return text(s, field, out);
    bool changed = false;
    std::function<void(json&)> walk = [&](json& v) {
      if (v.is_string()) {
        std::string t = v.get<std::string>();
        size_t before = out.by_entity.size() + out.examples.size() + count(out, field);
        text(t, field, out);
        if (out.by_entity.size() + out.examples.size() + count(out, field) != before) v = t, changed = true;
      } else if (v.is_structured()) {
        for (auto& x : v) walk(x);
      }
    };
    walk(j);
    if (changed) s = j.dump();
  }

  static uint64_t count(const Outcome& out, const std::string& field) {
    auto it = out.by_field.find(field);
    return it == out.by_field.end() ? 0 : it->second;
  }

  void calls(json& holder, const std::string& field, Outcome& out) const {
    if (!holder.contains("tool_calls")) return;
    for (json& tc : holder["tool_calls"]) {
      std::string args = tc["function"]["arguments"].get<std::string>();
      json_text(args, field, out);
      tc["function"]["arguments"] = args;
    }
  }

  void string_at(json& v, const std::string& field, Outcome& out) const {
    if (!v.is_string()) return;
    std::string t = v.get<std::string>();
    text(t, field, out);
    v = t;
  }

  // Descriptions anywhere in a JSON Schema (tool parameters).
  void descriptions(json& schema, const std::string& field, Outcome& out) const {
    if (schema.is_object())
      for (auto it = schema.begin(); it != schema.end(); ++it) {
        if (it.key() == "description") string_at(it.value(), field, out);
        else descriptions(it.value(), field, out);
      }
    else if (schema.is_array())
      for (json& x : schema) descriptions(x, field, out);
  }

  Outcome record(json& rec) const {
    Outcome out;
    for (json& m : rec["request"]["messages"]) {
      std::string role = m.value("role", "user");
      string_at(m["content"], role == "system" || role == "developer" ? "system prompt" : role == "tool" ? "tool result" : "message", out);
      calls(m, "tool call arguments", out);
    }
    if (rec["request"].contains("tools"))
      for (json& t : rec["request"]["tools"]) {
        if (t["function"].contains("description")) string_at(t["function"]["description"], "tool description", out);
        if (t["function"].contains("parameters")) descriptions(t["function"]["parameters"], "tool description", out);
      }
    json& resp = rec["response"];
    if (resp.is_object()) {
      string_at(resp["content"], "response", out);
      calls(resp, "tool call arguments", out);
    }
    if (rec.contains("meta"))
      for (const std::string& k : cfg_.metadata_fields)
        if (rec["meta"].contains(k)) string_at(rec["meta"][k], "meta." + k, out);
    return out;
  }

 private:
  const ScrubConfig& cfg_;
  const Detector& det_;
  const Replacer* rep_;
  Replacement default_ = Replacement::pseudonym;
  std::map<std::string, Replacement> per_entity_;
};

// Token estimate: the logged usage when there is one, else about four bytes per token.
int64_t prompt_tokens(const json& rec) {
  if (rec.contains("usage") && rec["usage"].is_object() && rec["usage"].contains("prompt_tokens"))
    return rec["usage"]["prompt_tokens"].get<int64_t>();
  size_t bytes = 0;
  for (const json& m : rec["request"]["messages"])
    if (m["content"].is_string()) bytes += m["content"].get_ref<const std::string&>().size();
  return static_cast<int64_t>(bytes / 4);
}

int64_t response_tokens(const json& rec) {
  if (rec.contains("usage") && rec["usage"].is_object() && rec["usage"].contains("completion_tokens"))
    return rec["usage"]["completion_tokens"].get<int64_t>();
  const json& r = rec["response"];
  size_t bytes = r["content"].is_string() ? r["content"].get_ref<const std::string&>().size() : 0;
  if (r.contains("tool_calls"))
    for (const json& tc : r["tool_calls"]) bytes += tc["function"]["arguments"].get_ref<const std::string&>().size();
  return static_cast<int64_t>(bytes / 4);
}

// Why a call must not be learned from, or "" when it may.
std::string filter_reason(const ScrubConfig& c, const json& rec) {
  if (rec["status"] == "error" || !rec["response"].is_object()) return c.drop_failed ? "failed call" : "";
  const json& r = rec["response"];
  if (c.drop_truncated && r.value("finish_reason", json()) == "length") return "truncated response";
  bool calls = r.contains("tool_calls") && !r["tool_calls"].empty();
  bool text = r["content"].is_string() && r["content"].get_ref<const std::string&>().find_first_not_of(" \t\r\n") != std::string::npos;
  if (c.drop_empty && !calls && !text) return "empty response";
  if (c.drop_invalid_tool_calls && calls) {
    for (const json& tc : r["tool_calls"]) {
      json args = json_parse_embedded(tc["function"]["arguments"].get<std::string>());
      if (args.is_discarded() || !args.is_object()) return "tool call arguments are not a JSON object";
      const std::string& name = tc["function"]["name"].get_ref<const std::string&>();
      for (const json& t : rec["request"].value("tools", json::array()))
        if (t["function"].value("name", "") == name && t["function"].contains("parameters"))
          for (const json& req : t["function"]["parameters"].value("required", json::array()))
            if (req.is_string() && !args.contains(req.get<std::string>())) return "tool call misses a required argument";
    }
  }
  int64_t p = prompt_tokens(rec), q = response_tokens(rec);
  if (p < c.min_prompt_tokens) return "prompt too short";
  if (p > c.max_prompt_tokens) return "prompt too long";
  if (q < c.min_response_tokens) return "response too short";
  if (q > c.max_response_tokens) return "response too long";
  return "";
}

std::optional<ScrubKey> scrub_key(const ScrubConfig& c) {
  EncryptionConfig e;  // the same loading rules as data keys: a key file, else a variable
  e.key_file = c.key_file;
  e.key_env = c.key_env;
  auto k = data_key_load(e);
  if (!k) return std::nullopt;
  ScrubKey out;
  std::copy(k->begin(), k->end(), out.begin());
  return out;
}

}  // namespace

json scrub_run(const PipelineConfig& config, const StageIO& io, const Context&) {
  const ScrubConfig& sc = config.scrub;
  if (io.inputs.size() != 1) throw_usage("slmify scrub", "needs exactly one input dataset", "slmify scrub IN -o OUT");
  if (io.output.empty()) throw_usage("slmify scrub", "no output directory", "give one with -o DIR");
  Detector detector(sc);  // every bad pattern is reported here, before any work
  bool needs_key = sc.replacement == "pseudonym" || sc.replacement == "hash";
  for (const auto& [e, p] : sc.entity_replacement) needs_key = needs_key || p == "pseudonym" || p == "hash";
  std::optional<ScrubKey> key = scrub_key(sc);
  if (needs_key && !key)
    throw_usage("scrub.key_env", "pseudonyms and hashes need a secret key, and none is set",
                "export " + sc.key_env + "=$(slmify dataset keygen) once and keep it (the same key gives the same stand-ins), "
                "or set scrub.key_file; or use replacement: mask");
  std::optional<Replacer> replacer;
  if (key) replacer.emplace(*key);
  Scrubber scrubber(sc, detector, replacer ? &*replacer : nullptr);
  Deduper dedup(sc.dedup, sc.near_threshold, static_cast<size_t>(sc.shingle_words), static_cast<uint64_t>(sc.seed));

  ReadOptions ro;
  stage_read_options(config, ro);
  DatasetReader reader(io.inputs[0], ro);
  WriterOptions wo;
  stage_writer_options(config, "scrub", "scrub", wo);
  wo.file_mode = 0600;
  wo.inputs = {reader.input_ref()};
  DatasetWriter writer(io.output, wo);

  std::map<std::string, uint64_t> by_entity, by_field;
  std::map<std::string, std::vector<std::string>> examples;
  Progress progress("scrub", reader.manifest().records(), "calls");
  unsigned workers = config.threads > 0 ? static_cast<unsigned>(config.threads) : std::max(1u, std::thread::hardware_concurrency());
  workers = std::min(workers, 8u);
  std::vector<json> batch;
  std::vector<Outcome> outcomes;
  auto flush = [&]() {
    outcomes.assign(batch.size(), Outcome{});
    // Filters and replacement run on all cores; duplicates are judged in order, afterwards.
    auto work = [&](size_t from, size_t to) {
      for (size_t i = from; i < to; ++i) {
        std::string why = filter_reason(sc, batch[i]);
        if (!why.empty()) outcomes[i].drop = why;
        else outcomes[i] = scrubber.record(batch[i]);
      }
    };
    std::vector<std::thread> ts;
    size_t per = (batch.size() + workers - 1) / workers;
    for (unsigned w = 1; w < workers && w * per < batch.size(); ++w) ts.emplace_back(work, w * per, std::min(batch.size(), (w + 1) * per));
    work(0, std::min(batch.size(), per));
    for (auto& t : ts) t.join();
    for (size_t i = 0; i < batch.size(); ++i) {
      Outcome& o = outcomes[i];
      progress.add();
      if (!o.drop.empty()) {
        writer.drop(o.drop);
        continue;
      }
      std::string dup = dedup.check(batch[i]);
      if (!dup.empty()) {
        writer.drop(dup);
        continue;
      }
      if (!o.by_entity.empty()) batch[i]["ann"]["scrub"] = {{"redactions", o.by_entity}};
      for (auto& [k, n] : o.by_entity) by_entity[k] += n;
      for (auto& [k, n] : o.by_field) by_field[k] += n;
      for (auto& [entity, text] : o.examples)
        if (examples[entity].size() < 3) examples[entity].push_back(text);
      writer.write(batch[i]);
    }
    batch.clear();
  };
  json rec;
  while (reader.next(rec)) {
    batch.push_back(std::move(rec));
    if (batch.size() >= 1024) flush();
  }
  flush();
  progress.done();

  writer.stats() = {{"redactions_by_entity", by_entity}, {"redactions_by_field", by_field}, {"replacement", sc.replacement}};
  Manifest m = writer.commit();
  const Accounting& a = m.accounting;
  json summary = {{"stage", "scrub"},           {"output", io.output},  {"in", a.in},
                  {"out", a.out},               {"dropped", a.dropped}, {"quarantined", a.quarantined},
                  {"redactions_by_entity", by_entity}, {"redactions_by_field", by_field}, {"digest", m.digest}};
  if (!sc.report.empty()) {
    std::ostringstream r;
    r << "slmify scrub report for " << io.inputs[0] << " -> " << io.output << "\n\n";
    r << "calls in " << a.in << ", kept " << a.out << "\n";
    for (auto& [reason, n] : a.dropped) r << "dropped " << n << ": " << reason << "\n";
    r << "\nreplaced (" << sc.replacement << "), by entity:\n";
    for (auto& [e, n] : by_entity) r << "  " << e << ": " << n << "\n";
    r << "\nby field:\n";
    for (auto& [f, n] : by_field) r << "  " << f << ": " << n << "\n";
    // Excerpts are text of the calls: in clear beside an encrypted dataset they would undo the
    // encryption (whatever a detector missed would be readable), so that report has counts only.
    if (config.encryption.enabled) {
      r << "\nexamples are left out: the dataset is encrypted, and excerpts of its calls would be outside the encryption\n";
    } else {
      r << "\nexamples, as they look after replacement:\n";
      for (auto& [e, xs] : examples)
        for (auto& x : xs) r << "  " << e << ": ..." << x << "...\n";
    }
    write_file_atomic(sc.report, r.str(), 0600);
  }
  log_info("scrubbed " + std::to_string(a.in) + " calls: kept " + std::to_string(a.out) + ", dropped " + json(a.dropped).dump() +
           ", replaced " + json(by_entity).dump());
  return summary;
}

}  // namespace slmify
