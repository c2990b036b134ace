// The view of a call: its parts as text, its output kind and facts, and the masking that turns a
// filled-in prompt back towards its template. Tested by tests/cluster/test_parts.cpp.
#include "cluster/view.h"

#include <algorithm>
#include <cctype>

namespace slmify {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && (is_space(s[b]) || s[b] == '\n')) ++b;
  while (e > b && (is_space(s[e - 1]) || s[e - 1] == '\n')) --e;
  return std::string(s.substr(b, e - b));
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Decodes the UTF-8 character at s[i] (i advanced past it); an invalid byte is returned as itself.
uint32_t next_code_point(std::string_view s, size_t& i) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
  if (i + static_cast<size_t>(len) > s.size()) len = 1;
  uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1Fu) : len == 3 ? (c & 0x0Fu) : (c & 0x07u);
  for (int k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + static_cast<size_t>(k)]) & 0x3Fu);
  i += static_cast<size_t>(len);
  return cp;
}

// Non-ASCII punctuation and spaces separate words like ASCII punctuation does.
bool is_unicode_separator(uint32_t cp) {
  return (cp >= 0x80 && cp <= 0xBF) || cp == 0xD7 || cp == 0xF7 || (cp >= 0x2000 && cp <= 0x206F) ||
         (cp >= 0x2190 && cp <= 0x23FF) || (cp >= 0x2500 && cp <= 0x27BF) || (cp >= 0x3000 && cp <= 0x303F) ||
         (cp >= 0xFF00 && cp <= 0xFF0F) || (cp >= 0xFF1A && cp <= 0xFF20);
}

bool is_placeholder(std::string_view t) {
  return t == "<Q>" || t == "<NUM>" || t == "<ID>" || t == "<EMAIL>" || t == "<URL>" || t == "<TEXT>";
}

// The placeholder for one whitespace-free token (without surrounding punctuation), or "".
const char* classify_token(std::string_view t) {
  if (t.empty() || is_placeholder(t)) return "";
  size_t at = t.find('@');
  if (at != std::string_view::npos && at > 0 && t.find('.', at) != std::string_view::npos) return "<EMAIL>";
  if (t.rfind("http://", 0) == 0 || t.rfind("https://", 0) == 0 || t.rfind("www.", 0) == 0) return "<URL>";
  bool digit = false, alpha = false;
  for (char c : t) digit |= is_digit(c), alpha |= is_alpha(c);
  if (digit) return alpha ? "<ID>" : "<NUM>";
  return "";
}

bool is_lead_punct(char c) { return c == '(' || c == '[' || c == '{' || c == '<' || c == '"' || c == '\'' || c == '#'; }
bool is_trail_punct(char c) {
  return c == '.' || c == ',' || c == ';' || c == ':' || c == '!' || c == '?' || c == ')' || c == ']' || c == '}' ||
         c == '>' || c == '"' || c == '\'';
}

// Replaces quoted values on one line with <Q>: "...", `...`, “...”, and '...' when the quote
// opens after a space or bracket and closes before a space or punctuation (not an apostrophe).
std::string mask_quotes(std::string_view line) {
  std::string out;
  out.reserve(line.size());
  for (size_t i = 0; i < line.size();) {
    std::string_view open, close;
    if (line[i] == '"') open = close = "\"";
    else if (line[i] == '`') open = close = "`";
    else if (line.substr(i, 3) == "\xE2\x80\x9C") open = "\xE2\x80\x9C", close = "\xE2\x80\x9D";
    else if (line[i] == '\'' && (i == 0 || is_space(line[i - 1]) || line[i - 1] == '(' || line[i - 1] == '[' || line[i - 1] == '='))
      open = close = "'";
    if (!open.empty()) {
      size_t end = line.find(close, i + open.size());
      bool ok = end != std::string_view::npos && end > i + open.size() && end - i <= 200;
      if (ok && close == "'") {
        size_t after = end + 1;
        ok = after >= line.size() || is_space(line[after]) || is_trail_punct(line[after]);
      }
      if (ok) {
        out += "<Q>";
        i = end + close.size();
        continue;
      }
    }
    out += line[i++];
  }
  return out;
}

