// Helpers shared by the importers, and format names and detection; see importers.h.
#include <cmath>
#include <cstdlib>
#include <ctime>

#include "collect/importers.h"

namespace slmify {

const char* input_format_name(InputFormat f) {
  switch (f) {
    case InputFormat::openai_chat: return "openai-chat";
    case InputFormat::openai_ft: return "openai-ft";
    case InputFormat::otel: return "otel";
    case InputFormat::anthropic: return "anthropic";
  }
  return "?";
}

bool input_format_parse(const std::string& s, InputFormat& out) {
  for (InputFormat f : {InputFormat::openai_chat, InputFormat::openai_ft, InputFormat::otel, InputFormat::anthropic})
    if (s == input_format_name(f)) {
      out = f;
      return true;
    }
  return false;
}

const json* find_key(const json& obj, std::initializer_list<const char*> keys) {
  if (!obj.is_object()) return nullptr;
  for (const char* k : keys) {
    auto it = obj.find(k);
    if (it != obj.end() && !it->is_null()) return &*it;
  }
  for (const char* meta : {"metadata", "meta"}) {
    auto m = obj.find(meta);
    if (m == obj.end() || !m->is_object()) continue;
    for (const char* k : keys) {
      auto it = m->find(k);
      if (it != m->end() && !it->is_null()) return &*it;
    }
  }
  return nullptr;
}

const json* wrapped_body(const json& line, std::initializer_list<const char*> keys) {
  for (const char* k : keys) {
    auto it = line.find(k);
    if (it == line.end() || it->is_null()) continue;
    if (it->is_object() && it->contains("body") && !(*it)["body"].is_null()) return &(*it)["body"];
    return &*it;
  }
  return nullptr;
}

int64_t stream_index(const json& piece, const char* what) {
  auto it = piece.find("index");
  if (it == piece.end() || it->is_null()) return 0;
  if (it->is_number_unsigned() && it->get<uint64_t>() < uint64_t(kMaxStreamIndex)) return it->get<int64_t>();
  if (it->is_number_integer() && it->get<int64_t>() >= 0 && it->get<int64_t>() < kMaxStreamIndex) return it->get<int64_t>();
  throw ImportError(std::string(what) + " has index " + it->dump() + ": expected an integer from 0 to " +
                    std::to_string(kMaxStreamIndex - 1));
}

Imported import_guarded(Imported (*importer)(const json&), const json& line) {
  try {
    return importer(line);
  } catch (const json::exception& e) {
    throw ImportError(std::string("a value of an unexpected type: ") + e.what());
  }
}

std::pair<const json*, json> unwrap_call(const json& line, const char* stream_key) {
  const json* req = wrapped_body(line, {"request", "request_body", "req"});
  if (!req || !req->is_object()) throw ImportError("no request body (expected a \"request\" object)");
  const json* resp_in = wrapped_body(line, {"response", "response_body", "resp"});
  json resp = resp_in ? *resp_in : json();
  if (resp.is_object() && resp.contains(stream_key) && resp[stream_key].is_array()) resp = resp[stream_key];
  return {req, std::move(resp)};
}

json wrapper_http_error(const json& line) {
  const json* st = find_key(line, {"status_code", "http_status", "status"});
  if (!st)
    for (const char* k : {"response", "response_body", "resp"}) {
      auto it = line.find(k);
      if (it != line.end() && it->is_object() && it->contains("body")) {
        st = find_key(*it, {"status_code", "http_status", "status"});
        if (st) break;
      }
    }
  if (st && st->is_number_integer() && st->get<int64_t>() >= 400) return json{{"message", "HTTP status " + st->dump()}};
  return nullptr;
}

void set_response_model(json& response, const json& request, const json& model) {
  if (model.is_string() && request.value("model", json()) != model) response["model"] = model;
}

void wrapper_metadata(const json& line, const json* resp, json& rec) {
  if (const json* t = find_key(line, {"timestamp", "ts", "time", "created_at", "start_time", "startTime"}))
    rec["ts"] = timestamp_from(*t);
  if ((!rec.contains("ts") || rec["ts"].is_null()) && resp && resp->is_object() && resp->contains("created"))
    rec["ts"] = timestamp_from((*resp)["created"]);
  if (const json* l = find_key(line, {"latency_ms", "duration_ms", "latencyMs"}); l && l->is_number() && l->get<double>() >= 0)
    rec["latency_ms"] = *l;
  else if (const json* ls = find_key(line, {"latency_s", "duration_s"}); ls && ls->is_number() && ls->get<double>() >= 0)
    rec["latency_ms"] = ls->get<double>() * 1000.0;
  if (const json* c = find_key(line, {"cost_usd", "cost", "response_cost"}); c && c->is_number() && c->get<double>() >= 0)
    rec["cost_usd"] = *c;
  if (const json* a = find_key(line, {"agent", "agent_name", "agent_id"}); a && a->is_string()) rec["source"]["agent"] = *a;
  if (const json* s = find_key(line, {"session_id", "session", "conversation_id", "trace_id"}); s && (s->is_string() || s->is_number()))
    rec["source"]["session"] = s->is_string() ? *s : json(s->dump());
  for (const char* k : {"metadata", "meta"})
    if (line.contains(k) && line[k].is_object()) {
      rec["meta"] = line[k];
      break;
    }
  if (line.contains("tags") && !line["tags"].is_null()) rec["meta"]["tags"] = line["tags"];
}

bool input_format_detect(const json& j, InputFormat& out) {
  if (!j.is_object()) return false;
  if (j.contains("resourceSpans")) return out = InputFormat::otel, true;
  const json* req = wrapped_body(j, {"request", "request_body", "req"});
  if (req && req->is_object()) {
    const json* resp = wrapped_body(j, {"response", "response_body", "resp"});
    bool anthropic = req->contains("system") || req->contains("anthropic_version");
    if (resp && resp->is_object()) {
      if (resp->value("type", "") == "message" || (resp->value("type", "") == "error" && !resp->contains("choices")))
        anthropic = true;
      if (resp->contains("choices") || resp->value("object", "") == "chat.completion") anthropic = false;
    }
    if (resp && resp->is_array() && !resp->empty() && (*resp)[0].is_object()) {
      const json& first = (*resp)[0];
      if (first.value("type", "") == "message_start") anthropic = true;
      if (first.value("object", "") == "chat.completion.chunk") anthropic = false;
    }
    if (!anthropic && req->contains("messages") && (*req)["messages"].is_array())
      for (const json& m : (*req)["messages"])
        if (m.is_object() && m.contains("content") && m["content"].is_array())
          for (const json& b : m["content"])
            if (b.is_object() && (b.value("type", "") == "tool_use" || b.value("type", "") == "tool_result"))
              anthropic = true;
    out = anthropic ? InputFormat::anthropic : InputFormat::openai_chat;
    return true;
  }
  if (j.contains("messages") && j["messages"].is_array()) return out = InputFormat::openai_ft, true;
  return false;
}

json content_text(const json& content, std::map<std::string, uint64_t>& dropped) {
  if (content.is_null() || content.is_string()) return content;
  if (!content.is_array()) throw ImportError(std::string("message content must be a string, null or a list of parts (got ") + content.type_name() + ")");
  std::string text;
  bool any = false;
  for (const json& part : content) {
    if (part.is_string()) {  // some SDKs log bare strings as parts
      text += (any ? "\n" : "") + part.get<std::string>();
      any = true;
      continue;
    }
    std::string type = part.is_object() ? part.value("type", "") : "";
    if ((type == "text" || type == "input_text" || type == "output_text") && part.contains("text") && part["text"].is_string()) {
      text += (any ? "\n" : "") + part["text"].get<std::string>();
      any = true;
    } else {
      ++dropped[type.empty() ? "unknown" : type];
    }
  }
  return any ? json(text) : json();
}

static std::string iso_from_unix(double secs) {
  auto whole = static_cast<std::time_t>(std::floor(secs));
  int ms = static_cast<int>(std::lround((secs - std::floor(secs)) * 1000));
  if (ms == 1000) ++whole, ms = 0;
  std::tm tm{};
  gmtime_r(&whole, &tm);
  char buf[40], out[48];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, ms);
  return out;
}

