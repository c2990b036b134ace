// Normalizers and pre-tokenizers of tokenizer.json byte-level BPE, reproducing HF tokenizers'
// NormalizedString::split: every step splits each current piece into matches and non-matches,
// regroups them by the step's behaviour and drops empty pieces. Regexes run through PCRE2.
// Tested by tests/model/test_tokenizer.cpp (GPT-2, Llama-3, Qwen2, SmolLM2 and mixed shapes).
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <utf8proc.h>

#include <algorithm>
#include <cstdlib>

#include "core/error.h"
#include "model/bpe_tokenizer.h"
#include "model/tokenizer_impl.h"

namespace slmify::tok {

using json = nlohmann::json;

// The regex HF's ByteLevel pre-tokenizer applies when use_regex is true (GPT-2's).
static const char* const k_byte_level_regex =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

static const char* const k_supported_pre_tokenizers =
    "supported pre_tokenizer types: ByteLevel, Split (Regex or String pattern), Digits and Sequence of "
    "these, ending with ByteLevel (the GPT-2, Llama-3, Qwen2 and SmolLM2 shapes)";

const std::array<char32_t, 256>& byte_to_unicode() {
  static const std::array<char32_t, 256> table = [] {
    std::array<char32_t, 256> t{};
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
      t[static_cast<size_t>(b)] = printable ? static_cast<char32_t>(b) : next++;
    }
    return t;
  }();
  return table;
}

int unicode_to_byte(char32_t c) {
  static const std::array<int16_t, 324> inverse = [] {
    std::array<int16_t, 324> inv{};
    inv.fill(-1);
    for (int b = 0; b < 256; ++b) inv[byte_to_unicode()[static_cast<size_t>(b)]] = static_cast<int16_t>(b);
    return inv;
  }();
  return c < inverse.size() ? inverse[c] : -1;
}

// ---- PCRE2 ----

RegexScratch::RegexScratch() : md_(pcre2_match_data_create(1, nullptr)) {
  if (!md_) throw std::bad_alloc();
}
RegexScratch::~RegexScratch() { pcre2_match_data_free(static_cast<pcre2_match_data*>(md_)); }

Regex::Regex(const std::string& pattern, const std::string& where) {
  int err = 0;
  PCRE2_SIZE at = 0;
  code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), PCRE2_UTF | PCRE2_UCP,
                        &err, &at, nullptr);
  if (!code_) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof msg);
    throw_usage(where, "regex does not compile at offset " + std::to_string(at) + ": " +
                           reinterpret_cast<const char*>(msg) + " (pattern " + json(pattern).dump() + ")",
                "slmify runs pre-tokenizer regexes with PCRE2; report this tokenizer if HF accepts it");
  }
  jit_ = pcre2_jit_compile(static_cast<pcre2_code*>(code_), PCRE2_JIT_COMPLETE) == 0;
}

Regex::~Regex() { pcre2_code_free(static_cast<pcre2_code*>(code_)); }

bool Regex::find(std::string_view text, size_t from, size_t& begin, size_t& end, RegexScratch& scratch) const {
  auto* code = static_cast<pcre2_code*>(code_);
  auto* md = static_cast<pcre2_match_data*>(scratch.match_data());
  auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  int rc = jit_ ? pcre2_jit_match(code, subject, text.size(), from, 0, md, nullptr)
                : PCRE2_ERROR_JIT_BADOPTION;
  if (rc == PCRE2_ERROR_JIT_BADOPTION || rc == PCRE2_ERROR_JIT_STACKLIMIT)
    rc = pcre2_match(code, subject, text.size(), from, PCRE2_NO_UTF_CHECK, md, nullptr);
  if (rc == PCRE2_ERROR_NOMATCH) return false;
  if (rc < 0) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(rc, msg, sizeof msg);
    throw_bad_data("tokenizer input", std::string("pre-tokenizer regex failed: ") + reinterpret_cast<const char*>(msg));
  }
  PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
  begin = ov[0];
  end = ov[1];
  return true;
}

// ---- normalizers ----

TextNormalizer TextNormalizer::parse(const json& j, const std::string& where) {
  TextNormalizer n;
  if (j.is_null()) return n;
  std::string type = j.is_object() ? j.value("type", "") : "";
  if (type == "Sequence" && j.contains("normalizers") && j["normalizers"].is_array()) {
    size_t i = 0;
    for (const json& s : j["normalizers"]) {
      TextNormalizer inner = parse(s, where + ".normalizers[" + std::to_string(i++) + "]");
      n.forms_.insert(n.forms_.end(), inner.forms_.begin(), inner.forms_.end());
    }
  } else if (type == "NFC") {
    n.forms_.push_back(Form::nfc);
  } else if (type == "NFD") {
    n.forms_.push_back(Form::nfd);
  } else if (type == "NFKC") {
    n.forms_.push_back(Form::nfkc);
  } else if (type == "NFKD") {
    n.forms_.push_back(Form::nfkd);
  } else {
    throw_usage(where, "unsupported normalizer " + (type.empty() ? j.dump() : "\"" + type + "\""),
                "supported normalizers: null, NFC, NFD, NFKC, NFKD and Sequence of these");
  }
  return n;
}

