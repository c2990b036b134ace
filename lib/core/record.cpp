// Record schema v1 checks; the rules are documented field by field in docs/dataset-format.md.
#include "core/record.h"

#include <algorithm>

#include <chrono>
#include <ctime>

#include "core/hash.h"

namespace slmify {

namespace {

// A path inside the record, built as a chain on the stack and turned into text only when a
// check fails (formatting every path eagerly cost more than the checks themselves).
struct Path {
  const Path* up = nullptr;
  const char* key = nullptr;  // member name, or nullptr for an array index
  size_t index = 0;
  Path operator/(const char* k) const { return Path{this, k, 0}; }
  Path operator[](size_t i) const { return Path{this, nullptr, i}; }
  std::string str() const {
    std::string s = up ? up->str() : std::string();
    if (!key) return s + "[" + std::to_string(index) + "]";
    if (!*key) return s;
    return s.empty() ? std::string(key) : s + "." + key;
  }
};

struct Checker {
  std::string err;
  bool fail(const Path& path, const std::string& what) {
    if (err.empty()) {
      std::string p = path.str();
      err = (p.empty() ? std::string("record") : p) + ": " + what;
    }
    return false;
  }
  static std::string got(const json& j) { return std::string(" (got ") + j.type_name() + ")"; }

  bool object(const json& j, const Path& p) { return j.is_object() || fail(p, "must be an object" + got(j)); }
  bool string(const json& j, const Path& p, bool non_empty = false) {
    if (!j.is_string()) return fail(p, "must be a string" + got(j));
    if (non_empty && j.get_ref<const std::string&>().empty()) return fail(p, "must not be empty");
    return true;
  }
  bool string_or_null(const json& j, const Path& p) { return j.is_null() || string(j, p); }
  bool count(const json& j, const Path& p) {
    return (j.is_number_unsigned() || (j.is_number_integer() && j.get<int64_t>() >= 0)) ||
           fail(p, "must be a non-negative integer (got " + j.dump() + ")");
  }
  bool number(const json& j, const Path& p) {
    return (j.is_number() && j.get<double>() >= 0) || fail(p, "must be a non-negative number (got " + j.dump() + ")");
  }
  // Every key of `j` must be in `allowed` (typos in hand-made records are caught here).
  bool keys(const json& j, const Path& p, std::initializer_list<const char*> allowed) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      bool ok = false;
      for (const char* a : allowed) ok = ok || it.key() == a;
      if (!ok) {
        std::string list;
        for (const char* a : allowed) list += std::string(list.empty() ? "" : ", ") + a;
        return fail(p / it.key().c_str(), "unknown field (allowed: " + list + ")");
      }
    }
    return true;
  }
  // j[key] when present; nullptr otherwise (const access must not insert).
  static const json* get(const json& j, const char* key) {
    auto it = j.find(key);
    return it == j.end() ? nullptr : &*it;
  }

  bool tool_call(const json& tc, const Path& p) {
    if (!object(tc, p) || !keys(tc, p, {"id", "type", "function"})) return false;
    if (auto id = get(tc, "id"); id && !string(*id, p / "id")) return false;
    if (auto t = get(tc, "type"); t && *t != "function") return fail(p / "type", "must be \"function\"");
    const json* f = get(tc, "function");
    if (!f) return fail(p / "function", "missing");
    Path fp = p / "function";
    if (!object(*f, fp) || !keys(*f, fp, {"name", "arguments"})) return false;
    const json* name = get(*f, "name");
    if (!name) return fail(fp / "name", "missing");
    if (!string(*name, fp / "name", true)) return false;
    const json* args = get(*f, "arguments");
    if (!args) return fail(fp / "arguments", "missing (a JSON text, may be \"{}\")");
    return string(*args, fp / "arguments");
  }

  bool tool_calls(const json& j, const Path& p) {
    if (!j.is_array()) return fail(p, "must be an array");
    for (size_t i = 0; i < j.size(); ++i)
      if (!tool_call(j[i], p[i])) return false;
    return true;
  }

