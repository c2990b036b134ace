// Answer-against-answer metrics; see metrics.h. Tested by tests/eval/test_metrics.cpp.
#include "eval/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <unordered_map>

namespace slmify {

namespace {

bool is_ascii_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_ascii_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ascii_space(s.back())) s.remove_suffix(1);
  return s;
}

// Decodes the UTF-8 character at s[i] and advances i; an invalid byte b becomes U+DC00 + b
// (Python's surrogateescape), so that every byte still counts as one character.
char32_t next_char(std::string_view s, size_t& i) {
  const unsigned char c = static_cast<unsigned char>(s[i]);
  const int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
  bool ok = len > 0 && i + static_cast<size_t>(len) <= s.size();
  for (int k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(s[i + static_cast<size_t>(k)]) & 0xC0) == 0x80;
  if (!ok) {
    ++i;
    return 0xDC00 + c;
  }
  char32_t cp = len == 1 ? c : len == 2 ? (c & 0x1Fu) : len == 3 ? (c & 0x0Fu) : (c & 0x07u);
  for (int k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + static_cast<size_t>(k)]) & 0x3Fu);
  i += static_cast<size_t>(len);
  return cp;
}

// What Python's str.split() splits on.
bool is_py_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

// Non-ASCII characters that separate words: spaces and the punctuation blocks.
bool is_unicode_separator(char32_t c) {
  return is_py_space(c) || (c >= 0x80 && c <= 0xBF) || c == 0xD7 || c == 0xF7 || (c >= 0x2000 && c <= 0x206F) ||
         (c >= 0x2190 && c <= 0x23FF) || (c >= 0x2500 && c <= 0x27BF) || (c >= 0x3000 && c <= 0x303F) ||
         (c >= 0xFF00 && c <= 0xFF0F) || (c >= 0xFF1A && c <= 0xFF20);
}

json parse_or_discarded(std::string_view s) { return json::parse(s.begin(), s.end(), nullptr, false); }

ReplyCall call_from(const std::string& name, const json& args) {
  ReplyCall c;
  c.name = name;
  if (args.is_string()) {
    json parsed = parse_or_discarded(args.get_ref<const std::string&>());
    c.arguments_ok = !parsed.is_discarded();
    c.arguments = c.arguments_ok ? parsed : args;
  } else {
    c.arguments = args.is_null() ? json::object() : args;
  }
  return c;
}

// {"name": .., "arguments"|"parameters": ..} as a call; false for anything else.
bool call_object(const json& j, ReplyCall& out) {
  if (!j.is_object() || !j.contains("name") || !j["name"].is_string()) return false;
  const char* key = j.contains("arguments") ? "arguments" : j.contains("parameters") ? "parameters" : nullptr;
  if (!key) return false;
  out = call_from(j["name"].get<std::string>(), j[key]);
  return true;
}

std::string canonical_number(const json& v) {
  if (v.is_number_integer()) return v.dump();
  double d = v.get<double>();
  if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e15) return std::to_string(static_cast<int64_t>(d));
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", d);
  return buf;
}

void leaves(const json& j, const std::string& path, std::vector<std::pair<std::string, std::string>>& out) {
  if (j.is_object() && !j.empty()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      std::string key;
      for (char c : it.key()) key += c == '~' ? std::string("~0") : c == '/' ? std::string("~1") : std::string(1, c);
      leaves(it.value(), path + "/" + key, out);
    }
  } else if (j.is_array() && !j.empty()) {
    for (size_t i = 0; i < j.size(); ++i) leaves(j[i], path + "/" + std::to_string(i), out);
  } else {
    out.push_back({path, j.is_number() ? canonical_number(j) : j.dump()});
  }
}

bool calls_match(const std::vector<ReplyCall>& pred, const std::vector<ReplyCall>& ref, bool with_arguments) {
  if (pred.size() != ref.size()) return false;
  std::vector<bool> used(pred.size(), false);
  for (const ReplyCall& r : ref) {
    bool found = false;
    for (size_t i = 0; i < pred.size() && !found; ++i)
      if (!used[i] && pred[i].name == r.name && (!with_arguments || json_equal(pred[i].arguments, r.arguments)))
        used[i] = found = true;
    if (!found) return false;
  }
  return true;
}

}  // namespace

Reply reply_from_response(const json& response) {
  Reply r;
  if (!response.is_object()) return r;
  if (response.contains("content") && response["content"].is_string()) r.content = response["content"].get<std::string>();
  if (response.contains("tool_calls") && response["tool_calls"].is_array())
    for (const json& tc : response["tool_calls"]) {
      const json f = tc.is_object() ? tc.value("function", json::object()) : json::object();
      ReplyCall c = call_from(f.value("name", std::string()), f.value("arguments", json()));
      r.calls_ok = r.calls_ok && c.arguments_ok;
      r.calls.push_back(std::move(c));
    }
  return r;
}

