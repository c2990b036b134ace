// Loading, validation, printing and documentation of pipeline.yaml, all driven by the visit()
// tables in config.h. Every problem is collected with its location before one Error is thrown.
#include "core/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <set>
#include <sstream>
#include <type_traits>

#include "core/error.h"
#include "core/fsutil.h"

namespace slmify {
namespace fs = std::filesystem;

namespace {

// visit<V> is a template: detect it by instantiating with a probe visitor type instead.
struct Probe {
  template <class F>
  void operator()(const char*, F&, const FieldSpec&) {}
};
template <class T, class = void>
struct is_section : std::false_type {};
template <class T>
struct is_section<T, std::void_t<decltype(std::declval<T&>().visit(std::declval<Probe&>()))>> : std::true_type {};

template <class T>
struct is_section_list : std::false_type {};
template <class T>
struct is_section_list<std::vector<T>> : is_section<T> {};
template <class T>
struct list_item;
template <class T>
struct list_item<std::vector<T>> {
  using type = T;
};

// ---- scalar text -> value ------------------------------------------------------------------

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

bool parse_int(const std::string& s, int64_t& out) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (errno != 0 || *end != '\0') return false;
  out = v;
  return true;
}

bool parse_double(const std::string& s, double& out) {
  if (s.empty()) return false;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (*end != '\0' || !std::isfinite(v)) return false;
  out = v;
  return true;
}

std::string format_double(double d) {
  char buf[64];
  for (int prec = 6; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*g", prec, d);
    if (std::strtod(buf, nullptr) == d) break;
  }
  std::string s = buf;
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

// For messages: integers without a fraction ("1", "0.5", "1e-06").
std::string format_number(double d) {
  if (d == std::floor(d) && std::fabs(d) < 1e15) return std::to_string(static_cast<long long>(d));
  std::string s = format_double(d);
  return s;
}

std::vector<std::string> split_list(const std::string& text) {
  std::string s = trim(text);
  if (s.size() >= 2 && s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
  std::vector<std::string> out;
  if (trim(s).empty()) return out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) out.push_back(trim(item));
  return out;
}

// ---- load context --------------------------------------------------------------------------

struct Override {
  std::string value, origin;
  std::optional<std::vector<std::string>> items;
  bool used = false;
};

struct LoadCtx {
  std::string file;          // display name of the pipeline file ("" when none)
  fs::path base_dir;         // relative paths in the file are taken from here
  std::map<std::string, Override> overrides;
  std::vector<Problem> problems;
  std::map<std::string, std::string> where;  // key path -> location, for cross-field checks
  std::set<std::string> rejected;            // list items already reported as not a mapping

  std::string loc(const YAML::Mark& m) const {
    if (m.is_null() || file.empty()) return file;
    return file + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
  }
  void error(const std::string& location, const std::string& key, std::string what, std::string hint = {}) {
    std::string w = location.empty() ? key : location + " " + key;
    problems.push_back({w, std::move(what), std::move(hint)});
  }
};

std::string interpolate_env(const std::string& s, LoadCtx& ctx, const std::string& location, const std::string& key) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '$') {
      out += s[i];
      continue;
    }
    if (i + 1 < s.size() && s[i + 1] == '$') {
      out += '$';
      ++i;
      continue;
    }
    if (i + 1 >= s.size() || s[i + 1] != '{') {
      out += '$';
      continue;
    }
    size_t close = s.find('}', i + 2);
    if (close == std::string::npos) {
      ctx.error(location, key, "unterminated ${ in \"" + s + "\"", "write ${NAME} or ${NAME:-default}; $$ is a literal $");
      return s;
    }
    std::string inner = s.substr(i + 2, close - i - 2);
    std::string name = inner, def;
    bool has_def = false;
    if (size_t p = inner.find(":-"); p != std::string::npos) {
      name = inner.substr(0, p);
      def = inner.substr(p + 2);
      has_def = true;
    }
    const char* val = std::getenv(name.c_str());
    if (val && *val) out += val;
    else if (has_def) out += def;
    else {
      ctx.error(location, key, "environment variable " + name + " is not set",
                "export " + name + " before running, or write ${" + name + ":-default}");
    }
    i = close;
  }
  return out;
}