std::string TextNormalizer::apply(std::string_view text) const {
  std::string s(text);
  bool ascii = true;
  for (char c : s) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
  if (ascii) return s;  // every normal form of ASCII is itself
  for (Form f : forms_) {
    int options = UTF8PROC_STABLE;
    if (f == Form::nfc || f == Form::nfkc) options |= UTF8PROC_COMPOSE;
    else options |= UTF8PROC_DECOMPOSE;
    if (f == Form::nfkc || f == Form::nfkd) options |= UTF8PROC_COMPAT;
    utf8proc_uint8_t* out = nullptr;
    utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                                      static_cast<utf8proc_ssize_t>(s.size()), &out,
                                      static_cast<utf8proc_option_t>(options));
    if (n < 0) throw_bad_data("tokenizer input", std::string("Unicode normalisation failed: ") + utf8proc_errmsg(n));
    s.assign(reinterpret_cast<char*>(out), static_cast<size_t>(n));
    std::free(out);
  }
  return s;
}

// ---- pre-tokenizers ----

static SplitBehavior parse_behavior(const json& j, const std::string& where) {
  std::string b = j.is_string() ? j.get<std::string>() : "";
  if (b == "Removed") return SplitBehavior::removed;
  if (b == "Isolated") return SplitBehavior::isolated;
  if (b == "MergedWithPrevious") return SplitBehavior::merged_with_previous;
  if (b == "MergedWithNext") return SplitBehavior::merged_with_next;
  if (b == "Contiguous") return SplitBehavior::contiguous;
  throw_usage(where + ".behavior", "unsupported split behavior " + j.dump(),
              "one of Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous");
}

PreTokenizer PreTokenizer::parse(const json& j, const std::string& where) {
  PreTokenizer p;
  parse_into(j, where, p.steps_);
  if (p.steps_.empty() || p.steps_.back().kind != Step::Kind::byte_level)
    throw_usage(where, "the pre_tokenizer does not end with ByteLevel, so this is not byte-level BPE",
                k_supported_pre_tokenizers);
  for (size_t i = 0; i + 1 < p.steps_.size(); ++i)
    if (p.steps_[i].kind == Step::Kind::byte_level)
      throw_usage(where, "ByteLevel is followed by further pre-tokenizers", k_supported_pre_tokenizers);
  return p;
}

void PreTokenizer::parse_into(const json& j, const std::string& where, std::vector<Step>& steps) {
  std::string type = j.is_object() ? j.value("type", "") : "";
  if (type == "Sequence" && j.contains("pretokenizers") && j["pretokenizers"].is_array()) {
    size_t i = 0;
    for (const json& s : j["pretokenizers"]) parse_into(s, where + ".pretokenizers[" + std::to_string(i++) + "]", steps);
    return;
  }
  Step s{};
  if (type == "ByteLevel") {
    s.kind = Step::Kind::byte_level;
    s.add_prefix_space = j.value("add_prefix_space", false);
    s.use_regex = j.value("use_regex", true);
    if (s.use_regex) s.regex = std::make_shared<Regex>(k_byte_level_regex, where);
  } else if (type == "Digits") {
    s.kind = Step::Kind::digits;
    s.individual_digits = j.value("individual_digits", false);
  } else if (type == "Split") {
    const json& pat = j.contains("pattern") ? j["pattern"] : json();
    s.behavior = parse_behavior(j.contains("behavior") ? j["behavior"] : json(), where);
    s.invert = j.value("invert", false);
    if (pat.is_object() && pat.contains("Regex") && pat["Regex"].is_string()) {
      s.kind = Step::Kind::split_regex;
      s.regex = std::make_shared<Regex>(pat["Regex"].get<std::string>(), where + ".pattern.Regex");
    } else if (pat.is_object() && pat.contains("String") && pat["String"].is_string()) {
      s.kind = Step::Kind::split_literal;
      s.literal = pat["String"].get<std::string>();
    } else {
      throw_usage(where + ".pattern", "expected {\"Regex\": ...} or {\"String\": ...}, got " + pat.dump());
    }
  } else {
    throw_usage(where, "unsupported pre_tokenizer " + (type.empty() ? j.dump() : "\"" + type + "\""),
                k_supported_pre_tokenizers);
  }
  steps.push_back(std::move(s));
}