Reply reply_parse(std::string_view text, ToolCallFormat format) {
  Reply r;
  if (format == ToolCallFormat::bare_json) {
    std::string_view body = trim(text);
    if (body.rfind("[TOOL_CALLS]", 0) == 0) body = trim(body.substr(12));
    json j = parse_or_discarded(body);
    std::vector<ReplyCall> calls;
    bool all = !j.is_discarded() && (j.is_object() || (j.is_array() && !j.empty()));
    if (all && j.is_object()) all = call_object(j, calls.emplace_back());
    else if (all)
      for (const json& e : j) all = all && call_object(e, calls.emplace_back());
    if (all) r.calls = std::move(calls);
    else r.content = std::string(trim(text));
    return r;
  }
  // chat_render_chatml writes CONTENT "\n<tool_call>\n" JSON "\n</tool_call>" per call.
  static constexpr std::string_view open = "<tool_call>", close = "</tool_call>";
  size_t at = text.find(open);
  r.content = std::string(trim(text.substr(0, at)));
  while (at != std::string_view::npos) {
    size_t b = at + open.size(), e = text.find(close, b);
    std::string_view inner = trim(text.substr(b, e == std::string_view::npos ? std::string_view::npos : e - b));
    ReplyCall c;
    json j = parse_or_discarded(inner);
    if (j.is_discarded() || !call_object(j, c)) {
      c = ReplyCall{"", json(std::string(inner)), false};
      r.calls_ok = false;
    }
    r.calls_ok = r.calls_ok && c.arguments_ok;
    r.calls.push_back(std::move(c));
    if (e == std::string_view::npos) break;  // cut off by the token limit
    at = text.find(open, e + close.size());
  }
  return r;
}

std::string reply_text(const Reply& r) {
  std::string s = r.content;
  for (const ReplyCall& c : r.calls) s += (s.empty() ? "" : "\n") + c.name + " " + c.arguments.dump();
  return s;
}

std::string normalize_text(std::string_view s) {
  std::string out;
  s = trim(s);
  for (size_t i = 0; i < s.size(); ++i) {
    if (is_ascii_space(s[i])) {
      while (i + 1 < s.size() && is_ascii_space(s[i + 1])) ++i;
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}

bool exact_match(std::string_view a, std::string_view b) {
  if (normalize_text(a) == normalize_text(b)) return true;
  json ja = parse_or_discarded(trim(a)), jb = parse_or_discarded(trim(b));
  return !ja.is_discarded() && !jb.is_discarded() && json_equal(ja, jb);
}

bool json_equal(const json& a, const json& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_number_integer() && b.is_number_integer()) return a == b;
    double x = a.get<double>(), y = b.get<double>();
    return x == y || std::fabs(x - y) <= 1e-9 * std::max(std::fabs(x), std::fabs(y));
  }
  if (a.type() != b.type()) return false;
  if (a.is_object()) {
    if (a.size() != b.size()) return false;
    for (auto it = a.begin(); it != a.end(); ++it) {
      auto jt = b.find(it.key());
      if (jt == b.end() || !json_equal(it.value(), *jt)) return false;
    }
    return true;
  }
  if (a.is_array()) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
      if (!json_equal(a[i], b[i])) return false;
    return true;
  }
  return a == b;
}

std::optional<json> json_answer(std::string_view s) {
  s = trim(s);
  if (s.rfind("```", 0) == 0) {
    size_t nl = s.find('\n'), end = s.rfind("```");
    if (nl == std::string_view::npos || end <= nl) return std::nullopt;
    s = trim(s.substr(nl + 1, end - nl - 1));
  }
  json j = parse_or_discarded(s);
  if (j.is_discarded() || !j.is_structured()) return std::nullopt;
  return j;
}

std::vector<std::pair<std::string, std::string>> json_leaves(const json& j) {
  std::vector<std::pair<std::string, std::string>> out;
  leaves(j, "", out);
  return out;
}

double json_field_f1(const json& pred, const json& ref) {
  auto p = json_leaves(pred), r = json_leaves(ref);
  std::map<std::pair<std::string, std::string>, int> count;
  for (const auto& leaf : r) ++count[leaf];
  size_t match = 0;
  for (const auto& leaf : p)
    if (auto it = count.find(leaf); it != count.end() && it->second > 0) --it->second, ++match;
  if (match == 0) return 0.0;
  double precision = double(match) / double(p.size()), recall = double(match) / double(r.size());
  return 2 * precision * recall / (precision + recall);
}