const char* type_name_of(const bool*) { return "bool"; }
const char* type_name_of(const int64_t*) { return "int"; }
const char* type_name_of(const double*) { return "number"; }
const char* type_name_of(const std::string*) { return "string"; }
const char* type_name_of(const AutoInt*) { return "int|auto"; }
const char* type_name_of(const std::vector<std::string>*) { return "list"; }
const char* type_name_of(const std::map<std::string, std::string>*) { return "map"; }

// Converts one scalar text to a field value, reporting problems at `location key`.
struct ScalarSink {
  LoadCtx& ctx;
  std::string location, key;
  const FieldSpec& spec;
  bool from_file;

  void range(double v) {
    if (spec.min && v < *spec.min)
      ctx.error(location, key, "must be >= " + format_number(*spec.min) + " (got " + format_number(v) + ")");
    else if (spec.max && v > *spec.max)
      ctx.error(location, key, "must be <= " + format_number(*spec.max) + " (got " + format_number(v) + ")");
  }
  void choice(const std::string& v) {
    if (spec.one_of.empty()) return;
    if (std::find(spec.one_of.begin(), spec.one_of.end(), v) != spec.one_of.end()) return;
    std::string list, best;
    size_t best_d = SIZE_MAX;
    for (const auto& o : spec.one_of) {
      list += (list.empty() ? "" : ", ") + o;
      size_t d = edit_distance(v, o);
      if (d < best_d) best_d = d, best = o;
    }
    std::string hint = "use one of: " + list;
    if (best_d <= std::max<size_t>(2, v.size() / 3)) hint = "did you mean `" + best + "`? (allowed: " + list + ")";
    ctx.error(location, key, "\"" + v + "\" is not allowed", hint);
  }
  std::string text(const std::string& raw) {
    std::string s = interpolate_env(raw, ctx, location, key);
    if (spec.path && from_file && !s.empty() && s != "-" && fs::path(s).is_relative())
      s = (ctx.base_dir / s).lexically_normal().string();
    return s;
  }

  void set(bool& f, const std::string& s) {
    std::string l = s;
    std::transform(l.begin(), l.end(), l.begin(), ::tolower);
    if (l == "true") f = true;
    else if (l == "false") f = false;
    else ctx.error(location, key, "expected true or false (got \"" + s + "\")");
  }
  void set(int64_t& f, const std::string& s) {
    int64_t v;
    if (!parse_int(s, v)) return ctx.error(location, key, "expected an integer (got \"" + s + "\")");
    f = v;
    range(double(v));
  }
  void set(double& f, const std::string& s) {
    double v;
    if (!parse_double(s, v)) return ctx.error(location, key, "expected a number (got \"" + s + "\")");
    f = v;
    range(v);
  }
  void set(std::string& f, const std::string& s) {
    f = text(s);
    choice(f);
  }
  void set(AutoInt& f, const std::string& s) {
    if (s == "auto") {
      f = AutoInt{true, 0};
      return;
    }
    int64_t v;
    if (!parse_int(s, v)) return ctx.error(location, key, "expected an integer or auto (got \"" + s + "\")");
    f = AutoInt{false, v};
    range(double(v));
  }
  void set(std::vector<std::string>& f, const std::vector<std::string>& items) {
    f.clear();
    for (const auto& it : items) {
      f.push_back(text(it));
      choice(f.back());
    }
    if (spec.min && double(f.size()) < *spec.min)
      ctx.error(location, key, "needs at least " + format_number(*spec.min) + " item(s)");
  }
};

class Loader {
 public:
  Loader(LoadCtx& ctx, YAML::Node node, std::string prefix) : ctx_(ctx), node_(node), prefix_(std::move(prefix)) {}

