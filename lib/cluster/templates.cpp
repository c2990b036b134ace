// Drain-style template mining over masked lines; see templates.h.
// Tested by tests/cluster/test_parts.cpp.
#include "cluster/templates.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace slmify {

namespace {

constexpr double kSimilarity = 0.5;     // share of tokens that must agree to join a template
constexpr size_t kMaxGroupSize = 100;  // templates per (length, first token) group, like Drain's leaf cap
const std::string kWild = "<*>";
const std::string kText = "<TEXT>";

std::vector<std::string> split_tokens(std::string_view line) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && line[i] == ' ') ++i;
    size_t b = i;
    while (i < line.size() && line[i] != ' ') ++i;
    if (i > b) out.emplace_back(line.substr(b, i - b));
  }
  return out;
}

template <class F>
void for_each_line(std::string_view text, F&& f) {
  size_t i = 0;
  while (i < text.size()) {
    size_t nl = text.find('\n', i);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(i, nl - i);
    if (line.find_first_not_of(' ') != std::string_view::npos) f(line);
    i = nl + 1;
  }
}

bool has_digit_or_mask(const std::string& t) {
  if (!t.empty() && t.front() == '<') return true;
  return std::any_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string join_tokens(const std::vector<std::string>& tokens) {
  std::string s;
  for (const std::string& t : tokens) s += (s.empty() ? "" : " ") + t;
  return s;
}

}  // namespace

TemplateMiner::GroupKey TemplateMiner::group_key(const std::vector<std::string>& tokens) {
  // Drain's first levels: the token count, then the first token (a placeholder as <*>).
  std::string first = tokens.empty() || has_digit_or_mask(tokens[0]) ? kWild : tokens[0];
  return std::to_string(tokens.size()) + " " + first;
}

long TemplateMiner::best_match(const std::vector<std::string>& tokens, bool wildcards_match) const {
  auto g = groups_.find(group_key(tokens));
  if (g == groups_.end()) return -1;
  long best = -1;
  double best_sim = -1;
  size_t best_wild = 0;
  for (size_t idx : g->second) {
    const LineTemplate& t = templates_[idx];
    size_t equal = 0, wild = 0;
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (t.tokens[i] == kWild) ++wild;
      else if (t.tokens[i] == tokens[i]) ++equal;
    }
    double sim = static_cast<double>(equal + (wildcards_match ? wild : 0)) / static_cast<double>(tokens.size());
    if (sim > best_sim || (sim == best_sim && wild > best_wild)) best = static_cast<long>(idx), best_sim = sim, best_wild = wild;
  }
  return best_sim >= kSimilarity ? best : -1;
}

void TemplateMiner::add(std::string_view masked_text, uint64_t n) {
  for_each_line(masked_text, [&](std::string_view line) { line_counts_[std::string(line)] += n; });
}

void TemplateMiner::build(uint64_t calls) {
  rare_below_ = std::max<uint64_t>(2, static_cast<uint64_t>(std::ceil(kRareShare * static_cast<double>(calls))));
  std::vector<std::pair<const std::string*, uint64_t>> lines;
  lines.reserve(line_counts_.size());
  for (const auto& [line, n] : line_counts_) lines.push_back({&line, n});
  std::sort(lines.begin(), lines.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : *a.first < *b.first;
  });
  std::unordered_map<std::string, size_t> line_tpl;
  line_tpl.reserve(lines.size());
  for (const auto& [line, n] : lines) {
    std::vector<std::string> tokens = split_tokens(*line);
    long m = best_match(tokens, false);
    if (m >= 0) {
      LineTemplate& t = templates_[static_cast<size_t>(m)];
      for (size_t i = 0; i < tokens.size(); ++i)
        if (t.tokens[i] != tokens[i]) t.tokens[i] = kWild;
      t.count += n;
      line_tpl[*line] = static_cast<size_t>(m);
      continue;
    }
    templates_.push_back({tokens, n});
    std::vector<size_t>& group = groups_[group_key(tokens)];
    if (group.size() < kMaxGroupSize) group.push_back(templates_.size() - 1);
    line_tpl[*line] = templates_.size() - 1;
  }
  for (const auto& [line, idx] : line_tpl) line_final_[line] = line_text(static_cast<long>(idx), {});
  line_counts_.clear();
}