// "2026-11-28T11:00:12.5+01:00" -> "2026-11-28T10:00:12.500Z". Times without an offset, or with
// Z, are UTC already and kept as written; anything this does not recognise is kept too.
static std::string iso_to_utc(const std::string& s) {
  int y, mo, d, h, mi, sec, oh = 0, om = 0;
  char t;
  if (s.size() < 20 || std::sscanf(s.c_str(), "%4d-%2d-%2d%c%2d:%2d:%2d", &y, &mo, &d, &t, &h, &mi, &sec) != 7 ||
      (t != 'T' && t != ' '))
    return s;
  size_t pos = 19;
  double frac = 0;
  if (pos < s.size() && s[pos] == '.') {
    size_t end = s.find_first_not_of("0123456789", pos + 1);
    frac = std::strtod(s.substr(pos, end - pos).c_str(), nullptr);
    pos = end == std::string::npos ? s.size() : end;
  }
  if (pos >= s.size() || s[pos] == 'Z' || (s[pos] != '+' && s[pos] != '-')) return s;
  if (std::sscanf(s.c_str() + pos + 1, "%2d:%2d", &oh, &om) < 1) return s;
  std::tm tm{};
  tm.tm_year = y - 1900, tm.tm_mon = mo - 1, tm.tm_mday = d, tm.tm_hour = h, tm.tm_min = mi, tm.tm_sec = sec;
  double secs = double(timegm(&tm)) + frac - (s[pos] == '+' ? 1 : -1) * (oh * 3600.0 + om * 60.0);
  return iso_from_unix(secs);
}

json timestamp_from(const json& v) {
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    // An ISO-8601 date-time (YYYY-MM-DD...) is kept, in UTC; digits only are a Unix time.
    auto digits = [&](size_t from, size_t to) {
      for (size_t i = from; i < to; ++i)
        if (s[i] < '0' || s[i] > '9') return false;
      return true;
    };
    if (s.size() >= 10 && digits(0, 4) && s[4] == '-' && digits(5, 7) && s[7] == '-' && digits(8, 10))
      return iso8601_valid(s) ? json(iso_to_utc(s)) : json();  // 2026-13-45: not a moment, so no time
    size_t dot = s.find('.');
    bool number = s.find_first_not_of("0123456789.") == std::string::npos && s.find_first_of("0123456789") != std::string::npos &&
                  (dot == std::string::npos || s.find('.', dot + 1) == std::string::npos);
    if (number) return timestamp_from(json(std::strtod(s.c_str(), nullptr)));  // huge: inf, refused below
    return nullptr;
  }
  if (!v.is_number()) return nullptr;
  double x = v.get<double>();
  if (!(x > 0)) return nullptr;
  if (x > 1e17) x /= 1e9;       // nanoseconds
  else if (x > 1e14) x /= 1e6;  // microseconds
  else if (x > 1e11) x /= 1e3;  // milliseconds
  if (x >= 253402300800.0) return nullptr;  // after 9999-12-31: not a time gmtime can format
  return iso_from_unix(x);
}

std::string arguments_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "{}";
  return v.dump();
}

}  // namespace slmify