  template <class T>
  void operator()(const char* key, T& field, const FieldSpec& spec) {
    std::string full = prefix_ + key;
    seen_.insert(key);
    YAML::Node value;
    bool present = false;
    if (node_.IsMap()) {
      const YAML::Node& n = node_;  // const: looking a key up must not insert it
      YAML::Node v = n[key];
      if (v.IsDefined()) value = v, present = true;
    }
    if constexpr (is_section<T>::value) {
      std::string location = present ? ctx_.loc(value.Mark()) : ctx_.file;
      ctx_.where[full] = location;
      if (present && !value.IsMap() && !value.IsNull()) {
        ctx_.error(location, full, "must be a mapping of keys (got " + kind(value) + ")");
        present = false;
      }
      Loader sub(ctx_, present ? value : YAML::Node(), full + ".");
      field.visit(sub);
      sub.check_unknown(field);
    } else if constexpr (is_section_list<T>::value) {
      if (!present || value.IsNull()) return;
      std::string location = ctx_.loc(value.Mark());
      ctx_.where[full] = location;
      if (!value.IsSequence()) return ctx_.error(location, full, "must be a list (got " + kind(value) + ")");
      field.clear();
      for (size_t i = 0; i < value.size(); ++i) {
        typename list_item<T>::type item;
        std::string p = full + "[" + std::to_string(i) + "]";
        if (!value[i].IsMap()) {
          ctx_.error(ctx_.loc(value[i].Mark()), p, "must be a mapping of keys (got " + kind(value[i]) + ")");
          ctx_.rejected.insert(p);
          field.push_back(std::move(item));  // keeps later items at their index in the file
          continue;
        }
        ctx_.where[p] = ctx_.loc(value[i].Mark());
        Loader sub(ctx_, value[i], p + ".");
        item.visit(sub);
        sub.check_unknown(item);
        field.push_back(std::move(item));
      }
    } else {
      auto ov = ctx_.overrides.find(full);
      if (ov != ctx_.overrides.end()) {
        ov->second.used = true;
        ctx_.where[full] = ov->second.origin;
        ScalarSink sink{ctx_, ov->second.origin, full, spec, false};
        if constexpr (std::is_same_v<T, std::vector<std::string>>)
          sink.set(field, ov->second.items ? *ov->second.items : split_list(ov->second.value));
        else if constexpr (std::is_same_v<T, std::map<std::string, std::string>>)
          set_map_text(field, ov->second.value, sink);
        else sink.set(field, ov->second.value);
        return;
      }
      if (!present) return;
      std::string location = ctx_.loc(value.Mark());
      ctx_.where[full] = location;
      ScalarSink sink{ctx_, location, full, spec, true};
      if constexpr (std::is_same_v<T, std::vector<std::string>>) {
        std::vector<std::string> items;
        if (value.IsSequence()) {
          for (const auto& it : value) {
            if (!it.IsScalar()) return ctx_.error(ctx_.loc(it.Mark()), full, "list items must be plain values (got " + kind(it) + ")");
            items.push_back(it.Scalar());
          }
        } else if (value.IsScalar()) {
          items.push_back(value.Scalar());  // a single value stands for a one-item list
        } else if (!value.IsNull()) {
          return ctx_.error(location, full, "must be a list (got " + kind(value) + ")");
        }
        sink.set(field, items);
      } else if constexpr (std::is_same_v<T, std::map<std::string, std::string>>) {
        if (value.IsNull()) return field.clear();
        if (!value.IsMap()) return ctx_.error(location, full, "must be a mapping (got " + kind(value) + ")");
        field.clear();
        for (const auto& kv : value) {
          if (!kv.second.IsScalar()) {
            ctx_.error(ctx_.loc(kv.second.Mark()), full + "." + kv.first.Scalar(), "must be a plain value");
            continue;
          }
          ScalarSink item{ctx_, ctx_.loc(kv.second.Mark()), full + "." + kv.first.Scalar(), spec, true};
          std::string v;
          item.set(v, kv.second.Scalar());
          field[kv.first.Scalar()] = v;
        }
      } else {
        if (value.IsNull() && std::is_same_v<T, std::string>) return sink.set(field, std::string());
        if (!value.IsScalar())
          return ctx_.error(location, full, std::string("expected ") + type_name_of(&field) + " (got " + kind(value) + ")");
        sink.set(field, value.Scalar());
      }
    }
  }

  // Keys in the YAML mapping that the struct does not have: errors with the nearest valid key.
  template <class S>
  void check_unknown(S&) {
    if (!node_.IsMap()) return;
    std::set<std::string> dup;
    for (const auto& kv : node_) {
      std::string k = kv.first.Scalar();
      if (!dup.insert(k).second) {
        ctx_.error(ctx_.loc(kv.first.Mark()), prefix_ + k, "appears twice in the same mapping", "keep one of them");
        continue;
      }
      if (seen_.count(k)) continue;
      std::string best;
      size_t best_d = SIZE_MAX;
      for (const auto& s : seen_) {
        size_t d = edit_distance(k, s);
        if (d < best_d) best_d = d, best = s;
      }
      std::string hint;
      if (best_d <= std::max<size_t>(2, k.size() / 3)) hint = "did you mean `" + best + "`?";
      else {
        std::string list;
        for (const auto& s : seen_) list += (list.empty() ? "" : ", ") + s;
        hint = "valid keys here: " + list;
      }
      ctx_.error(ctx_.loc(kv.first.Mark()), prefix_ + k, "unknown key", hint + " (see docs/pipeline.md)");
    }
  }

