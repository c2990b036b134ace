// Record schema v1 checks; the rules are documented field by field in docs/dataset-format.md.
#include "core/record.h"

#include <chrono>
#include <ctime>

#include "core/hash.h"

namespace slmify {

namespace {

struct Checker {
  std::string err;
  bool fail(const std::string& path, const std::string& what) {
    if (err.empty()) err = path + ": " + what;
    return false;
  }
  static const char* type_name(const json& j) { return j.type_name(); }

  bool object(const json& j, const std::string& path) {
    return j.is_object() || fail(path, std::string("must be an object (got ") + type_name(j) + ")");
  }
  bool string(const json& j, const std::string& path, bool non_empty = false) {
    if (!j.is_string()) return fail(path, std::string("must be a string (got ") + type_name(j) + ")");
    if (non_empty && j.get_ref<const std::string&>().empty()) return fail(path, "must not be empty");
    return true;
  }
  bool string_or_null(const json& j, const std::string& path) {
    return j.is_null() || string(j, path);
  }
  bool count(const json& j, const std::string& path) {
    return (j.is_number_unsigned() || (j.is_number_integer() && j.get<int64_t>() >= 0)) ||
           fail(path, std::string("must be a non-negative integer (got ") + j.dump() + ")");
  }
  bool number(const json& j, const std::string& path) {
    return (j.is_number() && j.get<double>() >= 0) ||
           fail(path, std::string("must be a non-negative number (got ") + j.dump() + ")");
  }
  // Every key of `j` must be in `allowed` (typos in hand-made records are caught here).
  bool keys(const json& j, const std::string& path, std::initializer_list<const char*> allowed) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      bool ok = false;
      for (const char* a : allowed) ok = ok || it.key() == a;
      if (!ok) {
        std::string list;
        for (const char* a : allowed) list += std::string(list.empty() ? "" : ", ") + a;
        return fail(path.empty() ? it.key() : path + "." + it.key(), "unknown field (allowed: " + list + ")");
      }
    }
    return true;
  }

  bool tool_call(const json& tc, const std::string& p) {
    if (!object(tc, p) || !keys(tc, p, {"id", "type", "function"})) return false;
    if (tc.contains("id") && !string(tc["id"], p + ".id")) return false;
    if (tc.contains("type") && !(tc["type"] == "function")) return fail(p + ".type", "must be \"function\"");
    if (!tc.contains("function")) return fail(p + ".function", "missing");
    const json& f = tc["function"];
    if (!object(f, p + ".function") || !keys(f, p + ".function", {"name", "arguments"})) return false;
    if (!f.contains("name") || !string(f["name"], p + ".function.name", true))
      return fail(p + ".function.name", "missing");
    if (!f.contains("arguments")) return fail(p + ".function.arguments", "missing (a JSON text, may be \"{}\")");
    return string(f["arguments"], p + ".function.arguments");
  }

  bool tool_calls(const json& j, const std::string& p) {
    if (!j.is_array()) return fail(p, "must be an array");
    for (size_t i = 0; i < j.size(); ++i)
      if (!tool_call(j[i], p + "[" + std::to_string(i) + "]")) return false;
    return true;
  }

  bool message(const json& m, const std::string& p) {
    if (!object(m, p) || !keys(m, p, {"role", "content", "name", "tool_calls", "tool_call_id"})) return false;
    if (!m.contains("role")) return fail(p + ".role", "missing");
    static const char* roles[] = {"system", "developer", "user", "assistant", "tool"};
    bool known = false;
    if (m["role"].is_string())
      for (const char* r : roles) known = known || m["role"] == r;
    if (!known) return fail(p + ".role", "must be one of system, developer, user, assistant, tool (got " + m["role"].dump() + ")");
    if (!m.contains("content")) return fail(p + ".content", "missing (use null for an assistant turn with only tool calls)");
    if (!string_or_null(m["content"], p + ".content")) return false;
    if (m.contains("name") && !string(m["name"], p + ".name")) return false;
    if (m.contains("tool_calls") && !tool_calls(m["tool_calls"], p + ".tool_calls")) return false;
    if (m["role"] == "tool" && (!m.contains("tool_call_id") || !string(m["tool_call_id"], p + ".tool_call_id")))
      return fail(p + ".tool_call_id", "a tool message needs the id of the call it answers");
    return true;
  }

  bool tool(const json& t, const std::string& p) {
    if (!object(t, p) || !keys(t, p, {"type", "function"})) return false;
    if (t.contains("type") && !(t["type"] == "function")) return fail(p + ".type", "must be \"function\"");
    if (!t.contains("function")) return fail(p + ".function", "missing");
    const json& f = t["function"];
    if (!object(f, p + ".function") || !keys(f, p + ".function", {"name", "description", "parameters", "strict"}))
      return false;
    if (!f.contains("name") || !string(f["name"], p + ".function.name", true)) return fail(p + ".function.name", "missing");
    if (f.contains("description") && !string(f["description"], p + ".function.description")) return false;
    if (f.contains("parameters") && !object(f["parameters"], p + ".function.parameters")) return false;
    return true;
  }