  bool message(const json& m, const Path& p) {
    if (!object(m, p) || !keys(m, p, {"role", "content", "name", "tool_calls", "tool_call_id"})) return false;
    const json* role = get(m, "role");
    if (!role) return fail(p / "role", "missing");
    static const char* roles[] = {"system", "developer", "user", "assistant", "tool"};
    bool known = false;
    if (role->is_string())
      for (const char* r : roles) known = known || *role == r;
    if (!known) return fail(p / "role", "must be one of system, developer, user, assistant, tool (got " + role->dump() + ")");
    const json* content = get(m, "content");
    if (!content) return fail(p / "content", "missing (use null for an assistant turn with only tool calls)");
    if (!string_or_null(*content, p / "content")) return false;
    if (auto n = get(m, "name"); n && !string(*n, p / "name")) return false;
    if (auto tc = get(m, "tool_calls"); tc && !tool_calls(*tc, p / "tool_calls")) return false;
    if (*role == "tool") {
      const json* id = get(m, "tool_call_id");
      if (!id) return fail(p / "tool_call_id", "a tool message needs the id of the call it answers");
      if (!string(*id, p / "tool_call_id")) return false;
    }
    return true;
  }

  bool tool(const json& t, const Path& p) {
    if (!object(t, p) || !keys(t, p, {"type", "function"})) return false;
    if (auto ty = get(t, "type"); ty && *ty != "function") return fail(p / "type", "must be \"function\"");
    const json* f = get(t, "function");
    if (!f) return fail(p / "function", "missing");
    Path fp = p / "function";
    if (!object(*f, fp) || !keys(*f, fp, {"name", "description", "parameters", "strict"})) return false;
    const json* name = get(*f, "name");
    if (!name) return fail(fp / "name", "missing");
    if (!string(*name, fp / "name", true)) return false;
    if (auto d = get(*f, "description"); d && !string(*d, fp / "description")) return false;
    if (auto pa = get(*f, "parameters"); pa && !object(*pa, fp / "parameters")) return false;
    return true;
  }

  bool request(const json& r, const Path& p) {
    if (!object(r, p) || !keys(r, p, {"model", "messages", "tools", "tool_choice", "params"})) return false;
    if (auto m = get(r, "model"); m && !string_or_null(*m, p / "model")) return false;
    const json* ms = get(r, "messages");
    if (!ms) return fail(p / "messages", "missing");
    if (!ms->is_array() || ms->empty()) return fail(p / "messages", "must be a non-empty array of messages");
    Path mp = p / "messages";
    for (size_t i = 0; i < ms->size(); ++i)
      if (!message((*ms)[i], mp[i])) return false;
    if (const json* tools = get(r, "tools")) {
      if (!tools->is_array()) return fail(p / "tools", "must be an array");
      Path tp = p / "tools";
      for (size_t i = 0; i < tools->size(); ++i)
        if (!tool((*tools)[i], tp[i])) return false;
    }
    if (auto pa = get(r, "params"); pa && !object(*pa, p / "params")) return false;
    return true;
  }

  bool response(const json& r, const Path& p) {
    if (!object(r, p) || !keys(r, p, {"content", "tool_calls", "finish_reason", "model", "error"})) return false;
    const json* c = get(r, "content");
    if (!c) return fail(p / "content", "missing (null when the answer is only tool calls)");
    if (!string_or_null(*c, p / "content")) return false;
    if (auto tc = get(r, "tool_calls"); tc && !tool_calls(*tc, p / "tool_calls")) return false;
    if (auto fr = get(r, "finish_reason"); fr && !string_or_null(*fr, p / "finish_reason")) return false;
    if (auto m = get(r, "model"); m && !string_or_null(*m, p / "model")) return false;
    if (auto e = get(r, "error"); e && !e->is_null() && !e->is_object() && !e->is_string())
      return fail(p / "error", "must be a string, an object or null");
    return true;
  }