 private:
  static std::string kind(const YAML::Node& n) {
    switch (n.Type()) {
      case YAML::NodeType::Map: return "a mapping";
      case YAML::NodeType::Sequence: return "a list";
      case YAML::NodeType::Null: return "nothing";
      case YAML::NodeType::Scalar: return "\"" + n.Scalar() + "\"";
      default: return "an undefined value";
    }
  }
  static void set_map_text(std::map<std::string, std::string>& field, const std::string& text, ScalarSink& sink) {
    field.clear();
    for (const auto& item : split_list(text)) {
      size_t c = item.find(':');
      if (c == std::string::npos) {
        sink.ctx.error(sink.location, sink.key, "expected key: value pairs (got \"" + item + "\")");
        continue;
      }
      std::string v;
      sink.set(v, trim(item.substr(c + 1)));
      field[trim(item.substr(0, c))] = v;
    }
  }

  LoadCtx& ctx_;
  YAML::Node node_;
  std::string prefix_;
  std::set<std::string> seen_;
};

// ---- value -> text / YAML / JSON -----------------------------------------------------------

std::string to_text(bool v) { return v ? "true" : "false"; }
std::string to_text(int64_t v) { return std::to_string(v); }
std::string to_text(double v) { return format_double(v); }
std::string to_text(const std::string& v) { return v.empty() ? "\"\"" : v; }
std::string to_text(const AutoInt& v) { return v.is_auto ? "auto" : std::to_string(v.value); }
std::string to_text(const std::vector<std::string>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + v[i];
  return s + "]";
}
std::string to_text(const std::map<std::string, std::string>& v) {
  std::string s = "{";
  bool first = true;
  for (auto& [k, x] : v) s += (first ? "" : ", ") + k + ": " + x, first = false;
  return s + "}";
}

json to_json_value(bool v) { return v; }
json to_json_value(int64_t v) { return v; }
json to_json_value(double v) { return v; }
json to_json_value(const std::string& v) { return v; }
json to_json_value(const AutoInt& v) { return v.is_auto ? json("auto") : json(v.value); }
json to_json_value(const std::vector<std::string>& v) { return v; }
json to_json_value(const std::map<std::string, std::string>& v) { return v; }

struct JsonDumper {
  json& out;
  template <class T>
  void operator()(const char* key, T& field, const FieldSpec&) {
    if constexpr (is_section<T>::value) {
      json sub = json::object();
      JsonDumper d{sub};
      field.visit(d);
      out[key] = sub;
    } else if constexpr (is_section_list<T>::value) {
      json arr = json::array();
      for (auto& item : field) {
        json sub = json::object();
        JsonDumper d{sub};
        item.visit(d);
        arr.push_back(sub);
      }
      out[key] = arr;
    } else {
      out[key] = to_json_value(field);
    }
  }
};

void emit_json(YAML::Emitter& e, const json& j) {
  if (j.is_object()) {
    e << YAML::BeginMap;
    for (auto it = j.begin(); it != j.end(); ++it) e << YAML::Key << it.key() << YAML::Value, emit_json(e, it.value());
    e << YAML::EndMap;
  } else if (j.is_array()) {
    e << YAML::Flow << YAML::BeginSeq;
    for (const auto& x : j) emit_json(e, x);
    e << YAML::EndSeq;
  } else if (j.is_string()) {
    std::string v = j.get<std::string>();  // loading interpolates ${...}: write a literal $ as $$
    std::string escaped;
    for (char ch : v) escaped += ch == '$' ? std::string("$$") : std::string(1, ch);
    e << escaped;
  } else if (j.is_boolean()) {
    e << (j.get<bool>() ? "true" : "false");
  } else if (j.is_number_float()) {
    e << format_double(j.get<double>());
  } else {
    e << j.dump();
  }
}