std::string mask_line(std::string_view raw) {
  std::string line = mask_quotes(raw);
  std::string out;
  std::string_view last_placeholder;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && is_space(line[i])) ++i;
    size_t b = i;
    while (i < line.size() && !is_space(line[i])) ++i;
    if (b == i) break;
    std::string_view tok(line.data() + b, i - b);
    size_t lb = 0, le = tok.size();
    if (!is_placeholder(tok)) {
      while (lb < le && is_lead_punct(tok[lb])) ++lb;
      while (le > lb && is_trail_punct(tok[le - 1])) --le;
    }
    std::string_view core = tok.substr(lb, le - lb);
    const char* ph = classify_token(core);
    std::string_view placeholder = *ph ? std::string_view(ph) : is_placeholder(tok) ? tok : std::string_view();
    if (!placeholder.empty() && lb == 0 && le == tok.size() && placeholder == last_placeholder) continue;
    if (!out.empty()) out += ' ';
    if (*ph) out.append(tok.substr(0, lb)).append(ph).append(tok.substr(le));
    else out.append(tok);
    last_placeholder = (lb == 0 && le == tok.size()) ? placeholder : std::string_view();
  }
  return out;
}

bool parses_as_json_container(std::string_view s) {
  if (s.empty() || (s.front() != '{' && s.front() != '[')) return false;
  json j = json::parse(s, nullptr, false);
  return !j.is_discarded() && j.is_structured();
}

bool looks_like_code(const std::string& s) {
  size_t e = 0;
  while (e < s.size() && !is_space(s[e]) && s[e] != '\n' && s[e] != '(') ++e;
  std::string first = lower(std::string_view(s).substr(0, e));
  static const char* sql[] = {"select", "insert", "update", "delete", "create", "alter", "drop", "with"};
  for (const char* k : sql)
    if (first == k)
      for (const char* m : {"FROM", "SET", "INTO", "TABLE", "AS (", "VALUES", "from ", "into "})
        if (s.find(m) != std::string::npos && s.find(m) > e) return true;
  static const char* prog[] = {"def", "class", "import", "#include", "function", "const", "package", "fn", "public"};
  for (const char* k : prog)
    if (first == k && (s.find('\n') != std::string::npos || s.find(';') != std::string::npos)) return true;
  return false;
}

std::string content_text(const json& v) { return v.is_string() ? v.get<std::string>() : std::string(); }

double usage_or(const json& rec, const char* key, double estimate) {
  if (rec.contains("usage") && rec["usage"].is_object() && rec["usage"].contains(key) && rec["usage"][key].is_number())
    return rec["usage"][key].get<double>();
  return estimate;
}

}  // namespace

const char* output_kind_name(OutputKind k) {
  switch (k) {
    case OutputKind::tool_call: return "tool_call";
    case OutputKind::json: return "json";
    case OutputKind::code: return "code";
    case OutputKind::text: return "text";
  }
  return "text";
}

OutputKind output_kind_of(const json& response) {
  if (!response.is_object()) return OutputKind::text;
  if (response.contains("tool_calls") && response["tool_calls"].is_array() && !response["tool_calls"].empty())
    return OutputKind::tool_call;
  std::string c = trim(content_text(response.value("content", json())));
  if (c.rfind("```", 0) == 0) {
    size_t nl = c.find('\n');
    std::string lang = lower(trim(std::string_view(c).substr(3, nl == std::string::npos ? 0 : nl - 3)));
    size_t end = c.rfind("```");
    std::string body = nl == std::string::npos || end <= nl ? std::string() : trim(std::string_view(c).substr(nl + 1, end - nl - 1));
    return lang == "json" || parses_as_json_container(body) ? OutputKind::json : OutputKind::code;
  }
  if (parses_as_json_container(c)) return OutputKind::json;
  if (looks_like_code(c)) return OutputKind::code;
  return OutputKind::text;
}

const char* view_part_name(int part) {
  static const char* names[part_count] = {"system", "last_user", "all_user", "tools", "response_shape", "response", "template"};
  return part >= 0 && part < part_count ? names[part] : "?";
}

std::array<bool, part_count> view_parts_selected(const std::vector<std::string>& view) {
  std::array<bool, part_count> on{};
  for (const std::string& v : view)
    for (int p = 0; p < part_count; ++p)
      if (v == view_part_name(p)) on[static_cast<size_t>(p)] = true;
  return on;
}