  bool request(const json& r) {
    if (!object(r, "request") || !keys(r, "request", {"model", "messages", "tools", "tool_choice", "params"}))
      return false;
    if (r.contains("model") && !string_or_null(r["model"], "request.model")) return false;
    if (!r.contains("messages")) return fail("request.messages", "missing");
    const json& ms = r["messages"];
    if (!ms.is_array() || ms.empty()) return fail("request.messages", "must be a non-empty array of messages");
    for (size_t i = 0; i < ms.size(); ++i)
      if (!message(ms[i], "request.messages[" + std::to_string(i) + "]")) return false;
    if (r.contains("tools")) {
      if (!r["tools"].is_array()) return fail("request.tools", "must be an array");
      for (size_t i = 0; i < r["tools"].size(); ++i)
        if (!tool(r["tools"][i], "request.tools[" + std::to_string(i) + "]")) return false;
    }
    if (r.contains("params") && !object(r["params"], "request.params")) return false;
    return true;
  }

  bool response(const json& r) {
    if (!object(r, "response") || !keys(r, "response", {"content", "tool_calls", "finish_reason", "model", "error"}))
      return false;
    if (!r.contains("content")) return fail("response.content", "missing (null when the answer is only tool calls)");
    if (!string_or_null(r["content"], "response.content")) return false;
    if (r.contains("tool_calls") && !tool_calls(r["tool_calls"], "response.tool_calls")) return false;
    if (r.contains("finish_reason") && !string_or_null(r["finish_reason"], "response.finish_reason")) return false;
    if (r.contains("model") && !string_or_null(r["model"], "response.model")) return false;
    if (r.contains("error") && !r["error"].is_null() && !r["error"].is_object() && !r["error"].is_string())
      return fail("response.error", "must be a string, an object or null");
    return true;
  }

  bool record(const json& rec) {
    if (!rec.is_object()) return fail("record", std::string("must be a JSON object (got ") + type_name(rec) + ")");
    if (!keys(rec, "", {"id", "ts", "source", "hci", "status", "request", "response", "usage", "latency_ms",
                         "cost_usd", "meta", "ann"}))
      return false;
    if (!rec.contains("id") || !string(rec["id"], "id", true)) return fail("id", "missing");
    if (rec.contains("ts") && !string_or_null(rec["ts"], "ts")) return false;
    if (!rec.contains("source")) return fail("source", "missing");
    const json& s = rec["source"];
    if (!object(s, "source")) return false;
    if (!s.contains("format") || !string(s["format"], "source.format", true)) return fail("source.format", "missing");
    if (s.contains("file") && !string(s["file"], "source.file")) return false;
    if (s.contains("line") && !count(s["line"], "source.line")) return false;
    for (const char* k : {"agent", "session"})
      if (s.contains(k) && !string_or_null(s[k], std::string("source.") + k)) return false;
    if (!rec.contains("hci") || !rec["hci"].is_boolean()) return fail("hci", "missing or not a boolean");
    if (!rec.contains("status") || !(rec["status"] == "ok" || rec["status"] == "error"))
      return fail("status", "must be \"ok\" or \"error\"");
    if (!rec.contains("request") || !request(rec["request"])) return fail("request", "missing");
    if (!rec.contains("response")) return fail("response", "missing (null only when status is \"error\")");
    if (rec["response"].is_null()) {
      if (rec["status"] != "error") return fail("response", "is null but status is \"ok\"");
    } else if (!response(rec["response"])) {
      return false;
    }
    if (rec.contains("usage") && !rec["usage"].is_null()) {
      const json& u = rec["usage"];
      if (!object(u, "usage")) return false;
      for (auto it = u.begin(); it != u.end(); ++it)
        if (!count(it.value(), "usage." + it.key())) return false;
    }
    for (const char* k : {"latency_ms", "cost_usd"})
      if (rec.contains(k) && !rec[k].is_null() && !number(rec[k], k)) return false;
    if (rec.contains("meta") && !object(rec["meta"], "meta")) return false;
    if (rec.contains("ann") && !object(rec["ann"], "ann")) return false;
    return true;
  }
};

}  // namespace

std::string record_check(const json& rec) {
  Checker c;
  c.record(rec);
  return c.err;
}

std::string record_content_id(const json& rec) {
  // nlohmann::json objects keep keys sorted, so dump() is canonical for equal content.
  json content = json::object();
  content["request"] = rec.value("request", json());
  content["response"] = rec.value("response", json());
  return sha256_hex(content.dump()).substr(0, 32);
}

std::string utc_now_iso8601() {
  using namespace std::chrono;
  auto now = system_clock::now();
  auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::time_t t = system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms));
  return out;
}

bool utf8_valid(std::string_view s) {
  size_t i = 0, n = s.size();
  while (i < n) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len;
    uint32_t cp;
    if (c < 0x80) { ++i; continue; }
    else if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; }
    else return false;
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += len;
  }
  return true;
}

}  // namespace slmify
