// What every family's renderer shares: the caller's messages checked and normalised, Python's
// json.dumps and str.strip as the Jinja templates apply them (transformers' tojson filter is
// json.dumps with ensure_ascii=False), and the segment writer.
// Tested through chat_render() by tests/model/test_chat_template.cpp.
#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <type_traits>

#include "core/error.h"
#include "model/chat_render.h"

namespace slmify::chat {

using nlohmann::json;

namespace {

bool is_role(const std::string& r) {
  return r == "system" || r == "developer" || r == "user" || r == "assistant" || r == "tool";
}

std::string where_of(int i) { return "messages[" + std::to_string(i) + "]"; }

ToolCall parse_call(const json& c, int i) {
  ToolCall out;
  if (!c.is_object()) throw_bad_data(where_of(i), "a tool call is not an object");
  const json& f = c.contains("function") ? c.at("function") : c;
  if (!f.is_object() || !f.contains("name") || !f.at("name").is_string())
    throw_bad_data(where_of(i), "a tool call has no function name");
  out.name = f.at("name").get<std::string>();
  if (c.contains("id") && c.at("id").is_string()) out.id = c.at("id").get<std::string>();
  const json args = f.value("arguments", json());
  if (args.is_string()) {
    const std::string& s = args.get_ref<const std::string&>();
    if (py_strip(s).empty()) {
      out.arguments = nlohmann::ordered_json::object();
    } else {
      try {
        out.arguments = nlohmann::ordered_json::parse(s);  // the keys in the order the LLM wrote them
      } catch (const json::parse_error&) {
        throw_bad_data(where_of(i), "the arguments of tool call " + out.name + " are not valid JSON",
                       "the logged call was probably cut off; drop the record");
      }
    }
  } else if (args.is_null()) {
    out.arguments = nlohmann::ordered_json::object();
  } else {
    out.arguments = nlohmann::ordered_json::parse(args.dump());
  }
  return out;
}

}  // namespace

std::vector<Message> normalise_messages(const json& messages) {
  if (!messages.is_array() || messages.empty())
    throw_bad_data("messages", "must be a non-empty array of chat messages");
  std::vector<Message> out;
  for (size_t k = 0; k < messages.size(); ++k) {
    const int i = static_cast<int>(k);
    const json& m = messages[k];
    if (!m.is_object() || !m.contains("role") || !m.at("role").is_string())
      throw_bad_data(where_of(i), "is not a chat message with a role");
    Message msg;
    msg.index = i;
    msg.role = m.at("role").get<std::string>();
    if (!is_role(msg.role))
      throw_bad_data(where_of(i), "unknown role \"" + msg.role + "\"",
                     "roles are system, developer, user, assistant and tool");
    if (msg.role == "developer") msg.role = "system";
    const json content = m.value("content", json());
    if (content.is_string()) msg.content = content.get<std::string>();
    else if (!content.is_null())
      throw_bad_data(where_of(i), "content is neither a string nor null",
                     "collect reduces multi-part content to its text");
    const json calls = m.value("tool_calls", json());
    if (calls.is_array() && !calls.empty()) {
      if (msg.role != "assistant") throw_bad_data(where_of(i), "only assistant messages carry tool_calls");
      for (const json& c : calls) msg.calls.push_back(parse_call(c, i));
    } else if (!calls.is_null() && !calls.is_array()) {
      throw_bad_data(where_of(i), "tool_calls is not an array");
    }
    if (m.contains("tool_call_id") && m.at("tool_call_id").is_string())
      msg.tool_call_id = m.at("tool_call_id").get<std::string>();
    out.push_back(std::move(msg));
  }
  return out;
}

std::vector<json> normalise_tools(const json& tools) {
  std::vector<json> out;
  if (tools.is_null()) return out;
  if (!tools.is_array()) throw_bad_data("tools", "must be an array of tool definitions");
  for (const json& t : tools) {
    if (t.is_object() && t.contains("function") && t.at("function").is_object()) out.push_back(t);
    else if (t.is_object() && t.contains("name")) out.push_back(json{{"type", "function"}, {"function", t}});
    else throw_bad_data("tools", "an entry is not a {type: function, function: {...}} object");
  }
  return out;
}

bool json_key_less(const std::string& a, const std::string& b) {
  static const std::array<std::string_view, 8> first = {"type",       "function",   "name",     "description",
                                                        "parameters", "properties", "required", "arguments"};
  auto rank = [&](const std::string& k) {
    for (size_t i = 0; i < first.size(); ++i)
      if (k == first[i]) return static_cast<int>(i);
    return static_cast<int>(first.size());
  };
  const int ra = rank(a), rb = rank(b);
  if (ra != rb) return ra < rb;
  return a < b;
}

namespace {

void py_string(const std::string& s, std::string& out) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

// Python's repr() of a float: shortest round-trip digits, exponent form outside 1e-4 <= |x| < 1e16.
void py_float(double v, std::string& out) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string sci(buf, r.ptr);
  std::string sign;
  if (!sci.empty() && sci[0] == '-') {
    sign = "-";
    sci.erase(0, 1);
  }
  const size_t e = sci.find('e');
  std::string digits = sci.substr(0, e);
  digits.erase(std::remove(digits.begin(), digits.end(), '.'), digits.end());
  const int exp = std::stoi(sci.substr(e + 1));
  const int decpt = exp + 1;
  const int n = static_cast<int>(digits.size());
  out += sign;
  if (decpt > -4 && decpt <= 16) {
    if (decpt <= 0) out += "0." + std::string(static_cast<size_t>(-decpt), '0') + digits;
    else if (decpt >= n) out += digits + std::string(static_cast<size_t>(decpt - n), '0') + ".0";
    else out += digits.substr(0, static_cast<size_t>(decpt)) + "." + digits.substr(static_cast<size_t>(decpt));
  } else {
    out += digits.substr(0, 1);
    if (n > 1) out += "." + digits.substr(1);
    char eb[16];
    std::snprintf(eb, sizeof eb, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    out += eb;
  }
}

// nlohmann::json keeps no key order, so its objects are written in json_key_less order;
// ordered_json (tool call arguments parsed from the logged text) in the order written, as
// Python's json.loads and json.dumps keep it.
template <class J>
void py_dump(const J& j, int indent, int depth, std::string& out) {
  auto newline = [&](int d) {
    out += '\n';
    out.append(static_cast<size_t>(indent * d), ' ');
  };
  switch (j.type()) {
    case J::value_t::object: {
      if (j.empty()) {
        out += "{}";
        return;
      }
      std::vector<std::string> keys;
      for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
      if constexpr (std::is_same_v<J, json>) std::sort(keys.begin(), keys.end(), json_key_less);
      out += '{';
      for (size_t i = 0; i < keys.size(); ++i) {
        if (i > 0) out += indent >= 0 ? "," : ", ";
        if (indent >= 0) newline(depth + 1);
        py_string(keys[i], out);
        out += ": ";
        py_dump(j.at(keys[i]), indent, depth + 1, out);
      }
      if (indent >= 0) newline(depth);
      out += '}';
      return;
    }
    case J::value_t::array: {
      if (j.empty()) {
        out += "[]";
        return;
      }
      out += '[';
      for (size_t i = 0; i < j.size(); ++i) {
        if (i > 0) out += indent >= 0 ? "," : ", ";
        if (indent >= 0) newline(depth + 1);
        py_dump(j[i], indent, depth + 1, out);
      }
      if (indent >= 0) newline(depth);
      out += ']';
      return;
    }
    case J::value_t::string: py_string(j.template get_ref<const std::string&>(), out); return;
    case J::value_t::boolean: out += j.template get<bool>() ? "true" : "false"; return;
    case J::value_t::number_integer: out += std::to_string(j.template get<int64_t>()); return;
    case J::value_t::number_unsigned: out += std::to_string(j.template get<uint64_t>()); return;
    case J::value_t::number_float: py_float(j.template get<double>(), out); return;
    default: out += "null"; return;
  }
}

// The code point at s[i] (advancing i), or U+FFFD for a bad byte.
char32_t next_cp(std::string_view s, size_t& i) {
  const auto b = static_cast<unsigned char>(s[i]);
  int len = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
  if (len == 0 || i + static_cast<size_t>(len) > s.size()) {
    ++i;
    return 0xFFFD;
  }
  char32_t cp = len == 1 ? b : len == 2 ? (b & 0x1F) : len == 3 ? (b & 0x0F) : (b & 0x07);
  for (int k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + static_cast<size_t>(k)]) & 0x3F);
  i += static_cast<size_t>(len);
  return cp;
}