std::string TemplateMiner::line_text(long tpl, const std::vector<std::string>& tokens) const {
  // A line that matches no template is free text when it is long enough to be a sentence.
  if (tpl < 0) return free_text_ && tokens.size() >= 4 ? kText : join_tokens(tokens);
  const LineTemplate& t = templates_[static_cast<size_t>(tpl)];
  return free_text_ && t.count < rare_below_ ? kText : join_tokens(t.tokens);
}

std::vector<std::string> TemplateMiner::line_templates(std::string_view masked_text) const {
  std::vector<std::string> out;
  for_each_line(masked_text, [&](std::string_view line) {
    std::string lt;
    auto it = line_final_.find(std::string(line));
    if (it != line_final_.end()) {
      lt = it->second;
    } else {
      std::vector<std::string> tokens = split_tokens(line);
      lt = line_text(best_match(tokens, true), tokens);
    }
    if (lt == kText && !out.empty() && out.back() == kText) return;  // runs of free text are one <TEXT>
    out.push_back(std::move(lt));
  });
  return out;
}

std::string TemplateMiner::template_of(std::string_view masked_text) const {
  std::string out;
  for (const std::string& line : line_templates(masked_text)) out += (out.empty() ? "" : "\n") + line;
  return out;
}

json TemplateMiner::to_json() const {
  json t = json::array();
  for (const LineTemplate& lt : templates_) {
    if (free_text_ && lt.count < rare_below_) continue;  // rare lines are free text; new ones will be too
    t.push_back({join_tokens(lt.tokens), lt.count});
  }
  return {{"rare_below", rare_below_}, {"free_text", free_text_}, {"templates", t}};
}

TemplateMiner TemplateMiner::from_json(const json& j) {
  TemplateMiner m(j.value("free_text", true));
  m.rare_below_ = j.at("rare_below").get<uint64_t>();
  for (const json& t : j.at("templates")) {
    m.templates_.push_back({split_tokens(t.at(0).get<std::string>()), t.at(1).get<uint64_t>()});
    std::vector<size_t>& group = m.groups_[group_key(m.templates_.back().tokens)];
    group.push_back(m.templates_.size() - 1);
  }
  return m;
}

namespace {
// A line template as one token of a call's sequence: 16 hex digits of its hash.
std::string line_token(const std::string& line) {
  uint64_t h = 1469598103934665603ull;
  for (char c : line) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  char buf[20];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}
}  // namespace

std::string PromptTemplates::sequence(std::string_view masked_text) {
  std::string seq;
  for (const std::string& line : lines_.line_templates(masked_text)) {
    std::string tok = line_token(line);
    line_of_.emplace(tok, line);
    seq += (seq.empty() ? "" : " ") + tok;
  }
  return seq;
}

void PromptTemplates::build(const std::vector<std::pair<std::string_view, uint64_t>>& texts, uint64_t calls) {
  for (const auto& [t, n] : texts) lines_.add(t, n);
  lines_.build(calls);
  for (const auto& [t, n] : texts) sequences_.add(sequence(t), n);
  sequences_.build(calls);
}

std::string PromptTemplates::template_of(std::string_view masked_text) {
  std::string seq = sequences_.template_of(sequence(masked_text));
  std::string out;
  size_t i = 0;
  while (i < seq.size()) {
    size_t e = seq.find(' ', i);
    if (e == std::string::npos) e = seq.size();
    std::string tok = seq.substr(i, e - i);
    auto it = line_of_.find(tok);
    out += (out.empty() ? "" : "\n") + (it != line_of_.end() ? it->second : tok);
    i = e + 1;
  }
  return out;
}

json PromptTemplates::to_json() const {
  json lines = json::object();
  for (const auto& [tok, line] : line_of_) lines[tok] = line;
  return {{"lines", lines_.to_json()}, {"sequences", sequences_.to_json()}, {"line_of", lines}};
}

PromptTemplates PromptTemplates::from_json(const json& j) {
  PromptTemplates p;
  p.lines_ = TemplateMiner::from_json(j.at("lines"));
  p.sequences_ = TemplateMiner::from_json(j.at("sequences"));
  for (auto it = j.at("line_of").begin(); it != j.at("line_of").end(); ++it) p.line_of_[it.key()] = it.value().get<std::string>();
  return p;
}

size_t PromptTemplates::template_count() const { return sequences_.template_count(); }

}  // namespace slmify
