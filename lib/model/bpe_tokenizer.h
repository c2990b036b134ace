// Private to lib/model: the text pipeline in front of the byte-level BPE model of tokenizer.json,
// i.e. its normalizers (NFC/NFD/NFKC/NFKD through utf8proc) and pre-tokenizers (Split, Digits,
// ByteLevel, Sequence; regexes through PCRE2 with UTF+UCP, JIT when available), with HF's
// split semantics. Tested by tests/model/test_tokenizer.cpp against HF tokenizers.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace slmify::tok {

/// GPT-2's reversible byte -> printable code point table (space -> U+0120 'Ġ', '\n' -> U+010A).
const std::array<char32_t, 256>& byte_to_unicode();
/// The byte a code point of that table stands for, or -1.
int unicode_to_byte(char32_t c);

/// PCRE2 per-call state (match data); one per encode() call, so encoding is thread-safe.
class RegexScratch {
 public:
  RegexScratch();
  ~RegexScratch();
  RegexScratch(const RegexScratch&) = delete;
  RegexScratch& operator=(const RegexScratch&) = delete;
  void* match_data() const { return md_; }

 private:
  void* md_;
};

/// A compiled PCRE2 pattern (UTF, UCP; JIT-compiled when the library supports it).
class Regex {
 public:
  /// Throws a usage Error naming `where` when the pattern does not compile.
  Regex(const std::string& pattern, const std::string& where);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;
  /// The first match starting at or after `from`, as [begin, end); false when there is none.
  bool find(std::string_view text, size_t from, size_t& begin, size_t& end, RegexScratch& scratch) const;

 private:
  void* code_;
  bool jit_ = false;
};

/// tokenizer.json `normalizer`: null, NFC, NFD, NFKC, NFKD, or a Sequence of them.
class TextNormalizer {
 public:
  enum class Form { nfc, nfd, nfkc, nfkd };
  static TextNormalizer parse(const nlohmann::json& j, const std::string& where);
  bool identity() const { return forms_.empty(); }
  std::string apply(std::string_view text) const;

 private:
  std::vector<Form> forms_;
};

enum class SplitBehavior { removed, isolated, merged_with_previous, merged_with_next, contiguous };

/// tokenizer.json `pre_tokenizer`: Split, Digits and ByteLevel steps (Sequence flattened); the
/// ByteLevel step must come last. Its output words are raw UTF-8 bytes for the byte-level model.
class PreTokenizer {
 public:
  static PreTokenizer parse(const nlohmann::json& j, const std::string& where);
  /// Appends the words of `text` to `words`; prefix spaces are kept alive in `arena`.
  void run(std::string_view text, std::vector<std::string_view>& words, std::deque<std::string>& arena,
           RegexScratch& scratch) const;

 private:
  struct Step {
    enum class Kind { split_regex, split_literal, digits, byte_level } kind;
    SplitBehavior behavior = SplitBehavior::isolated;
    bool invert = false;
    bool individual_digits = false;
    bool add_prefix_space = false;
    bool use_regex = true;
    std::string literal;
    std::shared_ptr<const Regex> regex;
  };
  static void parse_into(const nlohmann::json& j, const std::string& where, std::vector<Step>& steps);
  std::vector<Step> steps_;
};

}  // namespace slmify::tok
