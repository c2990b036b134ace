// Internal to lib/scrub: one detection rule is a RE2 pattern, the span it reports, a check the
// span must pass and a priority for overlaps. rules.cpp holds the built-in table; detect.cpp
// compiles and runs rules. Tested through Detector by tests/scrub/test_detect.cpp.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace slmify::scrub_rules {

/// Accepts or rejects the candidate span [begin, end) of `text`; may narrow it (IBAN trims words a
/// greedy pattern took along). `text` is the whole string so that checks can look at neighbours.
using Check = bool (*)(std::string_view text, size_t& begin, size_t& end);

struct Rule {
  std::string detector;        ///< config name of the detector family ("card"), "custom" or "words"
  std::string name;            ///< reported as Detection::detector ("secret.github")
  std::string entity;          ///< reported as Detection::entity
  std::string pattern;         ///< RE2 syntax
  int group = 0;               ///< capture group that is the reported span (0: whole match)
  int priority = 0;            ///< higher wins where spans overlap
  Check check = nullptr;       ///< nullptr: every match is accepted
  bool longest = false;        ///< leftmost-longest instead of leftmost-first (word lists)
  bool word_start = true;      ///< matches never start inside [A-Za-z0-9_] runs (lets a rejected match skip the run)
};

/// Priorities of rule families; custom detectors and word lists sit between the built-ins.
inline constexpr int kPriorityCustom = 75;
inline constexpr int kPriorityWords = 30;

/// The built-in rules of the named detector families (email, phone, card, ...), in a fixed order.
std::vector<Rule> builtin_rules(const std::vector<std::string>& detectors);

/// The names of all built-in detector families.
const std::vector<std::string>& builtin_detector_names();

/// Check for a custom detector's validator name (none, luhn, iban, entropy); nullptr for none.
Check custom_check(std::string_view validator);

/// Word-list boundary check: the span is not preceded or followed by a letter or digit, where
/// letters include non-ASCII letters (UTF-8 aware, unlike RE2's ASCII-only \b).
bool word_boundary_check(std::string_view text, size_t& begin, size_t& end);

}  // namespace slmify::scrub_rules