  bool record(const json& rec) {
    Path root{nullptr, "", 0};
    if (!rec.is_object()) return fail(root, "must be a JSON object" + got(rec));
    if (!keys(rec, root, {"id", "ts", "source", "hci", "status", "request", "response", "usage", "latency_ms",
                          "cost_usd", "meta", "ann"}))
      return false;
    const json* id = get(rec, "id");
    if (!id) return fail(root / "id", "missing");
    if (!string(*id, root / "id", true)) return false;
    if (auto ts = get(rec, "ts"); ts && !string_or_null(*ts, root / "ts")) return false;
    if (auto ts = get(rec, "ts"); ts && ts->is_string() && !iso8601_valid(ts->get_ref<const std::string&>()))
      return fail(root / "ts", "must be an ISO-8601 date-time such as 2026-11-28T10:00:00Z (got " + ts->dump() + ")");
    const json* s = get(rec, "source");
    if (!s) return fail(root / "source", "missing");
    Path sp = root / "source";
    if (!object(*s, sp)) return false;
    const json* fmt = get(*s, "format");
    if (!fmt) return fail(sp / "format", "missing");
    if (!string(*fmt, sp / "format", true)) return false;
    if (auto f = get(*s, "file"); f && !string(*f, sp / "file")) return false;
    if (auto l = get(*s, "line"); l && !count(*l, sp / "line")) return false;
    for (const char* k : {"agent", "session"})
      if (auto v = get(*s, k); v && !string_or_null(*v, sp / k)) return false;
    const json* hci = get(rec, "hci");
    if (!hci || !hci->is_boolean()) return fail(root / "hci", "missing or not a boolean");
    const json* status = get(rec, "status");
    if (!status || !(*status == "ok" || *status == "error")) return fail(root / "status", "must be \"ok\" or \"error\"");
    const json* req = get(rec, "request");
    if (!req) return fail(root / "request", "missing");
    if (!request(*req, root / "request")) return false;
    const json* resp = get(rec, "response");
    if (!resp) return fail(root / "response", "missing (null only when status is \"error\")");
    if (resp->is_null()) {
      if (*status != "error") return fail(root / "response", "is null but status is \"ok\"");
    } else if (!response(*resp, root / "response")) {
      return false;
    }
    if (auto u = get(rec, "usage"); u && !u->is_null()) {
      if (!object(*u, root / "usage")) return false;
      for (auto it = u->begin(); it != u->end(); ++it)
        if (!count(it.value(), root / "usage" / it.key().c_str())) return false;
    }
    for (const char* k : {"latency_ms", "cost_usd"})
      if (auto v = get(rec, k); v && !v->is_null() && !number(*v, root / k)) return false;
    if (auto m = get(rec, "meta"); m && !object(*m, root / "meta")) return false;
    if (auto a = get(rec, "ann"); a && !object(*a, root / "ann")) return false;
    return true;
  }
};

}  // namespace

std::string record_check(const json& rec) {
  Checker c;
  c.record(rec);
  return c.err;
}

PreparedRecord record_prepare(json& rec) {
  PreparedRecord p;
  if (!rec.is_object()) {
    p.problem = "record: must be a JSON object";
    return p;
  }
  // The canonical text of the content is {"request":R,"response":S}; in the whole record (keys
  // sorted) "request" and "response" are neighbours, so R and S are spliced in between the keys
  // that sort before them and those that sort after.
  std::string r = rec.value("request", json()).dump(), s = rec.value("response", json()).dump();
  std::string content = "{\"request\":" + r + ",\"response\":" + s + "}";
  p.id = sha256_hex(content).substr(0, 32);
  rec["id"] = p.id;
  p.problem = record_check(rec);
  if (!p.problem.empty()) return p;
  json head = json::object(), tail = json::object();
  for (auto it = rec.begin(); it != rec.end(); ++it) {
    if (it.key() == "request" || it.key() == "response") continue;
    (it.key() < "request" ? head : tail)[it.key()] = it.value();
  }
  std::string h = head.dump(), t = tail.dump();
  p.line.reserve(h.size() + content.size() + t.size());
  p.line.append(h, 0, h.size() - 1);  // without its closing brace
  if (h.size() > 2) p.line += ',';
  p.line.append(content, 1, content.size() - 2);  // "request":R,"response":S
  if (t.size() > 2) p.line += ',';
  p.line.append(t, 1, std::string::npos);  // without its opening brace
  return p;
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

bool base64_decode(std::string_view s, std::string& out) {
  out.clear();
  while (!s.empty() && s.back() == '=') s.remove_suffix(1);
  if (s.size() % 4 == 1) return false;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : s) {
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '+' || c == '-') v = 62;
    else if (c == '/' || c == '_') v = 63;
    else return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  return true;
}

