// Detector: compiles the built-in rules (rules.cpp), custom regex detectors and word lists once;
// find() runs one RE2::Set pass to learn which rules can match, scans only those, and resolves
// overlaps by priority, then length, then position.
#include "scrub/detect.h"

#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>

#include "scrub/rules.h"

namespace slmify {

using scrub_rules::Rule;

namespace {

constexpr int64_t kMaxMem = 64 << 20;  // per RE2 and for the set; a set out of memory falls back to all rules

RE2::Options rule_options(bool longest) {
  RE2::Options o;
  o.set_log_errors(false);
  o.set_max_mem(kMaxMem);
  o.set_longest_match(longest);
  return o;
}

std::string trim(std::string s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

/// One word-list phrase as a pattern: each word quoted, runs of whitespace between words.
std::string phrase_pattern(const std::string& phrase) {
  std::string out, word;
  for (size_t i = 0; i <= phrase.size(); ++i) {
    if (i == phrase.size() || std::isspace(static_cast<unsigned char>(phrase[i]))) {
      if (!word.empty()) out += (out.empty() ? "" : "\\s+") + RE2::QuoteMeta(word);
      word.clear();
    } else {
      word += phrase[i];
    }
  }
  return out;
}

/// Turns the config into rules, collecting every problem instead of stopping at the first.
std::vector<Rule> build_rules(const ScrubConfig& cfg, std::vector<Problem>& problems) {
  for (size_t i = 0; i < cfg.detectors.size(); ++i) {
    const auto& names = scrub_rules::builtin_detector_names();
    if (std::find(names.begin(), names.end(), cfg.detectors[i]) == names.end())
      problems.push_back({"scrub.detectors[" + std::to_string(i) + "]", "unknown detector \"" + cfg.detectors[i] + "\"",
                          "built-in detectors: email, phone, card, iban, ssn, ip, mac, url_credentials, secret, dob"});
  }
  std::vector<Rule> rules = scrub_rules::builtin_rules(cfg.detectors);

  for (size_t i = 0; i < cfg.custom_detectors.size(); ++i) {
    const CustomDetector& c = cfg.custom_detectors[i];
    std::string where = "scrub.custom_detectors[" + std::to_string(i) + "]";
    std::string rule = "rule \"" + c.name + "\": ";
    if (c.name.empty()) problems.push_back({where + ".name", "a custom detector needs a name", "name it after what it finds, e.g. employee_id"});
    if (c.entity.empty()) problems.push_back({where + ".entity", rule + "a custom detector needs an entity", "e.g. entity: EMPLOYEE_ID"});
    if (c.validator != "none" && c.validator != "luhn" && c.validator != "iban" && c.validator != "entropy")
      problems.push_back({where + ".validator", rule + "unknown validator \"" + c.validator + "\"", "one of none, luhn, iban, entropy"});
    RE2 re(c.regex, rule_options(false));
    if (!re.ok()) {
      problems.push_back({where + ".regex", rule + "invalid RE2 pattern \"" + c.regex + "\": " + re.error(),
                          "RE2 syntax has no lookaround or backreferences: https://github.com/google/re2/wiki/Syntax"});
      continue;
    }
    if (RE2::FullMatch("", re)) {
      problems.push_back({where + ".regex", rule + "pattern \"" + c.regex + "\" matches the empty string", "make it require at least one character"});
      continue;
    }
    Rule r;
    r.detector = "custom";
    r.name = c.name;
    r.entity = c.entity;
    r.pattern = c.regex;
    r.priority = scrub_rules::kPriorityCustom;
    r.check = scrub_rules::custom_check(c.validator);
    r.word_start = false;
    rules.push_back(std::move(r));
  }

  for (size_t i = 0; i < cfg.word_lists.size(); ++i) {
    const WordList& w = cfg.word_lists[i];
    std::string where = "scrub.word_lists[" + std::to_string(i) + "]";
    if (w.entity.empty()) problems.push_back({where + ".entity", "a word list needs an entity", "e.g. entity: PERSON"});
    std::vector<std::string> phrases = w.words;
    if (!w.file.empty()) {
      std::ifstream in(w.file);
      if (!in) {
        problems.push_back({where + ".file", "cannot read word list \"" + w.file + "\"", "check the path (relative paths start at the pipeline file's directory)"});
        continue;
      }
      for (std::string line; std::getline(in, line);) phrases.push_back(line);
    }
    std::set<std::string> seen;
    std::vector<std::string> alts;
    for (const auto& p : phrases) {
      std::string t = trim(p);
      if (t.empty() || t[0] == '#' || !seen.insert(t).second) continue;
      alts.push_back(phrase_pattern(t));
    }
    if (alts.empty()) continue;
    std::string pattern = "(?i)(?:";
    for (size_t k = 0; k < alts.size(); ++k) pattern += (k ? "|" : "") + alts[k];
    pattern += ")";
    Rule r;
    r.detector = "words";
    r.name = "words." + (w.entity.empty() ? std::to_string(i) : w.entity);
    r.entity = w.entity;
    r.pattern = pattern;
    r.priority = scrub_rules::kPriorityWords;
    r.check = scrub_rules::word_boundary_check;
    r.longest = true;
    r.word_start = false;
    rules.push_back(std::move(r));
  }
  return rules;
}

struct Candidate {
  size_t begin, end;
  int priority;
  size_t rule;
};

}  // namespace

struct Detector::Impl {
  std::vector<Rule> rules;
  std::vector<std::unique_ptr<RE2>> res;
  std::unique_ptr<RE2::Set> set;
  std::vector<std::string> entities;