bool py_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

}  // namespace

std::string py_json(const json& j, int indent) {
  std::string out;
  py_dump(j, indent, 0, out);
  return out;
}

std::string py_json(const nlohmann::ordered_json& j, int indent) {
  std::string out;
  py_dump(j, indent, 0, out);
  return out;
}

std::string py_strip(std::string_view s) {
  size_t begin = s.size(), end = 0, i = 0;
  while (i < s.size()) {
    const size_t at = i;
    if (!py_space(next_cp(s, i))) {
      if (begin == s.size()) begin = at;
      end = i;
    }
  }
  return begin >= end ? std::string() : std::string(s.substr(begin, end - begin));
}

void SegmentWriter::add(std::string_view s, bool assistant, int message) {
  if (s.empty()) return;
  if (!segments_.empty() && segments_.back().assistant == assistant && segments_.back().message == message)
    segments_.back().text += s;
  else
    segments_.push_back(ChatSegment{std::string(s), assistant, message});
}

void fail(const ChatTemplate& t, int message, const std::string& what, const std::string& hint) {
  throw_bad_data(message >= 0 ? where_of(message) : "messages", "chat template " + t.name + ": " + what, hint);
}

void require_no_tools(const ChatTemplate& t, const std::vector<Message>& msgs, const std::vector<json>& tools) {
  const std::string hint = "this family has no tool format; use a model whose template has one "
                           "(qwen2.5, hermes, llama3.1, mistral-v3, mistral-v3-tekken) or drop calls with tools";
  if (!tools.empty()) fail(t, -1, "cannot show the tools offered", hint);
  for (const Message& m : msgs)
    if (!m.calls.empty() || m.role == "tool") fail(t, m.index, "cannot show tool calls or tool results", hint);
}

}  // namespace slmify::chat