size_t utf8_valid_prefix(std::string_view s) {
  size_t i = 0, n = s.size();
  while (i < n) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len;
    uint32_t cp;
    if (c < 0x80) { ++i; continue; }
    else if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; }
    else return i;
    if (i + len > n) return i;
    for (size_t k = 1; k < len; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return i;
    i += len;
  }
  return n;
}

bool utf8_valid(std::string_view s) { return utf8_valid_prefix(s) == s.size(); }

bool iso8601_valid(std::string_view s) {
  size_t i = 0;
  auto num = [&](size_t n, int& out) {
    if (i + n > s.size()) return false;
    out = 0;
    for (size_t k = 0; k < n; ++k, ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      out = out * 10 + (s[i] - '0');
    }
    return true;
  };
  auto lit = [&](char c) { return i < s.size() && s[i] == c ? (++i, true) : false; };
  int y, mo, d, h, mi, sec;
  if (!num(4, y) || !lit('-') || !num(2, mo) || !lit('-') || !num(2, d)) return false;
  static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (mo < 1 || mo > 12 || d < 1 || d > days[mo - 1] + (mo == 2 && leap ? 1 : 0)) return false;
  if (i == s.size()) return true;
  if (!lit('T') && !lit(' ')) return false;
  if (!num(2, h) || !lit(':') || !num(2, mi) || h > 23 || mi > 59) return false;
  if (lit(':')) {
    if (!num(2, sec) || sec > 60) return false;  // 60: a leap second
    if (lit('.') || lit(',')) {
      size_t from = i;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
      if (i == from) return false;
    }
  }
  if (i == s.size()) return true;
  if (lit('Z')) return i == s.size();
  int oh, om = 0;
  if (!lit('+') && !lit('-')) return false;
  if (!num(2, oh) || oh > 23) return false;
  if (i < s.size()) {
    lit(':');
    if (!num(2, om) || om > 59) return false;
  }
  return i == s.size();
}

std::string utf8_repair(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  while (!s.empty()) {
    size_t good = utf8_valid_prefix(s);
    out.append(s.substr(0, good));
    if (good == s.size()) break;
    out += "\xEF\xBF\xBD";  // one replacement per byte that starts no valid sequence
    s.remove_prefix(good + 1);
  }
  return out;
}

// Calls on_depth(depth) after each bracket outside strings, until it returns false. Returns
// whether the text ends inside a string.
template <class F>
static bool scan_brackets(std::string_view text, F&& on_depth) {
  size_t depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;  // the escaped character cannot end the string
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{' || ((c == ']' || c == '}') && depth > 0)) {
      depth += c == '[' || c == '{' ? 1 : -1;
      if (!on_depth(depth)) break;
    }
  }
  return in_string;
}

size_t json_nesting_depth(std::string_view text, size_t limit) {
  size_t deepest = 0;
  scan_brackets(text, [&](size_t d) { return (deepest = std::max(deepest, d)) <= limit; });
  return deepest;
}

bool json_left_open(std::string_view text) {
  size_t b = text.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos || (text[b] != '{' && text[b] != '[')) return false;
  size_t depth = 0;
  bool closed = false;
  bool in_string = scan_brackets(text.substr(b), [&](size_t d) { return !(closed = (depth = d) == 0); });
  return !in_string && !closed && depth > 0;
}

JsonFault json_parse_guarded(std::string_view text, json& out, std::string& error, size_t max_depth) {
  if (json_nesting_depth(text, max_depth) > max_depth) {
    error = "nested deeper than " + std::to_string(max_depth) + " levels of arrays and objects";
    return JsonFault::too_deep;
  }
  try {
    out = json::parse(text.begin(), text.end());
    return JsonFault::none;
  } catch (const json::exception& e) {  // parse_error, and out_of_range for numbers like 1e999
    error = e.what();
    return JsonFault::invalid;
  }
}

json json_parse_embedded(std::string_view text) {
  json out;
  std::string err;
  if (json_parse_guarded(text, out, err, kMaxInputDepth) != JsonFault::none) return json(json::value_t::discarded);
  return out;
}

}  // namespace slmify