struct YamlDumper {
  YAML::Emitter& e;
  std::string_view only;  // top-level section to print, empty for all
  int depth = 0;
  template <class T>
  void operator()(const char* key, T& field, const FieldSpec& spec) {
    if (depth == 0 && !only.empty() && only != key) return;
    e << YAML::Key << key << YAML::Value;
    if constexpr (is_section<T>::value) {
      e << YAML::BeginMap;
      YamlDumper d{e, {}, depth + 1};
      field.visit(d);
      e << YAML::EndMap;
    } else if constexpr (is_section_list<T>::value) {
      e << YAML::BeginSeq;
      for (auto& item : field) {
        e << YAML::BeginMap;
        YamlDumper d{e, {}, depth + 1};
        item.visit(d);
        e << YAML::EndMap;
      }
      e << YAML::EndSeq;
    } else {
      emit_json(e, to_json_value(field));
    }
    if (spec.doc && *spec.doc) e << YAML::Comment(spec.doc);
  }
};

struct FlagCollector {
  std::vector<ConfigKey>& out;
  template <class T>
  void operator()(const char* key, T& field, const FieldSpec& spec) {
    if constexpr (is_section<T>::value || (is_section_list<T>::value) ||
                  std::is_same_v<T, std::map<std::string, std::string>>) {
      return;
    } else {
      if (!spec.flag) return;
      std::string flag = std::string("--") + key;
      std::replace(flag.begin(), flag.end(), '_', '-');
      out.push_back({key, flag, type_name_of(&field), spec.doc, to_text(field)});
    }
  }
};

// Collects the flags of the one section named `name`.
struct SectionFlags {
  std::string_view name;
  FlagCollector& fc;
  template <class T>
  void operator()(const char* key, T& field, const FieldSpec&) {
    if constexpr (is_section<T>::value)
      if (name == key) field.visit(fc);
  }
};

std::string capitalize(std::string s) {
  if (!s.empty()) s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
  return s;
}

std::string md_escape(std::string s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += "\\|";
    else out += c;
  }
  return out;
}

struct MarkdownWriter {
  std::ostringstream& out;
  std::string prefix;
  std::vector<std::pair<std::string, std::function<void()>>>* deferred;

  template <class T>
  void operator()(const char* key, T& field, const FieldSpec& spec) {
    std::string full = prefix + key;
    if constexpr (is_section<T>::value) {
      auto* d = deferred;
      T copy = field;
      std::string doc = spec.doc;
      std::ostringstream* o = &out;
      d->push_back({full, [o, copy, full, doc, d]() mutable {
                      std::ostringstream& out = *o;
                      out << "\n### `" << full << "`\n\n" << capitalize(doc) << ".\n\n| key | type | default | allowed | description |\n|---|---|---|---|---|\n";
                      MarkdownWriter w{out, full + ".", d};
                      copy.visit(w);
                    }});
      out << "| `" << key << "` | section | | | " << md_escape(spec.doc) << " (see `" << full << "` below) |\n";
    } else if constexpr (is_section_list<T>::value) {
      auto* d = deferred;
      std::string doc = spec.doc;
      std::ostringstream* o = &out;
      d->push_back({full, [o, full, doc, d]() {
                      std::ostringstream& out = *o;
                      typename list_item<T>::type item;
                      out << "\n### `" << full << "[]`\n\n" << capitalize(doc) << "; each item has these keys.\n\n| key | type | default | allowed | description |\n|---|---|---|---|---|\n";
                      MarkdownWriter w{out, full + "[].", d};
                      item.visit(w);
                    }});
      out << "| `" << key << "` | list of mappings | `[]` | | " << md_escape(spec.doc) << " (see `" << full << "[]` below) |\n";
    } else {
      std::string allowed;
      if (!spec.one_of.empty()) {
        for (const auto& o : spec.one_of) allowed += (allowed.empty() ? "" : ", ") + std::string("`") + o + "`";
      }
      if (spec.min || spec.max) {
        if (!allowed.empty()) allowed += "; ";
        bool list = std::is_same_v<T, std::vector<std::string>>;
        if (spec.min && spec.max) allowed += format_number(*spec.min) + " .. " + format_number(*spec.max);
        else if (spec.min) allowed += (list ? "at least " + format_number(*spec.min) + " item(s)" : ">= " + format_number(*spec.min));
        else allowed += "<= " + format_number(*spec.max);
      }
      std::string doc = spec.doc;
      if (spec.path) doc += " (path; relative to the pipeline file)";
      // Flags exist for the keys of the stage sections, which their subcommands register.
      std::string section = prefix.empty() ? "" : prefix.substr(0, prefix.size() - 1);
      bool flaggable = section == "retrain" ||
                       std::find(kStageNames.begin(), kStageNames.end(), section) != kStageNames.end();
      if (spec.flag && flaggable) {
        std::string flag = std::string("--") + key;
        std::replace(flag.begin(), flag.end(), '_', '-');
        doc += "; flag `" + flag + "`";
      }
      out << "| `" << key << "` | " << type_name_of(&field) << " | `" << md_escape(to_text(field)) << "` | "
          << md_escape(allowed) << " | " << md_escape(doc) << " |\n";
    }
  }
};