  void scan(size_t ri, std::string_view text, std::vector<Candidate>& out) const;
};

void Detector::Impl::scan(size_t ri, std::string_view text, std::vector<Candidate>& out) const {
  const Rule& rule = rules[ri];
  const RE2& re = *res[ri];
  re2::StringPiece sp(text.data(), text.size());
  re2::StringPiece groups[2];
  int ngroups = rule.group + 1;
  size_t pos = 0;
  while (pos <= text.size() && re.Match(sp, pos, text.size(), RE2::UNANCHORED, groups, ngroups)) {
    size_t mbegin = static_cast<size_t>(groups[0].data() - text.data());
    size_t mend = mbegin + groups[0].size();
    const re2::StringPiece& g = groups[rule.group];
    bool ok = g.data() != nullptr && !g.empty();
    size_t b = ok ? static_cast<size_t>(g.data() - text.data()) : 0, e = ok ? b + g.size() : 0;
    if (ok && rule.check) ok = rule.check(text, b, e);
    if (ok && e > b) {
      out.push_back({b, e, rule.priority, ri});
      pos = std::max(e, mbegin + 1);
      continue;
    }
    // Rejected (or empty): try again one character later. A built-in match never starts inside a
    // word, so the rest of that word can be skipped: this keeps long digit or hex runs linear.
    pos = std::max(mbegin + 1, pos + (mend == mbegin ? 1 : 0));
    if (rule.word_start) {
      auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
      while (pos < text.size() && word(text[pos - 1]) && word(text[pos])) ++pos;
    }
    while (pos < text.size() && (static_cast<unsigned char>(text[pos]) & 0xC0) == 0x80) ++pos;  // next code point
  }
}

std::vector<Problem> detector_check(const ScrubConfig& cfg) {
  std::vector<Problem> problems;
  build_rules(cfg, problems);
  return problems;
}

Detector::Detector(const ScrubConfig& cfg) : impl_(std::make_unique<Impl>()) {
  std::vector<Problem> problems;
  impl_->rules = build_rules(cfg, problems);
  if (!problems.empty()) throw Error(ExitCode::usage, std::move(problems));

  impl_->set = std::make_unique<RE2::Set>(rule_options(false), RE2::UNANCHORED);
  std::set<std::string> entities;
  for (const Rule& r : impl_->rules) {
    impl_->res.push_back(std::make_unique<RE2>(r.pattern, rule_options(r.longest)));
    SLMIFY_ASSERT(impl_->res.back()->ok(), "built-in or checked pattern fails to compile: " + r.name + ": " + impl_->res.back()->error());
    SLMIFY_ASSERT(impl_->res.back()->NumberOfCapturingGroups() >= r.group, "rule " + r.name + " reports a missing group");
    std::string err;
    int idx = impl_->set->Add(r.pattern, &err);
    SLMIFY_ASSERT(idx >= 0, "pattern rejected by RE2::Set: " + r.name + ": " + err);
    entities.insert(r.entity);
  }
  SLMIFY_ASSERT(impl_->rules.empty() || impl_->set->Compile(), "RE2::Set failed to compile (out of memory)");
  impl_->entities.assign(entities.begin(), entities.end());
}

Detector::~Detector() = default;
Detector::Detector(Detector&&) noexcept = default;
Detector& Detector::operator=(Detector&&) noexcept = default;

const std::vector<std::string>& Detector::entities() const { return impl_->entities; }

std::vector<Detection> Detector::find(std::string_view text) const {
  const Impl& im = *impl_;
  if (im.rules.empty() || text.empty()) return {};
  std::vector<int> hits;
  RE2::Set::ErrorInfo info{};
  if (!im.set->Match(re2::StringPiece(text.data(), text.size()), &hits, &info)) {
    if (info.kind == RE2::Set::kNoError) return {};
    hits.resize(im.rules.size());  // the set's DFA ran out of memory: scan every rule instead
    for (size_t i = 0; i < hits.size(); ++i) hits[i] = static_cast<int>(i);
  }
  std::sort(hits.begin(), hits.end());  // rule order makes ties deterministic

  std::vector<Candidate> cands;
  for (int h : hits) im.scan(static_cast<size_t>(h), text, cands);
  std::stable_sort(cands.begin(), cands.end(), [](const Candidate& a, const Candidate& b) {
    if (a.priority != b.priority) return a.priority > b.priority;
    if (a.end - a.begin != b.end - b.begin) return a.end - a.begin > b.end - b.begin;
    return a.begin < b.begin;
  });
  std::map<size_t, size_t> taken;  // begin -> end of accepted spans
  std::vector<Detection> out;
  for (const Candidate& c : cands) {
    auto next = taken.lower_bound(c.begin);
    if (next != taken.end() && next->first < c.end) continue;
    if (next != taken.begin() && std::prev(next)->second > c.begin) continue;
    taken.emplace(c.begin, c.end);
    const Rule& r = im.rules[c.rule];
    out.push_back({c.begin, c.end, r.entity, r.name});
  }
  std::sort(out.begin(), out.end(), [](const Detection& a, const Detection& b) { return a.begin < b.begin; });
  return out;
}

}  // namespace slmify