std::vector<std::string> rouge_tokens(std::string_view s) {
  std::vector<std::string> out;
  std::string cur;
  for (size_t i = 0; i < s.size();) {
    size_t b = i;
    char32_t c = next_char(s, i);
    bool word = c < 0x80 ? ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
                         : !is_unicode_separator(c) && !(c >= 0xDC80 && c <= 0xDCFF);
    if (word) {
      if (c >= 'A' && c <= 'Z') cur += static_cast<char>(c - 'A' + 'a');
      else cur.append(s.substr(b, i - b));
    } else if (!cur.empty()) {
      out.push_back(std::move(cur));
      cur.clear();
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

double rouge_l_f1(std::string_view pred, std::string_view ref) {
  std::vector<std::string> p = rouge_tokens(pred), r = rouge_tokens(ref);
  if (p.empty() && r.empty()) return 1.0;
  if (p.empty() || r.empty()) return 0.0;
  // LCS length by dynamic programming over two rows.
  std::vector<size_t> prev(r.size() + 1, 0), row(r.size() + 1, 0);
  for (size_t i = 1; i <= p.size(); ++i) {
    for (size_t j = 1; j <= r.size(); ++j)
      row[j] = p[i - 1] == r[j - 1] ? prev[j - 1] + 1 : std::max(prev[j], row[j - 1]);
    std::swap(prev, row);
  }
  const double lcs = double(prev[r.size()]);
  if (lcs == 0) return 0.0;
  double precision = lcs / double(p.size()), recall = lcs / double(r.size());
  return 2 * precision * recall / (precision + recall);
}

double chrf(std::string_view hyp, std::string_view ref, int order, double beta) {
  auto chars = [](std::string_view s) {
    std::u32string out;
    for (size_t i = 0; i < s.size();)
      if (char32_t c = next_char(s, i); !is_py_space(c)) out += c;
    return out;
  };
  const std::u32string h = chars(hyp), r = chars(ref);
  const double factor = beta * beta;
  double avg_precision = 0, avg_recall = 0;
  int effective = 0;
  for (int n = 1; n <= order; ++n) {
    const size_t un = static_cast<size_t>(n);
    std::unordered_map<std::u32string, int> ref_count;
    for (size_t i = 0; i + un <= r.size(); ++i) ++ref_count[r.substr(i, un)];
    size_t hyp_total = h.size() >= un ? h.size() - un + 1 : 0, ref_total = r.size() >= un ? r.size() - un + 1 : 0, match = 0;
    for (size_t i = 0; i + un <= h.size(); ++i)
      if (auto it = ref_count.find(h.substr(i, un)); it != ref_count.end() && it->second > 0) --it->second, ++match;
    if (hyp_total > 0 && ref_total > 0) {  // sacrebleu's effective-order averaging
      avg_precision += double(match) / double(hyp_total);
      avg_recall += double(match) / double(ref_total);
      ++effective;
    }
  }
  if (effective == 0) return 0.0;
  avg_precision /= effective;
  avg_recall /= effective;
  if (avg_precision + avg_recall == 0) return 0.0;
  return (1 + factor) * avg_precision * avg_recall / (factor * avg_precision + avg_recall);
}

const char* primary_metric_of(std::string_view kind) {
  if (kind == "tool_call") return "tool_call_match";
  if (kind == "json") return "field_f1";
  if (kind == "code") return "exact_match";
  return "rouge_l";
}

CallScores score_reply(std::string_view kind, const Reply& pred, const Reply& ref) {
  CallScores s;
  const std::string pt = reply_text(pred), rt = reply_text(ref);
  s.exact_match = exact_match(pred.content, ref.content) && calls_match(pred.calls, ref.calls, true) ? 1.0 : 0.0;
  if (!pred.calls.empty() || !ref.calls.empty()) {
    s.tool_name_match = calls_match(pred.calls, ref.calls, false) ? 1.0 : 0.0;
    s.tool_call_match = calls_match(pred.calls, ref.calls, true) ? 1.0 : 0.0;
  }
  if (kind == "json") {
    std::optional<json> p = json_answer(pred.content), r = json_answer(ref.content);
    s.json_valid = p ? 1.0 : 0.0;
    s.field_f1 = r ? (p ? json_field_f1(*p, *r) : 0.0) : s.exact_match;
  }
  s.rouge_l = rouge_l_f1(pt, rt);
  s.chrf = chrf(pt, rt);
  if (kind == "tool_call") s.primary = s.tool_call_match.value_or(s.exact_match);
  else if (kind == "json") s.primary = *s.field_f1;
  else if (kind == "code") s.primary = s.exact_match;
  else s.primary = s.rouge_l;
  return s;
}

json scores_to_json(const CallScores& s) {
  auto opt = [](const std::optional<double>& v) { return v ? json(*v) : json(nullptr); };
  return {{"primary", s.primary},         {"exact_match", s.exact_match}, {"tool_name_match", opt(s.tool_name_match)},
          {"tool_call_match", opt(s.tool_call_match)}, {"json_valid", opt(s.json_valid)}, {"field_f1", opt(s.field_f1)},
          {"rouge_l", s.rouge_l},         {"chrf", s.chrf}};
}

}  // namespace slmify