void cross_checks(const PipelineConfig& c, LoadCtx& ctx) {
  auto at = [&](const std::string& k) {
    auto it = ctx.where.find(k);
    return it == ctx.where.end() ? ctx.file : it->second;
  };
  if (c.cluster.k_min > c.cluster.k_max)
    ctx.error(at("cluster.k_min"), "cluster.k_min", "is larger than cluster.k_max (" + std::to_string(c.cluster.k_min) +
                                                        " > " + std::to_string(c.cluster.k_max) + ")",
              "make k_min <= k_max");
  if (c.cluster.embedding == "model" && c.cluster.embedding_model.empty())
    ctx.error(at("cluster.embedding"), "cluster.embedding", "is model but cluster.embedding_model is empty",
              "set cluster.embedding_model to a sentence-embedding model directory, or use embedding: hashing");
  if (c.encryption.enabled && c.encryption.key_file.empty() && c.encryption.key_env.empty())
    ctx.error(at("encryption.enabled"), "encryption.enabled", "is true but neither key_file nor key_env is set",
              "set encryption.key_file or encryption.key_env");
  for (size_t i = 0; i < c.scrub.custom_detectors.size(); ++i) {
    const CustomDetector& d = c.scrub.custom_detectors[i];
    std::string p = "scrub.custom_detectors[" + std::to_string(i) + "]";
    if (ctx.rejected.count(p)) continue;
    for (auto [k, v] : {std::pair{"name", &d.name}, {"regex", &d.regex}, {"entity", &d.entity}})
      if (v->empty()) ctx.error(at(p), p + "." + k, "is required", "give every custom detector a name, a regex and an entity");
  }
  for (size_t i = 0; i < c.scrub.word_lists.size(); ++i) {
    const WordList& w = c.scrub.word_lists[i];
    std::string p = "scrub.word_lists[" + std::to_string(i) + "]";
    if (ctx.rejected.count(p)) continue;
    if (w.entity.empty()) ctx.error(at(p), p + ".entity", "is required", "name the entity type of the words");
    if (w.file.empty() && w.words.empty()) ctx.error(at(p), p, "has neither file nor words", "give a file, inline words, or both");
  }
  std::vector<std::string> order;
  for (const auto& s : c.stages) {
    if (std::find(order.begin(), order.end(), s) != order.end())
      ctx.error(at("stages"), "stages", "lists " + s + " twice", "list each stage once");
    order.push_back(s);
  }
  auto pos = [](const std::string& s) { return std::find(kStageNames.begin(), kStageNames.end(), s) - kStageNames.begin(); };
  for (size_t i = 1; i < order.size(); ++i)
    if (pos(order[i]) < pos(order[i - 1]))
      ctx.error(at("stages"), "stages", order[i] + " is listed after " + order[i - 1],
                "list stages in pipeline order: collect, scrub, cluster, pretrain, select, finetune, eval");
}

}  // namespace

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// "file:line:col" of byte `pos` of `text`.
static std::string text_position(const std::string& file, const std::string& text, size_t pos) {
  size_t line = 1, col = 1;
  for (size_t i = 0; i < pos && i < text.size(); ++i) {
    if (text[i] == '\n') ++line, col = 1;
    else if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) ++col;
  }
  return file + ":" + std::to_string(line) + ":" + std::to_string(col);
}