namespace {

struct Segment {
  size_t begin, end;
  bool match;
};

// HF's SplitDelimiterBehavior applied to the matches/non-matches of one piece.
void regroup(std::string_view piece, std::vector<Segment>& segs, SplitBehavior behavior, bool invert,
             std::vector<std::string_view>& out) {
  if (invert)
    for (Segment& s : segs) s.match = !s.match;
  std::vector<Segment> groups;
  bool previous_match = false;
  switch (behavior) {
    case SplitBehavior::isolated:
      groups = segs;
      break;
    case SplitBehavior::removed:
      for (const Segment& s : segs)
        if (!s.match) groups.push_back(s);
      break;
    case SplitBehavior::merged_with_previous:
      for (const Segment& s : segs) {
        if (s.match && !previous_match && !groups.empty()) groups.back().end = s.end;
        else groups.push_back(s);
        previous_match = s.match;
      }
      break;
    case SplitBehavior::merged_with_next:
      for (size_t i = segs.size(); i-- > 0;) {
        const Segment& s = segs[i];
        if (s.match && !previous_match && !groups.empty()) groups.back().begin = s.begin;
        else groups.push_back(s);
        previous_match = s.match;
      }
      std::reverse(groups.begin(), groups.end());
      break;
    case SplitBehavior::contiguous:
      for (const Segment& s : segs) {
        if (s.match == previous_match && !groups.empty()) groups.back().end = s.end;
        else groups.push_back(s);
        previous_match = s.match;
      }
      break;
  }
  for (const Segment& g : groups)
    if (g.end > g.begin) out.push_back(piece.substr(g.begin, g.end - g.begin));
}

// Matches of a regex (or a literal) as segments covering the piece.
template <class Find>
void segments_of(std::string_view piece, Find&& find, std::vector<Segment>& segs) {
  segs.clear();
  size_t prev = 0, from = 0, b = 0, e = 0;
  while (from <= piece.size() && find(from, b, e)) {
    if (e == b) {  // an empty match splits nothing; step over one character
      from = b + 1;
      while (from < piece.size() && (static_cast<unsigned char>(piece[from]) & 0xC0) == 0x80) ++from;
      continue;
    }
    if (b > prev) segs.push_back({prev, b, false});
    segs.push_back({b, e, true});
    prev = from = e;
  }
  if (prev < piece.size()) segs.push_back({prev, piece.size(), false});
}

bool is_numeric(char32_t c) {
  utf8proc_category_t cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
  return cat == UTF8PROC_CATEGORY_ND || cat == UTF8PROC_CATEGORY_NL || cat == UTF8PROC_CATEGORY_NO;
}

}  // namespace

void PreTokenizer::run(std::string_view text, std::vector<std::string_view>& words, std::deque<std::string>& arena,
                       RegexScratch& scratch) const {
  std::vector<std::string_view> pieces, next;
  std::vector<Segment> segs;
  if (!text.empty()) pieces.push_back(text);
  for (const Step& step : steps_) {
    next.clear();
    for (std::string_view piece : pieces) {
      if (step.kind == Step::Kind::byte_level && step.add_prefix_space && piece[0] != ' ') {
        arena.push_back(" " + std::string(piece));
        piece = arena.back();
      }
      if (step.kind == Step::Kind::byte_level && !step.use_regex) {
        next.push_back(piece);
        continue;
      }
      if (step.kind == Step::Kind::digits) {
        segs.clear();
        size_t i = 0, last = 0;
        while (i < piece.size()) {
          size_t at = i;
          if (is_numeric(utf8_next(piece, i))) {
            if (at > last) segs.push_back({last, at, false});
            segs.push_back({at, i, true});
            last = i;
          }
        }
        if (last < piece.size()) segs.push_back({last, piece.size(), false});
        SplitBehavior b = step.individual_digits ? SplitBehavior::isolated : SplitBehavior::contiguous;
        regroup(piece, segs, b, false, next);
      } else if (step.kind == Step::Kind::split_literal) {
        segments_of(piece, [&](size_t from, size_t& b, size_t& e) {
          if (step.literal.empty()) return false;
          size_t at = piece.find(step.literal, from);
          if (at == std::string_view::npos) return false;
          b = at;
          e = at + step.literal.size();
          return true;
        }, segs);
        regroup(piece, segs, step.behavior, step.invert, next);
      } else {  // a Split regex, or ByteLevel's own regex (Isolated)
        segments_of(piece, [&](size_t from, size_t& b, size_t& e) {
          return step.regex->find(piece, from, b, e, scratch);
        }, segs);
        bool byte_level = step.kind == Step::Kind::byte_level;
        regroup(piece, segs, byte_level ? SplitBehavior::isolated : step.behavior, !byte_level && step.invert, next);
      }
    }
    pieces.swap(next);
  }
  words.insert(words.end(), pieces.begin(), pieces.end());
}

}  // namespace slmify::tok