std::array<std::string, part_count> view_texts(const json& rec, CallFacts& facts) {
  std::array<std::string, part_count> t;
  const json& req = rec["request"];
  size_t prompt_bytes = 0;
  for (const json& m : req["messages"]) {
    std::string role = m.value("role", "");
    std::string c = content_text(m.value("content", json()));
    prompt_bytes += c.size();
    if (role == "system" || role == "developer") t[part_system] += (t[part_system].empty() ? "" : "\n") + c;
    if (role == "user") {
      t[part_last_user] = c;
      t[part_all_user] += (t[part_all_user].empty() ? "" : "\n") + c;
    }
  }
  const json& resp = rec["response"];
  facts.id = rec.value("id", "");
  facts.kind = output_kind_of(resp);
  std::vector<std::string> offered, called;
  if (req.contains("tools") && req["tools"].is_array())
    for (const json& tool : req["tools"])
      if (tool.contains("function")) offered.push_back(tool["function"].value("name", ""));
  size_t response_bytes = 0;
  if (resp.is_object()) {
    t[part_response] = content_text(resp.value("content", json()));
    response_bytes = t[part_response].size();
    if (resp.contains("tool_calls") && resp["tool_calls"].is_array())
      for (const json& tc : resp["tool_calls"]) {
        const json& f = tc.value("function", json::object());
        called.push_back(f.value("name", ""));
        std::string args = content_text(f.value("arguments", json()));
        response_bytes += args.size();
        t[part_response] += "\n" + called.back() + " " + args;
      }
  }
  std::sort(offered.begin(), offered.end());
  for (const std::string& n : offered) t[part_tools] += "offers_" + n + " ";
  for (const std::string& n : called) t[part_tools] += "calls_" + n + " ";
  // The shape: the kind, the tools called, the keys of a JSON answer, the first word of code.
  std::string& shape = t[part_shape];
  shape = output_kind_name(facts.kind);
  for (const std::string& n : called) shape += " calls_" + n;
  std::string c = trim(t[part_response]);
  if (facts.kind == OutputKind::json) {
    std::string body = c.rfind("```", 0) == 0 ? c.substr(std::min(c.size(), c.find('\n') + 1)) : c;
    if (body.size() >= 3 && body.compare(body.size() - 3, 3, "```") == 0) body.resize(body.size() - 3);
    json j = json::parse(body, nullptr, false);
    if (j.is_object())
      for (auto it = j.begin(); it != j.end(); ++it) shape += " key_" + it.key();
    else if (j.is_array())
      shape += " array";
  } else if (facts.kind == OutputKind::code) {
    size_t e = c.find_first_of(" \n(");
    shape += " code_" + lower(c.substr(0, e));
  }
  facts.prompt_tokens = usage_or(rec, "prompt_tokens", static_cast<double>(prompt_bytes) / 4);
  facts.completion_tokens = usage_or(rec, "completion_tokens", static_cast<double>(response_bytes) / 4);
  facts.latency_ms = rec.contains("latency_ms") && rec["latency_ms"].is_number() ? rec["latency_ms"].get<double>() : -1;
  facts.cost_usd = rec.contains("cost_usd") && rec["cost_usd"].is_number() ? rec["cost_usd"].get<double>() : 0;
  return t;
}

std::string mask_text(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i <= text.size()) {
    size_t nl = text.find('\n', i);
    if (nl == std::string_view::npos) nl = text.size();
    out += mask_line(text.substr(i, nl - i));
    if (nl < text.size()) out += '\n';
    i = nl + 1;
  }
  return out;
}

void word_tokens(std::string_view text, std::string& buffer, std::vector<std::string_view>& out) {
  buffer.assign(text);
  for (char& c : buffer)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  out.clear();
  std::string_view s(buffer);
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] == '<') {  // a placeholder (<NUM>, lowercased here) is one token
      size_t e = s.find('>', i);
      if (e != std::string_view::npos && e - i <= 7 && is_placeholder(text.substr(i, e - i + 1))) {
        out.push_back(s.substr(i, e - i + 1));
        i = e + 1;
        continue;
      }
    }
    size_t b = i;
    while (i < s.size()) {
      unsigned char c = static_cast<unsigned char>(s[i]);
      if (c < 0x80) {
        if (!(std::isalnum(c) || c == '_')) break;
        ++i;
      } else {
        size_t j = i;
        if (is_unicode_separator(next_code_point(s, j))) break;
        i = j;
      }
    }
    if (i > b) {
      out.push_back(s.substr(b, i - b));
      continue;
    }
    if (static_cast<unsigned char>(s[i]) < 0x80) ++i;  // skip one separator
    else next_code_point(s, i);
  }
}

std::string excerpt(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return std::string(text.substr(0, cut)) + "...";
}

}  // namespace slmify