// The byte where a quoted YAML scalar starts that is never closed, which yaml-cpp accepts: it
// reads the rest of the file into that string, so `workdir: "runs/x` would silently swallow every
// key after it. Quotes count only where a scalar starts (after `key: `, `- `, `[`, `{`, `,` or at
// the start of a line); quotes inside plain scalars, comments and block scalars (| and >) are text.
static std::optional<size_t> unclosed_quote(const std::string& t) {
  size_t i = 0, n = t.size();
  int flow = 0;              // depth of [ and {
  size_t block_indent = SIZE_MAX;  // inside a block scalar: lines indented more than this
  while (i < n) {
    size_t ls = i, ind = 0;  // start of a line
    while (i < n && t[i] == ' ') ++i, ++ind;
    if (block_indent != SIZE_MAX) {
      if (i < n && t[i] != '\n' && ind <= block_indent) block_indent = SIZE_MAX;
      else {
        while (i < n && t[i] != '\n') ++i;
        ++i;
        continue;
      }
    }
    bool scalar_start = true;
    size_t key_indent = ind;
    for (; i < n && t[i] != '\n'; ++i) {
      char c = t[i];
      if (c == '#' && (i == ls || t[i - 1] == ' ' || t[i - 1] == '\t')) {
        while (i < n && t[i] != '\n') ++i;
        break;
      }
      if (c == ' ' || c == '\t') continue;
      if (scalar_start && (c == '"' || c == '\'')) {
        size_t open = i++;
        for (;; ++i) {
          if (i >= n) return open;
          if (c == '"' && t[i] == '\\') ++i;
          else if (t[i] == c) {
            if (c == '\'' && i + 1 < n && t[i + 1] == '\'') ++i;  // '' is a quote inside '...'
            else break;
          }
        }
        scalar_start = false;
        continue;
      }
      if (c == '[' || c == '{') ++flow, scalar_start = true;
      else if (c == ']' || c == '}') flow = flow > 0 ? flow - 1 : 0, scalar_start = false;
      else if (c == ',' && flow > 0) scalar_start = true;
      else if (c == '-' && scalar_start && (i + 1 >= n || t[i + 1] == ' ' || t[i + 1] == '\n')) scalar_start = true;
      else if (c == ':' && (i + 1 >= n || t[i + 1] == ' ' || t[i + 1] == '\n' || flow > 0)) scalar_start = true;
      else if (scalar_start && (c == '|' || c == '>') && flow == 0) {
        block_indent = key_indent;  // the lines that follow, indented more, are the scalar's text
        while (i < n && t[i] != '\n') ++i;
        break;
      } else {
        scalar_start = false;  // a plain scalar: quotes in it are text, up to `: `, `,` in flow, or the line's end
      }
    }
    ++i;
  }
  return std::nullopt;
}

