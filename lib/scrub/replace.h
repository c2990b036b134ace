// What scrub puts in place of a detected value: mask (<EMAIL>), hash (<EMAIL:1a2b3c4d>),
// pseudonym (a consistent, realistic stand-in of the same shape: emails stay emails, card numbers
// keep their length and pass Luhn, IBANs keep their country and pass mod-97, phone numbers keep
// their punctuation), or drop (the whole record). Stand-ins are keyed by HMAC-SHA256 with a secret
// key, so the same value maps to the same stand-in across the dataset and runs.
// Tested by tests/scrub/test_replace.cpp.
#pragma once

#include <array>
#include <string>
#include <string_view>

namespace slmify {

enum class Replacement { pseudonym, mask, hash, drop };
bool replacement_parse(const std::string& s, Replacement& out);

using ScrubKey = std::array<unsigned char, 32>;

class Replacer {
 public:
  explicit Replacer(const ScrubKey& key) : key_(key) {}
  /// The replacement text of `value` found as `entity` (policy drop is the caller's business).
  std::string replace(Replacement policy, const std::string& entity, std::string_view value) const;
  /// The stand-in for one value (public for tests).
  std::string pseudonym(const std::string& entity, std::string_view value) const;

 private:
  std::array<unsigned char, 32> mac(const std::string& entity, std::string_view value) const;
  ScrubKey key_;
};

}  // namespace slmify