PipelineConfig config_load(const std::optional<fs::path>& file, const std::vector<ConfigOverride>& overrides) {
  LoadCtx ctx;
  YAML::Node root;
  if (file) {
    ctx.file = file->string();
    // Paths in the file are resolved from its directory's canonical absolute path, so that the
    // effective config (and every stage digest made from it) is the same however the pipeline
    // file's path is spelled: relative, absolute, through a symlink or with `..`.
    std::error_code ec;
    ctx.base_dir = fs::weakly_canonical(fs::absolute(*file, ec).parent_path(), ec);
    if (ec || ctx.base_dir.empty()) ctx.base_dir = file->parent_path().empty() ? fs::path(".") : file->parent_path();
    if (!fs::exists(*file, ec))
      throw_usage(ctx.file, "pipeline file not found", "check the path given to --config or to slmify run");
    std::string text = read_file(*file);
    if (!utf8_valid(text)) {
      throw_usage(text_position(ctx.file, text, utf8_valid_prefix(text)), "the file is not valid UTF-8 text",
                  "save it as UTF-8 (a byte such as 0xE9 is Latin-1: write the character itself in UTF-8)");
    }
    if (auto open = unclosed_quote(text))
      throw_usage(text_position(ctx.file, text, *open), "YAML syntax error: this quoted string is never closed",
                  "add the closing quote on the same line");
    try {
      root = YAML::Load(text);
    } catch (const YAML::ParserException& e) {
      throw_usage(ctx.loc(e.mark), "YAML syntax error: " + e.msg,
                  "fix the syntax at that position (indentation with spaces, `key: value`, lists with `- `)");
    }
    if (!root.IsNull() && !root.IsMap())
      throw_usage(ctx.file, "the pipeline file must be a mapping of sections (collect:, scrub:, ...)",
                  "see pipelines/quickstart.yaml for an example");
  }
  for (const auto& o : overrides) ctx.overrides[o.key] = Override{o.value, o.origin, o.items, false};

  PipelineConfig c;
  Loader top(ctx, root, "");
  c.visit(top);
  top.check_unknown(c);
  if (root.IsMap()) {
    const YAML::Node& r = root;
    YAML::Node w = r["workdir"];
    if (w.IsDefined() && (w.IsNull() || (w.IsScalar() && w.Scalar().find_first_not_of(" \t") == std::string::npos)))
      ctx.error(ctx.loc(w.Mark()), "workdir", "must not be empty", "name the work directory, e.g. workdir: runs/NAME, or leave the key out");
  }
  c.locations = ctx.where;
  for (auto& [key, o] : ctx.overrides) {
    if (o.used) continue;
    std::string best;
    size_t best_d = SIZE_MAX;
    std::vector<std::string> candidates;
    json j = config_to_json(c);
    std::function<void(const json&, std::string)> walk = [&](const json& n, std::string p) {
      for (auto it = n.begin(); it != n.end(); ++it) {
        std::string k = p.empty() ? it.key() : p + "." + it.key();
        if (it.value().is_object()) walk(it.value(), k);
        else candidates.push_back(k);
      }
    };
    walk(j, "");
    for (const auto& k : candidates) {
      size_t d = edit_distance(key, k);
      if (d < best_d) best_d = d, best = k;
    }
    if (best_d == 0) {
      ctx.error(o.origin, key, "holds a list of mappings and cannot be set from the command line",
                "set it in the pipeline file and pass that with --config");
      continue;
    }
    ctx.error(o.origin, key, "is not a key of the pipeline configuration",
              best_d <= std::max<size_t>(2, key.size() / 3) ? "did you mean `" + best + "`?" : "see docs/pipeline.md");
  }
  // A workdir left at its default still belongs next to the pipeline file, like every other path.
  if (file && !ctx.where.count("workdir") && fs::path(c.workdir).is_relative())
    c.workdir = (ctx.base_dir / c.workdir).lexically_normal().string();
  cross_checks(c, ctx);
  if (!ctx.problems.empty()) {
    // Report in file order: problems located in the file first by line and column, then the rest.
    auto key = [&](const Problem& p) {
      if (ctx.file.empty() || p.where.rfind(ctx.file + ":", 0) != 0) return std::pair<long, long>{LONG_MAX, 0};
      const char* s = p.where.c_str() + ctx.file.size() + 1;
      char* end = nullptr;
      long line = std::strtol(s, &end, 10);
      long col = *end == ':' ? std::strtol(end + 1, nullptr, 10) : 0;
      return std::pair<long, long>{line, col};
    };
    std::stable_sort(ctx.problems.begin(), ctx.problems.end(),
                     [&](const Problem& a, const Problem& b) { return key(a) < key(b); });
    throw Error(ExitCode::usage, ctx.problems);
  }
  return c;
}

json config_to_json(const PipelineConfig& c, std::string_view section) {
  json all = json::object();
  JsonDumper d{all};
  PipelineConfig copy = c;
  copy.visit(d);
  if (section.empty()) return all;
  SLMIFY_ASSERT(all.contains(std::string(section)), "unknown config section " + std::string(section));
  return all[std::string(section)];
}

std::string config_to_yaml(const PipelineConfig& c, std::string_view section) {
  YAML::Emitter e;
  e.SetIndent(2);
  e << YAML::BeginMap;
  PipelineConfig copy = c;
  YamlDumper d{e, section};
  copy.visit(d);
  e << YAML::EndMap;
  return std::string(e.c_str()) + "\n";
}

std::vector<ConfigKey> config_section_flags(std::string_view section) {
  std::vector<ConfigKey> out;
  PipelineConfig c;
  FlagCollector fc{out};
  SectionFlags v{section, fc};
  c.visit(v);
  return out;
}

std::string config_reference_markdown() {
  std::ostringstream out;
  std::vector<std::pair<std::string, std::function<void()>>> deferred;
  PipelineConfig c;
  out << "## Top level\n\n| key | type | default | allowed | description |\n|---|---|---|---|---|\n";
  MarkdownWriter w{out, "", &deferred};
  c.visit(w);
  // Sections are written after the table that mentions them, breadth-first.
  for (size_t i = 0; i < deferred.size(); ++i) deferred[i].second();
  return out.str();
}

}  // namespace slmify
